"""Tests for sph_embed.sphere.dh_grid (DH grid utilities)."""

import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from sph_embed.sphere import dh_grid


class SphereTest(tf.test.TestCase, parameterized.TestCase):

  def test_grid_matches_pyshtools(self):
    import pyshtools  # pylint: disable=g-import-not-at-top
    grid = pyshtools.SHGrid.from_zeros(lmax=7, grid="DH", sampling=1,
                                       extend=False)
    np.testing.assert_allclose(np.radians(90 - grid.lats()),
                               dh_grid.colatitudes(16), atol=1e-12)
    np.testing.assert_allclose(np.radians(grid.lons()),
                               dh_grid.longitudes(16), atol=1e-12)

  def test_directions_and_inverse(self):
    xyz = dh_grid.directions(8)
    self.assertEqual(xyz.shape, (8, 8, 3))
    np.testing.assert_allclose(np.linalg.norm(xyz, axis=-1), 1.0)
    np.testing.assert_allclose(xyz[0, :], [[0, 0, 1]] * 8, atol=1e-15)
    theta, phi = dh_grid.directions_to_colat_lon(xyz[1:])
    np.testing.assert_allclose(theta, np.pi * np.arange(1, 8)[:, None] / 8
                               * np.ones(8), atol=1e-12)
    np.testing.assert_allclose(phi, 2 * np.pi * np.arange(8) / 8
                               * np.ones((7, 1)), atol=1e-12)

  def test_area_weights(self):
    w = dh_grid.area_weights(32)
    self.assertAlmostEqual(w.sum(), 1.0)
    np.testing.assert_array_equal(w[0], 0.0)
    # The area-weighted mean of cos^2(theta) is 1/3 on the sphere.
    cos2 = np.cos(dh_grid.colatitudes(32))[:, None] ** 2
    self.assertAlmostEqual(float((w * cos2).sum()), 1 / 3, places=2)

  def test_bandwidth_round_trip(self):
    self.assertEqual(dh_grid.bandwidth(64), 32)
    self.assertEqual(dh_grid.grid_size(32), 64)

  @parameterized.parameters(3, 6, 12, 0, -4, 2.0, True)
  def test_bad_grid_size(self, n):
    with self.assertRaisesRegex(dh_grid.GridError, "grid size"):
      dh_grid.validate_grid_size(n)

  def test_validate_maps(self):
    self.assertEqual(dh_grid.validate_maps(np.zeros((2, 16, 16))), 16)
    with self.assertRaisesRegex(dh_grid.GridError, "square.*16 x 32"):
      dh_grid.validate_maps(np.zeros((16, 32)), "x.npz:embeddings")
    with self.assertRaisesRegex(dh_grid.GridError, "at least 2 axes"):
      dh_grid.validate_maps(np.zeros(16))
    with self.assertRaisesRegex(dh_grid.GridError, "power of two"):
      dh_grid.validate_maps(np.zeros((12, 12)))


if __name__ == "__main__":
  tf.test.main()
