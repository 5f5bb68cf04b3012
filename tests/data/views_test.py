"""Tests for sph_embed.data.views (the examples of one instance)."""

import dataclasses

import numpy as np
import tensorflow as tf

from sph_embed.data import meshes
from sph_embed.data import raycast
from sph_embed.data import render
from sph_embed.sphere import rotations
from sph_embed.data import sources
from sph_embed.data import views
from tests import mesh_test_util

_CONFIG = mesh_test_util.TINY_CONFIG


def _instance(category="chair", seed=2, split="train"):
  return sources.Instance(category, f"{category}_{seed}", split, seed=seed)


class ViewsTest(tf.test.TestCase):

  def test_examples_are_views_and_maps_of_the_posed_mesh(self):
    examples = views.make_examples(_instance(), _CONFIG)
    self.assertEqual(examples["image"].shape, (2, 32, 32))
    self.assertEqual(examples["image"].dtype, np.uint8)
    self.assertEqual(examples["sphere"].shape, (2, 16, 16))
    self.assertEqual(examples["sphere"].dtype, np.float32)
    self.assertEqual(examples["rotation"].shape, (2, 3, 3))
    rotations.validate_rotations(examples["rotation"])
    mesh = meshes.normalize_mesh(_instance().load())
    for image, depth, rotation in zip(examples["image"], examples["sphere"],
                                      examples["rotation"].astype(float)):
      posed = meshes.rotate_mesh(mesh, rotation)
      self.assertGreater(np.mean(np.abs(
          raycast.raycast(posed, 16) - depth) < 1e-4), 0.99)
      self.assertGreater(np.mean(
          render.render_view(posed, np.eye(3), 32) == image), 0.99)

  def test_deterministic_per_instance_and_seed(self):
    first = views.make_examples(_instance(), _CONFIG)
    again = views.make_examples(_instance(), _CONFIG)
    self.assertAllEqual(first["rotation"], again["rotation"])
    self.assertAllEqual(first["image"], again["image"])
    other_seed = views.make_examples(
        _instance(), dataclasses.replace(_CONFIG, seed=6))
    other_instance = views.make_examples(_instance(seed=3), _CONFIG)
    self.assertNotAllClose(first["rotation"], other_seed["rotation"])
    self.assertNotAllClose(first["rotation"], other_instance["rotation"])

  def test_two_dof_poses_have_no_roll(self):
    config = dataclasses.replace(_CONFIG, dof=2, views_per_instance=8)
    poses = views.make_examples(_instance(), config)["rotation"]
    # R = Ry(beta) Rz(gamma): R z = (sin beta, 0, cos beta).
    self.assertAllClose(poses[:, 1, 2], np.zeros(8), atol=1e-6)
    alpha, _, _ = rotations.zyz_from_matrix(poses)
    self.assertAllClose(np.sin(alpha), np.zeros(8), atol=1e-5)
    three_dof = views.make_examples(
        _instance(), dataclasses.replace(config, dof=3))["rotation"]
    self.assertGreater(np.abs(three_dof[:, 1, 2]).max(), 0.1)

  def test_anisotropic_scaling(self):
    config = dataclasses.replace(_CONFIG, anisotropic_scale=0.3)
    scaled = views.make_examples(_instance(), config)
    plain = views.make_examples(_instance(), _CONFIG)
    self.assertAllInRange(scaled["sphere"], 0.0, 1.0)
    # Same poses drawn first, then different shapes.
    self.assertAllEqual(scaled["rotation"], plain["rotation"])
    self.assertGreater(np.abs(scaled["sphere"] - plain["sphere"]).mean(),
                       1e-3)

  def test_bad_mesh_is_reported_not_raised(self):
    directory = mesh_test_util.temp_dir(self)
    path = mesh_test_util.write_file(directory, "empty.off", "")
    examples, error = views.make_examples_or_error(
        (sources.Instance("chair", "empty", "train", path=path), _CONFIG))
    self.assertIsNone(examples)
    self.assertEqual(error, f"{path}: empty file")

  def test_config_validation(self):
    for bad in (dict(views_per_instance=0), dict(dof=1),
                dict(anisotropic_scale=1.0), dict(sphere_size=48),
                dict(image_size=4)):
      with self.assertRaises(ValueError, msg=str(bad)):
        views.ViewConfig(**bad)


if __name__ == "__main__":
  tf.test.main()
