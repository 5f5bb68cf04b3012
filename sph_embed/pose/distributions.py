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

import collections
import dataclasses
import functools
import math

import numpy as np
from scipy import optimize
from scipy import special

from sph_embed.pose import correlation
from sph_embed.pose import embeddings_io
from sph_embed.pose import evaluation as pose_evaluation
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


# ----------------------------------------------------------------------------
# Pairs of views: grids, statistics and the benchmark.


def pair_fourier(first, second, pairs, upsample=1, normalize=False,
                 batch_size=16):
  """Yields (pair indices, Fourier coefficients T) for batches of pairs.

  Args:
    first, second: [V, n, n, C] maps of the first and second views.
    pairs: int [P, 2]; pair (i, j) correlates first[i] (rotated) with
      second[j], as `correlation.align_pairs`.
    upsample, normalize: as in `correlation.map_coefficients`.
    batch_size: pairs per batch; each distinct map of a batch is
      transformed once.

  Yields:
    (int [B] positions in `pairs`, complex [B, 2L+1, 2L+1, L+1]).
  """
  pairs = np.asarray(pairs)
  if pairs.ndim != 2 or pairs.shape[1] != 2:
    raise ValueError(f"pairs must be an int array [P, 2], got shape"
                     f" {pairs.shape}")
  for start in range(0, len(pairs), batch_size):
    chunk = pairs[start:start + batch_size]
    views1, index1 = np.unique(chunk[:, 0], return_inverse=True)
    views2, index2 = np.unique(chunk[:, 1], return_inverse=True)
    c1 = correlation.map_coefficients(first[views1], upsample, normalize,
                                      f"first views {views1.tolist()}")
    c2 = correlation.map_coefficients(second[views2], upsample, normalize,
                                      f"second views {views2.tolist()}")
    yield (np.arange(start, start + len(chunk)),
           correlation.fourier_correlation(c1[index1], c2[index2]))


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


@dataclasses.dataclass
class PairStatistics:
  """Per-pair results of `pair_statistics` (arrays over the P pairs)."""
  summaries: list
  true_values: np.ndarray          # [P] C at the true rotation's cell
  mode_rotations: np.ndarray       # [P, K, 3, 3] (NaN where fewer modes)
  mode_errors: np.ndarray          # [P, K] degrees (NaN where fewer modes)


def mode_errors(rotations, truth, categories=None, symmetric_categories=()):
  """Errors [P, K] in degrees of modes [P, K, 3, 3] (NaN stays NaN), those
  of `symmetric_categories` folded (`evaluation.pose_errors`)."""
  return np.stack([pose_evaluation.pose_errors(
      rotations[:, k], truth, categories, symmetric_categories)
                   for k in range(rotations.shape[1])], axis=1)


def pair_statistics(first, second, pairs, truth, upsample=1, grid_size=None,
                    normalize=False, modes=2, separation_degrees=30.0,
                    batch_size=16, callback=None):
  """Summaries, C at the truth's cell and the top-`modes` per pair.

  Modes are refined by continuous maximisation of C.

  Args:
    truth: [P, 3, 3] true relative rotations.
    Other arguments as `pair_fourier` and `find_modes`; grid_size as
    `correlation.correlation_grid` (None: 2L + 2).
    callback: called with the number of pairs done after each batch.
  """
  count = len(pairs)
  summaries = [None] * count
  true_values = np.empty(count)
  mode_rotations = np.full((count, modes, 3, 3), np.nan)
  for index, fourier in pair_fourier(first, second, pairs, upsample,
                                     normalize, batch_size):
    grids = correlation.correlation_grid(fourier, grid_size)
    for i, grid, coefficients in zip(index, grids, fourier):
      true_values[i] = grid[nearest_cell(truth[i], grid.shape[-1])]
      summaries[i] = summarize(grid, true_values[i])
      found = find_modes(grid, modes, separation_degrees,
                         fourier=coefficients).rotations
      mode_rotations[i, :len(found)] = found
    if callback is not None:
      callback(len(index))
  return PairStatistics(summaries, true_values, mode_rotations,
                        mode_errors(mode_rotations, truth))


@dataclasses.dataclass(frozen=True)
class ModeTable:
  """Modes of many pairs, NaN-padded where a pair has fewer.

  Attributes:
    rotations: [P, K, 3, 3].
    values: [P, K] C at the modes.
    masses: [P, K] mass within half the separation of each mode.
    plotted: {position in pairs: cell masses [N, N/2 + 1, N]} for the
      pairs asked for in `pair_modes(keep=...)`.
  """
  rotations: np.ndarray
  values: np.ndarray
  masses: np.ndarray
  plotted: dict


def pair_modes(first, second, pairs, count, separation_degrees,
               temperature=1.0, upsample=1, grid_size=None, normalize=False,
               batch_size=16, keep=(), callback=None):
  """Refined top-`count` modes of each pair's distribution and their masses.

  Args:
    temperature: T, a float or one per pair [P].
    keep: positions in `pairs` whose cell masses are returned (for plots).
    Other arguments as `pair_statistics`.

  Returns:
    ModeTable.
  """
  size = len(pairs)
  temperatures = np.broadcast_to(np.asarray(temperature, np.float64), (size,))
  rotations = np.full((size, count, 3, 3), np.nan)
  values = np.full((size, count), np.nan)
  masses = np.full((size, count), np.nan)
  keep = set(int(i) for i in keep)
  plotted = {}
  for index, fourier in pair_fourier(first, second, pairs, upsample,
                                     normalize, batch_size):
    grids = correlation.correlation_grid(fourier, grid_size)
    for i, grid, coefficients in zip(index, grids, fourier):
      found = find_modes(grid, count, separation_degrees, temperatures[i],
                         fourier=coefficients)
      k = len(found.values)
      rotations[i, :k], values[i, :k], masses[i, :k] = (
          found.rotations, found.values, found.masses)
      if i in keep:
        plotted[int(i)] = cell_masses(grid, temperatures[i])
    if callback is not None:
      callback(len(index))
  return ModeTable(rotations, values, masses, plotted)


def mode_csv_fields(count):
  """CSV columns of `count` modes: rotation, C, mass and error of each."""
  return [f"mode{k + 1}_{what}" for k in range(count)
          for what in ([f"r{i}{j}" for i in range(3) for j in range(3)]
                       + ["value", "mass", "error_deg"])]


def mode_csv_cells(table, errors, position):
  """The `mode_csv_fields` cells of one pair (empty where no mode)."""
  cells = []
  for k in range(table.masses.shape[1]):
    if np.isnan(table.masses[position, k]):
      cells += [""] * 12
      continue
    cells += [f"{v:.7f}" for v in table.rotations[position, k].ravel()]
    cells += [f"{table.values[position, k]:.6g}",
              f"{table.masses[position, k]:.5f}",
              f"{errors[position, k]:.4f}"]
  return cells


def instance_halves(category, instance):
  """0 / 1 per view: instances of each category alternate between halves
  in sorted order of their ids (so both halves hold every category)."""
  half = np.empty(len(category), dtype=np.int64)
  by_category = collections.defaultdict(set)
  for c, i in zip(category, instance):
    by_category[c].add(i)
  rank = {(c, i): k for c, ids in by_category.items()
          for k, i in enumerate(sorted(ids))}
  for view, key in enumerate(zip(category, instance)):
    half[view] = rank[key] % 2
  return half


@dataclasses.dataclass(frozen=True)
class CrossFit:
  """Temperatures fitted on each half and the held-out per-pair scores.

  Attributes:
    temperatures: (T fitted on half 0, T fitted on half 1).
    halves: [P] the half of each pair.
    tempered: [P] log-likelihood at the T fitted on the *other* half.
    untempered: [P] log-likelihood at T = 1.
    coverages: [P] coverage at the other half's T.
  """
  temperatures: tuple
  halves: np.ndarray
  tempered: np.ndarray
  untempered: np.ndarray
  coverages: np.ndarray


def cross_fit(summaries, halves):
  """Fits T on each half; scores every pair with the other half's T."""
  halves = np.asarray(halves)
  temperatures = []
  for half in (0, 1):
    chosen = [s for s, h in zip(summaries, halves) if h == half]
    if not chosen:
      raise ValueError(f"half {half} of the instances has no pairs: at least"
                       f" two instances are needed to fit the temperature on"
                       f" held-out pairs")
    temperatures.append(fit_temperature(chosen))
  tempered = np.empty(len(summaries))
  coverages = np.empty(len(summaries))
  for half in (0, 1):
    members = np.flatnonzero(halves == half)
    other = temperatures[1 - half]
    chosen = [summaries[i] for i in members]
    tempered[members] = summary_log_likelihoods(chosen, other)
    coverages[members] = summary_coverages(chosen, other)
  return CrossFit(temperatures=tuple(temperatures), halves=halves,
                  tempered=tempered,
                  untempered=summary_log_likelihoods(summaries, 1.0),
                  coverages=coverages)


@dataclasses.dataclass(frozen=True)
class DistributionRow:
  """One row of the distribution table (a category or "overall")."""
  name: str
  pairs: int
  log_likelihood: float             # mean, held-out temperature
  log_likelihood_untempered: float  # mean, T = 1
  median_top1: float                # degrees
  median_best_of_top: float         # degrees, best of the top-k modes
  calibration: tuple                # % of pairs with coverage < each level
  second_mode_mass: float           # mean mass of mode 2 (NaN if none)


def summarize_table(categories, fit, mode_errors, mode_masses):
  """Per-category rows (sorted by name) and an "overall" row.

  Args:
    categories: [P] category of each pair.
    fit: CrossFit.
    mode_errors: [P, K] errors of the top-K modes (NaN-padded).
    mode_masses: [P, K] their masses.
  """
  categories = np.asarray(categories)
  best = np.nanmin(mode_errors, axis=1)
  second = (np.nan_to_num(mode_masses[:, 1]) if mode_masses.shape[1] > 1
            else np.full(len(categories), np.nan))

  def row(name, chosen):
    return DistributionRow(
        name, int(chosen.sum()), float(np.mean(fit.tempered[chosen])),
        float(np.mean(fit.untempered[chosen])),
        float(np.median(mode_errors[chosen, 0])),
        float(np.median(best[chosen])),
        tuple(float(100 * np.mean(fit.coverages[chosen] < level))
              for level in COVERAGE_LEVELS),
        float(np.mean(second[chosen])))

  rows = [row(str(c), categories == c)
          for c in sorted(set(categories.tolist()))]
  rows.append(row("overall", np.ones(len(categories), dtype=bool)))
  return rows


def format_table(rows, modes):
  """The distribution table as text."""
  width = max([len("category")] + [len(r.name) for r in rows])
  header = (f"{'category':<{width}}  {'pairs':>5}  {'LL':>7}  {'LL T=1':>9}"
            f"  {'top-1 med':>9}  {f'top-{modes} med':>9}"
            + "".join(f"  {f'cal@{round(100 * c)}':>7}"
                      for c in COVERAGE_LEVELS)
            + f"  {'mass m2':>7}")
  lines = [header, "-" * len(header)]
  for r in rows:
    lines.append(
        f"{r.name:<{width}}  {r.pairs:>5d}  {r.log_likelihood:>7.2f}"
        f"  {r.log_likelihood_untempered:>9.3g}  {r.median_top1:>9.2f}"
        f"  {r.median_best_of_top:>9.2f}"
        + "".join(f"  {c:>7.1f}" for c in r.calibration)
        + f"  {r.second_mode_mass:>7.3f}")
  return "\n".join(lines)


@dataclasses.dataclass(frozen=True)
class Benchmark:
  """Everything `evaluate_embeddings` measured.

  Attributes:
    data: the embeddings file's arrays (`embeddings_io.load_embeddings`).
    pairs: int [P, 2] view pairs; truth: [P, 3, 3] R_rel.
    errors: [P, K] errors of the modes (degrees), folded for the
      symmetric categories.
    statistics: PairStatistics; fit: CrossFit.
    modes: ModeTable at each pair's held-out temperature.
    rows: the table (DistributionRow).
    skipped: the protocol's skip messages.
  """
  data: dict
  pairs: np.ndarray
  truth: np.ndarray
  errors: np.ndarray
  statistics: PairStatistics
  fit: CrossFit
  modes: ModeTable
  rows: list
  skipped: list


def evaluate_embeddings(path, protocol="ib", pairs_per_instance=3, upsample=4,
                        mode="image", seed=0, grid_size=None, normalize=False,
                        modes=2, separation_degrees=30.0,
                        symmetric_categories=(), batch_size=16,
                        keep_per_category=0, callback=None):
  """Pose distributions of an embeddings file's pairs, as a benchmark.

  Pairs are formed as `tools/correlate.py` forms them.  The test instances
  are split in two halves (`instance_halves`); the temperature fitted on
  each half scores the pairs of the other (`cross_fit`), so every pair is
  reported with a temperature fitted on other instances.

  Args:
    mode: "image" (embeddings on both sides), "mesh" (the second side uses
      the teacher maps `targets`) or "teacher" (targets on both sides).
    symmetric_categories: categories whose errors are reported as
      min(err, 180 - err) (the densities are not affected).
    keep_per_category: the cell masses of the first this many pairs of
      each category are kept (for plots).
    callback: called with the number of pairs done (two passes).
    Others as `tools/correlate.py` and `pair_statistics`.

  Returns:
    Benchmark.
  """
  data = embeddings_io.load_embeddings(path)
  if mode not in ("image", "mesh", "teacher"):
    raise ValueError(f"mode must be image, mesh or teacher, got {mode!r}")
  if mode in ("mesh", "teacher") and data["targets"] is None:
    raise ValueError(f"{path}: mode {mode!r} needs key 'targets' (the teacher"
                     f" maps), which the file does not have")
  first = data["targets"] if mode == "teacher" else data["embeddings"]
  second = data["embeddings"] if mode == "image" else data["targets"]
  pairs, skipped = pose_evaluation.make_pairs(
      data["category"], data["instance"], protocol, pairs_per_instance, seed)
  if not len(pairs):
    raise ValueError(f"{path}: no pairs under protocol {protocol!r}")
  truth = pose_evaluation.true_relative_rotations(data["rotations"], pairs)
  statistics = pair_statistics(first, second, pairs, truth, upsample,
                               grid_size, normalize, modes,
                               separation_degrees, batch_size, callback)
  categories = data["category"][pairs[:, 0]]
  errors = mode_errors(statistics.mode_rotations, truth, categories,
                       symmetric_categories)
  keep = [i for i, c in enumerate(categories)
          if np.sum(categories[:i] == c) < keep_per_category]
  halves = instance_halves(data["category"], data["instance"])[pairs[:, 0]]
  fit = cross_fit(statistics.summaries, halves)
  held_out = np.array(fit.temperatures)[1 - halves]
  table = pair_modes(first, second, pairs, modes, separation_degrees,
                     held_out, upsample, grid_size, normalize, batch_size,
                     keep, callback)
  rows = summarize_table(categories, fit, errors, table.masses)
  return Benchmark(data, pairs, truth, errors, statistics, fit, table, rows,
                   skipped)
