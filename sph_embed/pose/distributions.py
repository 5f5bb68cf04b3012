"""Pose distributions over SO(3) from the correlation grid (NumPy/SciPy only).

The correlation C(R) of two views (sph_embed.pose.correlation) scores every
rotation; here it becomes a density with respect to the Haar measure,

  p(R) = exp(C(R) / T) / Z,   Z = int_SO(3) exp(C(R) / T) dR,

with dR the Haar measure normalised to total volume 1 (so p is the density
relative to the uniform distribution: p = 1 everywhere for constant C) and
T > 0 a temperature fitted on held-out pairs by maximum likelihood.  We fit
the inverse temperature b = 1 / T: the log-likelihood b C_true - log Z(b)
(C_true: C at the grid cell of the true rotation, see below) is concave in
b (log Z is a log-sum-exp), so the fit has one maximum.

Grid and quadrature weights.  `correlation.correlation_grid` samples C at
alpha_a = a h, beta_b = b h (b = 0 .. M = N/2: both beta = 0 and beta = pi
are included), gamma_c = c h, h = 2 pi / N.  The Haar measure in ZYZ angles
is sin(beta) d alpha d beta d gamma / (8 pi^2).  The alpha and gamma sums
are the trapezoid rule (exact for trigonometric polynomials of degree < N).
In beta the samples are the Chebyshev extreme points x_b = cos(b pi / M) of
x = cos(beta), so the beta integral int g sin(beta) d beta = int g dx gets
Clenshaw-Curtis weights w_b (positive, sum 2).  Each grid point's share of
the Haar measure is then v_b = w_b / (2 N^2) (sum 1 over the grid).  The
rule is exact for every function of band limit L (the beta integrand left
after the alpha, gamma sums is a polynomial of degree L in cos(beta), and
M >= L + 1), and spectrally accurate for smooth ones such as exp(C / T);
plain cell volumes ~ sin(beta_b) h^3 (half cells at the poles) are only
second order: a relative error of 1e-3 at N = 64 on exp(2 tr R).
Z = sum_i exp(C_i / T) v_i, and grid point i carries the mass p_i v_i.

Log-likelihood (Implicit-PDF / Image2Sphere convention).  Those papers
report log(p_cell N / pi^2) on an equivolumetric grid of N rotations: the log
density relative to a uniform density on SO(3) of total volume pi^2, so a
uniform distribution scores -log(pi^2) ~ -2.29.  Ours is the same quantity
for the discrete distribution on our grid: grid point i stands for its
Euler cell, of Haar measure ~ v_i (its quadrature weight), with mass
p_i v_i, i.e. density p_i over the cell; the score of a pair is
log p_i - log(pi^2) for the cell i *nearest* the true rotation (its three
Euler angles rounded to the grid, `nearest_cell`).  On an equivolumetric
grid (v_i = 1 / N) this is exactly log(p_cell N / pi^2).  Evaluating the
continuous exp(C(R_true) / T) / Z instead would be inconsistent with a
grid normaliser: when the grid does not resolve the peak, C(R_true) can
exceed every grid value and the likelihood grows without bound as T -> 0.
The score is capped by the cell size (9.0 for a cell at beta = pi/2 at
N = 64, 11.1 at N = 128): sharp densities need a finer grid.

Calibration.  The smallest region holding a fraction q of the mass is the
set of cells of highest density holding q.  The true rotation lies in it
iff the mass of the cells denser than the true rotation's cell (its
"coverage") is below q; for a calibrated distribution the coverage is
uniform on [0, 1].

Modes.  Separated local maxima of C (`correlation.peaks`: non-maximum
suppression at a minimum geodesic distance), optionally refined by
continuous maximisation; the mass of a mode is the mass within half the
separation of it (so the balls of different modes are disjoint).
"""

import dataclasses
import functools
import math

import numpy as np
from scipy import optimize
from scipy import special

from sph_embed.pose import correlation
from sph_embed.sphere import rotations as rotations_lib

# log of the volume of SO(3) in the Implicit-PDF / Image2Sphere convention.
LOG_PI_SQUARED = math.log(math.pi ** 2)
COVERAGE_LEVELS = (0.5, 0.9, 0.95)


def _check_grid_size(grid_size):
  if (not isinstance(grid_size, (int, np.integer)) or grid_size < 2
      or grid_size % 2):
    raise ValueError(f"grid_size must be an even integer >= 2, got"
                     f" {grid_size!r}")
  return int(grid_size)


@functools.lru_cache(maxsize=None)
def beta_weights(grid_size):
  """Share of the Haar measure of one grid point in each beta row: [N/2 + 1].

  v_b = w_b / (2 N^2), w_b the Clenshaw-Curtis weights of the nodes
  cos(b pi / M), M = N/2 (module docstring); N^2 times the sum is 1.
  """
  size = _check_grid_size(grid_size)
  half = size // 2
  b = np.arange(half + 1)
  weights = np.ones(half + 1)
  for j in range(1, half // 2 + 1):
    weights -= ((1.0 if 2 * j == half else 2.0) / (4 * j * j - 1)
                * np.cos(2 * np.pi * j * b / half))
  weights *= np.where((b == 0) | (b == half), 1.0, 2.0) / half
  out = weights / (2 * size ** 2)
  out.flags.writeable = False
  return out


def log_weights(grid_size):
  """log of `beta_weights`, shaped [1, N/2 + 1, 1] to broadcast."""
  return np.log(beta_weights(grid_size))[None, :, None]


def _grid_size_of(grid):
  grid = np.asarray(grid)
  size = grid.shape[-1]
  if grid.ndim < 3 or grid.shape[-3:] != (size, size // 2 + 1, size):
    raise ValueError(f"expected a correlation grid [..., N, N/2 + 1, N],"
                     f" got shape {grid.shape}")
  return _check_grid_size(size)


@functools.lru_cache(maxsize=4)
def grid_rotations(grid_size):
  """The rotation of each grid point: [N, N/2 + 1, N, 3, 3]."""
  size = _check_grid_size(grid_size)
  angles = correlation.grid_angles(size)
  alpha, beta, gamma = np.meshgrid(angles, angles[:size // 2 + 1], angles,
                                   indexing="ij")
  out = rotations_lib.matrix_from_zyz(alpha, beta, gamma)
  out.flags.writeable = False
  return out


def log_normalizer(grid, temperature=1.0):
  """log Z = log sum_i exp(C_i / T) v_i over the last three axes: [...]."""
  size = _grid_size_of(grid)
  return special.logsumexp(np.asarray(grid) / temperature
                           + log_weights(size), axis=(-3, -2, -1))


def log_density(grid, temperature=1.0):
  """log p on the grid points (p relative to uniform, Haar normalised to 1)."""
  grid = np.asarray(grid, dtype=np.float64)
  log_z = log_normalizer(grid, temperature)
  return grid / temperature - log_z[..., None, None, None]


def cell_masses(grid, temperature=1.0):
  """Probability mass of each grid cell, p_i v_i: sums to 1 per grid."""
  size = _grid_size_of(grid)
  return np.exp(log_density(grid, temperature) + log_weights(size))


def log_likelihood(log_p):
  """The Implicit-PDF / Image2Sphere score of a log density relative to
  uniform (uniform: -log pi^2 ~ -2.29)."""
  return np.asarray(log_p) - LOG_PI_SQUARED


def coverage(grid, true_value, temperature=1.0):
  """Mass of {R : C(R) > C_true} on the grid (see the module docstring).

  Args:
    grid: [..., N, N/2 + 1, N] correlation grids.
    true_value: [...] C at the true rotations.
    temperature: T.
  """
  masses = cell_masses(grid, temperature)
  above = np.asarray(grid) > np.asarray(true_value)[..., None, None, None]
  return np.sum(np.where(above, masses, 0.0), axis=(-3, -2, -1))


# ----------------------------------------------------------------------------
# Modes.


@dataclasses.dataclass(frozen=True)
class Modes:
  """Separated modes of one pose distribution, by decreasing C.

  Attributes:
    rotations: [K, 3, 3].
    values: [K] C at each mode.
    masses: [K] probability mass within half the separation of each mode
      (at the temperature given to `find_modes`).
  """
  rotations: np.ndarray
  values: np.ndarray
  masses: np.ndarray


def mass_near(grid, rotations, radius_degrees, temperature=1.0):
  """Mass of the grid cells within `radius_degrees` of each rotation: [K]."""
  size = _grid_size_of(grid)
  masses = cell_masses(grid, temperature)
  points = grid_rotations(size)
  # cos of the geodesic angle = (tr(A^T B) - 1) / 2.
  threshold = 1 + 2 * math.cos(math.radians(radius_degrees))
  traces = np.einsum("kij,abcij->kabc", np.asarray(rotations), points)
  return np.sum(np.where(traces >= threshold, masses, 0.0), axis=(1, 2, 3))


def find_modes(grid, count, separation_degrees, temperature=1.0,
               fourier=None):
  """The `count` highest separated local maxima of C and their masses.

  Args:
    grid: [N, N/2 + 1, N] one correlation grid.
    count: maximum number of modes.
    separation_degrees: minimum geodesic distance between modes; each
      mode's mass is taken within half of it.
    temperature: T of the density.
    fourier: the pair's Fourier coefficients
      (`correlation.fourier_correlation`); if given, each mode is refined
      by continuous maximisation of C, and the modes are separated after
      refinement.

  Returns:
    Modes (fewer than `count` if the grid has fewer separated maxima).
  """
  if count < 1:
    raise ValueError(f"count must be >= 1, got {count}")
  if separation_degrees <= 0:
    raise ValueError(f"separation_degrees must be > 0, got"
                     f" {separation_degrees}")
  if fourier is None:
    rotations, values = correlation.peaks(grid, count, separation_degrees)
  else:
    # A grid maximum can climb, when refined, to a mode already found (it
    # sat on that mode's flank): it is dropped and the next one tried.
    rotations, values = [], []
    for candidate in correlation.peaks(grid, 4 * count,
                                       separation_degrees)[0]:
      euler, value = correlation.refine_maximum(
          fourier, np.array(rotations_lib.zyz_from_matrix(candidate)))
      rotation = rotations_lib.matrix_from_zyz(*euler)
      if all(rotations_lib.geodesic_degrees(rotation, other)
             >= separation_degrees for other in rotations):
        rotations.append(rotation)
        values.append(value)
        if len(rotations) == count:
          break
    rotations = np.array(rotations).reshape(-1, 3, 3)
  masses = mass_near(grid, rotations, separation_degrees / 2, temperature)
  return Modes(rotations=rotations, values=np.asarray(values), masses=masses)


# ----------------------------------------------------------------------------
# Summaries of many pairs and the temperature fit.


@dataclasses.dataclass(frozen=True)
class PairSummary:
  """What the temperature fit needs of one pair's grid (a few kB).

  Z(b) and the coverage only depend on the distribution of grid values, so
  the grid is reduced to a fine histogram of C, split at C_true: per
  bin, its share of the Haar measure (summed weights) and the weighted
  mean of C in it.
  Within a bin of width w, exp(b C) is replaced by its value at the mean,
  a relative error below (b w)^2 / 8 (about 1e-5 at the fitted b with
  4096 bins).

  Attributes:
    true_value: C_true.
    values: [K] mean C per bin.
    log_weights: [K] log of the bin's share of the Haar measure.
    above: [K] bool, the bin's cells have C > C_true.
  """
  true_value: float
  values: np.ndarray
  log_weights: np.ndarray
  above: np.ndarray


def summarize(grid, true_value, bins=4096):
  """PairSummary of one grid [N, N/2 + 1, N] and C_true."""
  size = _grid_size_of(grid)
  grid = np.asarray(grid, dtype=np.float64)
  weights = np.broadcast_to(beta_weights(size)[None, :, None],
                            grid.shape).ravel()
  values = grid.ravel()
  edges = np.linspace(values.min(), values.max(), bins + 1)
  index = np.clip(np.searchsorted(edges, values, side="right") - 1, 0,
                  bins - 1)
  above = values > true_value
  index = 2 * index + above
  weight = np.bincount(index, weights, 2 * bins)
  moment = np.bincount(index, weights * values, 2 * bins)
  kept = weight > 0
  return PairSummary(true_value=float(true_value),
                     values=moment[kept] / weight[kept],
                     log_weights=np.log(weight[kept]),
                     above=(np.arange(2 * bins) % 2 == 1)[kept])


def summary_log_likelihoods(summaries, temperature):
  """Log-likelihood (I-PDF convention) of each summarised pair at T: [P]."""
  return np.array([
      log_likelihood(s.true_value / temperature - special.logsumexp(
          s.values / temperature + s.log_weights)) for s in summaries])


def summary_coverages(summaries, temperature):
  """Coverage (mass strictly above the truth's density) of each pair: [P]."""
  out = []
  for s in summaries:
    logs = s.values / temperature + s.log_weights
    above = (special.logsumexp(logs[s.above]) if s.above.any() else -np.inf)
    out.append(math.exp(above - special.logsumexp(logs)))
  return np.array(out)


def fit_temperature(summaries):
  """Maximum-likelihood temperature T of a set of summarised pairs.

  Maximises the mean log-likelihood over the inverse temperature b = 1 / T
  (concave in b) by bounded Brent search on b in (0, 1e4 / s], s the median
  spread max C - min C of the grids.
  """
  if not summaries:
    raise ValueError("no pairs to fit the temperature on")
  spread = np.median([s.values.max() - s.values.min() for s in summaries])
  if not spread > 0:
    raise ValueError("the correlation grids are constant: no temperature"
                     " can be fitted")
  true_values = np.array([s.true_value for s in summaries])

  def negative_mean(b):
    log_z = [special.logsumexp(b * s.values + s.log_weights)
             for s in summaries]
    return -np.mean(b * true_values - log_z)

  upper = 1e4 / spread
  result = optimize.minimize_scalar(negative_mean, bounds=(0.0, upper),
                                    method="bounded",
                                    options={"xatol": 1e-8 * upper})
  if result.x <= 0:
    return math.inf
  return 1.0 / result.x

def nearest_cell(rotations, grid_size):
  """Grid indices (a, b, c) of the cells holding rotations [..., 3, 3].

  The ZYZ angles (beta in [0, pi]) rounded to the grid step; alpha and
  gamma wrap around.
  """
  size = _check_grid_size(grid_size)
  step = 2 * np.pi / size
  alpha, beta, gamma = rotations_lib.zyz_from_matrix(rotations)
  return (np.round(alpha / step).astype(np.int64) % size,
          np.round(beta / step).astype(np.int64),
          np.round(gamma / step).astype(np.int64) % size)
