"""Tests for the PSNR / SSIM metric code (not for synthesis quality)."""

import numpy as np
import tensorflow as tf

from sph_embed.synthesis import metrics
from sph_embed.synthesis import model as synthesis_model

SIZE = 16


def constant(value, count=1):
  return np.full((count, SIZE, SIZE, 1), value, np.float32)


class ImageMetricsTest(tf.test.TestCase):

  def test_known_values(self):
    # MSE 0.01 at max_val 1: PSNR = 10 log10(1 / 0.01) = 20 dB.
    scores = metrics.image_metrics(constant(0.3), constant(0.2))
    self.assertAllClose(scores["psnr"], [20.0], atol=1e-4)
    # Constant images: only SSIM's luminance term, with C1 = (0.01 max)^2:
    # (2 * 0.2 * 0.4 + 1e-4) / (0.2^2 + 0.4^2 + 1e-4).
    scores = metrics.image_metrics(constant(0.4), constant(0.2))
    self.assertAllClose(scores["ssim"], [0.1601 / 0.2001], atol=1e-5)
    pattern = np.random.default_rng(0).uniform(size=(2, SIZE, SIZE, 1))
    self.assertAllClose(metrics.image_metrics(pattern, pattern)["ssim"],
                        [1.0, 1.0], atol=1e-6)

  def test_broadcasts_one_image_against_many(self):
    scores = metrics.image_metrics(constant(0.3)[0][None],
                                   np.concatenate([constant(0.2),
                                                   constant(0.4)]))
    self.assertAllClose(scores["psnr"], [20.0, 20.0], atol=1e-4)


class SynthesisMetricsTest(tf.test.TestCase):

  def setUp(self):
    super().setUp()
    rng = np.random.default_rng(1)
    self.truth = rng.uniform(size=(4, SIZE, SIZE, 1)).astype(np.float32)
    self.categories = np.array(["car", "car", "chair", "chair"])

  def scores(self, rotated_noise, input_views=None):
    rng = np.random.default_rng(2)
    rotated = np.clip(self.truth + rotated_noise * rng.normal(
        size=self.truth.shape), 0, 1)
    unrotated = rng.uniform(size=self.truth.shape)
    views = rng.uniform(size=self.truth.shape) if input_views is None else (
        input_views)
    return metrics.synthesis_metrics(self.truth, rotated, unrotated,
                                     constant(0.5)[0], views)

  def test_per_image_and_category_means(self):
    scores = self.scores(0.01)
    self.assertCountEqual(scores, metrics.METHODS)
    for method in metrics.METHODS:
      self.assertEqual(scores[method]["psnr"].shape, (4,))
      self.assertEqual(scores[method]["ssim"].shape, (4,))
    # The mean-image control is a constant 0.5 against each true image.
    mse = np.mean((self.truth - 0.5) ** 2, axis=(1, 2, 3))
    self.assertAllClose(scores["mean_image"]["psnr"], -10 * np.log10(mse),
                        atol=1e-3)
    means = metrics.category_means(scores, self.categories)
    self.assertCountEqual(means, ["car", "chair"])
    self.assertAllClose(means["chair"]["input_view"]["ssim"],
                        scores["input_view"]["ssim"][2:].mean())
    self.assertEqual(metrics.controls_not_beaten(means), [])

  def test_a_control_that_wins_is_reported(self):
    # The input view is the truth itself for the chairs: it beats the
    # noisy synthesis there, and only there.
    views = np.random.default_rng(3).uniform(size=self.truth.shape)
    views[2:] = self.truth[2:]
    means = metrics.category_means(self.scores(0.05, views), self.categories)
    self.assertEqual(metrics.controls_not_beaten(means),
                     [("chair", "input_view", "psnr"),
                      ("chair", "input_view", "ssim")])

  def test_on_a_tiny_synthesis_model(self):
    model = synthesis_model.build_synthesis_model(
        synthesis_model.SynthesisConfig(base_filters=4, max_filters=8,
                                        latent_size=8, blocks_per_layer=1),
        2, embedding_size=16, image_size=SIZE)
    embeddings = np.random.default_rng(4).normal(size=(4, 16, 16, 2))
    rotated = synthesis_model.decode(model, embeddings,
                                     np.diag([-1.0, -1.0, 1.0]))
    unrotated = synthesis_model.decode(model, embeddings)
    scores = metrics.synthesis_metrics(self.truth, rotated, unrotated,
                                       self.truth.mean(axis=0), self.truth)
    for method in metrics.METHODS:
      self.assertTrue(np.all(np.isfinite(scores[method]["ssim"])))
    self.assertTrue(np.all(np.isinf(scores["input_view"]["psnr"])))

  def test_bad_shapes(self):
    with self.assertRaisesRegex(ValueError, "truth: expected images"):
      metrics.image_metrics(constant(0.1), constant(0.1)[0])
    with self.assertRaisesRegex(ValueError, "rotated: shape .* does not"
                                " match"):
      metrics.synthesis_metrics(constant(0.1, 2), constant(0.1, 3),
                                constant(0.1, 2), constant(0.1)[0],
                                constant(0.1, 2))
    with self.assertRaisesRegex(ValueError, "mean_image: shape"):
      metrics.synthesis_metrics(constant(0.1, 2), constant(0.1, 2),
                                constant(0.1, 2), constant(0.1),
                                constant(0.1, 2))


if __name__ == "__main__":
  tf.test.main()
