"""Embedding-network recipes compared at one wall-clock budget.

Trains each recipe of sph_embed/experiments/recipes.json (or
--recipes_file) on the same dataset for --budget_minutes, one after the
other, and scores the dataset's held-out split at each kept checkpoint as
the report does (3DOF IB median, acc@15/30): a table, a CSV and a plot of
error vs minutes (sph_embed.experiments.time_to_accuracy).  Choose recipes
on a validation split carved from the training instances:

  python3 tools/build_dataset.py --output_dir=runs/tta/data_val \
      --source=synthetic --categories=airplane,car,chair,sofa,bed,toilet \
      --train_instances=300 --test_instances=10 --views_per_instance=16 \
      --validation_instances=10
  python3 benchmarks/time_to_accuracy.py --data_dir=runs/tta/data_val \
      --work_dir=runs/tta/round1 --budget_minutes=15

Rerunning resumes: calibrations and finished runs are reused.  Nothing else
should run on the machine meanwhile (the budget is wall-clock time).
"""

import os

from absl import app
from absl import flags

from sph_embed.common import cli
from sph_embed.experiments import time_to_accuracy

_DATA_DIR = flags.DEFINE_string(
    "data_dir", None, "Dataset (tools/build_dataset.py): the train split"
    " trains, the test split (a validation split when choosing) scores.",
    required=True)
_WORK_DIR = flags.DEFINE_string("work_dir", None, "Results directory.",
                                required=True)
_HUB_MODULE = flags.DEFINE_string(
    "hub_module", "hub_modules/teacher_synthetic", "Teacher module.")
_RECIPES_FILE = flags.DEFINE_string(
    "recipes_file", time_to_accuracy.RECIPES_FILE, "Recipes (JSON).")
_RECIPES = flags.DEFINE_list("recipes", None,
                             "Recipes to run, in order (default: all).")
_BUDGET = flags.DEFINE_float("budget_minutes", 15.0,
                             "Wall-clock training budget of each recipe.",
                             lower_bound=0.5)
_POINTS = flags.DEFINE_integer("points", 8, "Checkpoints scored per recipe.",
                               lower_bound=1)
_PAIRS = flags.DEFINE_integer(
    "pairs", 3, "Instance-based pairs scored per held-out instance (more for a"
    " small split, e.g. a few real meshes).", lower_bound=1)
_CALIBRATION_STEPS = flags.DEFINE_integer(
    "calibration_steps", 120, "Steps of each recipe's timing run.",
    lower_bound=12)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  try:
    recipes = time_to_accuracy.read_recipes(_RECIPES_FILE.value,
                                            _RECIPES.value)
  except ValueError as e:
    raise app.UsageError(f"--recipes_file / --recipes: {e}") from None
  time_to_accuracy.run(recipes, _DATA_DIR.value, _HUB_MODULE.value,
                       _WORK_DIR.value, _BUDGET.value, _POINTS.value,
                       _CALIBRATION_STEPS.value, _PAIRS.value)
  with open(os.path.join(_WORK_DIR.value, "time_to_accuracy.md"),
            encoding="utf-8") as f:
    print(f.read())


if __name__ == "__main__":
  cli.run(main)
