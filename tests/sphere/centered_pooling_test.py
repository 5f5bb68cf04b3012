"""Tests for the pooling centred on the coarse DH samples."""

import numpy as np
import tensorflow as tf

from sph_embed.sphere import centered_pooling
from sph_embed.sphere import layers
from sph_embed.sphere import rotations as rotations_lib
from sph_embed.sphere import dh_grid
from sph_embed.sphere import sht_numpy
from tests.sphere.sht_tf_test import random_bandlimited_maps
from tests.sphere.sht_tf_test import relative_error


def _smooth(n):
  """A smooth function (degrees 1 and 2) sampled on the n x n grid."""
  x, y, z = np.moveaxis(dh_grid.directions(n), -1, 0)
  return (x + 0.5 * z + y * z)[None, ..., None].astype(np.float32)


class CenteredSphericalPoolTest(tf.test.TestCase):

  def test_samples_smooth_functions_at_the_coarse_points(self):
    fine, coarse = _smooth(64), _smooth(32)
    centered = centered_pooling.CenteredSphericalPool()(fine).numpy()
    self.assertEqual(centered.shape, (1, 32, 32, 1))
    self.assertLess(np.abs(centered - coarse).max(), 0.03)
    # The block pooling is off by half a fine row (the check can fail).
    block = layers.SphericalPool()(fine).numpy()
    self.assertGreater(np.abs(block - coarse).max(), 0.06)

  def test_constant_and_pole(self):
    pooled = centered_pooling.CenteredSphericalPool()(
        tf.fill((2, 16, 16, 3), 2.5)).numpy()
    self.assertAllClose(pooled, np.full((2, 8, 8, 3), 2.5), atol=1e-6)
    # North-pole row: the neighbours beyond the pole are row 1 turned by pi.
    x = np.zeros((1, 16, 16, 1), np.float32)
    x[0, 1, 8] = 1.0
    pooled = centered_pooling.CenteredSphericalPool()(x).numpy()
    self.assertGreater(pooled[0, 0, 0, 0], 0)    # Across the pole.
    self.assertGreater(pooled[0, 0, 4, 0], 0)    # Directly south.

  def test_more_equivariant_than_block_pooling(self):
    maps = random_bandlimited_maps(4, 32, 3, seed=0, lmax=7)
    rots = rotations_lib.random_rotations(4, seed=1)
    rotated = sht_numpy.rotate_maps(maps, rots, channels_last=True).astype(
        np.float32)
    errors = {}
    for pool in (centered_pooling.CenteredSphericalPool(),
                 layers.SphericalPool()):
      out_of_rotated = sht_numpy.rotate_maps(pool(rotated).numpy(), np.eye(3),
                                      channels_last=True)
      rotated_out = sht_numpy.rotate_maps(pool(maps).numpy(), rots,
                                   channels_last=True)
      errors[type(pool).__name__] = relative_error(out_of_rotated,
                                                   rotated_out)
    self.assertLess(errors["CenteredSphericalPool"], 0.2)
    self.assertLess(errors["CenteredSphericalPool"],
                    0.5 * errors["SphericalPool"])

  def test_bad_input(self):
    with self.assertRaisesRegex(ValueError, "below 4 x 4"):
      centered_pooling.CenteredSphericalPool()(tf.zeros((1, 4, 4, 1)))
    with self.assertRaisesRegex(ValueError, "square"):
      centered_pooling.CenteredSphericalPool()(tf.zeros((1, 16, 8, 1)))


if __name__ == "__main__":
  tf.test.main()
