"""Tests of sph_embed.pose.correlation: conventions, brute force, known R.

NumPy only (absltest, no TensorFlow): the correlation tool must run without
TF.  References: Wigner's explicit formula, scipy's complex harmonics,
pyshtools' point evaluation of the rotated expansion, rotate_maps and the
slow direct versions in tests/pose/reference.py.
"""

from unittest import mock

import numpy as np
import pyshtools
from absl.testing import absltest
from absl.testing import parameterized
from scipy import special

from sph_embed.pose import correlation
from sph_embed.pose.correlation import wigner_tables
from sph_embed.sphere import rotations as rotations_lib
from sph_embed.sphere import dh_grid
from sph_embed.sphere import sht_numpy
from tests.pose import reference


def random_cilm(lmax, rng, batch=()):
  cilm = rng.normal(size=batch + (2, lmax + 1, lmax + 1))
  cilm *= np.tril(np.ones((lmax + 1, lmax + 1)))
  cilm[..., 1, :, 0] = 0
  return cilm


def band_limited_maps(n, channels, rng, lmax=None):
  """Random band-limited channels-last maps [n, n, C] and their cilm."""
  lmax = n // 2 - 1 if lmax is None else lmax
  cilm = random_cilm(lmax, rng, (channels,))
  return np.moveaxis(sht_numpy.isht(cilm, n), 0, -1), cilm


def rotate(maps, rotation):
  return sht_numpy.rotate_maps(maps, rotation, channels_last=True)


def brute_force(cilm1, maps2, rotation):
  """sum_c int f2_c(x) f1_c(R^T x) dx by DH quadrature (exact here).

  f1 is evaluated at the rotated points R^T x from its expansion with
  pyshtools (independent of this module and of rotate_maps).
  """
  n = maps2.shape[0]
  points = dh_grid.directions(n) @ rotation          # rows: (R^T x)^T
  theta, phi = dh_grid.directions_to_colat_lon(points)
  lat, lon = 90 - np.degrees(theta), np.degrees(phi)
  rotated = np.stack([
      pyshtools.expand.MakeGridPoint(c, lat.ravel(), lon.ravel()).reshape(n, n)
      for c in cilm1], axis=-1)
  weights = pyshtools.backends.shtools.DHaj(n)
  weights = 4 * np.pi * weights / (n * weights.sum())
  return np.sum(weights[:, None, None] * maps2 * rotated)


class WignerTest(parameterized.TestCase):

  def test_half_pi_matches_explicit_formula(self):
    lmax = 9
    delta = correlation.wigner_d_half_pi(lmax)
    for l in range(lmax + 1):
      block = delta[l, lmax - l:lmax + l + 1, lmax - l:lmax + l + 1]
      np.testing.assert_allclose(
          block, reference.wigner_d_reference(l, np.pi / 2), atol=1e-12)
      # Zero outside |n|, |k| <= l.
      self.assertEqual(np.abs(delta[l]).sum(), np.abs(block).sum())

  def test_half_pi_is_orthogonal(self):
    delta = correlation.wigner_d_half_pi(40)
    for l in (0, 1, 17, 40):
      block = delta[l, 40 - l:41 + l, 40 - l:41 + l]
      np.testing.assert_allclose(block @ block.T, np.eye(2 * l + 1),
                                 atol=1e-12)

  @parameterized.parameters(0.3, 1.9, 2.8)
  def test_factorisation_of_d_beta(self, beta):
    lmax = 6
    delta = correlation.wigner_d_half_pi(lmax)
    orders = np.arange(-lmax, lmax + 1)
    phase = 1j ** np.mod(orders[None, :] - orders[:, None], 4)
    for l in range(lmax + 1):
      d = phase * np.einsum("nk,mk,k->nm", delta[l], delta[l],
                            np.exp(-1j * orders * beta))
      d = d[lmax - l:lmax + l + 1, lmax - l:lmax + l + 1]
      np.testing.assert_allclose(d, reference.wigner_d_reference(l, beta),
                                 atol=1e-12)


class CoefficientsTest(parameterized.TestCase):

  def test_complex_coefficients_match_scipy_harmonics(self):
    rng = np.random.default_rng(0)
    n, lmax = 16, 7
    cilm = random_cilm(lmax, rng)
    maps = sht_numpy.isht(cilm, n)
    coefficients = correlation.complex_coefficients(cilm)
    theta, phi = np.meshgrid(dh_grid.colatitudes(n), dh_grid.longitudes(n),
                             indexing="ij")
    total = np.zeros((n, n), dtype=complex)
    for l in range(lmax + 1):
      for m in range(-l, l + 1):
        total += coefficients[l, lmax + m] * special.sph_harm_y(l, m, theta,
                                                                phi)
    np.testing.assert_allclose(total, maps, atol=1e-12)

  def test_upsampling_keeps_samples_and_approximates_the_function(self):
    rng = np.random.default_rng(1)
    cilm = random_cilm(3, rng, (2,))
    coarse = sht_numpy.isht(cilm, 16)
    fine = reference.upsample_maps(coarse, 4)
    self.assertEqual(fine.shape, (2, 64, 64))
    np.testing.assert_allclose(fine[:, ::4, ::4], coarse, atol=1e-12)
    exact = sht_numpy.isht(cilm, 64)
    error = np.abs(fine - exact).max() / np.abs(exact).max()
    self.assertLess(error, 0.02)
    # Interpolation across the poles follows the sphere, not a flat image:
    # the rows next to the south pole are as good as the rest.
    south = np.abs(fine[:, -4:] - exact[:, -4:]).max() / np.abs(exact).max()
    self.assertLess(south, 0.02)

  @parameterized.parameters(1, 2, 4)
  def test_fused_upsampled_transform_matches_upsample_then_sht(self, factor):
    maps = np.random.default_rng(14).normal(size=(3, 2, 16, 16))
    expected = sht_numpy.sht(reference.upsample_maps(maps, factor))
    np.testing.assert_allclose(correlation.upsampled_sht(maps, factor),
                               expected, atol=1e-13 * np.abs(expected).max())

  def test_normalized_channels_have_unit_norm_and_zero_mean(self):
    rng = np.random.default_rng(2)
    maps = rng.normal(size=(16, 16, 3)) + np.array([0.0, 5.0, -2.0])
    maps[..., 2] = 7.0          # constant channel -> zero
    coefficients = correlation.map_coefficients(maps, normalize=True)
    norms = np.sqrt(np.sum(np.abs(coefficients) ** 2, axis=(-2, -1)))
    np.testing.assert_allclose(norms, [1.0, 1.0, 0.0], atol=1e-12)
    np.testing.assert_array_equal(coefficients[:, 0, 7], 0)


class CorrelationTest(parameterized.TestCase):

  def setUp(self):
    super().setUp()
    rng = np.random.default_rng(3)
    self.n = 16
    self.maps1, self.cilm1 = band_limited_maps(self.n, 3, rng)
    self.maps2, _ = band_limited_maps(self.n, 3, rng)
    self.c1 = correlation.map_coefficients(self.maps1)
    self.c2 = correlation.map_coefficients(self.maps2)
    self.fourier = correlation.fourier_correlation(self.c1, self.c2)

  def test_fourier_coefficients_match_reference_loop(self):
    expected = reference.fourier_correlation_reference(self.c1, self.c2)
    np.testing.assert_allclose(self.fourier, expected, atol=1e-12)

  def test_large_degree_path_matches_reference_loop(self):
    # The swapped pair: a work array freed by setUp and handed out again
    # holds T of (c1, c2), so an entry the blocks missed would show.
    with mock.patch.object(wigner_tables, "_MAX_CACHED_PRODUCT_BYTES", 0):
      blocked = correlation.fourier_correlation(self.c2, self.c1)
    np.testing.assert_allclose(
        blocked, reference.fourier_correlation_reference(self.c2, self.c1),
        atol=1e-12)

  def test_grid_equals_brute_force_at_grid_points(self):
    grid = correlation.correlation_grid(self.fourier)
    size = grid.shape[0]
    angles = correlation.grid_angles(size)
    rng = np.random.default_rng(4)
    for a, b, c in rng.integers(0, [size, size // 2 + 1, size], size=(6, 3)):
      rotation = rotations_lib.matrix_from_zyz(angles[a], angles[b],
                                               angles[c])
      expected = brute_force(self.cilm1, self.maps2, rotation)
      self.assertLessEqual(abs(grid[a, b, c] - expected),
                           1e-6 * abs(expected))

  def test_correlation_equals_brute_force_at_random_rotations(self):
    for rotation in rotations_lib.random_rotations(6, seed=5):
      euler = rotations_lib.zyz_from_matrix(rotation)
      value = correlation.correlation_at(self.fourier, *euler)
      expected = brute_force(self.cilm1, self.maps2, rotation)
      self.assertLessEqual(abs(value - expected), 1e-6 * abs(expected))
      # ... and by quadrature with the exactly rotated map.
      rotated = brute_force_with_rotate_maps(self.maps1, self.maps2, rotation)
      self.assertLessEqual(abs(value - rotated), 1e-6 * abs(expected))

  def test_zero_padding_refines_the_same_function(self):
    coarse = correlation.correlation_grid(self.fourier)
    fine = correlation.correlation_grid(self.fourier, 2 * coarse.shape[0])
    np.testing.assert_allclose(fine[::2, ::2, ::2], coarse, atol=1e-12)

  def test_grid_covers_beta_up_to_pi_and_the_rest_is_redundant(self):
    grid = correlation.correlation_grid(self.fourier)
    size = grid.shape[0]
    self.assertEqual(grid.shape, (size, size // 2 + 1, size))
    rng = np.random.default_rng(13)
    for alpha, beta, gamma in rng.uniform(0, 2 * np.pi, size=(5, 3)):
      beta = np.pi + beta / 2                    # in (pi, 2 pi)
      np.testing.assert_allclose(
          correlation.correlation_at(self.fourier, alpha, beta, gamma),
          correlation.correlation_at(self.fourier, alpha + np.pi,
                                     2 * np.pi - beta, gamma + np.pi),
          rtol=1e-10)
      np.testing.assert_allclose(
          rotations_lib.matrix_from_zyz(alpha, beta, gamma),
          rotations_lib.matrix_from_zyz(alpha + np.pi, 2 * np.pi - beta,
                                        gamma + np.pi), atol=1e-12)

  def test_gradient_matches_finite_differences(self):
    x = np.array([0.4, 1.1, 2.5])
    _, gradient = correlation.correlation_at(self.fourier, *x, gradient=True)
    step = 1e-6
    numeric = [(correlation.correlation_at(self.fourier, *(x + step * e))
                - correlation.correlation_at(self.fourier, *(x - step * e)))
               / (2 * step) for e in np.eye(3)]
    np.testing.assert_allclose(gradient, numeric, rtol=1e-6, atol=1e-8)

  def test_bad_input(self):
    with self.assertRaisesRegex(ValueError, "square"):
      correlation.map_coefficients(np.zeros((16, 8, 2)), what="view 3")
    with self.assertRaisesRegex(ValueError, "view 3.*NaN"):
      maps = np.zeros((16, 16, 2))
      maps[3, 4, 1] = np.nan
      correlation.map_coefficients(maps, what="view 3")
    with self.assertRaisesRegex(ValueError, "differ"):
      correlation.align(np.zeros((16, 16, 2)), np.zeros((16, 16, 3)))
    with self.assertRaisesRegex(ValueError, "differ"):
      correlation.align(np.zeros((16, 16, 2)), np.zeros((32, 32, 2)))
    with self.assertRaisesRegex(ValueError, "power of two"):
      correlation.align(np.zeros((12, 12, 2)), np.zeros((12, 12, 2)))
    with self.assertRaisesRegex(ValueError, "grid_size"):
      correlation.correlation_grid(self.fourier, 15)
    with self.assertRaisesRegex(ValueError, "grid_size"):
      correlation.correlation_grid(self.fourier, 14)
    with self.assertRaisesRegex(ValueError, "factor"):
      correlation.upsampled_sht(np.zeros((16, 16)), 0)
    with self.assertRaisesRegex(ValueError, "channels-last"):
      correlation.map_coefficients(np.zeros((16, 16)))


def brute_force_with_rotate_maps(maps1, maps2, rotation):
  n = maps2.shape[0]
  weights = pyshtools.backends.shtools.DHaj(n)
  weights = 4 * np.pi * weights / (n * weights.sum())
  return np.sum(weights[:, None, None] * maps2 * rotate(maps1, rotation))


class KnownRotationTest(parameterized.TestCase):
  """g = rotate(f, R) -> the estimate is R (not R^T, not a neighbour)."""

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    rng = np.random.default_rng(6)
    cls.n = 32
    cls.maps, _ = band_limited_maps(cls.n, 4, rng)
    cls.truth = rotations_lib.random_rotations(20, seed=7)
    cls.rotated = np.stack([rotate(cls.maps, r) for r in cls.truth])

  def test_grid_estimate_within_half_a_cell(self):
    result = correlation.align(self.maps, self.rotated)
    errors = rotations_lib.geodesic_degrees(result.rotations, self.truth)
    _, beta, _ = rotations_lib.zyz_from_matrix(self.truth)
    radius = correlation.cell_radius_degrees(self.n, beta)
    np.testing.assert_array_less(errors, radius + 1e-6)
    self.assertLess(radius.max(), 1.12 * 360 / self.n)
    # The transposed convention would be far off.
    wrong = rotations_lib.geodesic_degrees(
        result.rotations, np.swapaxes(self.truth, -1, -2))
    self.assertGreater(np.median(wrong), 30)

  def test_refined_estimate_within_half_a_degree(self):
    result = correlation.align(self.maps, self.rotated, refine=True)
    errors = rotations_lib.geodesic_degrees(result.rotations, self.truth)
    np.testing.assert_array_less(errors, 0.5)

  def test_batched_pairs_match_single_pairs(self):
    c1 = correlation.map_coefficients(self.maps)
    c2 = correlation.map_coefficients(self.rotated[:5])
    batched = correlation.align_coefficients(c1[None], c2, return_grids=True)
    for i in range(5):
      single = correlation.align_coefficients(c1, c2[i], return_grids=True)
      np.testing.assert_allclose(batched.grids[i], single.grids, atol=1e-12)
      np.testing.assert_allclose(batched.rotations[i], single.rotations)
    # Many pairs by index, in batches that split first views' pairs.
    maps = np.concatenate([self.maps[None], self.rotated[:5]])
    pairs = np.array([[0, 1], [0, 2], [3, 4], [0, 3], [0, 5], [2, 2]])
    many = correlation.align_pairs(maps, maps, pairs, batch_size=4)
    for (i, j), rotation in zip(pairs, many.rotations):
      single = correlation.align(maps[i], maps[j])
      np.testing.assert_allclose(rotation, single.rotations)
    np.testing.assert_allclose(many.rotations[0], batched.rotations[0])

  def test_two_axis_broadcast_matches_single_pairs(self):
    # [2, 1] first views against [1, 3] second views -> a [2, 3] batch.
    c1 = correlation.map_coefficients(np.stack([self.maps, self.rotated[5]]))
    c2 = correlation.map_coefficients(self.rotated[:3])
    batched = correlation.align_coefficients(c1[:, None], c2[None],
                                             refine=True, return_grids=True)
    fourier = correlation.fourier_correlation(c1[:, None], c2[None])
    self.assertEqual(batched.rotations.shape, (2, 3, 3, 3))
    self.assertEqual(batched.scores.shape, (2, 3))
    for i in range(2):
      for j in range(3):
        single = correlation.align_coefficients(c1[i], c2[j], refine=True,
                                                return_grids=True)
        np.testing.assert_allclose(batched.grids[i, j], single.grids,
                                   atol=1e-12)
        np.testing.assert_allclose(batched.rotations[i, j], single.rotations,
                                   atol=1e-9)
        np.testing.assert_allclose(
            fourier[i, j], correlation.fourier_correlation(c1[i], c2[j]),
            atol=1e-12)

  def test_upsampled_coarse_maps(self):
    # 16 x 16 maps upsampled x4 (bandwidth 32), as the original did.
    rng = np.random.default_rng(8)
    coarse, _ = band_limited_maps(16, 4, rng, lmax=5)
    truth = self.truth[:5]
    rotated = np.stack([rotate(coarse, r) for r in truth])
    result = correlation.align(coarse, rotated, upsample=4, refine=True)
    self.assertEqual(result.euler.shape, (5, 3))
    errors = rotations_lib.geodesic_degrees(result.rotations, truth)
    np.testing.assert_array_less(errors, 2.0)

  def test_normalization_stops_one_loud_channel_dominating(self):
    rng = np.random.default_rng(9)
    rotation = self.truth[0]
    rotated = self.rotated[0].copy()
    loud = band_limited_maps(self.n, 1, rng)[0][..., 0] * 1000
    first = self.maps.copy()
    first[..., 0] = loud
    rotated[..., 0] = band_limited_maps(self.n, 1, rng)[0][..., 0] * 1000
    plain = correlation.align(first, rotated, refine=True)
    normalized = correlation.align(first, rotated, refine=True,
                                   normalize=True)
    self.assertGreater(
        rotations_lib.geodesic_degrees(plain.rotations, rotation), 5)
    self.assertLess(
        rotations_lib.geodesic_degrees(normalized.rotations, rotation), 0.5)
    self.assertLessEqual(normalized.scores, 4 + 1e-9)

  def test_self_alignment_score_with_normalization_is_channel_count(self):
    result = correlation.align(self.maps, self.maps, normalize=True)
    np.testing.assert_allclose(result.rotations, np.eye(3), atol=1e-12)
    np.testing.assert_allclose(result.scores, 4.0, rtol=1e-12)


class PysofftCrossCheckTest(absltest.TestCase):
  """Against pysofft (a port of SOFT, the original's SO(3) FFT), if present.

  pysofft is benchmark-only (install recipe in benchmarks/correlate_bench.py);
  the tests above do not need it.  Its cross_correlation_ylm_real, fed the
  m >= 0 coefficients of `complex_coefficients` one channel at a time and
  summed, samples the same C: out[i, j, k] = C(alpha_i, beta_k, gamma_j) on
  SOFT's grid (beta_k = (2k + 1) pi / 4B).
  """

  def test_channel_sum_of_pysofft_equals_our_correlation(self):
    try:
      import pysofft  # pylint: disable=g-import-not-at-top
    except ImportError:
      self.skipTest("pysofft is not installed (benchmark-only)")
    bw, channels = 8, 2
    rng = np.random.default_rng(12)
    maps1, _ = band_limited_maps(2 * bw, channels, rng)
    maps2, _ = band_limited_maps(2 * bw, channels, rng)
    c1 = correlation.map_coefficients(maps1)
    c2 = correlation.map_coefficients(maps2)
    soft = pysofft.Soft(bw)
    index = [(m * (2 * bw - 1 - m)) // 2 + l
             for m in range(bw) for l in range(m, bw)]
    theirs = 0
    for c in range(channels):
      packed = [np.zeros(bw * bw, complex) for _ in range(2)]
      for coefficients, out in zip((c1[c], c2[c]), packed):
        out[index] = [coefficients[l, bw - 1 + m]
                      for m in range(bw) for l in range(m, bw)]
      theirs = theirs + soft.cross_correlation_ylm_real(*packed)
    fourier = correlation.fourier_correlation(c1, c2)
    angles = soft.euler_angles
    for i, j, k in rng.integers(0, 2 * bw, size=(8, 3)):
      ours = correlation.correlation_at(fourier, angles["alpha"][i],
                                        angles["beta"][k], angles["gamma"][j])
      self.assertLessEqual(abs(theirs[i, j, k] - ours), 1e-9 * abs(ours))


class PeaksTest(absltest.TestCase):

  def test_symmetric_map_shows_two_peaks(self):
    # Only even orders m: f is invariant under Rz(pi), so f2 = rotate(f, R)
    # matches at R and at R Rz(pi).
    rng = np.random.default_rng(10)
    cilm = random_cilm(7, rng, (2,))
    cilm[..., 1::2] = 0
    maps = np.moveaxis(sht_numpy.isht(cilm, 16), 0, -1)
    rotation = rotations_lib.random_rotations(1, seed=11)[0]
    result = correlation.align(maps, rotate(maps, rotation), grid_size=32,
                               return_grid=True)
    found, values = correlation.peaks(result.grids, count=2)
    self.assertLen(found, 2)
    self.assertLess(abs(values[0] - values[1]), 0.05 * values[0])
    twin = rotation @ rotations_lib.matrix_from_zyz(0.0, 0.0, np.pi)
    for expected in (rotation, twin):
      closest = rotations_lib.geodesic_degrees(found, expected).min()
      self.assertLess(closest, correlation.cell_radius_degrees(32, 0.0) * 2)


if __name__ == "__main__":
  absltest.main()
