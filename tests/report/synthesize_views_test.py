"""Tests for the library side of tools/synthesize.py.

The composition of rotations is checked against the teacher: rotating the
teacher's maps of a mesh in pose R0 by R must give its maps of the mesh in
pose R @ R0 (`composed_pose`), not in R0 @ R or R^T @ R0.
"""

import json
import os

from absl.testing import parameterized
import numpy as np
from PIL import Image
import tensorflow as tf

from sph_embed.data import input_pipeline
from sph_embed.data import meshes
from sph_embed.data import raycast
from sph_embed.data import synthetic
from sph_embed.embedding import training as embedding_training
from sph_embed.report import synthesize_views
from sph_embed.sphere import dh_grid
from sph_embed.sphere import rotations
from sph_embed.synthesis import export as synthesis_export
from sph_embed.synthesis import rotate
from tests import mesh_test_util
from tests.synthesis import export_test

_TEACHER = os.path.join(mesh_test_util.REPO_ROOT, "hub_modules",
                        "teacher_synthetic")


def _relative_l2(maps, reference):
  weights = dh_grid.area_weights(maps.shape[1])[None, :, :, None]
  return float(np.sqrt(np.sum(weights * (maps - reference) ** 2) /
                       np.sum(weights * reference ** 2)))


class ComposedPoseTest(tf.test.TestCase):

  def test_rotated_teacher_maps_are_the_maps_of_the_mesh_in_pose_r_r0(self):
    teacher, _ = embedding_training.load_teacher(_TEACHER, "synthesis")

    def maps(mesh, pose):
      sphere = raycast.raycast(mesh, 64, pose).astype(np.float32)
      return rotate.band_limit(teacher(sphere[None, ..., None],
                                       training=False).numpy())

    for seed, category in enumerate(("chair", "airplane")):
      mesh = meshes.normalize_mesh(synthetic.make_instance(category, 3))
      pose, rotation = rotations.random_rotations(2, 3, seed=seed + 7)
      rotated = rotate.rotate_embeddings(maps(mesh, pose), rotation)
      right = _relative_l2(rotated, maps(
          mesh, synthesize_views.composed_pose(rotation, pose)))
      # Measured: 0.077 (chair), 0.051 (airplane); the wrong compositions
      # and no rotation at all: 0.75 .. 1.25.
      self.assertLess(right, 0.15, category)
      for wrong in (pose @ rotation, rotation.T @ pose, pose):
        self.assertGreater(_relative_l2(rotated, maps(mesh, wrong)),
                           3 * right, category)


class ParseTest(parameterized.TestCase, tf.test.TestCase):

  def test_euler(self):
    parsed = synthesize_views.parse_euler("0,90,0; 10,20,30")
    self.assertAllClose(parsed, rotations.matrix_from_zyz(
        np.radians([0, 10]), np.radians([90, 20]), np.radians([0, 30])))

  @parameterized.parameters(
      ("", "no rotation"), ("1,2", "rotation 1 '1,2' is not three"),
      ("1,2,3;a,b,c", "rotation 2 'a,b,c'"), ("1,2,3,4", "rotation 1"),
      ("1,nan,3", "rotation 1"), ("1,2,3;", "rotation 2 ''"))
  def test_bad_euler_names_the_flag(self, text, message):
    with self.assertRaisesRegex(ValueError, f"^--euler='{text}': {message}"):
      synthesize_views.parse_euler(text)

  @parameterized.parameters("x", "y", "z")
  def test_turntable(self, axis):
    table = synthesize_views.turntable(8, axis)
    self.assertEqual(table.shape, (8, 3, 3))
    self.assertAllClose(table[0], np.eye(3))
    vector = np.array(synthesize_views.AXES[axis])
    self.assertAllClose(table @ vector, np.tile(vector, (8, 1)))
    steps = rotations.geodesic_degrees(table[1:], table[:-1])
    self.assertAllClose(steps, np.full(7, 45.0))

  def test_bad_turntable(self):
    with self.assertRaisesRegex(ValueError, "--turntable=0"):
      synthesize_views.turntable(0, "y")
    with self.assertRaisesRegex(ValueError, "--axis='w'"):
      synthesize_views.turntable(4, "w")


class DatasetAndOutputsTest(tf.test.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    root = mesh_test_util.class_temp_dir(cls)
    cls.data_dir, module_dir, _, _ = export_test.build_tiny_module(root)
    cls.module = synthesis_export.load_synthesis(module_dir)

  def test_true_view_in_the_stored_pose_is_the_stored_view(self):
    # The dataset uses anisotropic scaling: only the example's own scaled
    # mesh reproduces its view.
    stored = np.concatenate([b["image"].numpy() for b in
                             input_pipeline.make_dataset(
                                 self.data_dir, "test", 4, shuffle=False,
                                 deterministic=True)])
    for index in range(len(stored)):
      example = synthesize_views.dataset_example(self.data_dir, "test", index)
      self.assertAllEqual(example.image, stored[index])
      truth = synthesize_views.true_views(example.mesh, example.pose,
                                          np.eye(3)[None], 64)
      self.assertAllClose(truth[0], example.image, atol=1.5 / 255)
      turned = synthesize_views.true_views(
          example.mesh, example.pose, synthesize_views.turntable(2, "y"), 64)
      self.assertGreater(np.abs(turned[1] - example.image).max(), 0.2)

  def test_bad_index(self):
    with self.assertRaisesRegex(ValueError, "--index=4: the 'test' split .*"
                                " has 4 examples"):
      synthesize_views.dataset_example(self.data_dir, "test", 4)

  def test_grid_and_gif(self):
    image = synthesize_views.dataset_example(self.data_dir, "test", 0).image
    table = synthesize_views.turntable(3, "z")
    views = synthesize_views.synthesize(self.module, image, table)
    self.assertEqual(views.shape, (3, 64, 64, 1))
    self.assertAllClose(views[0], self.module.synthesize(
        self.module.embed(image[None]))[0])
    one_row = synthesize_views.grid_image(image, views, zoom=2)
    self.assertEqual(one_row.size, (4 * 130 - 2, 128))
    two_rows = synthesize_views.grid_image(image, views, views, zoom=1)
    self.assertEqual(two_rows.size, (4 * 66 - 2, 2 * 66 - 2))
    # Identical views still make one frame each.
    frames = synthesize_views.gif_frames(np.repeat(views[:1], 5, axis=0))
    path = os.path.join(mesh_test_util.temp_dir(self), "t.gif")
    synthesize_views.write_gif(path, frames, 100)
    with Image.open(path) as gif:
      self.assertEqual(gif.n_frames, 5)
      self.assertEqual(gif.size, (64, 64 + 2 + 3))

  def test_samples_are_the_first_examples_of_each_category(self):
    stored = [b for b in input_pipeline.make_dataset(
        self.data_dir, "test", 64, shuffle=False, deterministic=True)][0]
    categories = [c.decode() for c in stored["category"].numpy()]
    output = os.path.join(mesh_test_util.temp_dir(self), "samples")
    table = synthesize_views.turntable(4, "y")
    entries = synthesize_views.write_samples(
        self.module, self.data_dir, "test", output, per_category=1,
        rotations=table, zoom=1, png_columns=2)
    expected = [i for i, c in enumerate(categories)
                if c not in categories[:i]]
    self.assertLen(expected, 2)   # chair and car, of 4 test views.
    self.assertEqual([e["index"] for e in entries], expected)
    self.assertEqual([e["category"] for e in entries],
                     [categories[i] for i in expected])
    index = json.loads(open(os.path.join(
        output, synthesize_views.SAMPLES_INDEX)).read())
    self.assertEqual(index["samples"], entries)
    first = entries[0]
    example = synthesize_views.dataset_example(self.data_dir, "test",
                                               first["index"])
    with Image.open(os.path.join(output, first["gif"])) as gif:
      self.assertEqual(gif.n_frames, 4)
    with Image.open(os.path.join(output, first["png"])) as grid:
      # Input + every 2nd of 4 views; true renders below.
      self.assertEqual(grid.size, (3 * 66 - 2, 2 * 66 - 2))
      cells = np.asarray(grid)
    self.assertAllClose(cells[:64, :64] / 255.0, example.image[..., 0],
                        atol=1 / 255)
    synthesized = synthesize_views.synthesize(self.module, example.image,
                                              table[::2])
    self.assertAllClose(cells[:64, 66:130] / 255.0, synthesized[0, ..., 0],
                        atol=1 / 255)


if __name__ == "__main__":
  tf.test.main()
