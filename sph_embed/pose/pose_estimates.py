"""One pose estimate with its distribution over SO(3), and ways to read it.

Two sources, one result (`PoseEstimate`):
- `relative_pose(maps_a, maps_b)`: the relative rotation R = R_b R_a^T of
  two views from their spherical embeddings, the argmax of their SO(3)
  correlation C, with the top modes of the density exp(C / T) / Z
  (sph_embed.pose.pair_distributions.pair_modes, refined by continuous
  maximisation of C);
- `grid_pose(masses, grid_size)`: the absolute rotation of one view from a
  distribution given on the Euler grid (Image2Sphere's
  `image2sphere.Predictor`), its modes at grid resolution.

Each mode has its probability mass (within half the mode separation,
sph_embed.pose.distributions.find_modes) and its log density: that of the
grid cell holding it, relative to a uniform density on SO(3) of volume
pi^2 (the Implicit-PDF / Image2Sphere log-likelihood convention, scored by
sph_embed.pose.absolute_distributions; uniform: -2.29).  `euler_degrees`
and `axis_angle` give the rotation in the README's conventions (ZYZ,
column vectors).  NumPy and SciPy only (no TensorFlow).
"""

import dataclasses

import numpy as np
from scipy.spatial import transform

from sph_embed.pose import absolute_distributions
from sph_embed.pose import distributions
from sph_embed.pose import pair_distributions
from sph_embed.sphere import rotations as rotations_lib


@dataclasses.dataclass(frozen=True)
class PoseEstimate:
  """A rotation estimate and its distribution's modes, by decreasing density.

  Attributes:
    rotations: [K, 3, 3] the modes; the first is the estimate.
    masses: [K] probability mass within half the mode separation.
    log_densities: [K] log density of each mode's grid cell relative to
      the uniform density of volume pi^2 (uniform: -2.29).
    cell_masses: [N, N/2 + 1, N] the mass of every Euler grid cell (what
      sph_embed.report.so3_plot draws).
  """
  rotations: np.ndarray
  masses: np.ndarray
  log_densities: np.ndarray
  cell_masses: np.ndarray

  @property
  def rotation(self):
    """The estimate: the highest mode, [3, 3]."""
    return self.rotations[0]


def _estimate(rotations, masses, cell_masses):
  """The PoseEstimate of modes found on a grid of cell masses."""
  grid_size = cell_masses.shape[-1]
  flat = np.broadcast_to(cell_masses.ravel(),
                         (len(rotations), cell_masses.size))
  return PoseEstimate(
      rotations=rotations, masses=masses,
      log_densities=absolute_distributions.log_likelihoods(flat, rotations,
                                                           grid_size),
      cell_masses=cell_masses)


def relative_pose(maps_a, maps_b, modes=3, separation_degrees=30.0,
                  temperature=1.0, upsample=4, grid_size=None):
  """R = R_b R_a^T of two views from their maps, and its modes.

  Args:
    maps_a, maps_b: [n, n, C] spherical maps (DH grid) of views a and b.
    modes: most modes kept (fewer if the density has fewer separated ones).
    separation_degrees: minimum geodesic distance between modes.
    temperature: T of the density exp(C / T) / Z.
    upsample: spatial upsampling of the maps before the transform (4 on
      16 x 16 maps, as tools/correlate.py).
    grid_size: Euler grid size N (even; None: 2L + 2).

  Returns:
    PoseEstimate.
  """
  table = pair_distributions.pair_modes(
      np.asarray(maps_a)[None], np.asarray(maps_b)[None], np.array([[0, 0]]),
      modes, separation_degrees, temperature, upsample, grid_size, keep=(0,))
  found = ~np.isnan(table.masses[0])
  return _estimate(table.rotations[0, found], table.masses[0, found],
                   table.plotted[0])


def grid_pose(masses, grid_size, modes=3, separation_degrees=30.0):
  """A rotation and its modes from a distribution on the Euler grid.

  Args:
    masses: [G] probability mass of each grid point (sums to 1), in the
      order of distributions.grid_rotations(grid_size) (an
      image2sphere.Predictions' row).
    grid_size: the grid's size M.
    modes, separation_degrees: as `relative_pose`.

  Returns:
    PoseEstimate; its modes are grid points (the first is the argmax).
  """
  shape = distributions.grid_rotations(grid_size).shape[:3]
  cell_masses = np.asarray(masses, np.float64).reshape(shape)
  # The log density is the grid of values whose modes are sought; a mass
  # that underflowed counts as the smallest normal float32.
  log_density = (np.log(np.maximum(cell_masses, np.finfo(np.float32).tiny))
                 - distributions.log_weights(grid_size))
  found = distributions.find_modes(log_density, modes, separation_degrees)
  return _estimate(found.rotations, found.masses, cell_masses)


def euler_degrees(rotation):
  """ZYZ Euler angles (alpha, beta, gamma) in degrees of `rotation` [3, 3]:
  R = Rz(alpha) Ry(beta) Rz(gamma)."""
  return np.degrees(np.array(rotations_lib.zyz_from_matrix(
      np.asarray(rotation, np.float64))))


def axis_angle(rotation):
  """(unit axis [3], angle in degrees in [0, 180]) of `rotation` [3, 3]:
  R turns vectors by the angle about the axis, right-handed.  The axis of
  the identity is arbitrary ((0, 0, 1))."""
  vector = transform.Rotation.from_matrix(
      np.asarray(rotation, np.float64)).as_rotvec()
  angle = np.linalg.norm(vector)
  axis = vector / angle if angle > 1e-12 else np.array([0.0, 0.0, 1.0])
  return axis, float(np.degrees(angle))


def describe(estimate):
  """Lines of text: the estimate as matrix, axis-angle and ZYZ Euler
  angles, then each mode with its mass and log density."""
  rotation = estimate.rotation
  axis, angle = axis_angle(rotation)
  alpha, beta, gamma = euler_degrees(rotation)
  lines = ["  R = " + " ".join(f"{v:9.5f}" for v in rotation[0])]
  lines += ["      " + " ".join(f"{v:9.5f}" for v in row)
            for row in rotation[1:]]
  lines.append(f"  axis-angle: {angle:.2f} deg about ({axis[0]:.4f},"
               f" {axis[1]:.4f}, {axis[2]:.4f})")
  lines.append(f"  ZYZ Euler (deg): alpha {alpha:.2f}, beta {beta:.2f},"
               f" gamma {gamma:.2f}")
  lines.append("  modes (log density relative to uniform, -2.29):")
  for k, (mode, mass, log_density) in enumerate(zip(
      estimate.rotations, estimate.masses, estimate.log_densities), 1):
    mode_axis, mode_angle = axis_angle(mode)
    lines.append(
        f"  mode {k}: mass {mass:.3f}, log density {log_density:.2f},"
        f" {rotations_lib.geodesic_degrees(mode, rotation):.1f} deg from R:"
        f" {mode_angle:.2f} deg about ({mode_axis[0]:.3f},"
        f" {mode_axis[1]:.3f}, {mode_axis[2]:.3f})")
  return lines
