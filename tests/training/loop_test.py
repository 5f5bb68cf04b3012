"""Tests for the shared training loop: checkpoints, resume, progress."""

import glob
import inspect
import os
import shutil
import tempfile
import time

import tensorflow as tf
from absl.testing import parameterized

from sph_embed.training import loop as train_loop
from sph_embed.training import progress as progress_lib
from sph_embed.training import schedules
from tests import mesh_test_util
from tests.training import tiny_regression


class _Interrupted(Exception):
  pass


_dataset = tiny_regression.dataset


def _loss_fn(model, batch):
  error = model(batch["x"])[:, 0] - batch["y"][:, 0]
  return error**2, {"abs_error": tf.abs(error)}


def _model_and_optimizer(strategy):
  return tiny_regression.model_and_optimizer(
      strategy, schedules.learning_rate_schedule([3], [0.05, 0.01]))


def _run(model_dir, num_steps, after_step=None, every_steps=2,
         max_minutes=None):
  strategy = train_loop.make_strategy("default")
  model, optimizer = _model_and_optimizer(strategy)
  result = train_loop.train(
      strategy=strategy, model=model, optimizer=optimizer, loss_fn=_loss_fn,
      dataset_fn=_dataset, num_steps=num_steps, model_dir=model_dir,
      metric_names=("abs_error",), checkpoint_every_steps=every_steps,
      checkpoint_every_minutes=None, log_every_steps=2, after_step=after_step,
      max_minutes=max_minutes)
  return model, optimizer, result


class StrategyTest(tf.test.TestCase):

  def test_names(self):
    self.assertIs(train_loop.make_strategy("default"),
                  tf.distribute.get_strategy())
    self.assertEqual(train_loop.make_strategy("mirrored").num_replicas_in_sync,
                     len(tf.config.list_logical_devices("GPU") or
                         tf.config.list_logical_devices("CPU")))
    with self.assertRaisesRegex(ValueError, "unknown strategy 'tpu'"):
      train_loop.make_strategy("tpu")


class _TempDirTestCase(tf.test.TestCase):

  def _make_tempdir(self):
    path = tempfile.mkdtemp()
    self.addCleanup(shutil.rmtree, path, ignore_errors=True)
    return path


class TrainTest(_TempDirTestCase):

  def test_resume_after_interruption_matches_uninterrupted_run(self):
    tf.config.experimental.enable_op_determinism()
    full_dir = self._make_tempdir()
    model_full, optimizer_full, result = _run(full_dir, 7)
    self.assertEqual((result.start_step, result.final_step), (0, 7))

    resumed_dir = self._make_tempdir()

    def interrupt(step):
      if step == 5:
        raise _Interrupted()

    with self.assertRaises(_Interrupted):
      _run(resumed_dir, 7, after_step=interrupt)
    # Checkpoints at steps 2 and 4; step 5 was lost with the "crash".
    self.assertEqual(tf.train.latest_checkpoint(
        os.path.join(resumed_dir, "checkpoints")).rsplit("-", 1)[1], "4")
    model, optimizer, result = _run(resumed_dir, 7)
    self.assertEqual((result.start_step, result.final_step), (4, 7))
    self.assertEqual(int(optimizer.iterations), 7)
    for restored, reference in zip(model.variables, model_full.variables):
      self.assertAllEqual(restored, reference)
    self.assertAllEqual(optimizer.variables[1], optimizer_full.variables[1])

    # A finished run restarts as a no-op at its last step.
    _, _, result = _run(resumed_dir, 7)
    self.assertEqual((result.start_step, result.final_step), (7, 7))

  def test_time_budget_ends_training_saved_and_resumable(self):
    model_dir = self._make_tempdir()

    def slow_step(step):
      del step
      time.sleep(0.05)

    # 0.1 s of budget and 0.05 s per step: a few steps, far from 1000.
    _, _, result = _run(model_dir, 1000, after_step=slow_step,
                        max_minutes=0.1 / 60)
    self.assertBetween(result.final_step, 1, 10)
    saved = tf.train.latest_checkpoint(os.path.join(model_dir, "checkpoints"))
    self.assertEqual(int(saved.rsplit("-", 1)[1]), result.final_step)
    _, _, resumed = _run(model_dir, result.final_step + 3)
    self.assertEqual((resumed.start_step, resumed.final_step),
                     (result.final_step, result.final_step + 3))

  def test_fresh_model_differs_from_trained(self):
    """The resume check above can fail: training does change the weights."""
    strategy = train_loop.make_strategy("default")
    fresh, _ = _model_and_optimizer(strategy)
    trained, _, _ = _run(self._make_tempdir(), 3)
    self.assertNotAllClose(fresh.variables[0], trained.variables[0])

  def test_writes_tensorboard_scalars_and_keeps_checkpoints(self):
    model_dir = self._make_tempdir()
    strategy = train_loop.make_strategy("default")
    model, optimizer = _model_and_optimizer(strategy)
    result = train_loop.train(
        strategy=strategy, model=model, optimizer=optimizer,
        loss_fn=_loss_fn, dataset_fn=_dataset, num_steps=6,
        model_dir=model_dir, metric_names=("abs_error",),
        checkpoint_every_steps=1, checkpoint_every_minutes=None,
        keep_checkpoints=2, log_every_steps=3,
        eval_fn=lambda step: {"score": step * 2.0}, eval_every_steps=4)
    self.assertIn("eval_score", result.last_metrics)
    self.assertEqual(result.last_metrics["eval_score"], 12.0)
    indexes = glob.glob(os.path.join(model_dir, "checkpoints", "*.index"))
    self.assertCountEqual([os.path.basename(p) for p in indexes],
                          ["ckpt-5.index", "ckpt-6.index"])
    scalars = mesh_test_util.read_scalars(os.path.join(model_dir, "train"))
    self.assertCountEqual(scalars["loss"], [3, 6])
    self.assertCountEqual(scalars["abs_error"], [3, 6])
    self.assertIn("learning_rate", scalars)
    self.assertAllClose(scalars["learning_rate"][6], 0.01)
    self.assertCountEqual(mesh_test_util.read_scalars(os.path.join(model_dir,
                                                     "eval"))["score"],
                          [4, 6])

  def test_dataset_ending_early_stops_training(self):
    strategy = train_loop.make_strategy("default")
    model, optimizer = _model_and_optimizer(strategy)
    result = train_loop.train(
        strategy=strategy, model=model, optimizer=optimizer,
        loss_fn=_loss_fn, dataset_fn=lambda s: _dataset(s).take(3),
        num_steps=10, model_dir=self._make_tempdir(),
        metric_names=("abs_error",))
    self.assertEqual(result.final_step, 3)

  def test_unlisted_metric_is_a_clear_error(self):
    strategy = train_loop.make_strategy("default")
    model, optimizer = _model_and_optimizer(strategy)
    with self.assertRaisesRegex(ValueError, "'abs_error'.*not in"
                                " metric_names"):
      train_loop.train(strategy=strategy, model=model, optimizer=optimizer,
                     loss_fn=_loss_fn, dataset_fn=_dataset, num_steps=2,
                     model_dir=self._make_tempdir())


class ProgressTest(tf.test.TestCase):

  def test_line_is_logged_without_a_terminal(self):
    progress = progress_lib.Progress(total_steps=10, every_steps=4,
                                     start_step=2, live=False)
    self.assertFalse(progress.due(3))
    self.assertTrue(progress.due(4))
    self.assertTrue(progress.due(10))
    with self.assertLogs("absl", "INFO") as logs:
      line = progress.log(4, {"loss": 0.5, "accuracy": 0.25})
    progress.close()
    self.assertRegex(line, r"^train: +40% 4/10 \[.*step/s, loss=0.5,"
                     r" accuracy=0.25\]$")
    self.assertEqual(logs.records[0].getMessage(), line)


class LoopConfigTest(tf.test.TestCase, parameterized.TestCase):

  def _config(self, **fields):
    return train_loop.LoopConfig(data_dir="d", model_dir="m", **fields)

  def test_defaults_are_valid(self):
    config = self._config(lr_boundaries=(5,), lr_values=(1e-3, 1e-4))
    self.assertIs(config.validate(), config)
    self.assertAllClose([config.learning_rate()(s) for s in (5, 6)],
                        [1e-3, 1e-4])

  @parameterized.parameters(
      (dict(batch_size=0), "^batch_size must be >= 1"),
      (dict(max_steps=0), "^max_steps must be >= 1"),
      (dict(eval_every_steps=-1), "^eval_every_steps must be >= 1"),
      (dict(checkpoint_every_minutes=0.0), "^checkpoint_every_minutes"),
      (dict(keep_checkpoints=0), "^keep_checkpoints must be >= 1"),
      (dict(adam_beta1=1.0), r"^adam_beta1 must be in \[0, 1\)"),
      (dict(adam_epsilon=0.0), "^adam_epsilon must be > 0"),
      (dict(strategy="tpu"), "^strategy must be one of"),
      (dict(lr_boundaries=(5,)), "learning rate schedule"))
  def test_bad_fields_are_named(self, fields, message):
    with self.assertRaisesRegex(ValueError, message):
      self._config(**fields).validate()

  def test_train_arguments_are_train_keywords(self):
    arguments = self._config(eval_every_steps=7).train_arguments()
    self.assertEqual(arguments["eval_every_steps"], 7)
    self.assertContainsSubset(
        arguments, inspect.signature(train_loop.train).parameters)


if __name__ == "__main__":
  tf.test.main()
