"""Tests for sph_embed.pose.distributions: Haar quadrature, normalisation,
the I-PDF log-likelihood convention, calibration, modes of symmetric maps and
the temperature fit.

References: the closed-form Haar integral of exp(k tr R), the degree-0 term
of a band-limited correlation, a finer grid, sampling from the density
itself, and maps with an exact 2-fold symmetry.  NumPy only (absltest).
"""

import math

import numpy as np
from absl.testing import absltest
from absl.testing import parameterized
from scipy import special

from sph_embed.pose import correlation
from sph_embed.pose import distributions
from sph_embed.pose import pair_distributions
from sph_embed.sphere import rotations as rotations_lib
from sph_embed.sphere import sht_numpy


def band_limited_maps(n, channels, rng, even_orders_only=False):
  """Random band-limited channels-last maps [n, n, C]."""
  lmax = n // 2 - 1
  cilm = rng.normal(size=(channels, 2, lmax + 1, lmax + 1))
  cilm *= np.tril(np.ones((lmax + 1, lmax + 1)))
  cilm[:, 1, :, 0] = 0
  if even_orders_only:   # invariant under a half-turn about z
    cilm[..., 1::2] = 0
  return np.moveaxis(sht_numpy.isht(cilm, n), 0, -1)


def rotate(maps, rotation):
  return sht_numpy.rotate_maps(maps, rotation, channels_last=True)


def pair_fourier(maps1, maps2, normalize=True):
  return correlation.fourier_correlation(
      correlation.map_coefficients(maps1, normalize=normalize),
      correlation.map_coefficients(maps2, normalize=normalize))


def noisy_pair(rng, rotation, noise, n=8, channels=3):
  """(Fourier coefficients, maps) of f1 and f2 = Lambda_R f1 + noise."""
  maps1 = band_limited_maps(n, channels, rng)
  maps2 = rotate(maps1, rotation) + noise * rng.normal(size=maps1.shape)
  return pair_fourier(maps1, maps2), maps1, maps2


class QuadratureTest(parameterized.TestCase):

  @parameterized.parameters(4, 8, 10, 32, 64)
  def test_weights_sum_to_one(self, size):
    self.assertAlmostEqual(
        size ** 2 * distributions.beta_weights(size).sum(), 1.0, places=13)
    self.assertGreater(distributions.beta_weights(size).min(), 0)

  @parameterized.product(size=(16, 32, 64), kappa=(0.5, 2.0))
  def test_haar_integral_of_exp_trace(self, size, kappa):
    # int exp(k tr R) dR = e^k (I0(2k) - I1(2k)) (normalised Haar measure).
    traces = np.trace(distributions.grid_rotations(size), axis1=-2, axis2=-1)
    integral = np.sum(np.exp(kappa * traces)
                      * distributions.beta_weights(size)[None, :, None])
    exact = math.exp(kappa) * (special.iv(0, 2 * kappa)
                               - special.iv(1, 2 * kappa))
    self.assertAlmostEqual(integral / exact, 1.0, delta=1e-5)

  @parameterized.parameters((8, 8), (8, 14), (16, 16), (16, 22))
  def test_exact_for_band_limited_correlation(self, n, size):
    # The mean of C over SO(3) is its degree-0 term: sum_c f_00 conj(h_00).
    rng = np.random.default_rng(n)
    maps1, maps2 = (band_limited_maps(n, 2, rng) for _ in range(2))
    c1 = correlation.map_coefficients(maps1)
    c2 = correlation.map_coefficients(maps2)
    lmax = n // 2 - 1
    grid = correlation.correlation_grid(
        correlation.fourier_correlation(c1, c2), size)
    mean = np.sum(grid * distributions.beta_weights(size)[:, None])
    expected = np.sum(c1[:, 0, lmax] * np.conj(c2[:, 0, lmax])).real
    self.assertAlmostEqual(mean, expected, places=10)

  def test_grid_rotations_follow_grid_angles(self):
    size = 8
    angles = correlation.grid_angles(size)
    np.testing.assert_allclose(
        distributions.grid_rotations(size)[3, 2, 5],
        rotations_lib.matrix_from_zyz(angles[3], angles[2], angles[5]),
        atol=1e-14)


class DensityTest(parameterized.TestCase):

  @parameterized.parameters(16, 32, 64)
  def test_continuous_density_integrates_to_one(self, size):
    # Z from an N-grid; exp(C / T) / Z integrated on a finer grid (C there
    # is exact: zero-padded Fourier series).
    rng = np.random.default_rng(0)
    rotation = rotations_lib.random_rotations(1, seed=1)[0]
    fourier, _, _ = noisy_pair(rng, rotation, noise=0.3)
    log_z = distributions.log_normalizer(
        correlation.correlation_grid(fourier, size))
    fine = correlation.correlation_grid(fourier, 128)
    total = np.sum(np.exp(fine - log_z)
                   * distributions.beta_weights(128)[None, :, None])
    self.assertAlmostEqual(total, 1.0, delta=1e-3)

  @parameterized.parameters((8, 1.0), (16, 0.2), (32, 5.0))
  def test_masses_sum_to_one(self, size, temperature):
    rng = np.random.default_rng(size)
    grid = rng.normal(size=(size, size // 2 + 1, size))
    self.assertAlmostEqual(
        distributions.cell_masses(grid, temperature).sum(), 1.0, places=12)

  @parameterized.parameters(8, 16, 64)
  def test_uniform_correlation_scores_minus_log_pi_squared(self, size):
    grid = np.full((size, size // 2 + 1, size), 3.7)
    scores = distributions.log_likelihood(distributions.log_density(grid, 0.5))
    np.testing.assert_allclose(scores, -math.log(math.pi ** 2), atol=1e-12)
    self.assertAlmostEqual(-math.log(math.pi ** 2), -2.2894597, places=6)
    summary = distributions.summarize(grid, 3.7)
    self.assertAlmostEqual(
        distributions.summary_log_likelihoods([summary], 0.5)[0],
        -math.log(math.pi ** 2), places=10)

  def test_nearest_cell_of_perturbed_grid_rotations(self):
    size = 12
    step = 2 * np.pi / size
    rng = np.random.default_rng(2)
    for a, b, c in [(7, 4, 2), (0, 1, 11), (11, 5, 0)]:
      jitter = rng.uniform(-0.45, 0.45, 3) * step
      rotation = rotations_lib.matrix_from_zyz(
          a * step + jitter[0], b * step + jitter[1], c * step + jitter[2])
      self.assertEqual(distributions.nearest_cell(rotation, size), (a, b, c))
    # At the poles only alpha + gamma (beta = 0) is defined: the cell found
    # holds the same rotation.
    pole = rotations_lib.matrix_from_zyz(3 * step, 0.0, 2 * step)
    cell = distributions.nearest_cell(pole, size)
    np.testing.assert_allclose(distributions.grid_rotations(size)[cell], pole,
                               atol=1e-12)

  def test_coverage_is_uniform_for_rotations_drawn_from_the_density(self):
    # If R_true ~ p, the mass above p(R_true) is uniform: each q-region then
    # holds the truth in a share q of the draws.
    rng = np.random.default_rng(3)
    fourier, _, _ = noisy_pair(rng, np.eye(3), noise=0.5)
    grid = correlation.correlation_grid(fourier, 16)
    masses = distributions.cell_masses(grid, 0.5).ravel()
    draws = rng.choice(masses.size, size=4000, p=masses / masses.sum())
    coverages = distributions.coverage(grid, grid.ravel()[draws], 0.5)
    for level in distributions.COVERAGE_LEVELS:
      self.assertAlmostEqual(np.mean(coverages < level), level, delta=0.025)

  def test_summary_matches_the_full_grid(self):
    rng = np.random.default_rng(4)
    rotation = rotations_lib.random_rotations(1, seed=5)[0]
    fourier, _, _ = noisy_pair(rng, rotation, noise=0.5, n=16)
    grid = correlation.correlation_grid(fourier)
    # The truth's cell, and cells of other densities (other coverages).
    cells = [distributions.nearest_cell(rotation, grid.shape[-1]),
             (3, 5, 7), (10, 1, 2)]
    for cell in cells:
      value = grid[cell]
      summary = distributions.summarize(grid, value)
      for temperature in (0.05, 0.2, 1.0, 10.0):
        exact = distributions.log_likelihood(
            value / temperature
            - distributions.log_normalizer(grid, temperature))
        self.assertAlmostEqual(
            distributions.summary_log_likelihoods([summary], temperature)[0],
            exact, delta=1e-4)
        self.assertAlmostEqual(
            distributions.summary_coverages([summary], temperature)[0],
            distributions.coverage(grid, value, temperature), delta=1e-4)


class ModesTest(parameterized.TestCase):

  @parameterized.parameters(0, 1, 2)
  def test_two_fold_symmetric_map_has_two_modes_of_half_mass(self, seed):
    # f invariant under a half-turn about z: Lambda_R f = Lambda_{R Rz(pi)} f.
    rng = np.random.default_rng(seed)
    maps1 = band_limited_maps(16, 4, rng, even_orders_only=True)
    rotation = rotations_lib.random_rotations(1, seed=10 + seed)[0]
    fourier = pair_fourier(maps1, rotate(maps1, rotation))
    grid = correlation.correlation_grid(fourier)
    modes = distributions.find_modes(grid, 2, 30.0, temperature=0.1,
                                     fourier=fourier)
    solutions = np.stack(
        [rotation, rotation @ rotations_lib.matrix_from_zyz(0, 0, np.pi)])
    errors = rotations_lib.geodesic_degrees(modes.rotations[:, None],
                                            solutions[None])
    # Each mode is one of the solutions, and they differ.
    np.testing.assert_allclose(np.sort(errors.min(axis=1)), [0, 0], atol=0.1)
    self.assertNotEqual(*errors.argmin(axis=1))
    np.testing.assert_allclose(modes.masses, [0.5, 0.5], atol=0.01)

  @parameterized.parameters(4, 11)
  def test_refined_modes_stay_separated(self, seed):
    # In these noisy pairs a grid maximum on the flank of the top mode
    # climbs to it when refined; it must not be listed twice.
    rng = np.random.default_rng(seed)
    fourier, _, _ = noisy_pair(
        rng, rotations_lib.random_rotations(1, seed=seed)[0], noise=1.0,
        n=16, channels=4)
    modes = distributions.find_modes(correlation.correlation_grid(fourier), 4,
                                     30.0, fourier=fourier)
    self.assertLen(modes.values, 4)
    distances = rotations_lib.geodesic_degrees(modes.rotations[:, None],
                                               modes.rotations[None])
    self.assertGreaterEqual(distances[np.triu_indices(4, 1)].min(), 30.0)

  def test_mode_mass_is_taken_within_half_the_separation(self):
    size = 16
    uniform = np.zeros((size, size // 2 + 1, size))
    modes = distributions.find_modes(uniform, 1, 180.0)
    r = math.radians(90.0)
    self.assertAlmostEqual(modes.masses[0], (r - math.sin(r)) / math.pi,
                           delta=0.03)

  def test_mass_near_counts_cells_within_the_radius(self):
    size = 16
    grid = np.zeros((size, size // 2 + 1, size))   # uniform density
    # The Haar measure of a ball of radius r is (r - sin r) / pi.
    for radius in (40.0, 90.0, 180.0):
      r = math.radians(radius)
      self.assertAlmostEqual(
          distributions.mass_near(grid, np.eye(3)[None], radius)[0],
          (r - math.sin(r)) / math.pi, delta=0.03)

  def test_bad_arguments(self):
    grid = np.zeros((8, 5, 8))
    with self.assertRaisesRegex(ValueError, "count"):
      distributions.find_modes(grid, 0, 30.0)
    with self.assertRaisesRegex(ValueError, "separation"):
      distributions.find_modes(grid, 2, 0.0)
    with self.assertRaisesRegex(ValueError, "N/2 \\+ 1"):
      distributions.log_density(np.zeros((8, 8, 8)))


class TemperatureTest(absltest.TestCase):

  def _summaries(self, rng, count, noise):
    out = []
    for rotation in rotations_lib.random_rotations(count, seed=rng):
      fourier, _, _ = noisy_pair(rng, rotation, noise)
      grid = correlation.correlation_grid(fourier)
      out.append(distributions.summarize(
          grid, grid[distributions.nearest_cell(rotation, grid.shape[-1])]))
    return out

  def test_fitted_temperature_improves_held_out_log_likelihood(self):
    rng = np.random.default_rng(5)
    fit = self._summaries(rng, 12, noise=1.0)
    held_out = self._summaries(rng, 12, noise=1.0)
    temperature = distributions.fit_temperature(fit)
    tempered = distributions.summary_log_likelihoods(held_out, temperature)
    untempered = distributions.summary_log_likelihoods(held_out, 1.0)
    self.assertGreater(tempered.mean(), untempered.mean() + 0.1)
    # The fit is the maximum of the fit set's mean log-likelihood.
    best = distributions.summary_log_likelihoods(fit, temperature).mean()
    for factor in (0.8, 0.95, 1.05, 1.25):
      self.assertGreater(best, distributions.summary_log_likelihoods(
          fit, temperature * factor).mean())

  def test_cross_fit_scores_each_half_with_the_other_halfs_temperature(self):
    rng = np.random.default_rng(6)
    summaries = self._summaries(rng, 8, noise=1.0)
    halves = np.array([0, 1] * 4)
    fit = pair_distributions.cross_fit(summaries, halves)
    first = [s for s, h in zip(summaries, halves) if h == 0]
    self.assertAlmostEqual(fit.temperatures[0],
                           distributions.fit_temperature(first))
    np.testing.assert_allclose(
        fit.tempered[halves == 1],
        distributions.summary_log_likelihoods(
            [s for s, h in zip(summaries, halves) if h == 1],
            fit.temperatures[0]))
    with self.assertRaisesRegex(ValueError, "half 1"):
      pair_distributions.cross_fit(summaries, np.zeros(8, dtype=int))

  def test_instance_halves_alternate_within_each_category(self):
    category = np.array(["a", "a", "a", "b", "b", "a", "b"])
    instance = np.array(["x3", "x1", "x3", "y", "z", "x2", "y"])
    halves = pair_distributions.instance_halves(category, instance)
    # Sorted ids per category: a: x1 x2 x3 -> 0 1 0; b: y z -> 0 1.
    np.testing.assert_array_equal(halves, [0, 0, 0, 0, 1, 1, 0])


class PairStatisticsTest(absltest.TestCase):

  def test_exact_rotations_are_recovered_by_the_top_mode(self):
    rng = np.random.default_rng(7)
    maps = np.stack([band_limited_maps(8, 2, rng) for _ in range(3)])
    truth = rotations_lib.random_rotations(3, seed=8)
    rotated = rotate(maps, truth)
    pairs = np.array([[0, 0], [1, 1], [2, 2]])
    stats = pair_distributions.pair_statistics(maps, rotated, pairs, truth,
                                               normalize=True, modes=2,
                                               batch_size=2)
    np.testing.assert_allclose(stats.mode_errors[:, 0], 0, atol=1e-3)
    self.assertTrue(np.all(stats.mode_errors[:, 1] > 30))
    grids = correlation.correlation_grid(pair_fourier(maps, rotated))
    for i in range(3):
      self.assertEqual(stats.true_values[i], grids[i][
          distributions.nearest_cell(truth[i], grids.shape[-1])])


if __name__ == "__main__":
  absltest.main()
