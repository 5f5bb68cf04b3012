"""Tests for sph_embed.data.views (the examples of one instance)."""

import dataclasses

import numpy as np
from scipy import stats
import tensorflow as tf
import trimesh

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

  def test_two_dof_poses_keep_the_up_axis_upright(self):
    # The camera looks down -z with image right = +x, up = +y, so the up
    # axis e_z of the posed object appears along (R e_z)_x, (R e_z)_y.
    poses = rotations.random_rotations(2000, dof=2, seed=0)
    rotations.validate_rotations(poses, atol=1e-12)
    self.assertAllClose(poses[:, 0, 2], np.zeros(2000), atol=1e-12)
    self.assertAllGreaterEqual(poses[:, 1, 2], 0.0)
    config = dataclasses.replace(_CONFIG, dof=2, views_per_instance=8)
    stored = views.make_examples(_instance(), config)["rotation"]
    self.assertAllClose(stored[:, 0, 2], np.zeros(8), atol=1e-6)
    self.assertAllGreaterEqual(stored[:, 1, 2], 0.0)
    three_dof = views.make_examples(
        _instance(), dataclasses.replace(config, dof=3))["rotation"]
    self.assertGreater(np.abs(three_dof[:, 0, 2]).max(), 0.1)

  def test_upright_rotations_look_from_the_given_directions(self):
    directions = stats.uniform_direction(3).rvs(50, random_state=1)
    poses = rotations.upright_rotations(directions)
    self.assertAllClose(np.einsum("nji,j->ni", poses, [0.0, 0.0, 1.0]),
                        directions)
    # Seen from the side the up axis is exactly image-vertical.
    side = rotations.upright_rotations([1.0, 0.0, 0.0])
    self.assertAllClose(side @ [0.0, 0.0, 1.0], [0.0, 1.0, 0.0])

  def test_two_dof_viewing_directions_are_uniform(self):
    def p_values(poses):
      """KS p-values of the camera's direction in the object frame."""
      direction = np.einsum("nji,j->ni", poses, [0.0, 0.0, 1.0])
      return (stats.kstest(direction[:, 2], stats.uniform(-1, 2).cdf).pvalue,
              stats.kstest(np.arctan2(direction[:, 1], direction[:, 0]),
                           stats.uniform(-np.pi, 2 * np.pi).cdf).pvalue)

    cos_colatitude, longitude = p_values(
        rotations.random_rotations(4000, dof=2, seed=3))
    self.assertGreater(cos_colatitude, 0.01)
    self.assertGreater(longitude, 0.01)
    # Control: colatitude uniform in [0, pi] crowds the poles; detected.
    rng = np.random.default_rng(3)
    colatitude = rng.uniform(0.0, np.pi, 4000)
    longitude = rng.uniform(-np.pi, np.pi, 4000)
    polar = rotations.upright_rotations(np.stack(
        [np.sin(colatitude) * np.cos(longitude),
         np.sin(colatitude) * np.sin(longitude), np.cos(colatitude)], -1))
    self.assertLess(p_values(polar)[0], 1e-6)

  def test_two_dof_views_show_the_object_upright(self):
    # Rotationally symmetric about z, big ball on top: upright, its
    # silhouette is centred horizontally with its mass above the middle.
    top = trimesh.creation.icosphere(2, radius=0.5)
    top.apply_translation((0.0, 0.0, 0.45))
    bottom = trimesh.creation.icosphere(2, radius=0.2)
    bottom.apply_translation((0.0, 0.0, -0.75))
    mesh = meshes.normalize_mesh(trimesh.util.concatenate([top, bottom]))
    poses = rotations.random_rotations(40, dof=2, seed=4)
    # Not looking along the up axis: the camera direction R^T e_z is more
    # than 30 degrees from it.
    poses = poses[np.abs(poses[:, 2, 2]) < np.cos(np.radians(30.0))][:6]
    self.assertLen(poses, 6)
    size = 32
    for image in render.render_views(mesh, poses, size):
      rows, columns = np.nonzero(image)
      self.assertAllClose(columns.mean(), (size - 1) / 2, atol=0.5)
      self.assertLess(rows.mean(), (size - 1) / 2 - 1.0)

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
