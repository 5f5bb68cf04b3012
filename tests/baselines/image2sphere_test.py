"""Tests for the Image2Sphere baseline: projection, model, loss, predictions."""

import dataclasses
import math

import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from sph_embed.baselines import image2sphere
from sph_embed.embedding import model as embedding_model
from sph_embed.pose import absolute_distributions
from sph_embed.pose import distributions
from sph_embed.pose import relative_from_absolute
from sph_embed.sphere import dh_grid
from sph_embed.sphere import rotations as rotations_lib
from sph_embed.sphere import so3

TINY = image2sphere.Image2SphereConfig(
    encoder=embedding_model.EmbeddingConfig(
        base_filters=4, max_filters=8, latent_size=16, blocks_per_layer=1),
    sphere_channels=4, so3_channels=2, lmax=2, sphere_size=8,
    activation_grid_size=8, train_grid_size=8, eval_grid_size=10)
IMAGE_SIZE = 16


def tiny_model(seed=0):
  tf.keras.utils.set_random_seed(seed)
  return image2sphere.build_image2sphere_model(TINY, IMAGE_SIZE)


def random_images(count, seed):
  return np.random.default_rng(seed).uniform(
      size=(count, IMAGE_SIZE, IMAGE_SIZE, 1)).astype(np.float32)


class ProjectionTest(tf.test.TestCase):

  def test_rows_are_bilinear_weights_times_the_taper(self):
    weights = image2sphere.hemisphere_projection(2, 2, 16, coverage=0.9,
                                                 taper_degrees=60.0)
    self.assertEqual(weights.shape, (256, 4))
    colatitude = np.degrees(dh_grid.colatitudes(16))
    taper = np.clip((90 - colatitude) / 30, 0, 1)
    self.assertAllClose(weights.sum(axis=1).reshape(16, 16),
                        np.repeat(taper[:, None], 16, axis=1), atol=1e-6)
    self.assertEqual(np.abs(weights.reshape(16, 16, 4)[8:]).max(), 0.0)

  def test_orientation_image_right_is_x_and_up_is_y(self):
    # A 3 x 3 feature map is sampled at its centre pixel (row 1, column 1)
    # for the pole, which sees the image centre; a point at longitude 0
    # (+x) leans to column 2, one at longitude 90 (+y) to row 0 (the top).
    weights = image2sphere.hemisphere_projection(3, 3, 8, coverage=1.0,
                                                 taper_degrees=89.0)
    weights = weights.reshape(8, 8, 3, 3)
    self.assertAllClose(weights[0, 0], np.eye(3)[1][:, None] * np.eye(3)[1])
    plus_x, plus_y = weights[1, 0], weights[1, 2]   # colatitude 22.5 deg
    self.assertGreater(plus_x[1, 2], plus_x[1, 0])
    self.assertGreater(plus_y[0, 1], plus_y[2, 1])
    # Bilinear between columns 1 and 2 at the point's pixel coordinate.
    column = (math.sin(math.pi / 8) + 1) * 1.5 - 0.5
    self.assertAllClose(plus_x[1, 1:], [2 - column, column - 1], atol=1e-6)
    self.assertAllClose(plus_y[:2, 1], [column - 1, 2 - column], atol=1e-6)

  def test_image_roll_is_a_rotation_about_z(self):
    # Turning the image a quarter counter-clockwise (a pose Rz(90) R, the
    # camera's roll: sph_embed.sphere.rotations) turns the hemisphere
    # signal by Rz(90): f(Rz^T x), a roll of a quarter of the longitudes.
    features = np.random.default_rng(0).normal(size=(1, 4, 4, 3))
    layer = image2sphere.HemisphereProjection(16)
    turned = layer(np.rot90(features, axes=(1, 2)).copy()).numpy()
    self.assertAllClose(turned, np.roll(layer(features).numpy(), 4, axis=2),
                        atol=1e-5)


class ModelTest(tf.test.TestCase, parameterized.TestCase):

  @parameterized.parameters("cpu", "paper")
  def test_preset_shapes_and_encoder(self, name):
    config = image2sphere.preset(name)
    model = image2sphere.build_image2sphere_model(config)
    self.assertEqual(model.input_shape, (None, 64, 64, 1))
    self.assertEqual(model.output_shape, (None, so3.flat_size(config.lmax)))
    # The embedding network's encoder of the same preset, bottleneck off.
    embedding_encoder = embedding_model.build_encoder(
        embedding_model.preset(name))
    bottleneck = embedding_encoder.get_layer("bottleneck_conv")
    encoder = model.get_layer("encoder")
    self.assertEqual(encoder.output_shape,
                     (None, 2, 2, config.encoder.max_filters))
    self.assertEqual(encoder.count_params(),
                     embedding_encoder.count_params()
                     - bottleneck.count_params())
    self.assertEqual(model.get_layer("projection").output_shape,
                     (None, 32, 32, config.sphere_channels))

  def test_config_round_trip_and_errors(self):
    self.assertEqual(image2sphere.Image2SphereConfig.from_dict(
        dataclasses.asdict(TINY)), TINY)
    with self.assertRaisesRegex(ValueError, "unknown image2sphere preset"):
      image2sphere.preset("gpu")
    with self.assertRaisesRegex(ValueError, r"lmax \(16\) must be below"):
      image2sphere.preset("cpu", lmax=16)
    with self.assertRaisesRegex(ValueError,
                                "train_grid_size must be an even integer"):
      image2sphere.preset("cpu", train_grid_size=13)
    with self.assertRaisesRegex(ValueError, "taper_degrees must be in"):
      image2sphere.preset("cpu", taper_degrees=90.0)


class DistributionTest(tf.test.TestCase):

  def test_uniform_output_scores_minus_log_pi_squared(self):
    distribution = image2sphere.GridDistribution(8, 2)
    rotations = rotations_lib.random_rotations(3, seed=0)
    loss, _, _ = distribution.scores(tf.zeros((3, so3.flat_size(2))),
                                     rotations)
    self.assertAllClose(loss, np.zeros(3), atol=1e-5)
    loss_fn = image2sphere.make_loss_fn(distribution)
    zeros = tf.keras.Sequential([
        tf.keras.layers.Flatten(),
        tf.keras.layers.Dense(so3.flat_size(2), kernel_initializer="zeros")])
    _, metrics = loss_fn(zeros, {"image": random_images(3, 1),
                                 "rotation": rotations})
    self.assertAllClose(metrics["log_likelihood"],
                        np.full(3, -math.log(math.pi ** 2)), atol=1e-5)

  def test_loss_is_minus_log_density_at_the_nearest_grid_point(self):
    size, lmax = 8, 2
    distribution = image2sphere.GridDistribution(size, lmax)
    fourier = np.random.default_rng(2).normal(
        size=(4, so3.flat_size(lmax))).astype(np.float32)
    truth = rotations_lib.random_rotations(4, seed=3)
    loss, error, predicted = distribution.scores(fourier, truth)
    points = so3.euler_grid_rotations(size).reshape(-1, 3, 3)
    nearest = np.argmin(rotations_lib.geodesic_degrees(
        truth[:, None], points[None]), axis=1)
    log_density = distribution.log_density(fourier).numpy()
    self.assertAllClose(loss, -log_density[np.arange(4), nearest],
                        atol=1e-5)
    self.assertAllClose(predicted, points[np.argmax(log_density, axis=1)],
                        atol=1e-6)
    self.assertAllClose(np.degrees(error),
                        rotations_lib.geodesic_degrees(predicted, truth),
                        atol=1e-2)


class PredictTest(tf.test.TestCase):

  def test_rotations_and_probabilities(self):
    model = tiny_model()
    images = random_images(5, seed=4)
    predictions = image2sphere.predict(model, images, grid_size=10,
                                       batch_size=2)
    grid = distributions.grid_rotations(10).reshape(-1, 3, 3)
    self.assertEqual(predictions.probabilities.shape, (5, len(grid)))
    self.assertAllClose(predictions.probabilities.sum(axis=1), np.ones(5),
                        atol=1e-5)
    # The argmax of the density p = mass / v, not of the mass.
    weights = np.broadcast_to(distributions.beta_weights(10)[None, :, None],
                              (10, 6, 10)).ravel()
    self.assertAllEqual(
        predictions.rotations,
        grid[np.argmax(predictions.probabilities / weights, axis=1)])
    without = image2sphere.predict(model, images, grid_size=10,
                                   probabilities=False)
    self.assertIsNone(without.probabilities)
    self.assertAllEqual(without.rotations, predictions.rotations)
    # The images -> rotations callable for batch-by-batch callers.
    predictor = image2sphere.Predictor(model, grid_size=10)
    self.assertAllEqual(predictor.rotations(images[:3]),
                        predictions.rotations[:3])

  def test_scores_plug_into_the_pose_layer(self):
    model = tiny_model()
    images = random_images(4, seed=5)
    truth = rotations_lib.random_rotations(4, seed=6)
    predictions = image2sphere.predict(model, images, grid_size=10)
    likelihoods = absolute_distributions.log_likelihoods(
        predictions.probabilities, truth, 10)
    self.assertEqual(likelihoods.shape, (4,))
    self.assertTrue(np.all(np.isfinite(likelihoods)))
    table = {"rotations": truth, "category": np.array(["a"] * 4),
             "instance": np.array(["x", "x", "y", "y"])}
    _, _, pairs, errors, estimated = relative_from_absolute.evaluate(
        predictions.rotations, table, pairs_per_instance=1)
    self.assertAllClose(estimated, predictions.rotations[pairs[:, 1]]
                        @ np.swapaxes(predictions.rotations[pairs[:, 0]],
                                      1, 2))
    self.assertEqual(errors.shape, (len(pairs),))


class LearningTest(tf.test.TestCase):

  def test_loss_falls_on_a_fixed_batch(self):
    model = tiny_model(seed=7)
    distribution = image2sphere.GridDistribution(TINY.train_grid_size,
                                                 TINY.lmax)
    loss_fn = image2sphere.make_loss_fn(distribution)
    batch = {"image": tf.constant(random_images(8, seed=8)),
             "rotation": tf.constant(rotations_lib.random_rotations(
                 8, seed=9).astype(np.float32))}
    optimizer = tf.keras.optimizers.legacy.Adam(1e-2)

    @tf.function
    def train_step():
      with tf.GradientTape() as tape:
        loss = tf.reduce_mean(loss_fn(model, batch)[0])
      gradients = tape.gradient(loss, model.trainable_variables)
      optimizer.apply_gradients(zip(gradients, model.trainable_variables))
      return loss

    losses = [float(train_step()) for _ in range(40)]
    # Uniform scores 0; the best a degree-2 density on this grid can do for
    # 8 distinct rotations is well below.
    self.assertLess(np.mean(losses[-5:]), np.mean(losses[:5]) - 0.5)


if __name__ == "__main__":
  tf.test.main()
