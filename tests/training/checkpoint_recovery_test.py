"""Checkpoints survive what users do: signals, damaged files, bad model dirs;
the Checkpointer's save triggers.

A tiny regression model trained by the shared loop (deterministic data order
and ops), in process for damaged-checkpoint cases and in a subprocess for
SIGTERM/SIGINT, compared with an uninterrupted run of the same seed.
"""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import tensorflow as tf
from absl.testing import parameterized

from sph_embed.common import outputs
from sph_embed.training import checkpoints
from sph_embed.training import loop as train_loop
from sph_embed.training import run_spec
from tests.training import tiny_regression

_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
_STEPS = 8


def run_training(model_dir, num_steps, every_steps=2, after_step=None):
  """Trains the tiny model in `model_dir`; returns (weights, TrainResult)."""
  tf.config.experimental.enable_op_determinism()
  strategy = train_loop.make_strategy("default")
  model, optimizer = tiny_regression.model_and_optimizer(strategy)
  result = train_loop.train(
      strategy=strategy, model=model, optimizer=optimizer,
      loss_fn=tiny_regression.loss_fn, dataset_fn=tiny_regression.dataset,
      num_steps=num_steps, model_dir=model_dir,
      checkpoint_every_steps=every_steps, checkpoint_every_minutes=None,
      log_every_steps=100, after_step=after_step)
  return [w.numpy() for w in model.variables], result


def signal_worker(model_dir, progress_file):
  """Subprocess body: trains slowly, writing each step reached to a file."""

  def after_step(step):
    with open(progress_file, "a", encoding="utf-8") as f:
      f.write(f"{step}\n")
    time.sleep(0.3)  # Time for the test to send its signal mid-run.

  run_training(model_dir, 1000, every_steps=1000, after_step=after_step)


def _saved_step(checkpoint_dir):
  latest = tf.train.latest_checkpoint(checkpoint_dir)
  return int(latest.rsplit("-", 1)[1]) if latest else None


class _TempDirTestCase(tf.test.TestCase):

  def make_tempdir(self):
    path = tempfile.mkdtemp(prefix="checkpoint_recovery_test_")
    self.addCleanup(shutil.rmtree, path, ignore_errors=True)
    return path


class SignalTest(_TempDirTestCase, parameterized.TestCase):

  @parameterized.parameters(("SIGTERM",), ("SIGINT",))
  def test_signal_saves_the_step_reached_and_rerun_matches_uninterrupted(
      self, name):
    model_dir = self.make_tempdir()
    progress_file = os.path.join(model_dir, "steps.txt")
    code = ("from tests.training import checkpoint_recovery_test as t;"
            f" t.signal_worker({model_dir!r}, {progress_file!r})")
    process = subprocess.Popen(
        [sys.executable, "-c", code], cwd=_ROOT, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None:
      if os.path.exists(progress_file) and len(
          open(progress_file, encoding="utf-8").read().split()) >= 3:
        break
      time.sleep(0.05)
    process.send_signal(getattr(signal, name))
    _, stderr = process.communicate(timeout=120)
    reached = int(open(progress_file, encoding="utf-8").read().split()[-1])

    self.assertEqual(process.returncode, 128 + getattr(signal, name), stderr)
    self.assertNotIn("Traceback", stderr)
    self.assertRegex(stderr, f"{name} at step {reached}: saved .*ckpt-"
                     f"{reached}; run the same command again")
    # every_steps=1000: without the signal, nothing would have been saved.
    self.assertEqual(_saved_step(os.path.join(model_dir, "checkpoints")),
                     reached)

    resumed, result = run_training(model_dir, _STEPS)
    self.assertEqual(result.start_step, reached)
    reference, _ = run_training(self.make_tempdir(), _STEPS)
    for got, want in zip(resumed, reference):
      self.assertAllEqual(got, want)


class DamagedCheckpointTest(_TempDirTestCase):

  def setUp(self):
    super().setUp()
    self.model_dir = self.make_tempdir()
    self.checkpoints = os.path.join(self.model_dir, "checkpoints")
    run_training(self.model_dir, 4)  # Checkpoints at steps 2 and 4.

  def test_binary_state_file_is_rebuilt_not_a_restart_from_zero(self):
    with open(os.path.join(self.checkpoints, "checkpoint"), "wb") as f:
      f.write(bytes(range(256)))
    with self.assertLogs(level="WARNING") as logs:
      _, result = run_training(self.model_dir, 6)
    self.assertEqual(result.start_step, 4)
    self.assertTrue(any("checkpoints/checkpoint: binary garbage" in line
                        for line in logs.output), logs.output)
    self.assertEqual(_saved_step(self.checkpoints), 6)

  def test_text_garbage_state_file_is_rebuilt_not_a_restart_from_zero(self):
    with open(os.path.join(self.checkpoints, "checkpoint"), "w",
              encoding="utf-8") as f:
      f.write("this is { not a state\n")
    _, result = run_training(self.model_dir, 6)
    self.assertEqual(result.start_step, 4)

  def test_truncated_newest_checkpoint_falls_back_to_previous(self):
    data = os.path.join(self.checkpoints, "ckpt-4.data-00000-of-00001")
    with open(data, "rb") as f:
      content = f.read()
    with open(data, "wb") as f:
      f.write(content[:len(content) // 2])
    with self.assertLogs(level="WARNING") as logs:
      weights, result = run_training(self.model_dir, 6)
    self.assertEqual(result.start_step, 2)
    self.assertTrue(any("ckpt-4: damaged checkpoint" in line
                        for line in logs.output), logs.output)
    self.assertTrue(os.path.exists(data + checkpoints.CORRUPT_SUFFIX))
    reference, _ = run_training(self.make_tempdir(), 6)
    for got, want in zip(weights, reference):
      self.assertAllEqual(got, want)

  def test_corrupt_newest_index_falls_back_to_previous(self):
    with open(os.path.join(self.checkpoints, "ckpt-4.index"), "wb") as f:
      f.write(b"\0" * 64)
    _, result = run_training(self.model_dir, 6)
    self.assertEqual(result.start_step, 2)

  def test_reading_a_run_skips_damaged_state_file_and_newest_checkpoint(self):
    # What save_embeddings and the exporter use: no change on disk.
    with open(os.path.join(self.checkpoints, "checkpoint"), "wb") as f:
      f.write(bytes(range(256)))
    with open(os.path.join(self.checkpoints, "ckpt-4.index"), "wb") as f:
      f.write(b"\0" * 64)
    self.assertEqual(checkpoints.latest_checkpoint(self.checkpoints),
                     os.path.join(self.checkpoints, "ckpt-2"))
    self.assertTrue(os.path.exists(os.path.join(self.checkpoints,
                                                "ckpt-4.index")))

  def test_no_readable_checkpoint_is_an_error_not_a_restart_from_zero(self):
    for name in os.listdir(self.checkpoints):
      if name.startswith("ckpt-") and ".data-" in name:
        with open(os.path.join(self.checkpoints, name), "wb") as f:
          f.write(b"x")
    with self.assertRaisesRegex(checkpoints.CheckpointError,
                                "none of its 2 checkpoints can be read"):
      run_training(self.model_dir, 6)


class CheckpointerTest(_TempDirTestCase):

  def test_time_trigger_and_no_duplicate_saves(self):
    step = tf.Variable(0, dtype=tf.int64)
    weight = tf.Variable(1.0)
    directory = self.make_tempdir()
    checkpointer = checkpoints.Checkpointer(directory, step, every_minutes=1e-9,
                                         weight=weight)
    self.assertEqual(checkpointer.restore(), 0)
    self.assertIsNone(checkpointer.maybe_save())  # Nothing new at step 0.
    step.assign(3)
    self.assertIsNotNone(checkpointer.maybe_save())
    self.assertIsNone(checkpointer.maybe_save(force=True))  # Same step.
    step.assign(9)
    weight.assign(5.0)
    checkpointer.maybe_save()
    step.assign(0)
    weight.assign(0.0)
    self.assertEqual(checkpoints.Checkpointer(directory, step,
                                           weight=weight).restore(), 9)
    self.assertEqual(float(weight), 5.0)

  def test_step_trigger(self):
    step = tf.Variable(0, dtype=tf.int64)
    checkpointer = checkpoints.Checkpointer(self.make_tempdir(),
                                         step, every_steps=5)
    checkpointer.restore()
    saved = []
    for _ in range(12):
      step.assign_add(1)
      saved.append(checkpointer.maybe_save() is not None)
    self.assertEqual([i + 1 for i, s in enumerate(saved) if s], [5, 10])

  def test_bad_arguments(self):
    step = tf.Variable(0, dtype=tf.int64)
    with self.assertRaisesRegex(ValueError, "every_steps must be positive"):
      checkpoints.Checkpointer("/tmp/x", step, every_steps=0)
    with self.assertRaisesRegex(ValueError, "keep must be >= 1"):
      checkpoints.Checkpointer("/tmp/x", step, keep=0)


class ModelDirTest(_TempDirTestCase):

  def test_run_spec_in_a_model_dir_that_is_a_file_is_a_one_line_error(self):
    path = os.path.join(self.make_tempdir(), "run")
    with open(path, "w", encoding="utf-8") as f:
      f.write("not a directory")
    with self.assertRaisesRegex(outputs.OutputError,
                                "--model_dir=.*run: is a file"):
      run_spec.write_or_check_run_spec(os.path.join(path, "spec.json"),
                                         {"version": 1}, ())

  def test_model_dir_that_is_a_file_is_a_one_line_error(self):
    path = os.path.join(self.make_tempdir(), "run")
    with open(path, "w", encoding="utf-8") as f:
      f.write("not a directory")
    with self.assertRaisesRegex(outputs.OutputError,
                                "--model_dir=.*run: is a file, not a"
                                " directory"):
      run_training(path, 2)


if __name__ == "__main__":
  tf.test.main()
