"""Tests for the pose regression baseline (model, rotations, losses)."""

import dataclasses
import math

import numpy as np
import tensorflow as tf
from absl.testing import parameterized
from scipy.spatial import transform

from sph_embed.baselines import regression
from sph_embed.embedding import model as embedding_model

Rotation = transform.Rotation

TINY = regression.RegressionConfig(
    encoder=embedding_model.EmbeddingConfig(
        base_filters=4, max_filters=8, latent_size=16, blocks_per_layer=1),
    head_units=(32, 16), loss_switch_fraction=0.5)


def random_rotvecs(count, seed):
  """Axis-angle vectors over the head's whole output range, |y| < pi sqrt 3."""
  return np.random.default_rng(seed).uniform(-math.pi, math.pi, (count, 3))


class ModelTest(tf.test.TestCase, parameterized.TestCase):

  @parameterized.parameters("cpu", "paper")
  def test_preset_shapes_and_encoder(self, name):
    config = regression.preset(name)
    model = regression.build_regression_model(config)
    self.assertEqual(model.input_shape, (None, 64, 64, 1))
    self.assertEqual(model.output_shape, (None, 3))
    # The encoder is the embedding network's of the same preset.
    embedding_encoder = embedding_model.build_encoder(
        embedding_model.preset(name))
    encoder = model.get_layer("encoder")
    self.assertEqual(encoder.output_shape, embedding_encoder.output_shape)
    self.assertEqual(encoder.count_params(),
                     embedding_encoder.count_params())
    head = model.get_layer("pose_head")
    widths = [head.get_layer(f"fc{i}").units
              for i in range(len(config.head_units))]
    self.assertEqual(tuple(widths), config.head_units)

  def test_forward_pass(self):
    model = regression.build_regression_model(TINY, image_size=16)
    y = model(tf.random.uniform((5, 16, 16, 1)), training=True).numpy()
    self.assertEqual(y.shape, (5, 3))
    self.assertTrue(np.all(np.abs(y) < math.pi))

  @parameterized.parameters(False, True)
  def test_predictions_are_proper_rotations(self, training):
    model = regression.build_regression_model(TINY, image_size=16)
    images = np.random.default_rng(0).normal(size=(16, 16, 16, 1))
    r = regression.rotation_matrices(
        model(images.astype(np.float32), training=training)).numpy()
    self.assertEqual(r.shape, (16, 3, 3))
    self.assertAllClose(np.swapaxes(r, 1, 2) @ r,
                        np.broadcast_to(np.eye(3), r.shape), atol=1e-5)
    self.assertAllClose(np.linalg.det(r), np.ones(16), atol=1e-5)

  def test_predict_rotations_batches(self):
    model = regression.build_regression_model(TINY, image_size=16)
    images = np.random.default_rng(1).uniform(size=(7, 16, 16, 1))
    expected = regression.rotation_matrices(
        model(images.astype(np.float32), training=False)).numpy()
    predicted = regression.predict_rotations(model, images, batch_size=3)
    self.assertEqual(predicted.dtype, np.float64)
    self.assertAllClose(predicted, expected, atol=1e-6)

  def test_bad_configuration(self):
    with self.assertRaisesRegex(ValueError, "unknown regression preset 'gpu'"):
      regression.preset("gpu")
    with self.assertRaisesRegex(ValueError, "head_units must be positive"):
      regression.preset("cpu", head_units=(10, 0))
    with self.assertRaisesRegex(ValueError, "loss_switch_fraction .* 1.5"):
      regression.preset("cpu", loss_switch_fraction=1.5)
    with self.assertRaisesRegex(ValueError, "encoder must be an"):
      regression.RegressionConfig(encoder={"base_filters": 4})

  def test_config_from_dict_round_trip(self):
    config = regression.preset("cpu")
    self.assertEqual(
        regression.RegressionConfig.from_dict(dataclasses.asdict(config)),
        config)


class RotationTest(tf.test.TestCase, parameterized.TestCase):

  @parameterized.parameters(np.float64, np.float32)
  def test_axis_angle_to_matrix_matches_scipy(self, dtype):
    y = np.concatenate([random_rotvecs(500, seed=0),
                        [[0.0, 0.0, 0.0], [1e-9, -2e-9, 0.0],
                         [0.0, math.pi, 0.0]]])
    r = regression.rotation_matrices(y.astype(dtype)).numpy()
    self.assertAllClose(r, Rotation.from_rotvec(y).as_matrix(),
                        atol=1e-12 if dtype == np.float64 else 2e-6)

  def test_axis_angle_from_matrix_matches_scipy(self):
    rotations = Rotation.random(500, random_state=2)
    # Away from a half-turn, where y and -y are the same rotation.
    rotations = rotations[rotations.magnitude() < math.pi - 1e-2]
    y = regression.axis_angle_vectors(rotations.as_matrix()).numpy()
    self.assertAllClose(y, rotations.as_rotvec(), atol=1e-9)


class GeodesicTest(tf.test.TestCase, parameterized.TestCase):

  @parameterized.parameters((np.float64, 1e-10), (np.float32, 1e-5))
  def test_matches_scipy_magnitude(self, dtype, atol):
    r1 = Rotation.random(1000, random_state=3).as_matrix()
    r2 = Rotation.random(1000, random_state=4).as_matrix()
    expected = Rotation.from_matrix(np.swapaxes(r1, 1, 2) @ r2).magnitude()
    distance = regression.geodesic_distance(r1.astype(dtype),
                                            r2.astype(dtype)).numpy()
    self.assertAllClose(distance, expected, atol=atol)

  def test_identity_and_half_turns(self):
    axes = np.concatenate([np.eye(3), [[1.0, 2.0, -2.0]]])
    axes /= np.linalg.norm(axes, axis=1, keepdims=True)
    half_turns = Rotation.from_rotvec(math.pi * axes).as_matrix()
    eye = np.broadcast_to(np.eye(3), half_turns.shape)
    self.assertAllClose(regression.geodesic_distance(eye, eye).numpy(),
                        np.zeros(4), atol=1e-12)
    self.assertAllClose(regression.geodesic_distance(eye, half_turns).numpy(),
                        np.full(4, math.pi), atol=1e-7)

  def test_small_angles_resolved_in_float32(self):
    # arccos((tr - 1) / 2) returns 0 or ~3.5e-4 here: 1 - cos underflows.
    angles = np.array([1e-5, 1e-4, 1e-3])
    r = Rotation.from_rotvec(angles[:, None] * [[0.6, 0.0, 0.8]]).as_matrix()
    eye = np.broadcast_to(np.eye(3), r.shape).astype(np.float32)
    distance = regression.geodesic_distance(eye, r.astype(np.float32))
    self.assertAllClose(distance.numpy(), angles, rtol=1e-2)

  @parameterized.parameters(0.0, 1e-7, 0.5, math.pi)
  def test_gradient_finite_at_identical_rotations(self, angle):
    y = tf.constant([[0.0, angle, 0.0]], tf.float32)
    target = regression.rotation_matrices(y)
    with tf.GradientTape(persistent=True) as tape:
      tape.watch(y)
      loss = regression.geodesic_loss(y, target)
      rmse = regression.rmse_loss(y, target)
    self.assertAllClose(loss.numpy(), [0.0], atol=1e-3)
    for value in (loss, rmse):
      gradient = tape.gradient(value, y).numpy()
      self.assertTrue(np.all(np.isfinite(gradient)), gradient)


class LossTest(tf.test.TestCase):

  def test_rmse_on_axis_angle(self):
    y = random_rotvecs(64, seed=5)
    truth = Rotation.random(64, random_state=6)
    truth = truth[truth.magnitude() < math.pi - 1e-2]
    y = y[:len(truth)]
    expected = np.sqrt(np.mean((y - truth.as_rotvec()) ** 2, axis=1))
    self.assertAllClose(regression.rmse_loss(y, truth.as_matrix()).numpy(),
                        expected, atol=1e-9)

  def test_geodesic_loss_matches_scipy(self):
    y = random_rotvecs(64, seed=7)
    truth = Rotation.random(64, random_state=8)
    expected = (Rotation.from_rotvec(y).inv() * truth).magnitude()
    self.assertAllClose(
        regression.geodesic_loss(y, truth.as_matrix()).numpy(), expected,
        atol=1e-9)

  def test_schedule_switches_from_rmse_to_geodesic(self):
    self.assertEqual(regression.switch_step(TINY, 1000), 500)
    self.assertEqual(
        regression.switch_step(regression.preset("cpu",
                                                 loss_switch_fraction=0.0),
                               1000), 0)
    model = regression.build_regression_model(TINY, image_size=16)
    rng = np.random.default_rng(9)
    batch = {"image": rng.uniform(size=(4, 16, 16, 1)).astype(np.float32),
             "rotation": Rotation.random(4, random_state=9).as_matrix()}
    step = tf.Variable(0, dtype=tf.int64)
    loss_fn = regression.make_loss_fn(step, first_geodesic_step=10)
    for value, expected_key in ((0, "rmse"), (9, "rmse"), (10, "geodesic"),
                                (11, "geodesic")):
      step.assign(value)
      loss, metrics = loss_fn(model, batch)
      expected = (metrics["rmse"] if expected_key == "rmse"
                  else metrics["geodesic_degrees"] * math.pi / 180)
      self.assertAllClose(loss, expected, atol=1e-6, msg=f"step {value}")
    self.assertNotAllClose(metrics["rmse"],
                           metrics["geodesic_degrees"] * math.pi / 180)


class LearningTest(tf.test.TestCase):

  def test_tiny_model_overfits_a_few_poses(self):
    tf.keras.utils.set_random_seed(0)
    steps = 200
    model = regression.build_regression_model(TINY, image_size=16)
    rng = np.random.default_rng(0)
    images = rng.uniform(size=(8, 16, 16, 1)).astype(np.float32)
    rotations = Rotation.random(8, random_state=1).as_matrix().astype(
        np.float32)
    batch = {"image": tf.constant(images), "rotation": tf.constant(rotations)}
    optimizer = tf.keras.optimizers.legacy.Adam(5e-3)
    loss_fn = regression.make_loss_fn(optimizer.iterations,
                                      regression.switch_step(TINY, steps))

    @tf.function
    def train_step():
      with tf.GradientTape() as tape:
        loss = tf.reduce_mean(loss_fn(model, batch)[0])
      gradients = tape.gradient(loss, model.trainable_variables)
      optimizer.apply_gradients(zip(gradients, model.trainable_variables))

    def errors_degrees():
      # Batch statistics: the moving averages (decay 0.997) lag 200 steps.
      return np.degrees(regression.geodesic_loss(
          model(images, training=True), rotations).numpy())

    before = errors_degrees()
    for _ in range(steps):
      train_step()
    after = errors_degrees()
    self.assertGreater(np.median(before), 45.0)
    self.assertLess(np.max(after), 10.0)


if __name__ == "__main__":
  tf.test.main()
