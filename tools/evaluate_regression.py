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
pose_<protocol>_image.csv (sph_embed.report.absolute_poses).  --data_dir
defaults to the network's training data.  --absolute_output writes one
row per view with its absolute-pose error (the report's absolute-pose
table).  --output and --absolute_output are checked before computing: a
.csv in an existing directory; an existing file is replaced only with
--overwrite.
"""

from absl import app
from absl import flags

from sph_embed.baselines import export as regression_export
from sph_embed.common import cli
from sph_embed.common import outputs
from sph_embed.pose import flags as pose_flags
from sph_embed.report import absolute_poses

_MODEL_DIR = flags.DEFINE_string(
    "model_dir", None, "Regression run written by tools/train_regression.py"
    " (or give --module).")
_MODULE = flags.DEFINE_string(
    "module", None, "Pose regression module written by tools/export_model.py"
    " --kind=pose_regression (or give --model_dir).")
_EVALUATION = pose_flags.define_absolute_pose_flags("the regression network")
flags.adopt_module_key_flags(pose_flags)  # Listed by --help.
flags.adopt_module_key_flags(outputs)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  if bool(_MODEL_DIR.value) == bool(_MODULE.value):
    raise app.UsageError("give exactly one of --model_dir (a training run)"
                         " and --module (a pose regression module)")
  predict, spec = regression_export.load_predictor(_MODEL_DIR.value or None,
                                                   _MODULE.value or None)
  absolute_poses.run_tool(absolute_poses.rotation_predictor(predict), spec,
                          _EVALUATION, "regression")


if __name__ == "__main__":
  cli.run(main)
