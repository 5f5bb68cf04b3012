"""Relative pose by SO(3) correlation of embeddings; the paper's tables.

Reads an embeddings file (README.md, "Embeddings file (.npz)"), forms pairs
of views by a protocol, estimates each pair's relative rotation R_rel
(R2 = R_rel R1) as the argmax of the channel-summed SO(3) cross-correlation
of the two views' spherical maps (sph_embed.pose.correlation), writes one CSV
row per pair and prints, per category and overall: pairs, median error
(degrees), acc@15 and acc@30 (%).  NumPy + pyshtools only (no TensorFlow).

  python3 tools/correlate.py --embeddings=test.npz --protocol=ib \
      --pairs=3 --upsample=4 --output=ib.csv

--mode=mesh aligns each first view's image embedding to the second view's
teacher map of the mesh (key `targets`); --mode=teacher aligns the teacher
maps of both views (`targets` on both sides: the bound that perfect image
embeddings would reach).  --symmetric_categories=airplane,... scores the
pairs of the listed categories as min(err, 180 - err) (the paper does this
for airplanes only); the table's `symmetric` column marks them.  Instances
with a single view (IB) and categories with a single instance (CB) are
reported as skipped.  Maps that are constant over the sphere (e.g. all zero)
have no orientation, so their pairs' errors mean nothing: such a file is
refused, unless --allow_constant_embeddings, which scores it with a WARNING
under the table and marks the table rows (column `meaningless`) and CSV rows
(a last column `meaningless`, 1) of those pairs.
--modes=K adds to the CSV the top-K separated modes (non-maximum
suppression at --mode_separation_degrees) of each pair's pose distribution
exp(C / T) / Z over SO(3) at --temperature=T: rotation, C, mass and error;
--distribution_plots=DIR writes SO(3) plots of the first --plot_pairs
pairs (sph_embed.pose.distributions, sph_embed.report.so3_plot; the
benchmark with a held-out temperature is tools/evaluate_distributions.py).
--output is checked before computing: a .csv in an existing directory, not
the input; an existing file is replaced only with --overwrite.
"""

from absl import app
from absl import flags

from sph_embed.common import cli
from sph_embed.common import outputs
from sph_embed.pose import evaluation as pose_evaluation
from sph_embed.pose import flags as pose_flags
from sph_embed.report import correlate_embeddings

_PAIR = pose_flags.define_pair_flags()
_CSV = pose_flags.define_csv_output_flags("one row per pair")
_MODES = pose_flags.define_mode_flags(
    0, "Write the top-K separated modes of each pair's pose distribution to"
    " the CSV (rotation, C, mass, error); 0: none.")
_PLOTS = pose_flags.define_plot_flags("distribution_plots", 4,
                                      "Pairs plotted (the first ones).")
flags.adopt_module_key_flags(pose_flags)  # Listed by --help.
flags.adopt_module_key_flags(outputs)
_SYMMETRIC = flags.DEFINE_bool(
    "symmetric", False, "Removed (it folded every category): use "
    "--symmetric_categories.")
_REFINE = flags.DEFINE_bool("refine", True,
                            "Refine the grid argmax by continuous "
                            "maximisation of the correlation.")
_ALLOW_CONSTANT = flags.DEFINE_bool(
    "allow_constant_embeddings", False, "Score maps that are constant over "
    "the sphere (e.g. all zero) instead of refusing them; their pairs are "
    "marked meaningless in the table and the CSV.")
_TEMPERATURE = flags.DEFINE_float(
    "temperature", 1.0, "T of the pose density exp(C / T) / Z (fit it on "
    "other instances with tools/evaluate_distributions.py).",
    lower_bound=1e-12)

def main(argv):
  pose_flags.check_arguments(argv, _PAIR)
  if _SYMMETRIC.value:
    raise app.UsageError(
        "--symmetric (which folded every category) is replaced by"
        " --symmetric_categories=NAME,...: list the categories to score as"
        " min(err, 180 - err), e.g. --symmetric_categories=airplane")
  if _CSV.output.value:
    # Before computing: a bad --output must not cost the whole run, and
    # must never replace the input.
    outputs.check_output_file(_CSV.output.value, "output", (".csv",),
                              inputs={"embeddings": _PAIR.embeddings.value},
                              overwrite=_CSV.overwrite.value)
  if _PLOTS.directory.value:
    outputs.check_output_dir(_PLOTS.directory.value, "distribution_plots")
  rows, skipped, warnings = correlate_embeddings.run(
      _PAIR.embeddings.value, _PAIR.protocol.value, _PAIR.pairs.value,
      _PAIR.upsample.value, _PAIR.mode.value,
      _PAIR.symmetric_categories.value, _PAIR.seed.value, _CSV.output.value,
      _REFINE.value, _PAIR.normalize.value, _PAIR.grid_size.value or None,
      _PAIR.batch.value, modes=_MODES.modes.value,
      mode_separation_degrees=_MODES.separation.value,
      temperature=_TEMPERATURE.value,
      distribution_plots=_PLOTS.directory.value,
      plot_pairs=_PLOTS.pairs.value, allow_constant=_ALLOW_CONSTANT.value)
  print(pose_flags.describe(_PAIR))
  print(pose_evaluation.format_table(rows))
  for message in warnings:
    print(f"WARNING: {message}")
  for message in skipped:
    print(f"skipped: {message}")


if __name__ == "__main__":
  cli.run(main)
