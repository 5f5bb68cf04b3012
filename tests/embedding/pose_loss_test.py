"""Tests for the pose-aware loss term against a NumPy reference and known
rotations."""

import dataclasses

import numpy as np
from scipy.spatial.transform import Rotation
import tensorflow as tf
from absl.testing import parameterized

from sph_embed.embedding import losses
from sph_embed.embedding import pose_loss
from sph_embed.embedding import training as embedding_training
from sph_embed.sphere import rotations
from sph_embed.sphere import sht_numpy

_SMALL = pose_loss.PoseLossConfig(weight=1.0, grid_rotations=12,
                                  exclusion_degrees=30.0)


def _smooth_maps(count, channels=3, n=16, seed=0):
  """Band-limited random maps [count, n, n, channels] (float32)."""
  rng = np.random.default_rng(seed)
  maps = rng.normal(size=(count, n, n, channels))
  return sht_numpy.rotate_maps(maps, np.eye(3),
                               channels_last=True).astype(np.float32)


class PoseLossTest(tf.test.TestCase, parameterized.TestCase):

  def test_grid_holds_the_identity_first_and_nothing_near_it(self):
    grid = pose_loss.rotation_grid(200, 30.0)
    self.assertAllClose(grid[0], np.eye(3))
    self.assertGreater(
        rotations.geodesic_degrees(grid[1:], np.eye(3)).min(), 30.0)
    self.assertLess(len(grid), 201)  # Some of the 200 were near it.

  def test_half_turns_are_spread_over_every_axis(self):
    grid = pose_loss.rotation_grid(12, 30.0, half_turns=256)
    turns = grid[-256:]
    self.assertAllClose(rotations.geodesic_degrees(turns, np.eye(3)),
                        np.full(256, 180.0), atol=1e-4)
    # Any half-turn (a random axis) is within 14 degrees of one of them
    # (twice the angle between the axes; 256 random axes leave gaps of 21).
    axes = np.random.default_rng(0).normal(size=(500, 3))
    wanted = Rotation.from_rotvec(
        np.pi * axes / np.linalg.norm(axes, axis=1, keepdims=True))
    nearest = [rotations.geodesic_degrees(turns, w).min()
               for w in wanted.as_matrix()]
    self.assertLess(max(nearest), 14.0)
    self.assertEqual(len(pose_loss.rotation_grid(12, 30.0)), len(grid) - 256)

  def test_correlation_matches_the_numpy_reference(self):
    rng = np.random.default_rng(1)
    predictions = rng.normal(size=(2, 16, 16, 3)).astype(np.float32)
    targets = rng.normal(size=(2, 16, 16, 3)).astype(np.float32)
    self.assertAllClose(
        pose_loss.correlation_on_grid(predictions, targets, _SMALL),
        pose_loss.correlation_on_grid_numpy(predictions, targets, _SMALL),
        atol=2e-3)

  def test_correlation_peaks_at_the_rotation_between_the_maps(self):
    maps = _smooth_maps(1)
    grid = pose_loss.rotation_grid(_SMALL.grid_rotations,
                                   _SMALL.exclusion_degrees)
    for index in (0, 3, len(grid) - 1):
      # Target = the prediction rotated by grid[index]: the correlation of
      # the prediction rotated by R with it peaks at R = grid[index].
      target = sht_numpy.rotate_maps(maps, grid[index][None],
                                     channels_last=True).astype(np.float32)
      values = pose_loss.correlation_on_grid(maps, target, _SMALL).numpy()
      self.assertEqual(values[0].argmax(), index)
      self.assertAllClose(values[0, index], 1.0, atol=1e-4)

  def test_loss_is_least_at_the_true_rotation(self):
    """On a toy map: among predictions turned by each grid rotation, the
    unturned one (the truth) has the least loss; a half-turn costs more."""
    target = _smooth_maps(1, seed=2)
    grid = pose_loss.rotation_grid(_SMALL.grid_rotations,
                                   _SMALL.exclusion_degrees)
    turned = sht_numpy.rotate_maps(np.repeat(target, len(grid), 0), grid,
                                   channels_last=True).astype(np.float32)
    loss = pose_loss.pose_cross_entropy(
        turned, np.repeat(target, len(grid), 0), _SMALL).numpy()
    self.assertEqual(loss.argmin(), 0)
    half_turn = sht_numpy.rotate_maps(
        target, rotations.matrix_from_zyz(0.0, np.pi, 0.0)[None],
        channels_last=True).astype(np.float32)
    self.assertGreater(
        float(pose_loss.pose_cross_entropy(half_turn, target, _SMALL)[0]),
        float(loss[0]) + 1.0)

  def test_head_losses_add_the_weighted_term_to_the_pose_head(self):
    predictions = {"pose": _smooth_maps(2, seed=3)}
    targets = {"pose": _smooth_maps(2, seed=4)}
    config = pose_loss.PoseLossConfig(weight=0.5, grid_rotations=12)
    loss, metrics = embedding_training.head_losses(
        predictions, targets, ("pose",), 1.0, config)
    huber = losses.area_weighted_huber(predictions["pose"], targets["pose"])
    cross_entropy = pose_loss.pose_cross_entropy(predictions["pose"],
                                                 targets["pose"], config)
    self.assertAllClose(loss, huber + 0.5 * cross_entropy)
    self.assertAllClose(metrics["pose_cross_entropy"], cross_entropy)
    self.assertEqual(embedding_training.metric_names(("pose",), config),
                     ("relative_error", "pose_cross_entropy"))
    plain, plain_metrics = embedding_training.head_losses(
        predictions, targets, ("pose",), 1.0, pose_loss.PoseLossConfig())
    self.assertAllClose(plain, huber)
    self.assertNotIn("pose_cross_entropy", plain_metrics)

  def test_half_turns_make_a_front_for_back_prediction_cost_more(self):
    """A prediction turned half-way round about an axis off the lattice
    costs more once the grid holds the half-turns."""
    target = _smooth_maps(1, seed=5)
    axis = np.array([0.3, 0.8, -0.52]) / np.linalg.norm([0.3, 0.8, -0.52])
    turned = sht_numpy.rotate_maps(
        target, Rotation.from_rotvec(np.pi * axis).as_matrix()[None],
        channels_last=True).astype(np.float32)
    with_turns = dataclasses.replace(_SMALL, half_turns=64)
    self.assertGreater(
        float(pose_loss.pose_cross_entropy(turned, target, with_turns)[0]),
        float(pose_loss.pose_cross_entropy(turned, target, _SMALL)[0]) + 1.0)
    self.assertAllClose(
        pose_loss.correlation_on_grid(turned, target, with_turns),
        pose_loss.correlation_on_grid_numpy(turned, target, with_turns),
        atol=2e-3)

  def test_run_spec_records_half_turns_only_when_on(self):
    # Runs from before the field have no "half_turns" in their spec.
    self.assertNotIn("half_turns", _SMALL.spec())
    self.assertEqual(
        dataclasses.replace(_SMALL, half_turns=8).spec()["half_turns"], 8)

  @parameterized.parameters(
      (dict(half_turns=-1), "pose_loss_half_turns"),
      (dict(weight=-1.0), "pose_loss_weight"),
      (dict(grid_rotations=0), "pose_loss_grid_rotations"),
      (dict(temperature=0.0), "pose_loss_temperature"),
      (dict(exclusion_degrees=180.0), "pose_loss_exclusion_degrees"))
  def test_bad_settings_name_their_flag(self, fields, flag):
    with self.assertRaisesRegex(ValueError, f"^{flag}"):
      pose_loss.PoseLossConfig(**fields).validate()

  def test_the_term_needs_a_pose_head(self):
    settings = embedding_training.EmbeddingTraining(
        hub_module="m", output_key="synthesis",
        pose_loss=pose_loss.PoseLossConfig(weight=1.0))
    with self.assertRaisesRegex(ValueError, "pose_loss_weight"):
      settings.validate()


if __name__ == "__main__":
  tf.test.main()
