"""Tests for the TensorFlow SHT (reference: pyshtools) and TF rotation."""

import numpy as np
import pyshtools
import tensorflow as tf
from absl.testing import parameterized

from sph_embed.sphere import rotations as rotations_lib
from sph_embed.sphere import sht_tf
from sph_embed.sphere import sht_numpy


def relative_error(a, b):
  return float(np.linalg.norm(np.asarray(a) - np.asarray(b))
               / np.linalg.norm(np.asarray(b)))


def random_bandlimited_maps(batch, n, channels, seed, lmax=None):
  """[batch, n, n, channels] float32 maps of degree <= lmax (default n/2-1)."""
  rng = np.random.default_rng(seed)
  lmax = n // 2 - 1 if lmax is None else lmax
  cilm = rng.normal(size=(batch, channels, 2, lmax + 1, lmax + 1))
  cilm *= np.tril(np.ones((lmax + 1, lmax + 1)))
  cilm[..., 1, :, 0] = 0
  return np.moveaxis(sht_numpy.isht(cilm, n), 1, -1).astype(np.float32)


class ShtTest(tf.test.TestCase, parameterized.TestCase):

  @parameterized.parameters(16, 32, 64)
  def test_forward_matches_pyshtools(self, n):
    maps = np.random.default_rng(n).normal(size=(2, n, n, 3))
    ours = sht_tf.forward(tf.constant(maps, tf.float32)).numpy()
    reference = np.stack([
        np.stack([sht_numpy.cilm_to_packed(pyshtools.expand.SHExpandDH(
            maps[b, :, :, c], sampling=1)) for c in range(3)], axis=-1)
        for b in range(2)])
    self.assertLessEqual(relative_error(ours, reference), 1e-4)

  @parameterized.parameters(16, 32, 64)
  def test_inverse_matches_pyshtools(self, n):
    rng = np.random.default_rng(n + 1)
    lmax = n // 2 - 1
    cilm = rng.normal(size=(2, 2, lmax + 1, lmax + 1))
    cilm *= np.tril(np.ones((lmax + 1, lmax + 1)))
    cilm[:, 1, :, 0] = 0
    packed = np.stack([sht_numpy.cilm_to_packed(c) for c in cilm])[..., None]
    ours = sht_tf.inverse(tf.constant(packed, tf.float32), n).numpy()[..., 0]
    reference = np.stack([pyshtools.expand.MakeGridDH(c, sampling=1)
                          for c in cilm])
    self.assertLessEqual(relative_error(ours, reference), 1e-4)

  @parameterized.parameters(16, 32, 64)
  def test_round_trip(self, n):
    maps = random_bandlimited_maps(2, n, 4, seed=n)
    back = sht_tf.inverse(sht_tf.forward(maps), n)
    self.assertLessEqual(relative_error(back, maps), 1e-4)

  def test_gradient(self):
    maps = tf.Variable(random_bandlimited_maps(1, 16, 2, seed=0))
    with tf.GradientTape() as tape:
      loss = tf.reduce_sum(sht_tf.forward(maps) ** 2)
    grad = tape.gradient(loss, maps)
    self.assertEqual(grad.shape, maps.shape)
    self.assertGreater(float(tf.reduce_max(tf.abs(grad))), 0.0)

  def test_rotate_matches_numpy(self):
    maps = random_bandlimited_maps(3, 32, 2, seed=1)
    rots = rotations_lib.random_rotations(3, seed=2)
    ours = sht_tf.rotate(maps, rots).numpy()
    reference = sht_numpy.rotate_maps(maps, rots, channels_last=True)
    self.assertLessEqual(relative_error(ours, reference), 1e-5)

  def test_bad_input(self):
    with self.assertRaisesRegex(ValueError, "rank-4"):
      sht_tf.forward(tf.zeros((16, 16, 1)))
    with self.assertRaisesRegex(ValueError, "square"):
      sht_tf.forward(tf.zeros((1, 16, 32, 1)))
    with self.assertRaisesRegex(ValueError, "power of two"):
      sht_tf.forward(tf.zeros((1, 12, 12, 1)))
    with self.assertRaisesRegex(ValueError, "packed coefficients"):
      sht_tf.inverse(tf.zeros((1, 8, 8, 1)), 16)
    with self.assertRaisesRegex(ValueError, "does not fit"):
      sht_tf.inverse(tf.zeros((1, 17, 9, 1)), 16)


if __name__ == "__main__":
  tf.test.main()
