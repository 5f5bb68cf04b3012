"""Tests for sph_embed.training.flags: the trainers' shared flags."""

import os

from absl import app
from absl import flags
from absl.testing import parameterized
import tensorflow as tf

from sph_embed.training import checkpoints
from sph_embed.training import flags as training_flags
from tests import mesh_test_util


def _parse(*args, **defaults):
  """(LoopFlags, FlagValues) parsed from `args` in a private FlagValues."""
  values = flags.FlagValues()
  defaults.setdefault("max_steps", 100)
  defaults.setdefault("lr_boundaries", (50, 80))
  defaults.setdefault("eval_every_steps", 0)
  loop_flags = training_flags.define_loop_flags(flag_values=values,
                                                **defaults)
  values(["prog", "--data_dir=d", "--model_dir=m", *args])
  return loop_flags


class LoopFlagsTest(tf.test.TestCase, parameterized.TestCase):

  def test_flags_become_the_config(self):
    config = training_flags.loop_config(_parse(
        "--batch_size=8", "--lr_boundaries=10,20", "--lr_values=1,0.5,0.25",
        "--adam_beta1=0.5", "--strategy=mirrored", "--eval_every_steps=5",
        "--checkpoint_every_steps=3", "--keep_checkpoints=4", "--seed=2"),
        command="cmd")
    self.assertEqual(
        (config.data_dir, config.model_dir, config.batch_size,
         config.max_steps, config.lr_boundaries, config.lr_values,
         config.adam_beta1, config.strategy, config.eval_every_steps,
         config.checkpoint_every_steps, config.keep_checkpoints, config.seed,
         config.command),
        ("d", "m", 8, 100, (10, 20), (1.0, 0.5, 0.25), 0.5, "mirrored", 5,
         3, 4, 2, "cmd"))

  def test_trainer_defaults(self):
    config = training_flags.loop_config(_parse(
        max_steps=None, lr_boundaries=(), lr_values=(0.1,),
        adam_epsilon=1e-8, keep_checkpoints=2))
    self.assertEqual((config.max_steps, config.lr_boundaries,
                      config.lr_values, config.adam_epsilon,
                      config.keep_checkpoints, config.eval_every_steps),
                     (None, (), (0.1,), 1e-8, 2, None))

  def test_cosine_drops_the_trainers_piecewise_defaults(self):
    config = training_flags.loop_config(_parse(
        "--lr_schedule=cosine", "--lr_warmup_steps=10",
        lr_values=(1e-3, 2e-4, 4e-5)))
    self.assertEqual((config.lr_schedule, config.lr_boundaries,
                      config.lr_values, config.lr_warmup_steps),
                     ("cosine", (), (1e-3, 4e-5), 10))
    given = training_flags.loop_config(_parse(
        "--lr_schedule=cosine", "--lr_values=2e-3,1e-5"))
    self.assertEqual(given.lr_values, (2e-3, 1e-5))
    with self.assertRaisesRegex(app.UsageError,
                                "--lr_schedule=cosine: lr_boundaries do not"):
      training_flags.loop_config(_parse("--lr_schedule=cosine",
                                        "--lr_boundaries=10,20"))

  def test_max_minutes_reaches_the_config(self):
    config = training_flags.loop_config(_parse("--max_minutes=1.5"))
    self.assertEqual(config.max_minutes, 1.5)
    self.assertEqual(config.train_arguments()["max_minutes"], 1.5)
    with self.assertRaisesRegex(app.UsageError, "--max_minutes must be > 0"):
      training_flags.loop_config(_parse("--max_minutes=0"))

  @parameterized.parameters(
      (("--lr_boundaries=10,x",), "--lr_boundaries: expected a"
       " comma-separated list of ints, got 10,x"),
      (("--lr_boundaries=10",), "--lr_boundaries / --lr_values: learning"
       " rate schedule: expected len\\(values\\)"),
      (("--adam_beta1=1.5",), "--adam_beta1 must be in"),
      (("--batch_size=0",), "--batch_size must be >= 1"),
      (("--checkpoint_every_steps=0",), "--checkpoint_every_steps must be"))
  def test_bad_flags_are_named(self, args, message):
    with self.assertRaisesRegex(app.UsageError, message):
      training_flags.loop_config(_parse(*args))

  def test_max_steps_below_the_runs_step_is_refused(self):
    # Issue 30: training did nothing and said "trained steps 47..47".
    model_dir = mesh_test_util.temp_dir(self)
    tf.train.CheckpointManager(
        tf.train.Checkpoint(step=tf.Variable(47)),
        os.path.join(model_dir, "checkpoints"), max_to_keep=1).save(
            checkpoint_number=47)
    with self.assertRaisesRegex(
        checkpoints.CheckpointError, f"--max_steps=40: the run in {model_dir}"
        " is already at step 47, so nothing would be trained"):
      training_flags.loop_config(_parse(f"--model_dir={model_dir}",
                                        "--max_steps=40"))
    config = training_flags.loop_config(_parse(f"--model_dir={model_dir}",
                                               "--max_steps=47"))
    self.assertEqual(config.max_steps, 47)

  def test_momentum_is_now_adam_beta1(self):
    with self.assertRaisesRegex(flags.UnrecognizedFlagError, "momentum"):
      _parse("--momentum=0.5")


if __name__ == "__main__":
  tf.test.main()
