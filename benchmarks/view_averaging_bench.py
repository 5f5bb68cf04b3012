"""Test-time view averaging against none, at every checkpoint of a run.

Scores one recipe of a time-to-accuracy work directory
(benchmarks/time_to_accuracy.py) at each of its kept checkpoints, once per
variant of test-time view averaging (sph_embed.embedding.view_averaging):
the network's maps of the view alone, averaged with its mirror image's,
over 2 or 4 turns of the view, and over 4 turns and their mirror images.
Same pairs and scoring as the harness (report.pose_curve.measure, 3DOF IB,
maps upsampled x4).  Writes <output_dir>/view_averaging.csv (the harness's
columns, a variant per "recipe", the checkpoint's minutes taken from the
harness's CSV) and view_averaging.png (median error vs minutes, a line per
variant):

  python3 benchmarks/view_averaging_bench.py --work_dir=runs/tta/round8 \
      --recipe=two_heads_cosine_1e3_halfturns_w01 \
      --data_dir=runs/tta/data_val --output_dir=runs/tta/round8_views
"""

import os

from absl import app
from absl import flags

from sph_embed.common import cli
from sph_embed.report import figures
from sph_embed.report import pose_curve
from sph_embed.report import recipe_curves

# variant -> (turns, mirror)
VARIANTS = {"none": (1, False), "mirror": (1, True), "turns2": (2, False),
            "turns4": (4, False), "turns4_mirror": (4, True)}

_WORK_DIR = flags.DEFINE_string(
    "work_dir", None, "A benchmarks/time_to_accuracy.py work directory.",
    required=True)
_RECIPE = flags.DEFINE_string("recipe", None, "The recipe whose run is"
                              " scored.", required=True)
_DATA_DIR = flags.DEFINE_string("data_dir", None, "The dataset the harness"
                                " scored.", required=True)
_OUTPUT_DIR = flags.DEFINE_string("output_dir", None, "Where the CSV and"
                                  " plot go.", required=True)
_VARIANTS = flags.DEFINE_list("variants", list(VARIANTS),
                              f"Any of {', '.join(VARIANTS)}.")
_PAIRS = flags.DEFINE_integer("pairs", 3, "IB pairs per held-out instance.",
                              lower_bound=1)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  unknown = sorted(set(_VARIANTS.value) - set(VARIANTS))
  if unknown:
    raise app.UsageError(f"--variants: unknown {unknown}; known:"
                         f" {', '.join(VARIANTS)}")
  curves = os.path.join(_WORK_DIR.value, recipe_curves.CSV_NAME)
  try:
    minutes = {row["step"]: row["minutes"]
               for row in recipe_curves.read_csv(curves)
               if row["recipe"] == _RECIPE.value}
  except (OSError, ValueError) as e:
    raise app.UsageError(f"--work_dir: {e}") from None
  if not minutes:
    raise app.UsageError(f"--recipe={_RECIPE.value}: no rows in {curves}")
  os.makedirs(_OUTPUT_DIR.value, exist_ok=True)
  model_dir = os.path.join(_WORK_DIR.value, "runs", _RECIPE.value)
  rows = []
  for variant in _VARIANTS.value:
    turns, mirror = VARIANTS[variant]
    for row in pose_curve.measure(model_dir, _DATA_DIR.value,
                                  pairs=_PAIRS.value, view_turns=turns,
                                  view_mirror=mirror):
      rows.append({"recipe": variant, "minutes": minutes[row["step"]], **row})
      print(f"{variant:14s} step {row['step']:6d}"
            f" {minutes[row['step']]:5.1f} min: median"
            f" {row['median_deg']:6.2f} deg, acc@15 {row['acc15']:.1f} %",
            flush=True)
  recipe_curves.write_csv(
      os.path.join(_OUTPUT_DIR.value, "view_averaging.csv"), rows)
  figures.time_to_accuracy_figure(
      rows, "median error vs minutes of training, by test-time view"
      " averaging", os.path.join(_OUTPUT_DIR.value, "view_averaging.png"))
  print(f"wrote {_OUTPUT_DIR.value}/view_averaging.csv and .png")


if __name__ == "__main__":
  cli.run(main)
