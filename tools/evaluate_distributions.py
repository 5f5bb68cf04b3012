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

import sys

from absl import flags
import tqdm

from sph_embed.common import cli
from sph_embed.common import outputs
from sph_embed.pose import pair_distributions
from sph_embed.pose import flags as pose_flags
from sph_embed.report import distribution_outputs

_PAIR = pose_flags.define_pair_flags()
_CSV = pose_flags.define_csv_output_flags("one row per pair")
_MODES = pose_flags.define_mode_flags(2, "Modes per pair (best-of-top-k).")
_PLOTS = pose_flags.define_plot_flags("plots_dir", 1,
                                      "Pairs plotted per category.")
flags.adopt_module_key_flags(pose_flags)  # Listed by --help.
flags.adopt_module_key_flags(outputs)


def main(argv):
  pose_flags.check_arguments(argv, _PAIR)
  if _CSV.output.value:
    outputs.check_output_file(_CSV.output.value, "output", (".csv",),
                              {"embeddings": _PAIR.embeddings.value},
                              _CSV.overwrite.value)
  if _PLOTS.directory.value:
    outputs.check_output_dir(_PLOTS.directory.value, "plots_dir")
  with tqdm.tqdm(unit="pair", file=sys.stderr) as bar:
    bench = pair_distributions.evaluate_embeddings(
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
  print(pair_distributions.format_table(bench.rows, _MODES.modes.value))
  for message in bench.skipped:
    print(f"skipped: {message}")
  if _CSV.output.value:
    distribution_outputs.write_csv(_CSV.output.value, bench)
    print(f"wrote {_CSV.output.value}")
  if _PLOTS.directory.value:
    for path in distribution_outputs.write_plots(_PLOTS.directory.value,
                                                 bench):
      print(f"wrote {path}")


if __name__ == "__main__":
  cli.run(main)
