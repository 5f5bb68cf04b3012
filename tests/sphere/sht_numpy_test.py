"""Tests for the NumPy SHT and exact rotations (reference: pyshtools, scipy)."""

import numpy as np
import pyshtools
import tensorflow as tf
from absl.testing import parameterized

from sph_embed.sphere import rotations as rotations_lib
from sph_embed.sphere import dh_grid
from sph_embed.sphere import sht_numpy


def random_cilm(lmax, rng, batch=()):
  """Random real coefficients [*batch, 2, L+1, L+1] (zero where m > l)."""
  cilm = rng.normal(size=batch + (2, lmax + 1, lmax + 1))
  cilm *= np.tril(np.ones((lmax + 1, lmax + 1)))
  cilm[..., 1, :, 0] = 0
  return cilm


class SphericalHarmonicsTest(tf.test.TestCase, parameterized.TestCase):

  @parameterized.parameters(16, 32, 64)
  def test_forward_and_inverse_match_pyshtools(self, n):
    rng = np.random.default_rng(n)
    maps = rng.normal(size=(2, n, n))
    ours = sht_numpy.sht(maps)
    for b in range(2):
      reference = pyshtools.expand.SHExpandDH(maps[b], sampling=1)
      self.assertAllClose(ours[b], reference, atol=1e-12)
    cilm = random_cilm(n // 2 - 1, rng)
    self.assertAllClose(sht_numpy.isht(cilm, n),
                        pyshtools.expand.MakeGridDH(cilm, sampling=1),
                        atol=1e-11)

  def test_packed_layout_round_trip(self):
    cilm = random_cilm(7, np.random.default_rng(0), (3,))
    packed = sht_numpy.cilm_to_packed(cilm)
    self.assertEqual(packed.shape, (3, 15, 8))
    self.assertEqual(np.abs(packed[:, ~sht_numpy.packed_mask(7)]).max(), 0.0)
    self.assertAllEqual(packed[0, 7 + 2, 5], cilm[0, 0, 5, 2])   # m = +2
    self.assertAllEqual(packed[0, 7 - 2, 5], cilm[0, 1, 5, 2])   # m = -2
    self.assertAllEqual(sht_numpy.packed_to_cilm(packed), cilm)

  def test_rotation_matches_pyshtools(self):
    lmax = 15
    rng = np.random.default_rng(1)
    cilm = random_cilm(lmax, rng)
    for rotation in rotations_lib.random_rotations(3, seed=2):
      alpha, beta, gamma = rotations_lib.zyz_from_matrix(rotation)
      reference = pyshtools.SHCoeffs.from_array(cilm).rotate(
          alpha, beta, gamma, degrees=False, convention="y",
          body=True).coeffs
      ours = sht_numpy.packed_to_cilm(sht_numpy.rotate_packed(
          sht_numpy.cilm_to_packed(cilm), sht_numpy.wigner_matrices(rotation, lmax)))
      self.assertAllClose(ours, reference, atol=1e-10)

  def test_rotate_then_inverse_and_composition(self):
    n = 32
    rng = np.random.default_rng(3)
    maps = sht_numpy.isht(random_cilm(n // 2 - 1, rng, (2,)), n)
    r1, r2 = rotations_lib.random_rotations(2, seed=4)
    back = sht_numpy.rotate_maps(sht_numpy.rotate_maps(maps, r1), r1.T)
    self.assertLess(np.abs(back - maps).max() / np.abs(maps).max(), 1e-5)
    twice = sht_numpy.rotate_maps(sht_numpy.rotate_maps(maps, r2), r1)
    self.assertAllClose(twice, sht_numpy.rotate_maps(maps, r1 @ r2), atol=1e-10)
    # Not commutative: the order of the product matters (the test can fail).
    self.assertGreater(
        np.abs(twice - sht_numpy.rotate_maps(maps, r2 @ r1)).max(), 1e-2)

  def test_direction_convention_against_scipy(self):
    """A bump at u, rotated by R, peaks at R u: (Lambda_R f)(x) = f(R^T x)."""
    n = 64
    xyz = dh_grid.directions(n)
    for seed, rotation in enumerate(rotations_lib.random_rotations(4, seed=5)):
      u = np.random.default_rng(seed).normal(size=3)
      u /= np.linalg.norm(u)
      bump = np.exp(20.0 * (xyz @ u - 1.0))
      rotated = sht_numpy.rotate_maps(bump, rotation)
      peak = xyz[np.unravel_index(np.argmax(rotated), rotated.shape)]
      expected = (transform_apply(rotation, u))
      # Within about one grid cell (180 / 64 degrees in colatitude).
      self.assertLess(np.degrees(np.arccos(np.clip(peak @ expected, -1, 1))),
                      4.0)
      wrong = rotation.T @ u
      self.assertGreater(np.degrees(np.arccos(np.clip(wrong @ expected, -1, 1))),
                         4.0)

  def test_channels_last_and_broadcasting(self):
    n = 16
    rng = np.random.default_rng(6)
    maps = np.moveaxis(sht_numpy.isht(random_cilm(7, rng, (2, 3)), n), 1, -1)
    rots = rotations_lib.random_rotations(2, seed=7)
    out = sht_numpy.rotate_maps(maps, rots, channels_last=True)
    self.assertEqual(out.shape, (2, n, n, 3))
    self.assertAllClose(out[1, :, :, 2], sht_numpy.rotate_maps(maps[1, :, :, 2],
                                                        rots[1]), atol=1e-10)

  def test_bad_input(self):
    with self.assertRaisesRegex(ValueError, "square"):
      sht_numpy.sht(np.zeros((16, 8)))
    with self.assertRaisesRegex(ValueError, "lmax must be in"):
      sht_numpy.sht(np.zeros((16, 16)), lmax=8)
    with self.assertRaisesRegex(ValueError, r"\[\.\.\., 2, L\+1, L\+1\]"):
      sht_numpy.isht(np.zeros((3, 8, 8)), 16)
    with self.assertRaisesRegex(ValueError, "does not fit"):
      sht_numpy.isht(np.zeros((2, 9, 9)), 16)
    with self.assertRaisesRegex(ValueError, "determinant"):
      sht_numpy.rotate_maps(np.zeros((16, 16)), np.diag([1.0, 1.0, -1.0]))


def transform_apply(rotation, vector):
  """scipy's action of the rotation on a vector (the reference)."""
  from scipy.spatial import transform  # pylint: disable=g-import-not-at-top
  return transform.Rotation.from_matrix(rotation).apply(vector)


if __name__ == "__main__":
  tf.test.main()
