"""Relative pose of the regression baseline, scored as tools/correlate.py.

Predicts each view's canonical rotation R_hat with a regression run
(tools/train_regression.py) or module (tools/export_model.py
--kind=pose_regression), forms the pairs of a protocol with the same code,
flags and defaults as tools/correlate.py (sph_embed.pose.flags), estimates
each pair's relative pose as R_hat_j R_hat_i^T, writes correlate's CSV (one
row per pair) and prints correlate's table:

  python3 tools/evaluate_regression.py --module=hub_modules/regression \
      --data_dir=data/synthetic --split=test --protocol=ib --pairs=3 \
      --output=runs/pipeline/pose_ib_regression.csv

With the dataset and split tools/save_embeddings.py embedded, the views are
taken in the same order, so the pairs are those tools/correlate.py scores
on that embeddings file (same --protocol, --pairs, --seed), and the report
(tools/make_report.py) shows pose_<protocol>_regression.csv beside
pose_<protocol>_image.csv (sph_embed.report.regression_poses).  --data_dir
defaults to the network's training data.  --output is checked before
computing: a .csv in an existing directory; an existing file is replaced
only with --overwrite.
"""

from absl import app
from absl import flags

from sph_embed.baselines import export as regression_export
from sph_embed.common import cli
from sph_embed.common import outputs
from sph_embed.pose import evaluation as pose_evaluation
from sph_embed.pose import flags as pose_flags
from sph_embed.report import regression_poses

_MODEL_DIR = flags.DEFINE_string(
    "model_dir", None, "Regression run written by tools/train_regression.py"
    " (or give --module).")
_MODULE = flags.DEFINE_string(
    "module", None, "Pose regression module written by tools/export_model.py"
    " --kind=pose_regression (or give --model_dir).")
_DATA_DIR = flags.DEFINE_string(
    "data_dir", None, "Dataset of the views (default: the network's"
    " training data).")
_SPLIT = flags.DEFINE_enum("split", "test", ["train", "test"],
                           "Dataset split to evaluate.")
_BATCH_SIZE = flags.DEFINE_integer("batch_size", 64, "Views per forward pass.",
                                   lower_bound=1)
_PROTOCOL = pose_flags.define_protocol_flags()
_CSV = pose_flags.define_csv_output_flags("one row per pair")
flags.adopt_module_key_flags(pose_flags)  # Listed by --help.
flags.adopt_module_key_flags(outputs)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  if bool(_MODEL_DIR.value) == bool(_MODULE.value):
    raise app.UsageError("give exactly one of --model_dir (a training run)"
                         " and --module (a pose regression module)")
  if _CSV.output.value:
    # Before computing: a bad --output must not cost the whole run.
    outputs.check_output_file(_CSV.output.value, "output", (".csv",),
                              overwrite=_CSV.overwrite.value)
  predict, spec = regression_export.load_predictor(_MODEL_DIR.value or None,
                                                   _MODULE.value or None)
  data_dir = _DATA_DIR.value or spec["data_dir"]
  rows, skipped = regression_poses.run(
      predict, spec["image_size"], data_dir, _SPLIT.value,
      _PROTOCOL.protocol.value, _PROTOCOL.pairs.value, _PROTOCOL.seed.value,
      _PROTOCOL.symmetric_categories.value, _CSV.output.value,
      _BATCH_SIZE.value)
  print(pose_flags.heading(regression_poses.source_name(data_dir,
                                                       _SPLIT.value),
                           _PROTOCOL, "regression"))
  print(pose_evaluation.format_table(rows))
  for message in skipped:
    print(f"skipped: {message}")


if __name__ == "__main__":
  cli.run(main)
