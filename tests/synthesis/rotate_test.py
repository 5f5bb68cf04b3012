"""Tests for the exact rotation of embeddings (references: sampling the
rotated function, pyshtools)."""

import numpy as np
import pyshtools
import tensorflow as tf

from sph_embed.sphere import dh_grid
from sph_embed.sphere import rotations as rotations_lib
from sph_embed.synthesis import rotate

N = 32


def polynomial_channels(xyz):
  """Three band-limited functions of the direction (degrees <= 3): [..., 3]."""
  x, y, z = np.moveaxis(xyz, -1, 0)
  return np.stack([x + 2 * y + 0.5 * z + x * z,
                   y * y - z * x + 0.3 * x * y * z,
                   z ** 3 - 0.7 * y], axis=-1)


def sampled(function, rotation=np.eye(3)):
  """[1, N, N, C] samples of x -> function(rotation^T x) on the DH grid."""
  return function(dh_grid.directions(N) @ rotation)[None].astype(np.float32)


def random_embeddings(batch, channels, seed):
  return np.random.default_rng(seed).normal(
      size=(batch, N, N, channels)).astype(np.float32)


class RotateEmbeddingsTest(tf.test.TestCase):

  def test_matches_the_rotated_function_and_not_its_inverse(self):
    """(Lambda_R f)(x) = f(R^T x): the samples of the rotated function."""
    maps = sampled(polynomial_channels)
    for rotation in rotations_lib.random_rotations(3, seed=0):
      rotated = rotate.rotate_embeddings(maps, rotation)
      self.assertAllClose(rotated, sampled(polynomial_channels, rotation),
                          atol=2e-5)
      wrong = sampled(polynomial_channels, rotation.T)
      self.assertGreater(np.abs(rotated - wrong).max(), 0.1)

  def test_matches_pyshtools(self):
    maps = random_embeddings(1, 2, seed=1)
    rotation = rotations_lib.random_rotations(1, seed=2)[0]
    alpha, beta, gamma = rotations_lib.zyz_from_matrix(rotation)
    rotated = rotate.rotate_embeddings(maps, rotation)
    for c in range(2):
      coeffs = pyshtools.SHCoeffs.from_array(
          pyshtools.expand.SHExpandDH(maps[0, :, :, c].astype(np.float64),
                                      sampling=1))
      reference = coeffs.rotate(alpha, beta, gamma, degrees=False,
                                convention="y", body=True).expand(
                                    grid="DH", extend=False).data
      self.assertAllClose(rotated[0, :, :, c], reference, atol=1e-4)

  def test_identity_is_exactly_the_band_limited_map(self):
    """Bit for bit, even on the equator of cos(theta), where the values are
    rounding noise (~1e-17) and the general Wigner construction (off the
    identity by 6e-15) changes them."""
    cos_theta = np.broadcast_to(
        np.cos(dh_grid.colatitudes(N))[None, :, None, None], (1, N, N, 1))
    maps = np.concatenate(
        [cos_theta, random_embeddings(1, 2, seed=3)], axis=-1)
    band_limited = rotate.band_limit(maps)
    self.assertAllEqual(rotate.rotate_embeddings(maps, np.eye(3)),
                        band_limited)
    self.assertAllEqual(rotate.rotate_embeddings(maps, np.eye(3)[None]),
                        band_limited)

  def test_rotation_then_its_inverse_returns_the_band_limited_map(self):
    maps = random_embeddings(2, 3, seed=4)
    band_limited = rotate.band_limit(maps)
    # Not band-limited: the residual is the content rotations cannot keep.
    self.assertGreater(np.abs(maps - band_limited).max(), 0.1)
    rotation = rotations_lib.random_rotations(1, seed=5)[0]
    there = rotate.rotate_embeddings(maps, rotation)
    self.assertGreater(np.abs(there - band_limited).max(), 0.1)
    back = rotate.rotate_embeddings(there, rotation.T)
    self.assertAllClose(back, band_limited, atol=1e-5)
    self.assertAllClose(rotate.band_limit(band_limited), band_limited,
                        atol=1e-5)

  def test_one_rotation_per_batch_element(self):
    maps = random_embeddings(3, 2, seed=6)
    rots = rotations_lib.random_rotations(3, seed=7)
    rots[1] = np.eye(3)
    out = rotate.rotate_embeddings(maps, rots)
    self.assertEqual(out.dtype, np.float32)
    self.assertEqual(out.shape, maps.shape)
    for b in range(3):
      self.assertAllClose(out[b], rotate.rotate_embeddings(maps[b:b + 1],
                                                           rots[b])[0],
                          atol=1e-6)
    self.assertAllEqual(out[1], rotate.band_limit(maps[1:2])[0])

  def test_bad_input(self):
    maps = np.zeros((2, N, N, 3), np.float32)
    with self.assertRaisesRegex(ValueError, r"embeddings: expected \[batch"):
      rotate.rotate_embeddings(maps[0], np.eye(3))
    with self.assertRaisesRegex(ValueError, "embeddings: DH maps must be"
                                " square"):
      rotate.band_limit(maps[:, :, :16])
    with self.assertRaisesRegex(ValueError, "3 rotations for a batch of 2"):
      rotate.rotate_embeddings(maps, rotations_lib.random_rotations(3))
    with self.assertRaisesRegex(ValueError, r"\[3, 3\] or \[batch, 3, 3\]"):
      rotate.rotate_embeddings(maps, np.eye(3)[None, None])
    with self.assertRaisesRegex(ValueError, "determinant"):
      rotate.rotate_embeddings(maps, np.diag([1.0, 1.0, -1.0]))


if __name__ == "__main__":
  tf.test.main()
