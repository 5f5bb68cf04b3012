"""Mirrored-strategy training on 2 logical CPU devices.

Logical devices must be configured before TensorFlow initialises its
devices, which other tests in the same pytest process have already done, so
the checks run in a fresh interpreter (this file with --child) and report
back as JSON.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile

import tensorflow as tf

from tests import mesh_test_util

_CHILD_FLAG = "--child"


def _child():
  """Runs in a fresh process; prints a JSON report on the last line."""
  cpu = tf.config.list_physical_devices("CPU")[0]
  tf.config.set_logical_device_configuration(
      cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
  import numpy as np  # pylint: disable=g-import-not-at-top
  # pylint: disable=g-import-not-at-top
  from sph_embed.teacher import model as teacher_model
  from sph_embed.training import loop as train_loop
  # pylint: enable=g-import-not-at-top

  rng = np.random.default_rng(0)
  x = rng.normal(size=(8, 5)).astype(np.float32)
  y = rng.normal(size=(8,)).astype(np.float32)

  def linear_step(strategy):
    """One Adam step of a linear model on the batch (x, y)."""
    with strategy.scope():
      model = tf.keras.Sequential([tf.keras.Input((5,)),
                                   tf.keras.layers.Dense(
                                       1, kernel_initializer="ones")])
      optimizer = tf.keras.optimizers.SGD(0.1)
    metrics = {"loss": tf.keras.metrics.Mean("loss")}
    step = train_loop.make_train_step(
        strategy, model, optimizer,
        lambda m, b: ((m(b["x"])[:, 0] - b["y"])**2, {}), metrics)
    data = tf.data.Dataset.from_tensors({"x": x, "y": y})
    for batch in strategy.experimental_distribute_dataset(data):
      step(batch)
    return model.get_weights()[0][:, 0].tolist()

  mirrored = train_loop.make_strategy("mirrored")
  report = {
      "replicas": mirrored.num_replicas_in_sync,
      "linear_mirrored": linear_step(mirrored),
      "linear_default": linear_step(train_loop.make_strategy("default")),
  }

  with mirrored.scope():
    model = teacher_model.build_teacher(teacher_model.TeacherConfig.tiny(), 3)
    optimizer = tf.keras.optimizers.Adam(1e-2)
  before = [v.numpy() for v in model.trainable_variables]

  def loss_fn(m, batch):
    logits = m(batch["sphere"], training=True)["logits"]
    return tf.keras.losses.sparse_categorical_crossentropy(
        batch["label"], logits, from_logits=True), {}

  spheres = rng.uniform(size=(4, 64, 64, 1)).astype(np.float32)
  labels = np.array([0, 1, 2, 0], np.int32)
  result = train_loop.train(
      strategy=mirrored, model=model, optimizer=optimizer, loss_fn=loss_fn,
      dataset_fn=lambda start: tf.data.Dataset.from_tensors(
          {"sphere": spheres, "label": labels}).repeat().skip(start),
      num_steps=2, model_dir=sys.argv[2], checkpoint_every_minutes=None)
  report["teacher_steps"] = result.final_step
  report["teacher_loss"] = float(result.last_metrics["loss"])
  report["teacher_changed"] = sum(
      not np.allclose(b, v.numpy())
      for b, v in zip(before, model.trainable_variables))
  report["teacher_variables"] = len(before)
  report["checkpoint"] = tf.train.latest_checkpoint(
      os.path.join(sys.argv[2], "checkpoints"))
  print(json.dumps(report))


class MirroredTrainingTest(tf.test.TestCase):

  def test_mirrored_step_on_two_logical_cpus(self):
    model_dir = tempfile.mkdtemp()
    self.addCleanup(shutil.rmtree, model_dir, ignore_errors=True)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2",
               TF_USE_LEGACY_KERAS="1")
    env["PYTHONPATH"] = os.pathsep.join(
        [mesh_test_util.REPO_ROOT]
        + [p for p in [env.get("PYTHONPATH")] if p])
    done = subprocess.run(
        [sys.executable, os.path.abspath(__file__), _CHILD_FLAG, model_dir],
        capture_output=True, text=True, env=env, timeout=300, check=False)
    self.assertEqual(done.returncode, 0, msg=done.stderr[-3000:])
    report = json.loads(done.stdout.strip().splitlines()[-1])
    self.assertEqual(report["replicas"], 2)
    # Gradients of the two half-batches are summed and scaled by the global
    # batch: the same update as one replica on the whole batch.
    self.assertAllClose(report["linear_mirrored"], report["linear_default"],
                        atol=1e-6)
    self.assertNotAllClose(report["linear_default"], [1.0] * 5)
    self.assertEqual(report["teacher_steps"], 2)
    self.assertTrue(0 < report["teacher_loss"] < 100)
    self.assertEqual(report["teacher_changed"], report["teacher_variables"])
    self.assertTrue(report["checkpoint"].endswith("ckpt-2"))


if __name__ == "__main__":
  if len(sys.argv) > 1 and sys.argv[1] == _CHILD_FLAG:
    _child()
  else:
    tf.test.main()
