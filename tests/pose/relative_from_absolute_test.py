"""Tests for relative poses from regressed canonical rotations (NumPy)."""

import os
import subprocess
import sys

import numpy as np
from absl.testing import absltest
from absl.testing import parameterized
from scipy.spatial import transform

from sph_embed.pose import relative_from_absolute
from sph_embed.pose import evaluation as pose_evaluation

Rotation = transform.Rotation
_REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))

# Quarter turns about z and x, written out (DESIGN §1: column vectors).
RZ90 = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
RX90 = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])


def views_table(instances=4, views=4, categories=("car", "chair"), seed=0):
  """A table of views: every instance of every category seen `views` times."""
  category, instance = [], []
  for c in categories:
    for i in range(instances):
      category += [c] * views
      instance += [f"{c}{i}"] * views
  count = len(category)
  return {"rotations": Rotation.random(count, random_state=seed).as_matrix(),
          "category": np.array(category), "instance": np.array(instance)}


class RelativePoseTest(parameterized.TestCase):

  def test_composition_is_r2_r1_transposed(self):
    estimated = relative_from_absolute.relative_pose_estimates(
        np.stack([RZ90, RX90]), np.array([[0, 1], [1, 0]]))
    # R2 R1^T = RX90 RZ90^T, by hand.
    expected = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, -1.0], [-1.0, 0.0, 0.0]])
    np.testing.assert_allclose(estimated[0], expected, atol=1e-15)
    np.testing.assert_allclose(estimated[0] @ RZ90, RX90, atol=1e-15)
    np.testing.assert_allclose(estimated[1], expected.T, atol=1e-15)
    # The transposed compositions are other rotations: the test tells them
    # apart.
    for wrong in (RZ90.T @ RX90, RZ90 @ RX90.T):
      self.assertGreater(np.abs(wrong - expected).max(), 0.5)

  @parameterized.parameters("ib", "cb")
  def test_true_rotations_score_zero(self, protocol):
    table = views_table()
    rows, skipped, pairs, errors, _ = relative_from_absolute.evaluate(
        table["rotations"], table, protocol)
    expected_pairs, _ = pose_evaluation.make_pairs(
        table["category"], table["instance"], protocol, 3, 0)
    np.testing.assert_array_equal(pairs, expected_pairs)
    self.assertEqual(skipped, [])
    np.testing.assert_allclose(errors, 0.0, atol=1e-5)
    self.assertEqual([r.name for r in rows], ["car", "chair", "overall"])

  def test_common_frame_offset_cancels(self):
    table = views_table(seed=1)
    offset = Rotation.from_rotvec([0.3, -1.2, 2.0]).as_matrix()
    _, _, _, errors, _ = relative_from_absolute.evaluate(
        table["rotations"] @ offset, table, "ib")
    np.testing.assert_allclose(errors, 0.0, atol=1e-5)
    # The same offset applied on the left (a camera-frame error) does not.
    _, _, _, errors, _ = relative_from_absolute.evaluate(
        offset @ table["rotations"], table, "ib")
    self.assertGreater(np.median(errors), 10.0)

  def test_errors_of_perturbed_predictions(self):
    table = views_table(seed=2)
    count = len(table["rotations"])
    rng = np.random.default_rng(3)
    axes = rng.normal(size=(count, 3))
    angles = np.radians(rng.uniform(0.0, 20.0, count))
    perturbations = Rotation.from_rotvec(
        axes / np.linalg.norm(axes, axis=1, keepdims=True) * angles[:, None])
    predicted = perturbations.as_matrix() @ table["rotations"]
    _, _, pairs, errors, estimated = relative_from_absolute.evaluate(
        predicted, table, "cb", seed=4)
    # Against scipy: the angle of (R_hat_j R_hat_i^T)^T (R_j R_i^T).
    truth = Rotation.from_matrix(table["rotations"])
    true_relative = truth[pairs[:, 1]] * truth[pairs[:, 0]].inv()
    predicted_rotations = Rotation.from_matrix(predicted)
    expected = np.degrees((
        (predicted_rotations[pairs[:, 1]] *
         predicted_rotations[pairs[:, 0]].inv()).inv() *
        true_relative).magnitude())
    np.testing.assert_allclose(errors, expected, atol=1e-6)
    np.testing.assert_allclose(
        estimated, (predicted_rotations[pairs[:, 1]] *
                    predicted_rotations[pairs[:, 0]].inv()).as_matrix(),
        atol=1e-12)
    # Each view's error is at most 20 degrees, so a pair's at most 40.
    self.assertLessEqual(errors.max(), 40.0 + 1e-9)
    self.assertGreater(errors.max(), 5.0)

  def test_symmetric_categories(self):
    table = views_table(seed=5)
    # Odd views predicted a half-turn off; IB pairs start at a first view
    # (even index), so a pair's error is 0 or exactly 180 degrees.
    half_turn = Rotation.from_rotvec([0.0, 0.0, np.pi]).as_matrix()
    predicted = table["rotations"].copy()
    predicted[1::2] = half_turn @ predicted[1::2]
    _, _, pairs, plain, _ = relative_from_absolute.evaluate(predicted, table,
                                                            "ib")
    rows, _, _, folded, _ = relative_from_absolute.evaluate(
        predicted, table, "ib", symmetric_categories=("car",))
    self.assertAlmostEqual(plain.max(), 180.0, places=4)
    is_car = table["category"][pairs[:, 0]] == "car"
    np.testing.assert_allclose(folded[is_car], 0.0, atol=1e-4)
    np.testing.assert_array_equal(folded[~is_car], plain[~is_car])
    self.assertEqual([r.symmetric for r in rows], ["yes", "no", "mixed"])

  def test_bad_input(self):
    rotations = Rotation.random(3, random_state=0).as_matrix()
    with self.assertRaisesRegex(ValueError, r"pairs: expected shape \[P, 2\]"):
      relative_from_absolute.relative_pose_estimates(rotations, np.array([0, 1]))
    with self.assertRaisesRegex(ValueError, r"indices must be in \[0, 3\)"):
      relative_from_absolute.relative_pose_estimates(rotations, np.array([[0, 3]]))
    with self.assertRaisesRegex(ValueError, "predicted rotations: not"
                                " orthonormal"):
      relative_from_absolute.relative_pose_estimates(2 * rotations, np.array([[0, 1]]))
    with self.assertRaisesRegex(ValueError, "3 predicted rotations for 32"):
      relative_from_absolute.evaluate(rotations, views_table(), "ib")

  def test_does_not_import_tensorflow(self):
    # Usable by the TF-free pose layer; a fresh process, as this one may
    # have imported TensorFlow through other tests.
    result = subprocess.run(
        [sys.executable, "-c", "import sys; import"
         " sph_embed.pose.relative_from_absolute; print('tensorflow' in"
         " sys.modules)"], cwd=_REPO_ROOT, capture_output=True, text=True,
        timeout=300, check=False)
    self.assertEqual(result.returncode, 0, result.stderr)
    self.assertEqual(result.stdout.strip(), "False")


if __name__ == "__main__":
  absltest.main()
