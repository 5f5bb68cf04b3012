"""Tests for sph_embed.data.render (fixed-camera grayscale views)."""

import os
import subprocess
import sys
import textwrap

from absl.testing import parameterized
import numpy as np
from scipy.spatial import ConvexHull
from scipy.spatial import transform
import tensorflow as tf
import trimesh

from sph_embed.data import meshes
from sph_embed.data import render
from sph_embed.sphere import rotations
from sph_embed.data import synthetic
from tests import mesh_test_util


def _projected_silhouette(mesh, rotation, size):
  """Mask of a convex mesh seen by a pinhole camera at (0, 0, d), up +y."""
  points = mesh.vertices @ np.asarray(rotation).T
  depth = render.CAMERA_DISTANCE - points[:, 2]
  scale = np.tan(render.FIELD_OF_VIEW / 2) * depth
  columns = (points[:, 0] / scale + 1) / 2 * size
  rows = (1 - points[:, 1] / scale) / 2 * size
  corners = np.stack([columns, rows], axis=1)
  hull = corners[ConvexHull(corners).vertices]  # Counter-clockwise.
  edges = np.roll(hull, -1, axis=0) - hull
  grid = np.arange(size) + 0.5
  centres = np.stack(np.meshgrid(grid, grid), axis=-1).reshape(-1, 1, 2)
  offsets = centres - hull
  cross = edges[:, 0] * offsets[..., 1] - edges[:, 1] * offsets[..., 0]
  return np.all(cross >= 0, axis=1).reshape(size, size)


def _iou(a, b):
  return np.sum(a & b) / np.sum(a | b)


def _run_python(code):
  env = dict(os.environ, PYTHONPATH=mesh_test_util.REPO_ROOT,
             TF_CPP_MIN_LOG_LEVEL="2")
  return subprocess.run([sys.executable, "-c", textwrap.dedent(code)],
                        capture_output=True, text=True, env=env, timeout=300,
                        check=False)


class RenderTest(tf.test.TestCase, parameterized.TestCase):

  def test_view_format(self):
    mesh = meshes.normalize_mesh(synthetic.make_instance("chair", 0))
    image = render.render_view(mesh, np.eye(3))
    self.assertEqual(image.shape, (64, 64))
    self.assertEqual(image.dtype, np.uint8)
    self.assertEqual(image[0, 0], 0)  # Black background.
    self.assertGreater(np.sum(image > 0), 100)
    self.assertGreater(len(np.unique(image[image > 0])), 3)  # Shaded.
    self.assertAllEqual(render.render_view(mesh, np.eye(3)), image)
    self.assertEqual(render.render_view(mesh, np.eye(3), size=32).shape,
                     (32, 32))

  @parameterized.parameters(0, 1, 2)
  def test_silhouette_matches_pinhole_projection(self, seed):
    box = trimesh.creation.box((0.9, 0.5, 0.3))
    box.apply_translation((0.1, 0.05, -0.1))
    box = meshes.normalize_mesh(box)
    rotation = rotations.random_rotations(1, seed=seed)[0]
    mask = render.render_view(box, rotation, 64) > 0
    self.assertGreater(_iou(mask, _projected_silhouette(box, rotation, 64)),
                       0.95)

  def test_unit_ball_fills_the_frame(self):
    ball = trimesh.creation.icosphere(subdivisions=4)
    mask = render.render_view(ball, np.eye(3), 64) > 0
    rows, columns = np.nonzero(mask)
    self.assertEqual((rows.min(), columns.min()), (0, 0))
    self.assertEqual((rows.max(), columns.max()), (63, 63))
    self.assertFalse(mask[0, 0])  # The ball is inscribed: corners are empty.

  def test_camera_axes(self):
    # A ball on +x appears right of centre; rotated by Rz(90) (x -> y) it
    # moves to the top (image rows grow downward).
    ball = trimesh.creation.icosphere(radius=0.2)
    ball.apply_translation((0.7, 0.0, 0.0))
    quarter_turn = transform.Rotation.from_euler("z", 90,
                                                 degrees=True).as_matrix()
    rows, columns = np.nonzero(render.render_view(ball, np.eye(3)))
    self.assertGreater(columns.min(), 32)
    self.assertAllInRange(rows, 24, 40)
    rows, columns = np.nonzero(render.render_view(ball, quarter_turn))
    self.assertLess(rows.max(), 32)
    self.assertAllInRange(columns, 24, 40)

  def test_roll_is_left_multiplied_rz(self):
    mesh = meshes.normalize_mesh(synthetic.make_instance("airplane", 2))
    pose = rotations.random_rotations(1, seed=7)[0]
    roll = transform.Rotation.from_euler("z", 90, degrees=True).as_matrix()
    mask = render.render_view(mesh, pose) > 0
    rolled = render.render_view(mesh, roll @ pose) > 0
    # A 90-degree roll of the object rotates the image counter-clockwise.
    self.assertGreater(_iou(rolled, np.rot90(mask)), 0.95)
    self.assertLess(_iou(rolled, np.rot90(mask, -1)), 0.9)

  def test_render_views_batch(self):
    mesh = meshes.normalize_mesh(synthetic.make_instance("sofa", 0))
    poses = rotations.random_rotations(3, seed=1)
    images = render.render_views(mesh, poses, 32)
    self.assertEqual(images.shape, (3, 32, 32))
    for image, pose in zip(images, poses):
      self.assertAllEqual(image, render.render_view(mesh, pose, 32))

  def _assert_centred_and_repeatable(self, mesh, size=64):
    """Non-empty silhouettes near the frame centre; same input, same image."""
    for rotation in rotations.random_rotations(3, seed=1):
      image = render.render_view(mesh, rotation, size)
      rows, columns = np.nonzero(image)
      self.assertGreater(rows.size, 0.05 * size * size)
      # Bounding-box-centred meshes project near the centre; the most
      # lopsided synthetic view measured is 12 px off (guitar).
      offset = np.hypot(rows.mean() - (size - 1) / 2,
                        columns.mean() - (size - 1) / 2)
      self.assertLess(offset, size / 4)
      self.assertAllEqual(render.render_view(mesh, rotation, size), image)

  @parameterized.parameters(*synthetic.CATEGORIES)
  def test_every_category_is_centred_and_repeatable(self, category):
    self._assert_centred_and_repeatable(
        meshes.normalize_mesh(synthetic.make_instance(category, 3)))

  @parameterized.parameters(*mesh_test_util.real_mesh_paths())
  def test_every_real_mesh_is_centred_and_repeatable(self, path):
    self._assert_centred_and_repeatable(
        meshes.normalize_mesh(meshes.load_mesh(path)))

  def test_empty_view_raises(self):
    behind_camera = trimesh.creation.box((0.1, 0.1, 0.1))
    behind_camera.apply_translation((0.0, 0.0, 5.0))
    with self.assertRaisesRegex(render.RenderError, "empty"):
      render.render_view(behind_camera, np.eye(3))

  def test_rejects_non_rotation(self):
    with self.assertRaisesRegex(ValueError, "orthonormal"):
      render.render_view(trimesh.creation.box(), 2 * np.eye(3))


class TensorFlowProcessTest(tf.test.TestCase):
  """Rendering and TensorFlow in one process (see ../shared/STACK.md)."""

  def test_render_after_tensorflow(self):
    result = _run_python("""
        import tensorflow as tf
        import numpy as np
        from sph_embed.data import meshes, render, synthetic
        mesh = meshes.normalize_mesh(synthetic.make_instance("car", 0))
        image = render.render_view(mesh, np.eye(3))
        total = tf.reduce_sum(tf.constant(image, tf.int64))
        image = render.render_view(mesh, np.eye(3))
        print("pixels", int(np.sum(image > 0)), int(total) > 0)
    """)
    self.assertEqual(result.returncode, 0, result.stderr[-2000:])
    self.assertRegex(result.stdout, r"pixels [1-9]\d* True")

  def test_tensorflow_after_render_is_a_clear_error(self):
    result = _run_python("""
        import numpy as np
        from sph_embed.data import meshes, render, synthetic
        mesh = meshes.normalize_mesh(synthetic.make_instance("car", 0))
        render.render_view(mesh, np.eye(3))
        try:
          import tensorflow
        except ImportError as e:
          print("refused:", e)
    """)
    self.assertEqual(result.returncode, 0, result.stderr[-2000:])
    self.assertIn("refused: tensorflow cannot be imported", result.stdout)


if __name__ == "__main__":
  tf.test.main()
