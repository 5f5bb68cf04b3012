"""Tests for the learning-rate schedules against their closed forms."""

import math

import tensorflow as tf
from absl.testing import parameterized

from sph_embed.training import loop as train_loop
from sph_embed.training import schedules


class PiecewiseScheduleTest(tf.test.TestCase, parameterized.TestCase):

  def test_piecewise_values(self):
    schedule = schedules.learning_rate_schedule([5, 8], [1e-3, 2e-4, 4e-5])
    self.assertAllClose([schedule(s) for s in (0, 5, 6, 8, 9, 100)],
                        [1e-3, 1e-3, 2e-4, 2e-4, 4e-5, 4e-5])
    self.assertEqual(schedules.learning_rate_schedule([], [0.1]), 0.1)

  @parameterized.parameters(
      ([5, 8], [1e-3, 2e-4], "len\\(values\\) == len\\(boundaries\\) \\+ 1"),
      ([8, 5], [1, 2, 3], "strictly increasing"),
      ([5, 5], [1, 2, 3], "strictly increasing"),
      ([0, 5], [1, 2, 3], "positive steps"),
      ([5], [1e-3, -1], "positive and finite"),
      ([5], [1e-3, float("nan")], "positive and finite"))
  def test_bad_schedules(self, boundaries, values, message):
    with self.assertRaisesRegex(ValueError, message):
      schedules.learning_rate_schedule(boundaries, values)


def _warmup_cosine(step, peak, final, total, warmup):
  """The schedule's closed form, written out independently."""
  if step < warmup:
    return peak * step / warmup
  progress = min(1.0, (step - warmup) / (total - warmup))
  return final + (peak - final) * 0.5 * (1 + math.cos(math.pi * progress))


class CosineScheduleTest(tf.test.TestCase, parameterized.TestCase):

  @parameterized.parameters((0,), (100,))
  def test_matches_the_closed_form(self, warmup):
    schedule = schedules.warmup_cosine_schedule((2e-3, 1e-5), 1000, warmup)
    steps = (0, 1, 50, 99, 100, 101, 400, 550, 999, 1000, 1500)
    self.assertAllClose(
        [float(schedule(s)) for s in steps],
        [_warmup_cosine(s, 2e-3, 1e-5, 1000, warmup) for s in steps],
        rtol=1e-5, atol=1e-9)

  def test_peak_after_warmup_and_final_at_the_end(self):
    schedule = schedules.warmup_cosine_schedule((1e-3,), 500, 50)
    self.assertAllClose(float(schedule(50)), 1e-3)
    self.assertAllClose(float(schedule(500)), 0.0, atol=1e-12)
    self.assertLess(float(schedule(300)), float(schedule(100)))

  @parameterized.parameters(
      ((1e-3, 1e-3), 10, 0, "below the peak"),
      ((1e-3, 1e-4, 1e-5), 10, 0, "peak or peak,final"),
      ((1e-3,), 10, 10, "warm-up steps"),
      ((-1e-3,), 10, 0, "positive and finite"))
  def test_bad_cosine_settings(self, values, total, warmup, message):
    with self.assertRaisesRegex(ValueError, message):
      schedules.warmup_cosine_schedule(values, total, warmup)

  def test_loop_config_builds_the_cosine_schedule(self):
    config = train_loop.LoopConfig(
        data_dir="d", model_dir="m", max_steps=200, lr_schedule="cosine",
        lr_values=(1e-3, 1e-5), lr_warmup_steps=20).validate()
    rate = config.learning_rate()
    self.assertAllClose(float(rate(20)), 1e-3)
    self.assertAllClose(float(rate(200)), 1e-5)

  @parameterized.parameters(
      (dict(lr_schedule="cosine", max_steps=None), "needs max_steps"),
      (dict(lr_schedule="cosine", max_steps=10, lr_boundaries=(5,),
            lr_values=(1e-3, 1e-4)), "do not apply"),
      (dict(lr_warmup_steps=5, max_steps=10), "only applies"),
      (dict(lr_schedule="linear", max_steps=10), "must be one of"))
  def test_loop_config_refuses_mixed_settings(self, fields, message):
    with self.assertRaisesRegex(ValueError, message):
      train_loop.LoopConfig(data_dir="d", model_dir="m", **fields).validate()


if __name__ == "__main__":
  tf.test.main()
