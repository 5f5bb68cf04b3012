"""Tests of embedding_inference.map_errors against direct computations."""

import numpy as np
import tensorflow as tf

from sph_embed.embedding import inference as embedding_inference
from sph_embed.sphere import dh_grid


class MapErrorsTest(tf.test.TestCase):

  def setUp(self):
    super().setUp()
    self.targets = np.random.default_rng(0).uniform(
        0, 1, (5, 8, 8, 3)).astype(np.float32)

  def test_perfect_and_zero_predictions(self):
    perfect = embedding_inference.map_errors(self.targets, self.targets)
    self.assertAllClose([perfect["relative_error"], perfect["relative_l2"],
                         perfect["relative_l2_centered"]], [0, 0, 0])
    zero = embedding_inference.map_errors(np.zeros_like(self.targets),
                                          self.targets)
    self.assertAllClose([zero["relative_error"], zero["relative_l2"],
                         zero["relative_l2_centered"]], [1, 1, 1])

  def test_mean_map_baseline_and_area_weights(self):
    mean_map = np.broadcast_to(self.targets.mean(0), self.targets.shape)
    errors = embedding_inference.map_errors(mean_map, self.targets)
    self.assertAllClose(errors["relative_l2"],
                        errors["relative_l2_mean_map"])
    # Direct: area-weighted norms of one example.
    w = dh_grid.area_weights(8)[:, :, None]
    diff = mean_map[2] - self.targets[2]
    direct = np.sqrt((w * diff ** 2).sum() / (w * self.targets[2] ** 2).sum())
    per_example = [np.sqrt((w * (mean_map[i] - self.targets[i]) ** 2).sum() /
                           (w * self.targets[i] ** 2).sum())
                   for i in range(5)]
    self.assertAllClose(per_example[2], direct)
    self.assertAllClose(errors["relative_l2"], np.mean(per_example))

  def test_constant_offset_vanishes_when_centred(self):
    errors = embedding_inference.map_errors(self.targets + 0.5, self.targets)
    self.assertGreater(errors["relative_l2"], 0.3)
    self.assertAllClose(errors["relative_l2_centered"], 0.0, atol=1e-6)

  def test_shape_mismatch(self):
    with self.assertRaisesRegex(ValueError, "must be equal"):
      embedding_inference.map_errors(self.targets[:, :4], self.targets)


if __name__ == "__main__":
  tf.test.main()
