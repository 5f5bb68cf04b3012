"""Tests for sph_embed.pose.evaluation: symmetric scoring per category, the
error's axis in the object frame.

Runs without TensorFlow.
"""

import numpy as np
from absl.testing import absltest
from scipy.spatial.transform import Rotation

from sph_embed.pose import evaluation as pose_evaluation
from sph_embed.sphere import rotations as rotations_lib


def _rotations_about_z(degrees):
  return rotations_lib.matrix_from_zyz(0.0, 0.0, np.radians(degrees))


class SymmetricScoringTest(absltest.TestCase):

  def setUp(self):
    super().setUp()
    self.categories = np.array(["airplane", "car", "airplane", "car"])
    # Estimates off by 170, 170, 20 and 20 degrees.
    self.estimated = _rotations_about_z(np.array([170.0, 170.0, 20.0, 20.0]))
    self.truth = np.broadcast_to(np.eye(3), (4, 3, 3))

  def test_only_the_named_categories_are_folded(self):
    plain = pose_evaluation.pose_errors(self.estimated, self.truth)
    np.testing.assert_allclose(plain, [170.0, 170.0, 20.0, 20.0])
    folded = pose_evaluation.pose_errors(self.estimated, self.truth,
                                         self.categories, ["airplane"])
    np.testing.assert_allclose(folded, [10.0, 170.0, 20.0, 20.0])
    both = pose_evaluation.pose_errors(self.estimated, self.truth,
                                       self.categories, ["airplane", "car"])
    np.testing.assert_allclose(both, [10.0, 10.0, 20.0, 20.0])
    with self.assertRaisesRegex(ValueError, "needs the pairs' categories"):
      pose_evaluation.pose_errors(self.estimated, self.truth,
                                  symmetric_categories=["airplane"])

  def test_table_says_which_categories_were_folded(self):
    errors = pose_evaluation.pose_errors(self.estimated, self.truth,
                                         self.categories, ["airplane"])
    rows = pose_evaluation.summarize(self.categories, errors, ["airplane"])
    self.assertEqual([(r.name, r.symmetric) for r in rows],
                     [("airplane", "yes"), ("car", "no"),
                      ("overall", "mixed")])
    self.assertAlmostEqual(rows[0].median, 15.0)
    self.assertAlmostEqual(rows[1].median, 95.0)
    lines = pose_evaluation.format_table(rows).splitlines()
    self.assertTrue(lines[0].endswith("symmetric"))
    self.assertTrue(lines[2].startswith("airplane"))
    self.assertTrue(lines[2].endswith("yes"))
    self.assertTrue(lines[3].endswith("no"))
    self.assertTrue(lines[4].endswith("mixed"))
    self.assertIn("min(err, 180 - err)", lines[5])

  def test_rows_with_meaningless_pairs_are_marked(self):
    errors = pose_evaluation.pose_errors(self.estimated, self.truth)
    rows = pose_evaluation.summarize(self.categories, errors,
                                     meaningless=[False, True, False, False])
    self.assertEqual([(r.name, r.meaningless) for r in rows],
                     [("airplane", False), ("car", True), ("overall", True)])
    lines = pose_evaluation.format_table(rows).splitlines()
    self.assertTrue(lines[0].endswith("symmetric  meaningless"))
    self.assertEqual([line.split()[-1] for line in lines[2:5]],
                     ["no", "yes", "yes"])
    self.assertIn("meaningless = yes:", lines[5])
    unmarked = pose_evaluation.summarize(self.categories, errors)
    self.assertNotIn("meaningless", pose_evaluation.format_table(unmarked))

  def test_no_symmetric_categories_by_default(self):
    errors = pose_evaluation.pose_errors(self.estimated, self.truth)
    rows = pose_evaluation.summarize(self.categories, errors)
    self.assertEqual({r.symmetric for r in rows}, {"no"})
    self.assertNotIn("min(err, 180 - err)",
                     pose_evaluation.format_table(rows))



class ErrorAxesTest(absltest.TestCase):

  def test_an_object_seen_turned_in_its_own_frame_gives_that_axis(self):
    first = Rotation.random(4, random_state=1).as_matrix()
    second = Rotation.random(4, random_state=2).as_matrix()
    axes = np.array([[0, 0, 1], [1, 0, 0], [0.6, 0, 0.8], [0, 0.8, -0.6]])
    angles = np.array([180.0, 180.0, 180.0, 120.0])
    turns = Rotation.from_rotvec(
        np.radians(angles)[:, None] * axes).as_matrix()
    truth = second @ np.swapaxes(first, 1, 2)
    estimated = second @ turns @ np.swapaxes(first, 1, 2)
    found = pose_evaluation.error_axes_in_object_frame(estimated, truth,
                                                       second)
    expected = axes * np.where(axes[np.arange(4), np.abs(axes).argmax(1)]
                               < 0, -1, 1)[:, None]
    np.testing.assert_allclose(found, expected, atol=1e-6)
    # The axis seen in the world frame is another one.
    world = pose_evaluation.error_axes_in_object_frame(
        estimated, truth, np.broadcast_to(np.eye(3), (4, 3, 3)))
    self.assertGreater(np.abs(world - expected).max(), 0.1)


if __name__ == "__main__":
  absltest.main()
