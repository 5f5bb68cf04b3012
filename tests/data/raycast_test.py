"""Tests for sph_embed.data.raycast (spherical ray-cast maps)."""

from absl.testing import parameterized
import numpy as np
import tensorflow as tf
import trimesh
from trimesh.ray import ray_triangle

from sph_embed.data import meshes
from sph_embed.data import raycast
from sph_embed.sphere import rotations
from sph_embed.sphere import dh_grid
from sph_embed.sphere import sht_numpy
from sph_embed.data import synthetic
from tests import mesh_test_util

# Equivariance of ray-cast maps of synthetic shapes (32 x 32 maps, compared
# after a low-pass to degree 7): measured <= 0.037, see BUILD_NOTES.md.
_SHAPE_EQUIVARIANCE_BOUND = 0.06
_LOW_PASS_DEGREE = 7
# Vendored real meshes (64 x 64 maps, low-passed to degree 15): measured
# <= 0.046 (bed_0001), see BUILD_NOTES.md.
_REAL_MESH_EQUIVARIANCE_BOUND = 0.06


def _relative_error(estimate, reference):
  """Area-weighted relative L2 error of DH maps."""
  weights = dh_grid.area_weights(reference.shape[-1])
  return np.sqrt(np.sum(weights * (estimate - reference) ** 2)
                 / np.sum(weights * reference ** 2))


def _low_pass(maps, degree):
  n = maps.shape[-1]
  return sht_numpy.isht(sht_numpy.sht(maps, degree), n)


def equivariance_errors(mesh, n=32, degree=_LOW_PASS_DEGREE, count=3):
  """Relative errors of Lambda_R sph(mesh) vs sph(R mesh), low-passed.

  Returns (errors, errors with the wrong rotation R^T) over `count` random
  rotations of a normalised mesh (BUILD_NOTES.md).
  """
  depth = raycast.raycast(mesh, n)
  errors, wrong_errors = [], []
  for rotation in rotations.random_rotations(count, seed=0):
    actual = _low_pass(raycast.raycast(mesh, n, rotation), degree)
    for inverse, out in ((False, errors), (True, wrong_errors)):
      rotated = sht_numpy.rotate_maps(
          depth, rotation.T if inverse else rotation)
      out.append(_relative_error(_low_pass(rotated, degree), actual))
  return errors, wrong_errors


class RaycastTest(tf.test.TestCase, parameterized.TestCase):

  def test_centred_sphere(self):
    ball = trimesh.creation.icosphere(subdivisions=5, radius=0.5)
    depth = raycast.raycast(ball, 16)
    self.assertEqual(depth.shape, (16, 16))
    self.assertEqual(depth.dtype, np.float32)
    # Inscribed facets sit slightly inside the ideal sphere.
    self.assertAllClose(depth, np.full((16, 16), 0.5), atol=1e-3)

  def test_misses_and_grid_layout(self):
    # A slab at x in [0.5, 0.7]: the ray from +x hits it after 0.3; the ray
    # from -x reaches the centre first (hits beyond it are ignored): 1.0.
    slab = trimesh.creation.box((0.2, 0.3, 0.3))
    slab.apply_translation((0.6, 0.0, 0.0))
    depth = raycast.raycast(slab, 16)
    equator, longitude_0, longitude_pi = 8, 0, 8  # theta = pi/2; phi = 0, pi.
    self.assertAllClose(depth[equator, longitude_0], 0.3, atol=1e-5)
    self.assertEqual(depth[equator, longitude_pi], 1.0)
    # Only the rays at phi = 0 within 12 degrees of the equator hit, at the
    # face x = 0.7, after 1 - 0.7 / sin(theta).
    hits = np.argwhere(depth < 1.0)
    self.assertAllEqual(hits, [[7, 0], [8, 0], [9, 0]])
    theta = dh_grid.colatitudes(16)[[7, 8, 9]]
    self.assertAllClose(depth[[7, 8, 9], 0], 1 - 0.7 / np.sin(theta),
                        atol=1e-5)

  def test_matches_reference_intersector(self):
    # trimesh's pure-Python ray-triangle code, independent of Embree.
    mesh = meshes.normalize_mesh(synthetic.make_instance("chair", 3))
    n = 16
    directions = dh_grid.directions(n).reshape(-1, 3)
    origins = directions * 1.001
    locations, index, _ = ray_triangle.RayMeshIntersector(
        mesh).intersects_location(origins, -directions, multiple_hits=True)
    distance = np.linalg.norm(locations - origins[index], axis=1) - 0.001
    reference = np.ones(n * n)
    np.minimum.at(reference, index, np.clip(distance, 0.0, 1.0))
    self.assertAllClose(raycast.raycast(mesh, n).reshape(-1), reference,
                        atol=1e-5)

  def test_rotation_argument_equals_rotating_the_mesh(self):
    mesh = meshes.normalize_mesh(synthetic.make_instance("toilet", 1))
    for rotation in rotations.random_rotations(3, seed=4):
      expected = raycast.raycast(meshes.rotate_mesh(mesh, rotation), 32)
      actual = raycast.raycast(mesh, 32, rotation)
      # Rays grazing an edge may hit or miss depending on round-off.
      self.assertGreater(np.mean(np.abs(actual - expected) < 1e-4), 0.995)

  def test_equivariance_of_a_smooth_map(self):
    # Every ray hits this smooth surface: the map is nearly band-limited and
    # the equivariance sph(R mesh) = Lambda_R sph(mesh) holds to ~1e-4.
    mesh = mesh_test_util.offset_ellipsoid()
    depth = raycast.raycast(mesh, 32)
    for rotation in rotations.random_rotations(3, seed=0):
      actual = raycast.raycast(mesh, 32, rotation)
      self.assertLess(_relative_error(
          sht_numpy.rotate_maps(depth, rotation), actual), 1e-3)
      # The inverse rotation is clearly wrong: the check can fail.
      self.assertGreater(_relative_error(
          sht_numpy.rotate_maps(depth, rotation.T), actual), 0.02)

  @parameterized.parameters("car", "sofa", "bed", "toilet")
  def test_equivariance_of_shapes(self, category):
    # Ray-cast maps of shapes with edges are not band-limited, so exact
    # rotation on the grid differs from re-casting; compare low-passed maps.
    mesh = meshes.normalize_mesh(synthetic.make_instance(category, 0))
    errors, wrong_errors = equivariance_errors(mesh)
    self.assertLess(max(errors), _SHAPE_EQUIVARIANCE_BOUND)
    self.assertLess(max(errors), 0.7 * min(wrong_errors))

  @parameterized.parameters(*mesh_test_util.real_mesh_paths())
  def test_equivariance_of_real_meshes(self, path):
    mesh = meshes.normalize_mesh(meshes.load_mesh(path))
    errors, wrong_errors = equivariance_errors(mesh, n=64, degree=15)
    self.assertLess(max(errors), _REAL_MESH_EQUIVARIANCE_BOUND)
    self.assertLess(max(errors), 0.8 * min(wrong_errors))

  def test_real_mesh(self):
    # An open chair: about half of the rays miss (the other samples enclose
    # their bounding-box centre, so every ray hits them).
    path = mesh_test_util.OBJ_SAMPLE
    depth = raycast.raycast(meshes.normalize_mesh(meshes.load_mesh(path)), 32)
    self.assertTrue(np.all((depth >= 0) & (depth <= 1)))
    self.assertBetween(np.mean(depth < 1), 0.1, 0.9)

  def test_mesh_outside_unit_ball(self):
    with self.assertRaisesRegex(ValueError, "outside the unit ball"):
      raycast.raycast(trimesh.creation.box((3.0, 1.0, 1.0)), 16)

  def test_bad_arguments(self):
    ball = trimesh.creation.icosphere(radius=0.5)
    with self.assertRaises(dh_grid.GridError):
      raycast.raycast(ball, 12)
    with self.assertRaisesRegex(ValueError, "orthonormal"):
      raycast.raycast(ball, 16, np.diag([1.0, 2.0, 1.0]))


if __name__ == "__main__":
  tf.test.main()
