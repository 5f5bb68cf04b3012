"""Tests for the spherical Keras layers: equivariance, pooling, padding."""

import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from sph_embed.sphere import layers
from sph_embed.sphere import rotations as rotations_lib
from sph_embed.sphere import dh_grid
from sph_embed.sphere import sht_numpy
from tests.sphere.sht_tf_test import random_bandlimited_maps
from tests.sphere.sht_tf_test import relative_error


def equivariance_error(layer, n=32, channels=3, count=4, seed=0):
  """Mean relative error of layer(rotate(x)) vs rotate(layer(x))."""
  maps = random_bandlimited_maps(count, n, channels, seed=seed)
  rots = rotations_lib.random_rotations(count, seed=seed + 1)
  rotated_in = sht_numpy.rotate_maps(maps, rots, channels_last=True)
  out_of_rotated = layer(tf.constant(rotated_in, tf.float32)).numpy()
  rotated_out = sht_numpy.rotate_maps(layer(tf.constant(maps)).numpy(), rots,
                               channels_last=True)
  return relative_error(out_of_rotated, rotated_out)


class SphericalConvTest(tf.test.TestCase, parameterized.TestCase):

  @parameterized.parameters((16, True), (32, False))
  def test_equivariance(self, n, use_bias):
    tf.keras.utils.set_random_seed(1)
    conv = layers.SphericalConv(5, use_bias=use_bias)
    conv.build((None, n, n, 3))
    if use_bias:
      conv.bias.assign(tf.random.normal([5]))
    self.assertLessEqual(equivariance_error(conv, n=n), 1e-4)

  def test_plain_conv2d_fails_the_check(self):
    """The same check rejects a non-equivariant layer, so it can fail."""
    tf.keras.utils.set_random_seed(1)
    conv = tf.keras.layers.Conv2D(5, 3, padding="same")
    self.assertGreater(equivariance_error(conv), 0.1)

  def test_filters_are_localised_and_interpolated(self):
    conv = layers.SphericalConv(2, num_anchors=4)
    conv.build((None, 16, 16, 1))
    self.assertEqual(conv.anchors.shape, (4, 1, 2))
    per_degree = conv.filters_by_degree().numpy()
    self.assertEqual(per_degree.shape, (8, 1, 2))
    scale = layers.zonal_scale(7) / (4 * np.pi)
    unscaled = per_degree / scale[:, None, None]
    # Anchors at degrees 0, 7/3, 14/3, 7; degree 1 lies between anchors 0, 1.
    t = 1 / (7 / 3)
    self.assertAllClose(unscaled[1], (1 - t) * conv.anchors[0] +
                        t * conv.anchors[1], atol=1e-6)
    self.assertAllClose(unscaled[7], conv.anchors[3], atol=1e-6)

  def test_output_shape_and_training(self):
    model = tf.keras.Sequential([
        tf.keras.Input((16, 16, 1)), layers.SphericalConv(4),
        layers.SphericalPool(), layers.SphericalGlobalAvgPool(),
        tf.keras.layers.Dense(2)])
    self.assertEqual(model.output_shape, (None, 2))
    x = tf.random.normal((4, 16, 16, 1))
    with tf.GradientTape() as tape:
      loss = tf.reduce_mean(model(x) ** 2)
    grads = tape.gradient(loss, model.trainable_variables)
    self.assertTrue(all(g is not None for g in grads))

  def test_bad_input(self):
    conv = layers.SphericalConv(2)
    with self.assertRaisesRegex(ValueError, "rank-4"):
      conv(tf.zeros((16, 16, 1)))
    with self.assertRaisesRegex(ValueError, "power of two"):
      layers.SphericalConv(2)(tf.zeros((1, 6, 6, 1)))
    conv = layers.SphericalConv(2)
    conv(tf.zeros((1, 16, 16, 3)))
    with self.assertRaisesRegex(ValueError, "built for 3 input channels.*4"):
      conv(tf.zeros((1, 16, 16, 4)))
    with self.assertRaisesRegex(ValueError, "square"):
      layers.SphericalPool()(tf.zeros((1, 16, 8, 1)))


class PoolingTest(tf.test.TestCase):

  def test_pool_preserves_area_weighted_mean(self):
    x = random_bandlimited_maps(2, 32, 3, seed=3, lmax=4) + 2.0
    pooled = layers.SphericalPool()(x).numpy()
    self.assertEqual(pooled.shape, (2, 16, 16, 3))
    # The area-weighted sum over each 2 x 2 window is kept exactly, so the
    # mean under the windows' areas equals the fine grid's mean.
    w = np.sin(dh_grid.colatitudes(32))
    window_w = (w[0::2] + w[1::2])[None, :, None, None]
    fine = (x * w[None, :, None, None]).sum(axis=(1, 2))
    coarse = (pooled * window_w).sum(axis=(1, 2)) * 2
    self.assertAllClose(fine, coarse, rtol=1e-5)

  def test_global_pool_is_area_weighted(self):
    n = 32
    theta = dh_grid.colatitudes(n)
    cos2 = np.broadcast_to((np.cos(theta) ** 2)[None, :, None, None],
                           (1, n, n, 1)).astype(np.float32)
    mean = layers.SphericalGlobalAvgPool()(cos2).numpy()
    self.assertAllClose(mean, [[1 / 3]], atol=2e-3)
    self.assertNotAllClose(cos2.mean(), 1 / 3, atol=2e-2)   # unweighted fails


class SphericalPaddingTest(tf.test.TestCase):

  def test_wraps_longitude_and_crosses_poles(self):
    x = np.arange(2 * 8 * 8 * 1, dtype=np.float32).reshape(2, 8, 8, 1)
    out = layers.SphericalPadding(((2, 3), (3, 1)))(x).numpy()
    self.assertEqual(out.shape, (2, 13, 12, 1))
    core = out[:, 2:10]
    self.assertAllEqual(core[:, :, 3:11], x)
    self.assertAllEqual(core[:, :, :3], x[:, :, -3:])
    self.assertAllEqual(core[:, :, 11:], x[:, :, :1])
    half_turn = lambda row: np.roll(row, 4, axis=1)
    self.assertAllEqual(out[:, 1, 3:11], half_turn(x[:, 1]))
    self.assertAllEqual(out[:, 0, 3:11], half_turn(x[:, 2]))
    south_pole = x[:, 7].mean(axis=1, keepdims=True)
    self.assertAllClose(out[:, 10, 3:11], np.broadcast_to(south_pole,
                                                          (2, 8, 1)))
    self.assertAllEqual(out[:, 11, 3:11], half_turn(x[:, 7]))
    self.assertAllEqual(out[:, 12, 3:11], half_turn(x[:, 6]))

  def test_padded_samples_are_the_function_at_their_true_positions(self):
    """A smooth function on the sphere, padded, equals the function at the
    padded samples' positions (theta < 0 or > pi lies across a pole).

    Reflecting in colatitude at the same longitude is off here by up to
    the function's full range (the old padding: max error 2.1).
    """
    n, pad = 16, 2
    f = lambda x, y, z: x + 2 * y + 0.5 * z + x * z
    theta = np.pi * np.arange(-pad, n + pad) / n
    phi = 2 * np.pi * np.arange(-pad, n + pad) / n
    t, p = np.meshgrid(theta, phi, indexing="ij")
    truth = f(np.sin(t) * np.cos(p), np.sin(t) * np.sin(p), np.cos(t))
    maps = truth[pad:n + pad, pad:n + pad][None, :, :, None]
    out = layers.SphericalPadding(pad)(maps.astype(np.float32)).numpy()
    south_pole_row = n + pad
    sampled = np.delete(np.arange(n + 2 * pad), south_pole_row)
    self.assertAllClose(out[0, sampled, :, 0], truth[sampled], atol=1e-5)
    # The unsampled south pole: the mean of the last row, O(h^2) accurate.
    self.assertAllClose(out[0, south_pole_row, :, 0], truth[south_pole_row],
                        atol=0.02)

  def test_conv_commutes_with_longitude_shift(self):
    """Padding + valid conv is exactly equivariant to a roll in longitude."""
    tf.keras.utils.set_random_seed(2)
    x = tf.random.normal((1, 8, 16, 2))
    model = tf.keras.Sequential([layers.SphericalPadding(1),
                                 tf.keras.layers.Conv2D(3, 3)])
    shifted = model(tf.roll(x, 5, axis=2))
    self.assertAllClose(shifted, tf.roll(model(x), 5, axis=2), atol=1e-5)
    zero_padded = tf.keras.layers.Conv2D(3, 3, padding="same")
    self.assertNotAllClose(zero_padded(tf.roll(x, 5, axis=2)),
                           tf.roll(zero_padded(x), 5, axis=2), atol=1e-3)

  def test_bad_padding(self):
    with self.assertRaisesRegex(ValueError, "needs more than"):
      layers.SphericalPadding(4)(tf.zeros((1, 4, 8, 1)))
    with self.assertRaisesRegex(ValueError, "wider than"):
      layers.SphericalPadding((1, 9))(tf.zeros((1, 8, 8, 1)))
    with self.assertRaisesRegex(ValueError, "even number of longitudes"):
      layers.SphericalPadding(1)(tf.zeros((1, 8, 7, 1)))


if __name__ == "__main__":
  tf.test.main()
