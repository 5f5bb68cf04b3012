"""Pose distributions of pairs of views: statistics, tables, the benchmark.

For pairs of embedded views (an embeddings file, or two map arrays), the
correlation grid of each pair becomes the density of
sph_embed.pose.distributions (NumPy/SciPy only, as that module): its
summaries (log-likelihood and coverage of the true relative rotation), its
top modes and their errors, the temperature fitted on one half of the
instances and scored on the other (`cross_fit`), and the per-category
table of tools/evaluate_distributions.py (`evaluate_embeddings`).
"""

import collections
import dataclasses

import numpy as np

from sph_embed.pose import correlation
from sph_embed.pose import distributions
from sph_embed.pose import embeddings_io
from sph_embed.pose import evaluation as pose_evaluation


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

  distributions.Modes are refined by continuous maximisation of C.

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
      true_values[i] = grid[distributions.nearest_cell(truth[i],
                                                       grid.shape[-1])]
      summaries[i] = distributions.summarize(grid, true_values[i])
      found = distributions.find_modes(grid, modes, separation_degrees,
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
      found = distributions.find_modes(grid, count, separation_degrees,
                                       temperatures[i], fourier=coefficients)
      k = len(found.values)
      rotations[i, :k], values[i, :k], masses[i, :k] = (
          found.rotations, found.values, found.masses)
      if i in keep:
        plotted[int(i)] = distributions.cell_masses(grid, temperatures[i])
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
    temperatures.append(distributions.fit_temperature(chosen))
  tempered = np.empty(len(summaries))
  coverages = np.empty(len(summaries))
  for half in (0, 1):
    members = np.flatnonzero(halves == half)
    other = temperatures[1 - half]
    chosen = [summaries[i] for i in members]
    tempered[members] = distributions.summary_log_likelihoods(chosen, other)
    coverages[members] = distributions.summary_coverages(chosen, other)
  return CrossFit(temperatures=tuple(temperatures), halves=halves,
                  tempered=tempered,
                  untempered=distributions.summary_log_likelihoods(summaries,
                                                                   1.0),
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
              for level in distributions.COVERAGE_LEVELS),
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
                      for c in distributions.COVERAGE_LEVELS)
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
