"""Tests for sph_embed.data.synthetic (parametric shape categories)."""

from absl.testing import parameterized
import numpy as np
from scipy.spatial import transform
import tensorflow as tf

from sph_embed.data import meshes
from sph_embed.data import raycast
from sph_embed.data import synthetic


def _rotation_set():
  """Rotations a symmetric shape could be invariant under."""
  out = {}
  for axis in "xyz":
    for degrees in (90, 180):
      out[f"{axis}{degrees}"] = transform.Rotation.from_euler(
          axis, degrees, degrees=True).as_matrix()
  for diagonal in ((1, 1, 0), (1, 0, 1), (0, 1, 1), (1, -1, 0), (1, 0, -1),
                   (0, 1, -1)):
    out[f"180 about {diagonal}"] = transform.Rotation.from_rotvec(
        np.pi * np.array(diagonal) / np.linalg.norm(diagonal)).as_matrix()
  out["120 about (1, 1, 1)"] = transform.Rotation.from_rotvec(
      2 * np.pi / 3 * np.ones(3) / np.sqrt(3)).as_matrix()
  return out


def _min_self_difference(mesh):
  """min over _rotation_set of mean |sph(R mesh) - sph(mesh)|, and argmin."""
  mesh = meshes.normalize_mesh(mesh)
  depth = raycast.raycast(mesh, 32)
  differences = {name: np.mean(np.abs(raycast.raycast(mesh, 32, r) - depth))
                 for name, r in _rotation_set().items()}
  name = min(differences, key=differences.get)
  return differences[name], name


class _CountingGenerator:
  """Wraps a Generator, counting draws from non-degenerate uniform ranges."""

  def __init__(self, seed):
    self._rng = np.random.default_rng(seed)
    self.continuous_parameters = 0

  def uniform(self, low=0.0, high=1.0, size=None):
    if size is None and high > low and (low, high) != (0.0, 1.0):
      self.continuous_parameters += 1
    return self._rng.uniform(low, high, size)

  def __getattr__(self, name):
    return getattr(self._rng, name)


class SyntheticTest(tf.test.TestCase, parameterized.TestCase):

  def test_categories(self):
    self.assertGreaterEqual(len(synthetic.CATEGORIES), 10)
    for name in ("airplane", "car", "chair", "sofa", "bed", "toilet",
                 "table", "lamp"):
      self.assertIn(name, synthetic.CATEGORIES)
    self.assertContainsSubset(synthetic.POSE_CATEGORIES,
                              synthetic.CATEGORIES)
    with self.assertRaisesRegex(ValueError, "unknown synthetic category"):
      synthetic.make_instance("spaceship", 0)
    with self.assertRaisesRegex(ValueError, "non-negative"):
      synthetic.make_instance("car", -1)

  @parameterized.parameters(*synthetic.CATEGORIES)
  def test_instances_are_deterministic_valid_and_varied(self, category):
    first = synthetic.make_instance(category, 0)
    self.assertAllEqual(first.vertices,
                        synthetic.make_instance(category, 0).vertices)
    self.assertGreater(len(first.faces), 10)
    self.assertTrue(np.isfinite(first.vertices).all())
    extents = np.array([synthetic.make_instance(category, seed).extents
                        for seed in range(5)])
    # Proportions, not only size, vary between instances.
    proportions = extents / extents[:, :1]
    self.assertGreater(np.ptp(proportions, axis=0).max(), 0.05)

  @parameterized.parameters(*synthetic.CATEGORIES)
  def test_at_least_five_continuous_parameters(self, category):
    rng = _CountingGenerator(0)
    synthetic._BUILDERS[category](rng)  # pylint: disable=protected-access
    self.assertGreaterEqual(rng.continuous_parameters, 5)

  @parameterized.parameters(*synthetic.CATEGORIES)
  def test_canonical_up(self, category):
    # Everything but the airplane stands on the floor z = 0.
    for seed in range(3):
      bottom = synthetic.make_instance(category, seed).bounds[0, 2]
      if category == "airplane":
        self.assertLess(bottom, 0.0)
      else:
        self.assertAllClose(bottom, 0.0, atol=1e-9)

  @parameterized.parameters(*synthetic.POSE_CATEGORIES)
  def test_canonical_front(self, category):
    # The top part (backrest, headboard, tank, cabin, tail fin) is at the
    # back (-x) of every instance.
    for seed in range(5):
      mesh = synthetic.make_instance(category, seed)
      low, high = mesh.bounds[:, 2]
      top = mesh.triangles_center[:, 2] > low + 0.7 * (high - low)
      top_x = np.average(mesh.triangles_center[top, 0],
                         weights=mesh.area_faces[top])
      self.assertLess(top_x, -0.05 * mesh.extents[0])

  @parameterized.parameters(*synthetic.POSE_CATEGORIES)
  def test_pose_categories_have_no_rotational_symmetry(self, category):
    for seed in range(3):
      difference, rotation = _min_self_difference(
          synthetic.make_instance(category, seed))
      self.assertGreater(difference, 0.01,
                         f"{category} {seed} nearly invariant under"
                         f" {rotation}")

  @parameterized.parameters("bottle", "table", "lamp")
  def test_symmetry_measure_detects_symmetric_shapes(self, category):
    # Control for the test above: shapes symmetric about their vertical axis
    # score ~0, for a rotation about z.
    difference, rotation = _min_self_difference(
        synthetic.make_instance(category, 1))
    self.assertLess(difference, 1e-3)
    self.assertStartsWith(rotation, "z")

if __name__ == "__main__":
  tf.test.main()
