"""The report's sections on training: the TensorBoard scalar curves, the
pose error at the kept checkpoints (<work_dir>/pose_vs_steps.csv of
tools/pose_curve.py), and recipes compared at one time budget
(<work_dir>/time_to_accuracy.csv of benchmarks/time_to_accuracy.py).

Each builder takes report_page.Inputs and returns its sections (none
without their data).
"""

import os
import re

from sph_embed.report import figures
from sph_embed.report import pose_curve
from sph_embed.report import recipe_curves
from sph_embed.report import report_page

POSE_CURVE_CSV = "pose_vs_steps.csv"  # tools/pose_curve.py, in the pipeline


def training_curves(inputs):
  """A figure of every TensorBoard scalar per model directory."""
  curves = figures.read_training_curves(
      inputs.work_dir,
      skipped=("data", report_page.REPORT_DIR, "."))  # And the staging dir.
  by_model = {}
  for run, tags in curves.items():
    by_model.setdefault(os.path.dirname(run) or run, {})[run] = tags
  if not by_model:
    return []
  training = report_page.Section("Training curves")
  for model, runs in sorted(by_model.items()):
    name = "curves_" + re.sub(r"[^A-Za-z0-9]+", "_", model) + ".png"
    figures.training_figure(model, runs, os.path.join(inputs.staging, name))
    training.image(name, f"training curves, {model}")
  return [training]


def pose_vs_steps(inputs):
  """The pose embedding's error at its kept checkpoints: table and plot."""
  path = os.path.join(inputs.work_dir, POSE_CURVE_CSV)
  if not os.path.isfile(path):
    return []
  rows = pose_curve.read_csv(path)
  section = report_page.Section("Pose error vs training steps")
  section.text("3DOF instance-based relative pose of the held-out views,"
               " scored at each kept checkpoint of the embedding network"
               " exactly as the final one (tools/pose_curve.py).")
  section.table(("step", "pairs", "median (deg)", "acc@15 (%)",
                 "acc@30 (%)"),
                [(str(row["step"]), str(row["pairs"]),
                  f"{row['median_deg']:.2f}",
                  f"{row['acc15']:.1f}", f"{row['acc30']:.1f}")
                 for row in rows])
  name = "pose_vs_steps.png"
  figures.pose_curve_figure(rows, "relative pose error vs training step",
                            os.path.join(inputs.staging, name))
  section.image(name, "pose error vs training step")
  return [section]


def time_to_accuracy(inputs):
  """Recipes at one wall-clock budget: error vs minutes, one line each."""
  path = os.path.join(inputs.work_dir, recipe_curves.CSV_NAME)
  if not os.path.isfile(path):
    return []
  rows = recipe_curves.read_csv(path)
  section = report_page.Section("Pose error vs minutes of training")
  section.text("Training recipes of the embedding network, each trained"
               " for the same minutes on the same machine and scored on the"
               " held-out split at its kept checkpoints"
               " (benchmarks/time_to_accuracy.py).")
  section.table(("recipe", "step", "minutes", "median (deg)", "acc@15 (%)"),
                [(row["recipe"], str(row["step"]), f"{row['minutes']:.1f}",
                  f"{row['median_deg']:.2f}", f"{row['acc15']:.1f}")
                 for row in rows])
  name = "time_to_accuracy.png"
  figures.time_to_accuracy_figure(rows, "median error vs minutes of training",
                                  os.path.join(inputs.staging, name))
  section.image(name, "pose error vs minutes of training, per recipe")
  return [section]
