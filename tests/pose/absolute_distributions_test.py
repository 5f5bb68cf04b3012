"""Tests for the log-likelihood of per-view distributions on the Euler grid."""

import math

import numpy as np
from absl.testing import absltest

from sph_embed.pose import absolute_distributions
from sph_embed.pose import distributions
from sph_embed.sphere import rotations as rotations_lib

SIZE = 8


def grid_masses(grid):
  """[K, G] masses of correlation-like grids [K, N, N/2 + 1, N]."""
  return distributions.cell_masses(grid).reshape(len(grid), -1)


class LogLikelihoodTest(absltest.TestCase):

  def test_uniform_scores_minus_log_pi_squared(self):
    masses = grid_masses(np.zeros((3, SIZE, SIZE // 2 + 1, SIZE)))
    truth = rotations_lib.random_rotations(3, seed=0)
    np.testing.assert_allclose(
        absolute_distributions.log_likelihoods(masses, truth, SIZE),
        np.full(3, -math.log(math.pi ** 2)), atol=1e-12)

  def test_same_score_as_the_correlation_densities(self):
    # The convention of distributions: log p at distributions.nearest_cell.
    grid = np.random.default_rng(1).normal(
        size=(4, SIZE, SIZE // 2 + 1, SIZE)) * 3
    truth = rotations_lib.random_rotations(4, seed=2)
    cells = distributions.nearest_cell(truth, SIZE)
    expected = [distributions.log_likelihood(
        distributions.log_density(grid[i])[tuple(c[i] for c in cells)])
                for i in range(4)]
    np.testing.assert_allclose(
        absolute_distributions.log_likelihoods(grid_masses(grid), truth,
                                               SIZE), expected, atol=1e-10)

  def test_underflowed_mass_is_finite(self):
    masses = np.zeros((1, SIZE * SIZE * (SIZE // 2 + 1)), np.float32)
    masses[0, 0] = 1.0
    truth = rotations_lib.random_rotations(1, seed=3)
    self.assertTrue(np.isfinite(absolute_distributions.log_likelihoods(
        masses, truth, SIZE)).all())

  def test_bad_shapes(self):
    with self.assertRaisesRegex(ValueError, r"expected \[N, 320\]"):
      absolute_distributions.log_likelihoods(np.ones((2, 10)),
                                             np.eye(3)[None], SIZE)
    with self.assertRaisesRegex(ValueError, r"true_rotations: expected \[2"):
      absolute_distributions.log_likelihoods(np.ones((2, 320)),
                                             np.eye(3)[None], SIZE)


if __name__ == "__main__":
  absltest.main()
