"""Pose distributions over SO(3) on an embeddings file: the benchmark numbers.

Forms pairs as tools/correlate.py does, turns each pair's correlation grid
into a density over SO(3) (sph_embed.pose.distributions), fits the
temperature on one half of the test instances and scores the other half
with it (and vice versa), and prints per category: mean log-likelihood in
the Implicit-PDF / Image2Sphere convention (held-out temperature, and
T = 1), median error of the top mode and best of the top-k modes,
calibration (% of pairs whose truth lies in the smallest region holding
50 / 90 / 95 % of the mass) and the mean mass of the second mode.
Optionally writes one CSV row per pair and SO(3) plots
(sph_embed.report.so3_plot).  The log-likelihood is that of the grid cell
holding the truth, so it is capped by the cell size: for sharp densities
(teacher maps) use a finer --grid_size (128; about 4x slower).  NumPy +
pyshtools + matplotlib, no TensorFlow.

  python3 tools/evaluate_distributions.py --embeddings=test.npz \\
      --protocol=ib --pairs=3 --upsample=4 --mode=image \\
      --plots_dir=plots --plot_pairs=1 --output=distributions.csv
"""

import csv
import os
import sys

from absl import app
from absl import flags
import numpy as np
import tqdm

from sph_embed.common import cli
from sph_embed.common import files
from sph_embed.common import outputs
from sph_embed.pose import distributions
from sph_embed.pose import evaluation as pose_evaluation
from sph_embed.report import so3_plot

_EMBEDDINGS = flags.DEFINE_string("embeddings", None, "Embeddings .npz file.")
_PROTOCOL = flags.DEFINE_enum("protocol", "ib", list(pose_evaluation.PROTOCOLS),
                              "ib: instance-based, cb: category-based.")
_PAIRS = flags.DEFINE_integer("pairs", 3, "Pairs per instance.", lower_bound=1)
_UPSAMPLE = flags.DEFINE_integer("upsample", 4, "Spatial upsampling factor"
                                 " before the transform.", lower_bound=1)
_MODE = flags.DEFINE_enum("mode", "image", ["image", "mesh", "teacher"],
                          "As tools/correlate.py --mode.")
_SYMMETRIC_CATEGORIES = flags.DEFINE_list(
    "symmetric_categories", [], "Categories whose errors are scored "
    "min(err, 180 - err), as tools/correlate.py (the densities are not "
    "affected). Default: none.")
_SEED = flags.DEFINE_integer("seed", 0, "Seed of the pair selection.")
_NORMALIZE = flags.DEFINE_bool("normalize", False,
                               "Per-channel normalisation before correlating.")
_GRID_SIZE = flags.DEFINE_integer(
    "grid_size", 0, "Euler grid points per angle (even, >= 2B); 0: 2B.",
    lower_bound=0)
_MODES = flags.DEFINE_integer("modes", 2, "Modes per pair (best-of-top-k).",
                              lower_bound=1)
_SEPARATION = flags.DEFINE_float(
    "mode_separation_degrees", 30.0, "Minimum geodesic distance between "
    "modes; a mode's mass is taken within half of it.", lower_bound=1e-3)
_BATCH = flags.DEFINE_integer("batch", 16, "Pairs per batch.", lower_bound=1)
_OUTPUT = flags.DEFINE_string("output", None, "Per-pair CSV (optional).")
_OVERWRITE = flags.DEFINE_bool("overwrite", False,
                               "Replace an existing --output.")
_PLOTS_DIR = flags.DEFINE_string("plots_dir", None,
                                 "Directory for SO(3) plots (PNG).")
_PLOT_PAIRS = flags.DEFINE_integer("plot_pairs", 1,
                                   "Pairs plotted per category.", lower_bound=0)


def write_csv(path, bench):
  """One row per pair, written atomically (sph_embed.common.files)."""
  data, pairs, fit = bench.data, bench.pairs, bench.fit
  modes = bench.modes.masses.shape[1]
  held_out = np.array(fit.temperatures)[1 - fit.halves]
  fields = (["index1", "index2", "category", "instance1", "instance2", "half",
             "temperature", "log_likelihood", "log_likelihood_untempered",
             "coverage"]
            + [f"mode{k + 1}_{what}" for k in range(modes)
               for what in ("error_deg", "mass")])
  with files.atomic_write(path, newline="") as f:
    writer = csv.writer(f)
    writer.writerow(fields)
    for p, (i, j) in enumerate(pairs):
      writer.writerow(
          [i, j, data["category"][i], data["instance"][i],
           data["instance"][j], fit.halves[p], f"{held_out[p]:.6g}",
           f"{fit.tempered[p]:.4f}", f"{fit.untempered[p]:.6g}",
           f"{fit.coverages[p]:.4f}"]
          + [f"{v:.4f}" for k in range(modes)
             for v in (bench.errors[p, k], bench.modes.masses[p, k])])


def write_plots(directory, bench):
  """One PNG per kept pair; returns the paths."""
  os.makedirs(directory, exist_ok=True)
  data, fit = bench.data, bench.fit
  paths = []
  for p, masses in sorted(bench.modes.plotted.items()):
    i, j = bench.pairs[p]
    category = data["category"][i]
    temperature = fit.temperatures[1 - fit.halves[p]]
    path = os.path.join(directory, f"pair{p:04d}_{category}_{i}_{j}.png")
    so3_plot.plot_grid_distribution(
        masses, bench.truth[p], path,
        f"{category} {data['instance'][i]}: views {i} -> {j}, T = "
        f"{temperature:.3g}, top-1 error {bench.errors[p, 0]:.1f} deg, LL "
        f"{fit.tempered[p]:.2f}")
    paths.append(path)
  return paths


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  if not _EMBEDDINGS.value:
    raise app.UsageError("--embeddings is required")
  if _OUTPUT.value:
    outputs.check_output_file(_OUTPUT.value, "output", (".csv",),
                              {"embeddings": _EMBEDDINGS.value},
                              _OVERWRITE.value)
  if _PLOTS_DIR.value:
    outputs.check_output_dir(_PLOTS_DIR.value, "plots_dir")
  with tqdm.tqdm(unit="pair", file=sys.stderr) as bar:
    bench = distributions.evaluate_embeddings(
        _EMBEDDINGS.value, _PROTOCOL.value, _PAIRS.value, _UPSAMPLE.value,
        _MODE.value, _SEED.value, _GRID_SIZE.value or None, _NORMALIZE.value,
        _MODES.value, _SEPARATION.value, _SYMMETRIC_CATEGORIES.value,
        _BATCH.value, _PLOT_PAIRS.value if _PLOTS_DIR.value else 0,
        bar.update)
  print(f"{_EMBEDDINGS.value}: protocol {_PROTOCOL.value.upper()},"
        f" {_MODE.value} mode, upsample x{_UPSAMPLE.value}"
        + (f", symmetric: {','.join(_SYMMETRIC_CATEGORIES.value)}"
           if _SYMMETRIC_CATEGORIES.value else "")
        + f"; temperature fitted on instance half 0:"
        f" {bench.fit.temperatures[0]:.4g}, half 1:"
        f" {bench.fit.temperatures[1]:.4g} (each scores the other half)")
  print(distributions.format_table(bench.rows, _MODES.value))
  for message in bench.skipped:
    print(f"skipped: {message}")
  if _OUTPUT.value:
    write_csv(_OUTPUT.value, bench)
    print(f"wrote {_OUTPUT.value}")
  if _PLOTS_DIR.value:
    for path in write_plots(_PLOTS_DIR.value, bench):
      print(f"wrote {path}")


if __name__ == "__main__":
  cli.run(main)
