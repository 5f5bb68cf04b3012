"""Tests for Image2Sphere training, resume, restore and its tool.

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

from sph_embed.baselines import image2sphere
from sph_embed.baselines import image2sphere_training
from sph_embed.baselines import regression
from sph_embed.data import input_pipeline
from sph_embed.data import views
from sph_embed.training import checkpoints
from sph_embed.training import loop as train_loop
from tests import mesh_test_util
from tests.baselines.image2sphere_test import TINY
from tests.embedding.training_test import read_scalars

_STEPS = 8


class Interrupted(Exception):
  pass


def run_tool(*args):
  return mesh_test_util.run_script("tools/train_image2sphere.py", *args)


class TrainImage2SphereTest(tf.test.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.root = tempfile.mkdtemp(prefix="train_image2sphere_test_")
    cls.data_dir = os.path.join(cls.root, "data")
    mesh_test_util.build_tiny_synthetic(
        cls.data_dir, train=1, test=1,
        config=views.ViewConfig(views_per_instance=4, image_size=32,
                                sphere_size=16, seed=5))
    cls.batch = next(iter(input_pipeline.make_dataset(
        cls.data_dir, "test", 8, shuffle=False)))
    cls.reference_dir = os.path.join(cls.root, "reference")
    cls.reference_model, cls.reference = image2sphere_training.train(
        cls.loop_config(cls.reference_dir), TINY)

  @classmethod
  def tearDownClass(cls):
    shutil.rmtree(cls.root, ignore_errors=True)
    super().tearDownClass()

  @classmethod
  def loop_config(cls, model_dir, **overrides):
    return dataclasses.replace(train_loop.LoopConfig(
        data_dir=cls.data_dir, model_dir=model_dir, batch_size=4,
        max_steps=_STEPS, lr_values=(1e-2,), log_every_steps=1,
        checkpoint_every_steps=2, checkpoint_every_minutes=None,
        keep_checkpoints=2), **overrides)

  def test_loss_is_minus_the_log_likelihood_and_falls(self):
    self.assertEqual((self.reference.start_step, self.reference.final_step),
                     (0, _STEPS))
    train = read_scalars(os.path.join(self.reference_dir, "train"))
    for k in range(1, _STEPS + 1):
      self.assertAllClose(train["loss"][k],
                          -train["log_likelihood"][k] - math.log(math.pi**2),
                          atol=1e-4, msg=f"step {k}")
    # 8 training views in batches of 4: each batch is seen 4 times.
    losses = [train["loss"][k] for k in range(1, _STEPS + 1)]
    self.assertLess(np.mean(losses[-2:]), np.mean(losses[:2]))

  def test_restored_model_matches_the_trained_one(self):
    model, spec = image2sphere_training.restore_model(self.reference_dir)
    self.assertEqual((spec["image_size"], spec["image2sphere"]["lmax"]),
                     (32, TINY.lmax))
    images = self.batch["image"].numpy()
    self.assertAllClose(model(images), self.reference_model(images),
                        atol=1e-6)
    evaluation = image2sphere_training.evaluate(model, self.data_dir,
                                                TINY.eval_grid_size)
    self.assertEqual(evaluation["examples"], 8)
    predictions = image2sphere.predict(model, images, TINY.eval_grid_size,
                                       probabilities=False)
    errors = regression.geodesic_distance(
        predictions.rotations, self.batch["rotation"].numpy().astype(
            np.float64)).numpy()
    self.assertAllClose(evaluation["geodesic_degrees"],
                        np.degrees(errors).mean(), atol=1e-3)
    scalars = read_scalars(os.path.join(self.reference_dir, "eval"))
    for key in ("log_likelihood", "geodesic_degrees"):
      self.assertAllClose(scalars[key][_STEPS], evaluation[key], atol=1e-3)

  def test_interrupted_run_resumes_from_the_saved_step(self):
    model_dir = os.path.join(self.root, "interrupted")

    def interrupt(step):
      if step == 5:
        raise Interrupted()

    with self.assertRaises(Interrupted):
      image2sphere_training.train(self.loop_config(model_dir), TINY,
                                  after_step=interrupt)
    model, result = image2sphere_training.train(self.loop_config(model_dir),
                                                TINY)
    self.assertEqual((result.start_step, result.final_step), (4, _STEPS))
    # Same batches: the uninterrupted run's weights.
    images = self.batch["image"]
    self.assertAllClose(model(images, training=False),
                        self.reference_model(images, training=False),
                        atol=1e-4, rtol=1e-4)

  def test_resume_with_another_network_is_refused(self):
    with self.assertRaisesRegex(ValueError, "image2sphere_model.json"):
      image2sphere_training.train(
          self.loop_config(self.reference_dir, max_steps=_STEPS + 1),
          dataclasses.replace(TINY, so3_channels=3))

  def test_tool_trains(self):
    # One run only (a tool start costs ~20 s of imports on a loaded CPU).
    model_dir = os.path.join(self.root, "tool")
    result = run_tool(f"--data_dir={self.data_dir}",
                      f"--model_dir={model_dir}", "--preset=cpu",
                      "--batch_size=4", "--max_steps=1")
    self.assertEqual(result.returncode, 0, result.stderr[-2000:])
    self.assertIn("trained steps 0..1", result.stdout)
    self.assertIn("eval_log_likelihood", result.stdout)
    self.assertIsNotNone(checkpoints.latest_checkpoint(
        os.path.join(model_dir, "checkpoints")))
    _, spec = image2sphere_training.restore_model(model_dir)
    self.assertEqual(spec["image2sphere"],
                     dataclasses.asdict(image2sphere.preset("cpu")))

  def test_tool_bad_flag_is_one_line_naming_it(self):
    result = run_tool(f"--data_dir={self.data_dir}",
                      f"--model_dir={os.path.join(self.root, 'bad')}",
                      "--batch_size=0")
    self.assertEqual(result.returncode, 1)
    self.assertEqual(result.stderr.strip().splitlines()[-1],
                     "train_image2sphere.py: error: --batch_size must be >= 1,"
                     " got 0")
    self.assertFalse(os.path.exists(os.path.join(self.root, "bad")))


if __name__ == "__main__":
  tf.test.main()
