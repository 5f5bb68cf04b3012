"""Tests for the embedding loss (area-weighted Huber) and relative error."""

import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from sph_embed.embedding import losses
from sph_embed.sphere import dh_grid


def numpy_huber(error, delta):
  error = np.abs(error)
  return np.where(error <= delta, 0.5 * error ** 2,
                  delta * (error - 0.5 * delta))


class AreaWeightedHuberTest(tf.test.TestCase, parameterized.TestCase):

  @parameterized.parameters(0.5, 1.0, 3.0)
  def test_matches_numpy(self, delta):
    rng = np.random.default_rng(0)
    p = rng.normal(size=(3, 8, 8, 2)).astype(np.float32) * 2
    t = rng.normal(size=(3, 8, 8, 2)).astype(np.float32)
    w = dh_grid.area_weights(8)[None, :, :, None]
    expected = (numpy_huber(p - t, delta) * w).sum(axis=(1, 2)).mean(-1)
    self.assertAllClose(losses.area_weighted_huber(p, t, delta), expected,
                        rtol=1e-5)

  def test_quadratic_and_linear_regimes(self):
    t = np.zeros((1, 8, 8, 1), np.float32)
    # Constant errors: the weights sum to 1, so the loss is huber(error).
    self.assertAllClose(losses.area_weighted_huber(t + 0.5, t), [0.125])
    self.assertAllClose(losses.area_weighted_huber(t + 3.0, t), [2.5])
    self.assertAllClose(losses.area_weighted_huber(t + 3.0, t, delta=2.0),
                        [4.0])

  def test_poles_weigh_less_than_the_equator(self):
    t = np.zeros((1, 16, 16, 1), np.float32)
    at_pole = t.copy()
    at_pole[0, 0, :, 0] = 1.0  # The north-pole row has zero area.
    at_equator = t.copy()
    at_equator[0, 8, :, 0] = 1.0
    self.assertAllClose(losses.area_weighted_huber(at_pole, t), [0.0])
    self.assertGreater(float(losses.area_weighted_huber(at_equator, t)[0]),
                       0.0)

  def test_gradient_flows(self):
    p = tf.Variable(tf.random.normal((2, 8, 8, 3)))
    with tf.GradientTape() as tape:
      loss = tf.reduce_mean(losses.area_weighted_huber(p, tf.zeros_like(p)))
    self.assertGreater(float(tf.reduce_sum(tf.abs(tape.gradient(loss, p)))),
                       0.0)

  def test_bad_input(self):
    with self.assertRaisesRegex(ValueError, "delta must be > 0"):
      losses.area_weighted_huber(tf.zeros((1, 8, 8, 1)),
                                 tf.zeros((1, 8, 8, 1)), delta=0.0)
    with self.assertRaisesRegex(ValueError, "different shapes"):
      losses.area_weighted_huber(tf.zeros((1, 8, 8, 2)),
                                 tf.zeros((1, 8, 8, 1)))
    with self.assertRaisesRegex(ValueError, "square"):
      losses.area_weighted_huber(tf.zeros((1, 8, 4, 1)),
                                 tf.zeros((1, 8, 4, 1)))
    with self.assertRaisesRegex(ValueError, "power of two"):
      losses.relative_error(tf.zeros((1, 6, 6, 1)), tf.zeros((1, 6, 6, 1)))


class RelativeErrorTest(tf.test.TestCase):

  def test_values(self):
    t = np.array([1.0, -2.0, 0.0, 3.0], np.float32).reshape(1, 1, 4, 1)
    t = np.tile(t, (2, 4, 1, 1))
    self.assertAllClose(losses.relative_error(t, t), [0.0, 0.0])
    # Opposite signs or one side zero: 1 (the zero/zero sample gives 0).
    self.assertAllClose(losses.relative_error(-t, t), [0.75, 0.75])
    p = t.copy()
    p[1] = 2 * t[1]
    # |2t - t| / (3|t|) = 1/3 where t != 0.
    self.assertAllClose(losses.relative_error(p, t), [0.0, 0.25])


if __name__ == "__main__":
  tf.test.main()
