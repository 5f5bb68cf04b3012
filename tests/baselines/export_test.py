"""Tests for the pose regression module export (sph_embed.baselines.export).

The fixture (tests/untrained_runs.py) holds untrained tiny runs exported as
modules: the export's plumbing is tested, not the network's quality.
"""

import json
import os
import shutil

import numpy as np
import tensorflow as tf

from sph_embed.baselines import export as regression_export
from sph_embed.baselines import regression
from sph_embed.baselines import training as regression_training
from sph_embed.data import input_pipeline
from sph_embed.sphere import rotations as rotations_lib
from sph_embed.training import export as module_export
from tests import mesh_test_util
from tests import untrained_runs


class PoseRegressionExportTest(tf.test.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.root = mesh_test_util.class_temp_dir(cls)
    cls.paths = untrained_runs.make_pose_runs(cls.root)
    cls.module = regression_export.load_regression(
        cls.paths.regression_module)
    cls.images = next(iter(input_pipeline.make_dataset(
        cls.paths.data_dir, "test", 5, shuffle=False)))["image"].numpy()

  def test_module_matches_the_trained_network(self):
    model, _ = regression_training.restore_model(self.paths.regression_dir)
    expected = regression.predict_rotations(model, self.images)
    predicted = self.module.predict(self.images)
    self.assertEqual(predicted.shape, (5, 3, 3))
    self.assertEqual(predicted.dtype, np.float32)
    self.assertAllClose(predicted, expected, atol=1e-5)
    rotations_lib.validate_rotations(predicted)
    # An untrained network still predicts different rotations for
    # different views: the comparison is not between constants.
    self.assertGreater(np.abs(predicted[0] - predicted[1]).max(), 1e-3)

  def test_load_predictor_from_a_run_or_a_module(self):
    predict, spec = regression_export.load_predictor(
        model_dir=self.paths.regression_dir)
    module_predict, module_spec = regression_export.load_predictor(
        module=self.paths.regression_module)
    self.assertEqual(spec, module_spec)
    self.assertAllClose(module_predict(self.images), predict(self.images),
                        atol=1e-5)
    with self.assertRaisesRegex(ValueError, "exactly one of model_dir and"
                                " module"):
      regression_export.load_predictor(self.paths.regression_dir,
                                       self.paths.regression_module)

  def test_manifest(self):
    manifest = self.module.manifest
    self.assertEqual(manifest["module"], "pose_regression")
    self.assertEqual(manifest["predict"]["input"], [None, 32, 32, 1])
    self.assertEqual(manifest["predict"]["output"], [None, 3, 3])
    self.assertEqual(manifest["categories"], ["chair", "car"])
    metadata = input_pipeline.read_metadata(self.paths.data_dir)
    self.assertEqual(manifest["training_data"]["fingerprint"],
                     metadata["fingerprint"])
    run = manifest["regression_network"]
    self.assertEqual(run["steps"], untrained_runs.REGRESSION_STEPS)
    self.assertEqual(self.module.spec, regression_training.read_model_spec(
        self.paths.regression_dir))
    # The tiny widths are no preset of tools/train_regression.py.
    self.assertIsNone(run["command"])
    self.assertIn("date", manifest)

  def test_command_of_a_preset_run(self):
    config = regression.preset("cpu", loss_switch_fraction=0.25)
    spec = regression_training.model_spec(
        config, self.paths.data_dir,
        input_pipeline.read_metadata(self.paths.data_dir))
    # As read back from regression_model.json (tuples become lists).
    run = regression_export.training_run(
        "runs/r", json.loads(json.dumps(spec)), 40)
    self.assertEqual(
        run["command"], "python3 tools/train_regression.py --data_dir="
        f"{os.path.abspath(self.paths.data_dir)} --model_dir=runs/r"
        " --preset=cpu --loss_switch_fraction=0.25 --max_steps=40")

  def test_bad_input_shape_is_named(self):
    with self.assertRaisesRegex(
        ValueError, f"{self.paths.regression_module}: predict takes views"
        r" \[batch, 32, 32, 1\], got shape \(2, 32, 32\)"):
      self.module.predict(np.zeros((2, 32, 32)))

  def test_not_a_pose_regression_module(self):
    missing = os.path.join(self.root, "missing")
    for path, message in (
        (missing, "no such directory"),
        (self.paths.data_dir, "not a pose_regression module \\(needs"),
        (self.paths.embedding_module,
         "a pose_embedding module, not a pose_regression")):
      with self.assertRaisesRegex(module_export.ModuleError,
                                  f"^{path}: {message}"):
        regression_export.load_regression(path)

  def test_rebuilt_dataset_is_refused(self):
    moved = os.path.join(self.root, "other_data_run")
    shutil.copytree(self.paths.regression_dir, moved)
    spec_path = os.path.join(moved, regression_training.MODEL_SPEC)
    with open(spec_path, encoding="utf-8") as f:
      spec = json.load(f)
    spec["dataset_fingerprint"] = "0123"
    with open(spec_path, "w", encoding="utf-8") as f:
      json.dump(spec, f)
    target = os.path.join(self.root, "never")
    with self.assertRaisesRegex(input_pipeline.DataError,
                                "rebuilt since the run was trained"):
      regression_export.export_run(moved, target)
    self.assertFalse(os.path.exists(target))


if __name__ == "__main__":
  tf.test.main()
