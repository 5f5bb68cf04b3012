"""Tests for sph_embed.training.flags: the trainers' shared flags."""

from absl import app
from absl import flags
from absl.testing import parameterized
import tensorflow as tf

from sph_embed.training import flags as training_flags


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

  def test_momentum_is_now_adam_beta1(self):
    with self.assertRaisesRegex(flags.UnrecognizedFlagError, "momentum"):
      _parse("--momentum=0.5")


if __name__ == "__main__":
  tf.test.main()
