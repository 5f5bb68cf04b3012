"""Relative-pose error against training steps, from a run's checkpoints.

Scores each kept checkpoint of a tools/train_embedding.py run as
tools/correlate.py scores the finished network (the same pairs, maps
upsampled x4, refined argmax) and writes one CSV row per checkpoint (step,
pairs, median error in degrees, acc@15, acc@30 in %) and a plot.  The main
job keeps a checkpoint every eighth of its embedding steps for this:

  python3 tools/pose_curve.py --model_dir=runs/pipeline/embedding \
      --output=runs/pipeline/pose_vs_steps.csv \
      --plot=runs/pipeline/pose_vs_steps.png

--data_dir defaults to the run's dataset; --output and --plot are checked
before anything is computed and replaced only with --overwrite.
"""

from absl import app
from absl import flags

from sph_embed.common import cli
from sph_embed.common import files
from sph_embed.common import outputs
from sph_embed.embedding import training as embedding_training
from sph_embed.embedding import view_averaging
from sph_embed.pose import flags as pose_flags
from sph_embed.report import figures
from sph_embed.report import pose_curve

_MODEL_DIR = flags.DEFINE_string(
    "model_dir", None, "A tools/train_embedding.py run.", required=True)
_DATA_DIR = flags.DEFINE_string(
    "data_dir", None, "Dataset to score (default: the run's).")
_SPLIT = flags.DEFINE_enum("split", "test", ["train", "test"],
                           "Split whose views are paired.")
_PROTOCOL = pose_flags.define_protocol_flags()
_UPSAMPLE = flags.DEFINE_integer(
    "upsample", 4, "Upsampling of the maps before correlation (as the main"
    " job's tools/correlate.py --upsample).", lower_bound=1)
_VIEW_TURNS = flags.DEFINE_integer(
    "view_turns", 1, "1, 2 or 4: average each view's maps over this many"
    " evenly spaced turns of the view (as tools/save_embeddings.py).")
_VIEW_MIRROR = flags.DEFINE_bool(
    "view_mirror", False, "Also average over each view's mirror image (as"
    " tools/save_embeddings.py).")
_CSV = pose_flags.define_csv_output_flags("one row per checkpoint")
_PLOT = flags.DEFINE_string("plot", None, "PNG of the curve (optional).")
flags.adopt_module_key_flags(pose_flags)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  if not _CSV.output.value:
    raise app.UsageError("--output: give the CSV file to write")
  try:
    view_averaging.validate_turns(_VIEW_TURNS.value, "--view_turns")
  except ValueError as e:
    raise app.UsageError(str(e)) from None
  inputs = {"model_dir": _MODEL_DIR.value}
  outputs.check_output_file(_CSV.output.value, "output", (".csv",), inputs,
                            _CSV.overwrite.value)
  if _PLOT.value:
    outputs.check_output_file(_PLOT.value, "plot", (".png",), inputs,
                              _CSV.overwrite.value)
  try:
    spec = embedding_training.read_model_spec(_MODEL_DIR.value)
  except ValueError as e:
    raise app.UsageError(f"--model_dir: {e}") from None
  data_dir = _DATA_DIR.value or spec["data_dir"]
  rows = pose_curve.measure(
      _MODEL_DIR.value, data_dir, _SPLIT.value, _PROTOCOL.protocol.value,
      _PROTOCOL.pairs.value, _PROTOCOL.seed.value, _UPSAMPLE.value,
      view_turns=_VIEW_TURNS.value, view_mirror=_VIEW_MIRROR.value)
  pose_curve.write_csv(_CSV.output.value, rows)
  if _PLOT.value:
    with files.atomic_path(_PLOT.value) as temporary:
      figures.pose_curve_figure(
          rows, f"{_PROTOCOL.protocol.value.upper()} relative pose,"
          f" {rows[0]['pairs']} pairs of {_SPLIT.value} views", temporary)
  print(f"{'step':>8s} {'pairs':>6s} {'median':>8s} {'acc@15':>7s}"
        f" {'acc@30':>7s}")
  for row in rows:
    print(f"{row['step']:8d} {row['pairs']:6d} {row['median_deg']:8.2f}"
          f" {row['acc15']:7.1f} {row['acc30']:7.1f}")
  print(f"wrote {_CSV.output.value}"
        + (f" and {_PLOT.value}" if _PLOT.value else ""))


if __name__ == "__main__":
  cli.run(main)
