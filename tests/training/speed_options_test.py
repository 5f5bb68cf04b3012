"""The loop's speed options train as the default does (loss trajectory).

jit_compile and steps_per_call must match the default to float32 rounding;
mixed precision (bfloat16 / float16 compute, float32 variables and loss)
within a few per cent over a short run; resume with steps_per_call > 1
stays exact.
"""

import os
import shutil
import tempfile

from absl import app
from absl import flags
from absl.testing import parameterized
import numpy as np
import tensorflow as tf

from sph_embed.sphere import layers as sphere_layers
from sph_embed.training import flags as training_flags
from sph_embed.training import checkpoints
from sph_embed.training import loop as train_loop

_STEPS = 12
_EVAL_EVERY = 4  # With steps_per_call=3 and saves every 5 steps, calls are
_SAVE_EVERY = 5  # clipped at 4, 5, 8, 10: the cadence logic is exercised.

_rng = np.random.default_rng(0)
_X = _rng.normal(size=(32, 8, 8, 1)).astype(np.float32)
_Y = _rng.normal(size=(32, 1)).astype(np.float32)


class _Interrupted(Exception):
  pass


def _dataset(start_step):
  data = tf.data.Dataset.from_tensor_slices({"x": _X, "y": _Y})
  return data.shuffle(32, seed=1).repeat().batch(8).skip(start_step)


def _loss_fn(model, batch):
  error = model(batch["x"], training=True)[:, 0] - batch["y"][:, 0]
  return error**2, {}


def _model():
  """A tiny spherical conv net: SphericalPadding, Conv2D, Dense."""
  tf.keras.utils.set_random_seed(7)
  return tf.keras.Sequential([
      tf.keras.Input((8, 8, 1)),
      sphere_layers.SphericalPadding(1),
      tf.keras.layers.Conv2D(4, 3, activation="relu"),
      tf.keras.layers.Flatten(),
      tf.keras.layers.Dense(1)])


class SpeedOptionsTest(tf.test.TestCase, parameterized.TestCase):

  def setUp(self):
    super().setUp()
    tf.config.experimental.enable_op_determinism()
    self.addCleanup(tf.keras.mixed_precision.set_global_policy, "float32")

  def _run(self, num_steps=_STEPS, model_dir=None, after_step=None,
           mixed_precision=None, sgd=False, **options):
    """(eval losses at steps 4, 8, 12, final weights) of a run (Adam, or
    SGD, whose steps, unlike Adam's, show a wrongly scaled gradient)."""
    config = train_loop.LoopConfig(data_dir="", model_dir="",
                                   mixed_precision=mixed_precision)
    strategy = config.make_strategy()
    with strategy.scope():
      model = _model()
      optimizer = (tf.keras.optimizers.legacy.SGD(0.02) if sgd else
                   tf.keras.optimizers.legacy.Adam(0.01))
    self.assertEqual(model.compute_dtype,
                     (mixed_precision or "float32").replace("mixed_", ""))
    if model_dir is None:
      model_dir = tempfile.mkdtemp()
      self.addCleanup(shutil.rmtree, model_dir, ignore_errors=True)

    def eval_fn(step):
      del step
      predictions = tf.cast(model(_X, training=False), tf.float32)
      return {"loss": float(tf.reduce_mean((predictions - _Y)**2))}

    evals = []
    result = train_loop.train(
        strategy=strategy, model=model, optimizer=optimizer,
        loss_fn=_loss_fn, dataset_fn=_dataset, num_steps=num_steps,
        model_dir=model_dir, checkpoint_every_steps=_SAVE_EVERY,
        checkpoint_every_minutes=None, log_every_steps=100,
        eval_fn=lambda step: evals.append(eval_fn(step)["loss"]) or {},
        eval_every_steps=_EVAL_EVERY, after_step=after_step, **options)
    self.assertEqual(result.final_step, num_steps)
    return np.array(evals), [v.numpy() for v in model.trainable_variables]

  @parameterized.named_parameters(
      ("jit_compile", dict(jit_compile=True), 1e-5),
      ("steps_per_call", dict(steps_per_call=3), 1e-5),
      ("all_float32_options", dict(jit_compile=True, steps_per_call=3), 1e-5),
      # 8 (bfloat16) and 11 (float16) mantissa bits over 12 steps.
      ("mixed_bfloat16", dict(mixed_precision="mixed_bfloat16"), 5e-2),
      ("mixed_float16", dict(mixed_precision="mixed_float16"), 1e-2),
      ("mixed_float16_sgd", dict(mixed_precision="mixed_float16", sgd=True),
       1e-2))
  def test_same_loss_trajectory_as_default(self, options, rtol):
    reference, _ = self._run(sgd=options.get("sgd", False))
    self.assertLen(reference, 3)  # Steps 4, 8, then 12 (the end).
    self.assertLess(reference[-1], reference[0])  # It does train.
    evals, _ = self._run(**options)
    self.assertAllClose(evals, reference, rtol=rtol, atol=0)

  def test_float16_trains_through_a_loss_scale(self):
    """mixed_float16 wraps the optimizer; the checkpoint keeps the inner
    one, so a float32 run resumes from it."""
    model_dir = tempfile.mkdtemp()
    self.addCleanup(shutil.rmtree, model_dir, ignore_errors=True)
    self._run(num_steps=5, model_dir=model_dir,
              mixed_precision="mixed_float16")
    evals, _ = self._run(model_dir=model_dir)
    self.assertLen(evals, 2)  # Steps 8 and 12.

  def test_spherical_conv_stays_float32(self):
    """The SHT inside SphericalConv runs in float32 under a mixed policy."""
    tf.keras.mixed_precision.set_global_policy("mixed_bfloat16")
    conv = sphere_layers.SphericalConv(2)
    outputs = conv(tf.ones((1, 8, 8, 1), tf.bfloat16))
    self.assertEqual((conv.compute_dtype, outputs.dtype),
                     ("float32", tf.float32))
    self.assertEqual(tf.keras.layers.Dense(1).compute_dtype, "bfloat16")

  def test_resume_with_steps_per_call_is_exact(self):
    _, reference = self._run(steps_per_call=3)
    model_dir = tempfile.mkdtemp()
    self.addCleanup(shutil.rmtree, model_dir, ignore_errors=True)
    called = []

    def interrupt(step):
      called.append(step)
      if step >= 7:
        raise _Interrupted()

    with self.assertRaises(_Interrupted):
      self._run(model_dir=model_dir, after_step=interrupt, steps_per_call=3)
    # Calls end at the saves (5, 10) and evaluations (4, 8) as well.
    self.assertEqual(called, [3, 4, 5, 8])
    self.assertEqual(checkpoints.latest_checkpoint(
        os.path.join(model_dir, "checkpoints")).rsplit("-", 1)[1], "5")
    _, resumed = self._run(model_dir=model_dir, steps_per_call=3)
    for got, want in zip(resumed, reference):
      self.assertAllEqual(got, want)

  def test_dataset_ending_inside_a_call(self):
    """A dataset of 7 batches ends training at step 7, not at the call's
    end (9)."""
    model_dir = tempfile.mkdtemp()
    self.addCleanup(shutil.rmtree, model_dir, ignore_errors=True)
    strategy = train_loop.make_strategy("default")
    model = _model()
    result = train_loop.train(
        strategy=strategy, model=model,
        optimizer=tf.keras.optimizers.legacy.Adam(0.01), loss_fn=_loss_fn,
        dataset_fn=lambda start: _dataset(start).take(7 - start),
        num_steps=20, model_dir=model_dir, checkpoint_every_minutes=None,
        log_every_steps=9, steps_per_call=3)
    self.assertEqual(result.final_step, 7)
    self.assertEqual(checkpoints.latest_checkpoint(
        os.path.join(model_dir, "checkpoints")).rsplit("-", 1)[1], "7")

  @parameterized.parameters(
      (dict(steps_per_call=0), "steps_per_call must be >= 1"),
      (dict(mixed_precision="float16"), "mixed_precision must be one of"))
  def test_bad_settings(self, fields, message):
    with self.assertRaisesRegex(ValueError, message):
      train_loop.LoopConfig(data_dir="d", model_dir="m", **fields).validate()


class SpeedFlagsTest(tf.test.TestCase):

  def _config(self, *args):
    values = flags.FlagValues()
    loop_flags = training_flags.define_loop_flags(
        max_steps=10, lr_boundaries=(), lr_values=(0.1,), eval_every_steps=0,
        flag_values=values)
    values(["prog", "--data_dir=d", "--model_dir=m", *args])
    return training_flags.loop_config(loop_flags)

  def test_flags_become_the_config(self):
    config = self._config()
    self.assertEqual(
        (config.jit_compile, config.steps_per_call, config.mixed_precision),
        (False, 1, None))
    config = self._config("--jit_compile", "--steps_per_call=4",
                          "--mixed_precision=mixed_bfloat16")
    self.assertEqual(
        (config.jit_compile, config.steps_per_call, config.mixed_precision),
        (True, 4, "mixed_bfloat16"))
    self.assertEqual(
        {k: config.train_arguments()[k]
         for k in ("jit_compile", "steps_per_call")},
        {"jit_compile": True, "steps_per_call": 4})

  def test_bad_flag_is_named(self):
    with self.assertRaisesRegex(app.UsageError,
                                "--steps_per_call must be >= 1"):
      self._config("--steps_per_call=0")


if __name__ == "__main__":
  tf.test.main()
