"""Tests for the time-to-accuracy harness (sph_embed.experiments.
time_to_accuracy and benchmarks/time_to_accuracy.py) on tiny runs."""

import json
import os
import tempfile

import tensorflow as tf
from absl.testing import parameterized

from sph_embed.data import example_schema
from sph_embed.experiments import time_to_accuracy
from sph_embed.report import pose_curve
from sph_embed.report import recipe_curves
from tests import mesh_test_util
from tests.embedding import training_test

_TINY_FLAGS = {"preset": "cpu", "base_filters": 4, "max_filters": 8,
               "latent_size": 16, "blocks_per_layer": 1, "batch_size": 4}


def _write_recipes(path, recipes):
  with open(path, "w", encoding="utf-8") as f:
    json.dump({"recipes": recipes}, f)
  return path


class RecipeTest(tf.test.TestCase, parameterized.TestCase):

  def test_schedules_are_fitted_to_the_run(self):
    piecewise = time_to_accuracy.Recipe("a", "", {})
    self.assertEqual(piecewise.schedule_flags(1200), {
        "lr_schedule": "piecewise", "lr_boundaries": [800, 1100],
        "lr_values": [1e-3, 2e-4, 4e-5]})
    cosine = time_to_accuracy.Recipe("b", "", {}, schedule="cosine",
                                     lr_values=(2e-3, 1e-5),
                                     warmup_fraction=0.05)
    self.assertEqual(cosine.schedule_flags(1000), {
        "lr_schedule": "cosine", "lr_values": [2e-3, 1e-5],
        "lr_warmup_steps": 50})

  def test_shipped_recipes_file_reads(self):
    recipes = time_to_accuracy.read_recipes()
    self.assertIn("today", [recipe.name for recipe in recipes])

  @parameterized.parameters(
      ([{"name": "a", "description": "", "flags": {"max_steps": 5}}],
       "set by the harness"),
      ([{"name": "a", "description": "", "flags": {}, "schedule": "step"}],
       "schedule must be one of"),
      ([{"name": "a", "description": "", "flags": {}},
        {"name": "a", "description": "", "flags": {}}], "same name"),
      ([{"name": "a/b", "description": "", "flags": {}}], "directory name"),
      ([{"name": "a", "flags": {}}], "not a recipes file"))
  def test_bad_recipes_files_are_named(self, recipes, message):
    path = _write_recipes(os.path.join(self.get_temp_dir(), "r.json"),
                          recipes)
    with self.assertRaisesRegex(ValueError, f"^{path}: .*{message}"):
      time_to_accuracy.read_recipes(path)

  def test_the_row_at_the_budget_is_the_last_within_it(self):
    rows = [{"recipe": "a", "minutes": m, "step": s}
            for m, s in ((1.0, 10), (2.0, 20), (3.5, 30))]
    self.assertEqual(time_to_accuracy.at_budget(rows, 3.0)["a"]["step"], 20)
    self.assertEqual(time_to_accuracy.at_budget(rows, 0.5)["a"]["step"], 10)

  @parameterized.parameters(({"validation_instances": 10}, "validation"),
                            ({"validation_instances": 0}, "test"), ({}, "test"))
  def test_the_scored_split_is_named_by_how_it_was_built(self, source, name):
    data_dir = tempfile.mkdtemp(dir=self.get_temp_dir())
    with open(os.path.join(data_dir, example_schema.METADATA_FILE), "w",
              encoding="utf-8") as f:
      json.dump({"format_version": example_schema.FORMAT_VERSION,
                 "categories": ["car"], "splits": {}, "image_size": 64,
                 "sphere_size": 64, "source": dict(source, kind="synthetic")},
                f)
    self.assertEqual(time_to_accuracy.scored_split(data_dir), name)


class HarnessTest(training_test.TinyRunTestCase):

  def test_recipes_are_trained_for_the_budget_and_scored(self):
    # One recipe (each costs two tool processes): cosine and the pose loss.
    recipes_file = _write_recipes(os.path.join(self.root, "recipes.json"), [
        {"name": "pose_loss", "description": "tiny, pose loss",
         "flags": dict(_TINY_FLAGS, pose_loss_weight=0.1,
                       pose_loss_grid_rotations=16),
         "schedule": "cosine", "lr_values": [2e-3, 1e-5]}])
    work_dir = os.path.join(self.root, "tta")
    run_harness = lambda: mesh_test_util.run_script(
        "benchmarks/time_to_accuracy.py", f"--data_dir={self.data_dir}",
        f"--work_dir={work_dir}", f"--hub_module={self.hub_module}",
        f"--recipes_file={recipes_file}", "--budget_minutes=0.5",
        "--points=2", "--calibration_steps=12", "--pairs=1")
    result = run_harness()
    self.assertEqual(result.returncode, 0, result.stderr[-3000:])
    rows = recipe_curves.read_csv(os.path.join(work_dir,
                                               "time_to_accuracy.csv"))
    model_dir = os.path.join(work_dir, "runs", "pose_loss")
    with open(os.path.join(model_dir, "started.json"), encoding="utf-8") as f:
      started = json.load(f)
    # Steps fitted to the budget at the calibrated rate.
    self.assertEqual(started["steps"],
                     max(2, int(30 / started["seconds_per_step"])))
    # One row per kept checkpoint, scored as the pose curve scores it.
    self.assertEqual([row["step"] for row in rows],
                     [s for s, _ in pose_curve.kept_checkpoints(model_dir)])
    self.assertEqual({row["recipe"] for row in rows}, {"pose_loss"})
    # --pairs=1: one IB pair for each of the 2 held-out instances (the
    # default, 3, would give 6 of their 4 views each).
    self.assertEqual({int(row["pairs"]) for row in rows}, {2})
    minutes = [row["minutes"] for row in rows]
    self.assertEqual(minutes, sorted(minutes))
    self.assertBetween(minutes[0], 0.0, 0.5 * 1.5 + 1.0)
    with open(os.path.join(work_dir, "time_to_accuracy.png"), "rb") as f:
      self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")
    self.assertIn("| pose_loss | tiny, pose loss |", result.stdout)
    self.assertIn("| test median (deg) |", result.stdout)
    # A rerun reuses the calibrations and the finished runs.
    again = run_harness()
    self.assertEqual(again.returncode, 0, again.stderr[-3000:])
    self.assertNotIn("[train pose_loss]", again.stderr)
    self.assertNotIn("[calibrate pose_loss]", again.stderr)
    self.assertEqual(recipe_curves.read_csv(os.path.join(
        work_dir, "time_to_accuracy.csv")), rows)


if __name__ == "__main__":
  tf.test.main()
