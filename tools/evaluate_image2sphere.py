"""Image2Sphere's poses: absolute per view, relative as tools/correlate.py.

Predicts each view's distribution over SO(3) with an Image2Sphere run
(tools/train_image2sphere.py) on an Euler grid (--grid_size, default the
run's evaluation grid), takes its argmax as the view's canonical rotation
R_hat, forms the pairs of a protocol with the same code, flags and
defaults as tools/correlate.py and tools/evaluate_regression.py
(sph_embed.pose.flags), estimates each pair's relative pose as
R_hat_j R_hat_i^T, writes correlate's CSV (--output, one row per pair) and
the per-view absolute errors and log-likelihoods of the truth
(--absolute_output), and prints both tables:

  python3 tools/evaluate_image2sphere.py \
      --model_dir=runs/pipeline/image2sphere --split=test --protocol=ib \
      --output=runs/pipeline/pose_ib_image2sphere.csv \
      --absolute_output=runs/pipeline/absolute_image2sphere.csv \
      --distribution_plots=runs/pipeline/distributions_image2sphere

--distribution_plots=DIR writes one SO(3) plot per view (the first
--plots_per_category views of each category, or --plot_views) of its
predicted distribution with the true rotation ringed; the report
(tools/make_report.py) shows them, and the two CSVs beside ours and the
regression baseline's.  --data_dir defaults to the network's training
data.  The outputs are checked before computing: a .csv in an existing
directory; an existing file is replaced only with --overwrite.
"""

from absl import app
from absl import flags

from sph_embed.baselines import image2sphere
from sph_embed.baselines import image2sphere_training
from sph_embed.common import cli
from sph_embed.common import outputs
from sph_embed.pose import flags as pose_flags
from sph_embed.report import absolute_poses

_MODEL_DIR = flags.DEFINE_string(
    "model_dir", None, "Image2Sphere run written by"
    " tools/train_image2sphere.py.", required=True)
_CHECKPOINT = flags.DEFINE_string(
    "checkpoint", None, "Checkpoint path prefix (default: the run's newest).")
_GRID_SIZE = flags.DEFINE_integer(
    "grid_size", None, "Euler grid of the predictions, even (default: the"
    " run's eval_grid_size, 96: 3.75 degree steps).", lower_bound=4)
_EVALUATION = pose_flags.define_absolute_pose_flags("Image2Sphere")
_PLOTS = flags.DEFINE_string(
    "distribution_plots", None, "Directory for SO(3) plots of single views'"
    " predicted distributions (optional).")
_PLOTS_PER_CATEGORY = flags.DEFINE_integer(
    "plots_per_category", 1, "Views plotted per category (the first ones).",
    lower_bound=0)
_PLOT_VIEWS = flags.DEFINE_list(
    "plot_views", None, "Indices of the views to plot, in the split's order"
    " (instead of --plots_per_category).")
flags.adopt_module_key_flags(pose_flags)  # Listed by --help.
flags.adopt_module_key_flags(outputs)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  if _GRID_SIZE.value is not None and _GRID_SIZE.value % 2:
    raise app.UsageError(f"--grid_size={_GRID_SIZE.value}: must be even")
  try:
    plot_views = [int(i) for i in _PLOT_VIEWS.value or ()]
  except ValueError as e:
    raise app.UsageError(f"--plot_views={','.join(_PLOT_VIEWS.value)}: not"
                         " integers") from e
  if _PLOTS.value:
    outputs.check_output_dir(_PLOTS.value, "distribution_plots")
  model, spec = image2sphere_training.restore_model(_MODEL_DIR.value,
                                                    _CHECKPOINT.value)
  predictor = image2sphere.Predictor(
      model, _GRID_SIZE.value
      or image2sphere_training.config_of(spec).eval_grid_size)
  table = absolute_poses.run_tool(
      absolute_poses.image2sphere_predictor(predictor), spec, _EVALUATION,
      f"Image2Sphere (grid {predictor.grid_size})")
  if _PLOTS.value:
    views = plot_views or absolute_poses.first_views(
        table, _PLOTS_PER_CATEGORY.value)
    for path in absolute_poses.write_distribution_plots(
        predictor, _EVALUATION.data_dir.value or spec["data_dir"],
        _EVALUATION.split.value, table, views, _PLOTS.value):
      print(f"wrote {path}")


if __name__ == "__main__":
  cli.run(main)
