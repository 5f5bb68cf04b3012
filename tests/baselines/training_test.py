"""Tests for pose-regression training, resume, restore and its tool.

One tiny synthetic dataset (2 categories, 1 train and 1 test instance each,
4 views of 32 x 32) and one reference run of a tiny network are shared by
the tests.
"""

import dataclasses
import math
import os
import shutil
import tempfile

import numpy as np
import tensorflow as tf

from sph_embed.baselines import regression
from sph_embed.baselines import training as regression_training
from sph_embed.data import input_pipeline
from sph_embed.data import views
from sph_embed.embedding import model as embedding_model
from sph_embed.training import checkpoints
from sph_embed.training import loop as train_loop
from tests import mesh_test_util
from tests.embedding.training_test import read_scalars

_TINY = regression.RegressionConfig(
    encoder=embedding_model.EmbeddingConfig(base_filters=4, max_filters=8,
                                            latent_size=16,
                                            blocks_per_layer=1),
    head_units=(8, 4), loss_switch_fraction=0.5)
_STEPS = 6  # The geodesic loss takes over at step 3 (0-based).


class Interrupted(Exception):
  pass


def run_tool(*args):
  return mesh_test_util.run_script("tools/train_regression.py", *args)


class TrainRegressionTest(tf.test.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.root = tempfile.mkdtemp(prefix="train_regression_test_")
    cls.data_dir = os.path.join(cls.root, "data")
    mesh_test_util.build_tiny_synthetic(
        cls.data_dir, train=1, test=1,
        config=views.ViewConfig(views_per_instance=4, image_size=32,
                                sphere_size=16, seed=5))
    cls.batch = next(iter(input_pipeline.make_dataset(
        cls.data_dir, "test", 8, shuffle=False)))
    cls.reference_dir = os.path.join(cls.root, "reference")
    cls.reference_model, cls.reference = regression_training.train(
        cls.loop_config(cls.reference_dir), _TINY)

  @classmethod
  def tearDownClass(cls):
    shutil.rmtree(cls.root, ignore_errors=True)
    super().tearDownClass()

  @classmethod
  def loop_config(cls, model_dir, **overrides):
    return dataclasses.replace(train_loop.LoopConfig(
        data_dir=cls.data_dir, model_dir=model_dir, batch_size=4,
        max_steps=_STEPS, lr_values=(1e-3,), log_every_steps=1,
        checkpoint_every_steps=2, checkpoint_every_minutes=None,
        keep_checkpoints=2), **overrides)

  def test_loss_switches_from_rmse_to_geodesic(self):
    self.assertEqual((self.reference.start_step, self.reference.final_step),
                     (0, _STEPS))
    train = read_scalars(os.path.join(self.reference_dir, "train"))
    # Logged at step k: the update from optimizer step k - 1.
    for k in range(1, _STEPS + 1):
      expected = (train["geodesic_degrees"][k] * math.pi / 180 if k > 3
                  else train["rmse"][k])
      self.assertAllClose(train["loss"][k], expected, rtol=1e-5,
                          msg=f"step {k}")

  def test_restored_model_matches_the_trained_one(self):
    model, spec = regression_training.restore_model(self.reference_dir)
    self.assertEqual((spec["image_size"], spec["regression"]["head_units"]),
                     (32, [8, 4]))
    images = self.batch["image"].numpy()
    self.assertAllClose(
        regression.predict_rotations(model, images),
        regression.predict_rotations(self.reference_model, images),
        atol=1e-6)
    # The held-out evaluation is the mean geodesic error of these.
    errors = regression.geodesic_distance(
        regression.predict_rotations(model, images),
        self.batch["rotation"].numpy().astype(np.float64))
    evaluation = regression_training.evaluate(model, self.data_dir)
    self.assertEqual(evaluation["examples"], 8)
    self.assertAllClose(evaluation["geodesic_degrees"],
                        np.degrees(errors.numpy()).mean(), atol=1e-3)
    scalars = read_scalars(os.path.join(self.reference_dir, "eval"))
    self.assertAllClose(scalars["geodesic_degrees"][_STEPS],
                        evaluation["geodesic_degrees"], atol=1e-3)

  def test_interrupted_run_resumes_from_the_saved_step(self):
    model_dir = os.path.join(self.root, "interrupted")

    def interrupt(step):
      if step == 5:
        raise Interrupted()

    with self.assertRaises(Interrupted):
      regression_training.train(self.loop_config(model_dir), _TINY,
                                after_step=interrupt)
    model, result = regression_training.train(self.loop_config(model_dir),
                                              _TINY)
    self.assertEqual((result.start_step, result.final_step), (4, _STEPS))
    # Same batches, same loss schedule: the uninterrupted run's weights.
    images = self.batch["image"]
    self.assertAllClose(model(images, training=False),
                        self.reference_model(images, training=False),
                        atol=1e-5, rtol=1e-4)

  def test_resume_with_another_network_is_refused(self):
    with self.assertRaisesRegex(ValueError, "regression_model.json"):
      regression_training.train(
          self.loop_config(self.reference_dir, max_steps=_STEPS + 1),
          dataclasses.replace(_TINY, head_units=(8, 8)))

  def test_tool_trains(self):
    # One run only (a tool start costs ~20 s of imports on a loaded CPU);
    # resume is test_interrupted_run_resumes_from_the_saved_step's.
    model_dir = os.path.join(self.root, "tool")
    result = run_tool(f"--data_dir={self.data_dir}",
                      f"--model_dir={model_dir}", "--preset=cpu",
                      "--batch_size=4", "--max_steps=1",
                      "--loss_switch_fraction=0.25")
    self.assertEqual(result.returncode, 0, result.stderr[-2000:])
    self.assertIn("trained steps 0..1", result.stdout)
    self.assertIsNotNone(checkpoints.latest_checkpoint(
        os.path.join(model_dir, "checkpoints")))
    _, spec = regression_training.restore_model(model_dir)
    self.assertEqual(spec["regression"], dataclasses.asdict(
        regression.preset("cpu", loss_switch_fraction=0.25)))

  def test_tool_refuses_max_steps_below_the_runs_step(self):
    # Issue 30: it printed "trained steps N..N" and exited 0.
    result = run_tool(f"--data_dir={self.data_dir}",
                      f"--model_dir={self.reference_dir}",
                      f"--max_steps={_STEPS - 1}")
    self.assertEqual(result.returncode, 1, result.stdout)
    self.assertEqual(
        result.stderr.strip().splitlines()[-1],
        f"train_regression.py: error: --max_steps={_STEPS - 1}: the run in"
        f" {self.reference_dir} is already at step {_STEPS}, so nothing would"
        " be trained; give --max_steps of at least that to go on, or a new"
        " --model_dir to start again")

  def test_tool_names_a_damaged_shard(self):
    # Issue 30: a raw DataLossError traceback.
    data_dir = os.path.join(self.root, "damaged_data")
    shard = mesh_test_util.damaged_copy(self.data_dir, data_dir, "train")
    result = run_tool(f"--data_dir={data_dir}",
                      f"--model_dir={os.path.join(self.root, 'damaged')}",
                      "--preset=cpu", "--batch_size=4", "--max_steps=1")
    self.assertEqual(result.returncode, 1, result.stdout)
    self.assertRegex(
        result.stderr.strip().splitlines()[-1],
        f"^train_regression.py: error: {shard}: unreadable .DataLossError:"
        " corrupted record at .*; delete it and rerun tools/build_dataset.py")

  def test_tool_bad_flag_is_one_line_naming_it(self):
    result = run_tool(f"--data_dir={self.data_dir}",
                      f"--model_dir={os.path.join(self.root, 'bad')}",
                      "--loss_switch_fraction=1.5")
    self.assertEqual(result.returncode, 1)
    self.assertEqual(
        result.stderr.strip().splitlines()[-1],
        "train_regression.py: error: --loss_switch_fraction must be in"
        " [0, 1], got 1.5")
    self.assertFalse(os.path.exists(os.path.join(self.root, "bad")))


if __name__ == "__main__":
  tf.test.main()
