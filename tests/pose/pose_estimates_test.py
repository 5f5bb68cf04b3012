"""Tests for sph_embed.pose.pose_estimates: a relative pose of two maps with
its modes, a pose from a grid distribution, and the rotation's readings.

References: maps rotated exactly by known rotations (sht_numpy), a grid
distribution built with known peaks, scipy's rotations.  NumPy only.
"""

import math

import numpy as np
from absl.testing import absltest
from absl.testing import parameterized
from scipy.spatial import transform

from sph_embed.pose import distributions
from sph_embed.pose import pose_estimates
from sph_embed.sphere import rotations as rotations_lib
from tests.pose import distributions_test

_R = rotations_lib.matrix_from_zyz(0.7, 1.1, -2.3)
# A temperature at which the random maps' secondary modes keep some mass.
_T = 100.0


def _maps_pair(rotation, seed=0):
  """Band-limited maps f and Lambda_R f."""
  maps = distributions_test.band_limited_maps(
      16, 3, np.random.default_rng(seed))
  return maps, distributions_test.rotate(maps, rotation)


def _grid_distribution(size, centres, weights, kappa=8.0):
  """Cell masses of a mixture of exp(kappa tr(C^T R)) bumps on the grid."""
  points = distributions.grid_rotations(size)
  density = sum(w * np.exp(kappa * (np.einsum("ij,abcij->abc", c, points)
                                    - 3))
                for c, w in zip(centres, weights))
  masses = density * distributions.beta_weights(size)[None, :, None]
  return masses / masses.sum()


class RelativePoseTest(parameterized.TestCase):

  @parameterized.parameters(0, 1)
  def test_recovers_the_rotation_between_the_maps(self, seed):
    maps_a, maps_b = _maps_pair(_R, seed)
    estimate = pose_estimates.relative_pose(maps_a, maps_b, upsample=1)
    self.assertLess(rotations_lib.geodesic_degrees(estimate.rotation, _R),
                    0.5)
    # R = R_b R_a^T: swapping the views gives its transpose.
    swapped = pose_estimates.relative_pose(maps_b, maps_a, upsample=1)
    np.testing.assert_allclose(swapped.rotation, estimate.rotation.T,
                               atol=1e-4)

  def test_modes_masses_and_log_densities(self):
    maps_a, maps_b = _maps_pair(_R)
    estimate = pose_estimates.relative_pose(maps_a, maps_b, modes=3,
                                            separation_degrees=40.0,
                                            temperature=_T, upsample=1)
    self.assertEqual(estimate.rotations.shape, (3, 3, 3))
    np.testing.assert_allclose(estimate.rotation, estimate.rotations[0])
    self.assertAlmostEqual(estimate.cell_masses.sum(), 1.0, places=9)
    self.assertTrue(np.all((estimate.masses > 0) & (estimate.masses <= 1)))
    self.assertGreater(estimate.masses[0], estimate.masses[1])
    # The top mode sits in the densest cell: its log density is the
    # grid's largest, in the I-PDF convention.
    size = estimate.cell_masses.shape[-1]
    densest = np.log(estimate.cell_masses
                     / distributions.beta_weights(size)[None, :, None]).max()
    self.assertAlmostEqual(estimate.log_densities[0],
                           densest - distributions.LOG_PI_SQUARED, places=6)
    self.assertTrue(np.all(np.diff(estimate.log_densities) <= 0))
    for first in range(3):
      for second in range(first):
        self.assertGreaterEqual(rotations_lib.geodesic_degrees(
            estimate.rotations[first], estimate.rotations[second]), 40.0)

  def test_temperature_sharpens_the_density(self):
    maps_a, maps_b = _maps_pair(_R)
    sharp, flat = [pose_estimates.relative_pose(
        maps_a, maps_b, upsample=1, temperature=t) for t in (_T, 3 * _T)]
    self.assertGreater(sharp.masses[0], flat.masses[0])
    self.assertGreater(sharp.log_densities[0], flat.log_densities[0])


class GridPoseTest(absltest.TestCase):

  def test_finds_the_peaks_of_a_grid_distribution(self):
    size = 16
    first = distributions.grid_rotations(size)[3, 1, 5]
    second = distributions.grid_rotations(size)[11, 4, 9]
    self.assertGreater(rotations_lib.geodesic_degrees(first, second), 90)
    # Broad bumps: near beta = 0 the cells are small, so the cell of
    # largest mass (beta index 2) is not the densest (index 1, the peak).
    masses = _grid_distribution(size, [first, second], [1.0, 0.4], kappa=2.0)
    self.assertEqual(np.unravel_index(masses.argmax(), masses.shape),
                     (3, 2, 5))
    estimate = pose_estimates.grid_pose(masses.ravel(), size, modes=2)
    np.testing.assert_allclose(estimate.rotations, [first, second],
                               atol=1e-9)
    self.assertGreater(estimate.masses[0], estimate.masses[1])
    self.assertAlmostEqual(
        estimate.log_densities[0],
        math.log(masses[3, 1, 5] / distributions.beta_weights(size)[1])
        - distributions.LOG_PI_SQUARED, places=6)
    np.testing.assert_allclose(estimate.cell_masses, masses)


class ReadingsTest(absltest.TestCase):

  def test_euler_angles_rebuild_the_rotation(self):
    angles = np.radians(pose_estimates.euler_degrees(_R))
    np.testing.assert_allclose(rotations_lib.matrix_from_zyz(*angles), _R,
                               atol=1e-12)

  def test_axis_angle_rebuilds_the_rotation(self):
    axis, angle = pose_estimates.axis_angle(_R)
    self.assertAlmostEqual(np.linalg.norm(axis), 1.0)
    np.testing.assert_allclose(transform.Rotation.from_rotvec(
        axis * math.radians(angle)).as_matrix(), _R, atol=1e-12)
    axis, angle = pose_estimates.axis_angle(rotations_lib.rotation_x(0.5))
    np.testing.assert_allclose(axis, [1.0, 0.0, 0.0], atol=1e-12)
    self.assertAlmostEqual(angle, math.degrees(0.5))
    self.assertEqual(pose_estimates.axis_angle(np.eye(3))[1], 0.0)

  def test_describe_lists_the_readings_and_modes(self):
    maps_a, maps_b = _maps_pair(_R)
    estimate = pose_estimates.relative_pose(maps_a, maps_b, modes=2,
                                            upsample=1)
    text = "\n".join(pose_estimates.describe(estimate))
    alpha, beta, gamma = pose_estimates.euler_degrees(estimate.rotation)
    self.assertIn(f"alpha {alpha:.2f}, beta {beta:.2f}, gamma {gamma:.2f}",
                  text)
    self.assertIn(f"{pose_estimates.axis_angle(estimate.rotation)[1]:.2f}"
                  " deg about", text)
    self.assertIn(f"mode 1: mass {estimate.masses[0]:.3f}, log density"
                  f" {estimate.log_densities[0]:.2f}", text)
    self.assertIn("mode 2: ", text)


if __name__ == "__main__":
  absltest.main()
