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

from absl import flags
import numpy as np
import tqdm

from sph_embed.common import cli
from sph_embed.common import files
from sph_embed.common import outputs
from sph_embed.pose import distributions
from sph_embed.pose import flags as pose_flags
from sph_embed.report import so3_plot

_PAIR = pose_flags.define_pair_flags()
_CSV = pose_flags.define_csv_output_flags("one row per pair")
_MODES = pose_flags.define_mode_flags(2, "Modes per pair (best-of-top-k).")
_PLOTS = pose_flags.define_plot_flags("plots_dir", 1,
                                      "Pairs plotted per category.")
flags.adopt_module_key_flags(pose_flags)  # Listed by --help.
flags.adopt_module_key_flags(outputs)


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
  pose_flags.check_arguments(argv, _PAIR)
  if _CSV.output.value:
    outputs.check_output_file(_CSV.output.value, "output", (".csv",),
                              {"embeddings": _PAIR.embeddings.value},
                              _CSV.overwrite.value)
  if _PLOTS.directory.value:
    outputs.check_output_dir(_PLOTS.directory.value, "plots_dir")
  with tqdm.tqdm(unit="pair", file=sys.stderr) as bar:
    bench = distributions.evaluate_embeddings(
        _PAIR.embeddings.value, _PAIR.protocol.value, _PAIR.pairs.value,
        _PAIR.upsample.value, _PAIR.mode.value, _PAIR.seed.value,
        _PAIR.grid_size.value or None, _PAIR.normalize.value,
        _MODES.modes.value, _MODES.separation.value,
        _PAIR.symmetric_categories.value, _PAIR.batch.value,
        _PLOTS.pairs.value if _PLOTS.directory.value else 0, bar.update)
  print(pose_flags.describe(_PAIR)
        + f"; temperature fitted on instance half 0:"
        f" {bench.fit.temperatures[0]:.4g}, half 1:"
        f" {bench.fit.temperatures[1]:.4g} (each scores the other half)")
  print(distributions.format_table(bench.rows, _MODES.modes.value))
  for message in bench.skipped:
    print(f"skipped: {message}")
  if _CSV.output.value:
    write_csv(_CSV.output.value, bench)
    print(f"wrote {_CSV.output.value}")
  if _PLOTS.directory.value:
    for path in write_plots(_PLOTS.directory.value, bench):
      print(f"wrote {path}")


if __name__ == "__main__":
  cli.run(main)
