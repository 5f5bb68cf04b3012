"""Tests for the pose embedding module export (sph_embed.embedding.export).

The fixture (tests/untrained_runs.py) holds untrained tiny runs exported as
modules: the export's plumbing is tested, not the network's quality.
"""

import json
import os
import shutil

import numpy as np
import tensorflow as tf

from sph_embed.data import input_pipeline
from sph_embed.embedding import export as embedding_export
from sph_embed.embedding import pose_loss
from sph_embed.embedding import training as embedding_training
from sph_embed.teacher import export as teacher_export
from sph_embed.training import export as module_export
from tests import mesh_test_util
from tests import untrained_runs


class PoseEmbeddingExportTest(tf.test.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.root = mesh_test_util.class_temp_dir(cls)
    cls.paths = untrained_runs.make_pose_runs(cls.root)
    cls.module = embedding_export.load_embedding(cls.paths.embedding_module)
    cls.images = next(iter(input_pipeline.make_dataset(
        cls.paths.data_dir, "test", 5, shuffle=False)))["image"].numpy()

  def test_module_matches_the_trained_network(self):
    model, _ = embedding_training.restore_model(self.paths.embedding_dir)
    expected = model(self.images, training=False).numpy()
    embeddings = self.module.embed(self.images)
    self.assertEqual(embeddings.shape, (5,) + self.paths.target_shape)
    self.assertEqual(self.module.embedding_shape, self.paths.target_shape)
    self.assertAllClose(embeddings, expected, atol=1e-5)
    # Called like the network (embed_split does), tensors in and out.
    self.assertAllClose(self.module(tf.constant(self.images)), expected,
                        atol=1e-5)
    with self.assertRaisesRegex(ValueError, "inference mode only"):
      self.module(self.images, training=True)

  def test_manifest(self):
    manifest = self.module.manifest
    self.assertEqual(manifest["module"], "pose_embedding")
    self.assertEqual(manifest["embed"]["input"], [None, 32, 32, 1])
    self.assertEqual(manifest["embed"]["output"],
                     [None, *self.paths.target_shape])
    self.assertEqual(manifest["output_key"], "pose")
    self.assertEqual(manifest["teacher"], {
        "hub_module": os.path.abspath(self.paths.teacher),
        "description": "tiny random teacher (tests)",
        "date": teacher_export.read_manifest(self.paths.teacher)["date"]})
    self.assertEqual(manifest["categories"], ["chair", "car"])
    metadata = input_pipeline.read_metadata(self.paths.data_dir)
    self.assertEqual(manifest["training_data"]["fingerprint"],
                     metadata["fingerprint"])
    self.assertEqual(manifest["training_data"]["data_dir"],
                     os.path.abspath(self.paths.data_dir))
    self.assertEqual(manifest["training_data"]["examples"],
                     {"train": 6, "test": 12})
    run = manifest["embedding_network"]
    self.assertEqual(run["steps"], untrained_runs.EMBEDDING_STEPS)
    self.assertEqual(run["spec"], embedding_training.read_model_spec(
        self.paths.embedding_dir))
    self.assertEqual(self.module.spec, run["spec"])
    self.assertIn("tools/train_embedding.py", run["command"])
    self.assertIn("--output_key=pose --base_filters=4", run["command"])
    self.assertIn(f"--max_steps={untrained_runs.EMBEDDING_STEPS}",
                  run["command"])
    self.assertEqual(manifest["description"], embedding_export.DESCRIPTION)
    self.assertIsNone(manifest["export_command"])
    self.assertNotIn("results", manifest)

  def test_results_and_command_are_recorded(self):
    results = os.path.join(self.root, "results.json")
    with open(results, "w", encoding="utf-8") as f:
      json.dump({"ib_median_deg": 14.1}, f)
    export_dir = os.path.join(self.root, "with_results")
    manifest = embedding_export.export_run(
        self.paths.embedding_dir, export_dir, description="mine",
        results_file=results, command="python3 tools/export_model.py ...")
    self.assertEqual(embedding_export.read_manifest(export_dir), manifest)
    self.assertEqual(manifest["results"], {"ib_median_deg": 14.1})
    self.assertEqual(manifest["description"], "mine")
    self.assertEqual(manifest["export_command"],
                     "python3 tools/export_model.py ...")

  def test_rebuilt_command_keeps_the_pose_loss_term(self):
    spec = embedding_training.read_model_spec(self.paths.embedding_dir)
    command = embedding_export.training_run(
        self.paths.embedding_dir, spec, 3)["command"]
    self.assertNotIn("--pose_loss", command)
    spec["pose_loss"] = pose_loss.PoseLossConfig(weight=0.1,
                                                 half_turns=256).spec()
    command = embedding_export.training_run(
        self.paths.embedding_dir, spec, 3)["command"]
    self.assertIn(
        "--pose_loss_weight=0.1 --pose_loss_grid_rotations=512"
        " --pose_loss_temperature=0.05 --pose_loss_exclusion_degrees=30.0"
        " --pose_loss_half_turns=256 --max_steps=3", command)

  def test_load_embedder_from_a_run_or_a_module(self):
    network, spec = embedding_export.load_embedder(
        model_dir=self.paths.embedding_dir)
    module, module_spec = embedding_export.load_embedder(
        module=self.paths.embedding_module)
    self.assertEqual(spec, module_spec)
    self.assertAllClose(module(self.images), network(self.images,
                                                     training=False),
                        atol=1e-5)
    with self.assertRaisesRegex(ValueError, "exactly one of model_dir and"
                                " module"):
      embedding_export.load_embedder()

  def test_recorded_teacher_falls_back_to_the_shipped_module(self):
    shipped = os.path.join(embedding_export.SHIPPED_MODULES,
                           "teacher_synthetic")
    self.assertTrue(os.path.isdir(shipped))
    self.assertEqual(embedding_export.recorded_teacher(
        {"hub_module": self.paths.teacher}), self.paths.teacher)
    self.assertEqual(embedding_export.recorded_teacher(
        {"hub_module": "/elsewhere/hub_modules/teacher_synthetic"}), shipped)
    for gone in ("/elsewhere/runs/teacher_synthetic",
                 "/elsewhere/hub_modules/no_such_teacher"):
      with self.assertRaisesRegex(ValueError, f"{gone}, is not on this"
                                  " machine; give its module with"
                                  " --hub_module"):
        embedding_export.recorded_teacher({"hub_module": gone})

  def test_bad_input_shape_is_named(self):
    with self.assertRaisesRegex(
        ValueError, f"{self.paths.embedding_module}: embed takes views"
        r" \[batch, 32, 32, 1\], got shape \(1, 16, 16, 1\)"):
      self.module.embed(np.zeros((1, 16, 16, 1)))

  def test_not_a_pose_embedding_module(self):
    missing = os.path.join(self.root, "missing")
    empty = os.path.join(self.root, "empty")
    os.makedirs(empty, exist_ok=True)
    for path, message in (
        (missing, "no such directory"),
        (empty, "not a pose_embedding module \\(needs saved_model.pb"),
        (self.paths.teacher, "a teacher module, not a pose_embedding"),
        (self.paths.regression_module,
         "a pose_regression module, not a pose_embedding")):
      with self.assertRaisesRegex(module_export.ModuleError,
                                  f"^{path}: {message}"):
        embedding_export.load_embedding(path)

  def test_saved_model_without_embed(self):
    path = os.path.join(self.root, "no_embed")
    root = tf.Module()
    root.v = tf.Variable(1.0)
    tf.saved_model.save(root, path)
    shutil.copy(os.path.join(self.paths.embedding_module, "manifest.json"),
                path)
    with self.assertRaisesRegex(module_export.ModuleError,
                                f"{path}: the SavedModel has no embed"):
      embedding_export.load_embedding(path)

  def test_runs_that_cannot_be_exported(self):
    synthesis_run = untrained_runs.embedding_run(
        os.path.join(self.root, "synthesis_run"), self.paths.data_dir,
        self.paths.teacher, "synthesis", (32, 32, 2), 1)
    target = os.path.join(self.root, "never")
    with self.assertRaisesRegex(ValueError, "learned the teacher's"
                                " 'synthesis' maps, not 'pose'"):
      embedding_export.export_run(synthesis_run, target)
    # A run whose dataset is gone: the manifest could not describe it.
    moved = os.path.join(self.root, "moved_run")
    shutil.copytree(self.paths.embedding_dir, moved)
    spec_path = os.path.join(moved, embedding_training.MODEL_SPEC)
    with open(spec_path, encoding="utf-8") as f:
      spec = json.load(f)
    spec["data_dir"] = os.path.join(self.root, "gone")
    with open(spec_path, "w", encoding="utf-8") as f:
      json.dump(spec, f)
    with self.assertRaisesRegex(input_pipeline.DataError, "gone"):
      embedding_export.export_run(moved, target)
    with self.assertRaisesRegex(ValueError, "missing/embedding_model.json:"
                                " not found"):
      embedding_export.export_run(os.path.join(self.root, "missing"), target)
    self.assertFalse(os.path.exists(target))


if __name__ == "__main__":
  tf.test.main()
