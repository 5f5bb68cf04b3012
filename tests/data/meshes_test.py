"""Tests for sph_embed.data.meshes (loading, normalising, scaling, rotating)."""

import os

from absl.testing import parameterized
import numpy as np
from scipy.spatial import transform
import tensorflow as tf
import trimesh

from sph_embed.data import meshes
from tests import mesh_test_util

_TRIANGLE_OFF = "3 1 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 2\n"


class LoadMeshTest(tf.test.TestCase, parameterized.TestCase):

  @parameterized.parameters(*mesh_test_util.OFF_SAMPLES)
  def test_loads_off(self, name):
    path = mesh_test_util.off_sample(name)
    mesh = meshes.load_mesh(path)
    raw = trimesh.load(path, process=False)
    self.assertIsInstance(mesh, trimesh.Trimesh)
    self.assertLen(mesh.faces, len(raw.faces))
    self.assertLen(np.unique(mesh.faces), len(mesh.vertices))
    self.assertAllClose(mesh.bounds, raw.bounds)

  def test_unreferenced_vertices_are_dropped(self):
    # Common in ModelNet: stray vertices would distort the bounding box.
    raw = trimesh.load(mesh_test_util.off_sample("chair_0001"),
                       process=False)
    stray = np.vstack([raw.vertices, [[50.0, 50.0, 50.0], [-9.0, 0.0, 0.0]]])
    path = os.path.join(mesh_test_util.temp_dir(self), "stray.off")
    trimesh.Trimesh(stray, raw.faces, process=False).export(path)
    mesh = meshes.load_mesh(path)
    self.assertLen(mesh.faces, len(raw.faces))
    self.assertLen(mesh.vertices, len(raw.vertices))
    self.assertAllClose(mesh.bounds, raw.bounds)

  def test_loads_obj_whose_materials_are_missing(self):
    # ShapeNet's OBJ files name a model.mtl (and textures) that is often not
    # shipped; the geometry must still load.
    with open(mesh_test_util.OBJ_SAMPLE, encoding="utf-8") as f:
      text = f.read()
    path = mesh_test_util.write_file(
        mesh_test_util.temp_dir(self), "model.obj",
        "mtllib model.mtl\nusemtl material_0\n" + text)
    self.assertFalse(os.path.exists(os.path.join(os.path.dirname(path),
                                                 "model.mtl")))
    mesh = meshes.load_mesh(path)
    raw = trimesh.load(mesh_test_util.OBJ_SAMPLE, process=False)
    self.assertLen(mesh.faces, len(raw.faces))
    self.assertAllClose(mesh.bounds, raw.bounds)

  def test_malformed_off_header_on_one_line(self):
    tmp = mesh_test_util.temp_dir(self)
    # ModelNet's known defect: 'OFF' and the counts share the first line.
    path = mesh_test_util.write_file(tmp, "bad_header.off",
                                     "OFF" + _TRIANGLE_OFF)
    mesh = meshes.load_mesh(path)
    self.assertLen(mesh.faces, 1)
    self.assertAllClose(mesh.area, 0.5)

  def test_scene_is_merged(self):
    tmp = mesh_test_util.temp_dir(self)
    scene = trimesh.Scene()
    scene.add_geometry(trimesh.creation.box(), geom_name="a")
    scene.add_geometry(trimesh.creation.icosphere(1), geom_name="b",
                       transform=trimesh.transformations.translation_matrix(
                           (3, 0, 0)))
    path = os.path.join(tmp, "scene.glb")
    scene.export(path)
    mesh = meshes.load_mesh(path)
    self.assertLen(mesh.faces, 12 + 80)
    self.assertAllClose(mesh.bounds[1, 0], 4.0, atol=1e-6)

  @parameterized.named_parameters(
      ("empty", "empty.off", "", "empty file"),
      ("nan", "nan.off", "OFF\n3 1 0\n0 0 nan\n1 0 0\n0 1 0\n3 0 1 2\n",
       "NaN"),
      ("no_faces", "points.off", "OFF\n3 0 0\n0 0 0\n1 0 0\n0 1 0\n",
       "no faces \\(3 vertices\\)"),
      # Issue 30: these said "(0 vertices)".
      ("point_cloud", "points.ply",
       "ply\nformat ascii 1.0\nelement vertex 3\nproperty float x\n"
       "property float y\nproperty float z\nend_header\n0 0 0\n1 0 0\n0 1 0\n",
       "no faces \\(3 vertices\\)"),
      ("obj_without_faces", "nofaces.obj", "v 0 0 0\nv 1 0 0\nv 0 1 0\n",
       "no faces \\(3 vertices\\)"),
      ("garbage", "garbage.off", "hello world\n", "cannot read mesh"),
      ("unsupported", "notes.txt", "hello", "cannot read mesh"),
      ("bad_index", "bad_index.off", "OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n"
       "3 0 1 7\n", "cannot read mesh"),
  )
  def test_bad_files_raise_naming_file_and_problem(self, name, text, problem):
    path = mesh_test_util.write_file(mesh_test_util.temp_dir(self), name,
                                     text)
    with self.assertRaisesRegex(meshes.MeshError, problem) as raised:
      meshes.load_mesh(path)
    self.assertIn(path, str(raised.exception))

  def test_missing_file(self):
    with self.assertRaisesRegex(meshes.MeshError, "no such file"):
      meshes.load_mesh("/nonexistent/mesh.off")


class TransformTest(tf.test.TestCase):

  def _mesh(self):
    mesh = trimesh.creation.box((2.0, 1.0, 0.5))
    mesh.apply_translation((5.0, -3.0, 1.0))
    return mesh

  def test_normalize_centres_bounding_box_and_scales_into_unit_ball(self):
    mesh = self._mesh()
    normalized = meshes.normalize_mesh(mesh)
    self.assertAllClose(normalized.bounds.mean(axis=0), np.zeros(3),
                        atol=1e-12)
    self.assertAllClose(np.linalg.norm(normalized.vertices, axis=1).max(),
                        1.0)
    # A similarity transform: shape kept, input untouched.
    self.assertAllClose(normalized.extents / normalized.extents[0],
                        mesh.extents / mesh.extents[0])
    self.assertAllClose(mesh.bounds[0], [4.0, -3.5, 0.75])

  def test_normalize_degenerate(self):
    point = trimesh.Trimesh(vertices=np.ones((3, 3)), faces=[[0, 1, 2]],
                            process=False)
    with self.assertRaisesRegex(meshes.MeshError, "coincide"):
      meshes.normalize_mesh(point)

  def test_anisotropic_scale(self):
    mesh = meshes.normalize_mesh(self._mesh())
    scaled = meshes.random_anisotropic_scale(mesh, np.random.default_rng(3),
                                             0.8, 1.2)
    factors = scaled.extents / mesh.extents
    self.assertTrue(np.all((factors >= 0.8) & (factors <= 1.2)), factors)
    self.assertGreater(np.ptp(factors), 1e-3)  # Anisotropic.
    again = meshes.random_anisotropic_scale(mesh, 3, 0.8, 1.2)
    self.assertAllClose(again.vertices, scaled.vertices)
    with self.assertRaisesRegex(ValueError, "low <= high"):
      meshes.random_anisotropic_scale(mesh, 0, 1.2, 0.8)

  def test_rotate_matches_scipy(self):
    mesh = self._mesh()
    rotation = transform.Rotation.from_euler("zyx", [30, -50, 70],
                                             degrees=True)
    rotated = meshes.rotate_mesh(mesh, rotation.as_matrix())
    self.assertAllClose(rotated.vertices, rotation.apply(mesh.vertices))
    self.assertAllClose(mesh.bounds[0], [4.0, -3.5, 0.75])  # Untouched.

  def test_rotate_rejects_non_rotation(self):
    with self.assertRaisesRegex(ValueError, "orthonormal"):
      meshes.rotate_mesh(self._mesh(), np.diag([1.0, 1.0, -1.0]))


class CanonicalFrameTest(tf.test.TestCase, parameterized.TestCase):

  @parameterized.parameters(("x", "y", -90.0), ("y", "x", 90.0),
                            ("z", "z", 0.0))
  def test_up_axis_rotation_is_the_documented_proper_rotation(
      self, up_axis, scipy_axis, degrees):
    rotation = meshes.up_axis_rotation(up_axis)
    self.assertAllClose(np.linalg.det(rotation), 1.0)  # Not a mirror.
    self.assertAllClose(rotation @ np.eye(3)["xyz".index(up_axis)],
                        [0.0, 0.0, 1.0])
    self.assertAllClose(rotation, transform.Rotation.from_euler(
        scipy_axis, degrees, degrees=True).as_matrix(), atol=1e-12)

  def test_to_canonical_frame_rotates_a_y_up_mesh_z_up(self):
    # A tall box standing along y, shifted along +y.
    mesh = trimesh.creation.box((0.2, 2.0, 0.4))
    mesh.apply_translation((0.0, 3.0, 0.0))
    canonical = meshes.to_canonical_frame(mesh, "y")
    self.assertAllClose(canonical.extents, [0.2, 0.4, 2.0])
    self.assertAllClose(canonical.bounds.mean(axis=0), [0.0, 0.0, 3.0])
    self.assertAllClose(mesh.bounds.mean(axis=0), [0.0, 3.0, 0.0])
    self.assertIs(meshes.to_canonical_frame(mesh, "z"), mesh)
    with self.assertRaisesRegex(ValueError, "up axis must be one of.*'w'"):
      meshes.to_canonical_frame(mesh, "w")


if __name__ == "__main__":
  tf.test.main()
