"""Tests for sph_embed.data.viewpoint_annotations (PASCAL3D+ / ObjectNet3D).

The fixture is written in the datasets' format from renders of synthetic
meshes in known poses R.  Its annotations come from a physical description
of the camera, not from the reader's formula: where the camera sits on the
viewing sphere about the CAD model's up axis (azimuth from the model's
front, elevation), and how far its picture is turned (theta).  A second
check projects the meshes with the datasets' own projection (camera centre,
focal, viewport, principal point; project_3d.m of their toolbox) onto the
renders, so the fixture says what the datasets mean.
"""

import dataclasses
import math
import os
import re
import shutil
import tempfile
from unittest import mock

from absl.testing import parameterized
import numpy as np
from PIL import Image
from scipy import io as scipy_io
from scipy import ndimage
import tensorflow as tf

from sph_embed.data import image_input
from sph_embed.data import meshes
from sph_embed.data import render
from sph_embed.data import synthetic
from sph_embed.data import viewpoint_annotations
from sph_embed.pose import relative_from_absolute
from sph_embed.sphere import rotations

_SIZE = 64
_MARGIN = 8
_INSTANCES = (("car", 0), ("car", 1), ("airplane", 0))
_PICTURES = 4  # Each shows every instance once, in its own pose.
_CATEGORIES = ("car", "airplane")
# Our canonical frame -> the datasets' CAD frame: our front (+x) is their
# front, -y; our left (+y) their +x; both z up.
_CAD_FROM_OURS = np.array([[0.0, 1.0, 0.0],
                           [-1.0, 0.0, 0.0],
                           [0.0, 0.0, 1.0]])
# The toolbox's focal length in pixels (focal x viewport) of render's
# camera, whose field of view spans the view's width.
_FOCAL_PIXELS = _SIZE / 2 / math.tan(render.FIELD_OF_VIEW / 2)
_BOUND_DEGREES = 0.5


def _unit(vector):
  return vector / np.linalg.norm(vector)


def _physical_viewpoint(rotation):
  """(azimuth, elevation, theta) in degrees of the camera seeing pose R.

  The camera sits at R^T e_z in our object frame (render's camera is on
  +z).  In the CAD frame it is at azimuth a about the up axis, measured
  from the front (-y) toward +x, and elevation e above the ground plane.
  Unturned, it looks at the origin with its picture's up toward the CAD up
  axis; the picture is then turned by theta counter-clockwise, so its right
  axis is cos(theta) right0 - sin(theta) up0.
  """
  right, _, back = (_CAD_FROM_OURS @ axis for axis in rotation)
  azimuth = math.degrees(math.atan2(back[0], -back[1])) % 360
  elevation = math.degrees(math.asin(np.clip(back[2], -1, 1)))
  right0 = _unit(np.cross([0.0, 0.0, 1.0], back))
  up0 = np.cross(back, right0)
  theta = math.degrees(math.atan2(-right @ up0, right @ right0))
  return azimuth, elevation, theta


def _toolbox_pixels(vertices, viewpoint):
  """0-based (column, row) where the datasets' projection puts `vertices`
  (our frame), from the viewpoint's fields, as project_3d.m reads them."""
  a, e, theta = (math.radians(viewpoint[k])
                 for k in ("azimuth", "elevation", "theta"))
  d = viewpoint["distance"]
  centre = d * np.array([math.cos(e) * math.sin(a),
                         -math.cos(e) * math.cos(a), math.sin(e)])
  turn_azimuth = np.array([[math.cos(-a), -math.sin(-a), 0],
                           [math.sin(-a), math.cos(-a), 0], [0, 0, 1]])
  tilt = e - math.pi / 2
  turn_elevation = np.array([[1, 0, 0], [0, math.cos(tilt), -math.sin(tilt)],
                             [0, math.sin(tilt), math.cos(tilt)]])
  camera = (vertices @ _CAD_FROM_OURS.T - centre) @ (
      turn_elevation @ turn_azimuth).T
  scale = viewpoint["viewport"] * viewpoint["focal"]
  plane = scale * camera[:, :2] / -camera[:, 2:]
  in_plane = np.array([[math.cos(theta), -math.sin(theta)],
                       [math.sin(theta), math.cos(theta)]])
  u, v = (plane @ in_plane.T).T
  # MATLAB's 1-based pixel centres sit at whole coordinates.
  return u + viewpoint["px"] - 0.5, viewpoint["py"] - v - 0.5


def _objects_array(objects):
  """A MATLAB struct array (1 x n) of dicts with the same fields."""
  names = list(objects[0])
  array = np.empty((1, len(objects)), dtype=[(n, "O") for n in names])
  for i, item in enumerate(objects):
    array[0, i] = tuple(item[n] for n in names)
  return array


def _write_record(path, filename, objects):
  scipy_io.savemat(path, {"record": {
      "filename": filename, "objects": _objects_array(objects)}})


def _object_entry(category, bbox, viewpoint, cad_index=1):
  return {"class": category, "bbox": np.asarray(bbox, np.float64),
          "viewpoint": viewpoint, "cad_index": cad_index, "truncated": 0,
          "occluded": 0, "difficult": 0}


def _silhouette(image):
  return np.asarray(image) > 0


def _bbox(silhouette, left, top):
  """1-based inclusive [x1 y1 x2 y2] of a silhouette placed at (left, top)."""
  rows, columns = np.nonzero(silhouette)
  return [left + columns.min() + 1, top + rows.min() + 1,
          left + columns.max() + 1, top + rows.max() + 1]


class ViewpointAnnotationsTest(tf.test.TestCase, parameterized.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.root = tempfile.mkdtemp(prefix="viewpoint_annotations_test_")
    cls.addClassCleanup(shutil.rmtree, cls.root)
    cls.annotations = os.path.join(cls.root, "Annotations")
    cls.images = os.path.join(cls.root, "Images")
    os.makedirs(cls.annotations)
    os.makedirs(cls.images)
    cls.meshes = [meshes.normalize_mesh(synthetic.make_instance(c, seed))
                  for c, seed in _INSTANCES]
    poses = rotations.random_rotations(_PICTURES * len(_INSTANCES), seed=29)
    cls.true = {}   # (picture, object index) -> pose, render, fields.
    width = _MARGIN + len(_INSTANCES) * (_SIZE + _MARGIN)
    for picture in range(_PICTURES):
      canvas = np.zeros((_SIZE + 2 * _MARGIN, width), np.uint8)
      entries = []
      for slot, ((category, _), mesh) in enumerate(zip(_INSTANCES,
                                                       cls.meshes)):
        pose = poses[picture * len(_INSTANCES) + slot]
        view = render.render_view(mesh, pose, _SIZE)
        left = _MARGIN + slot * (_SIZE + _MARGIN)
        canvas[_MARGIN:_MARGIN + _SIZE, left:left + _SIZE] = view
        azimuth, elevation, theta = _physical_viewpoint(pose)
        viewpoint = {
            "azimuth": azimuth, "elevation": elevation, "theta": theta,
            "distance": render.CAMERA_DISTANCE, "focal": 1.0,
            "viewport": _FOCAL_PIXELS, "px": left + _SIZE / 2 + 0.5,
            "py": _MARGIN + _SIZE / 2 + 0.5,
            "azimuth_coarse": 15 * round(azimuth / 15),
            "elevation_coarse": 15 * round(elevation / 15)}
        entries.append(_object_entry(category,
                                     _bbox(_silhouette(view), left, _MARGIN),
                                     viewpoint, cad_index=slot + 1))
        cls.true[picture, slot + 1] = (pose, view, viewpoint, slot)
      # As in PASCAL3D+: another object of the picture, not annotated.
      entries.append(_object_entry("person", [1, 1, 4, 4], np.zeros((0, 0))))
      name = f"picture_{picture}.png"
      Image.fromarray(canvas).save(os.path.join(cls.images, name))
      _write_record(os.path.join(cls.annotations, f"picture_{picture}.mat"),
                    name, entries)

  def read_fixture(self):
    return viewpoint_annotations.read_annotation_dir(self.annotations,
                                                     _CATEGORIES)

  def true_pose(self, annotated):
    picture = int(annotated.image.split("_")[1].split(".")[0])
    return self.true[picture, annotated.index]

  def max_error(self, objects):
    return max(rotations.geodesic_degrees(o.rotation, self.true_pose(o)[0])
               for o in objects)

  def test_reader_recovers_the_renders_rotations(self):
    objects = self.read_fixture()
    self.assertLen(objects, _PICTURES * len(_INSTANCES))
    self.assertLess(self.max_error(objects), _BOUND_DEGREES)
    self.assertEqual([o.category for o in objects[:3]],
                     [c for c, _ in _INSTANCES])
    self.assertEqual(objects[0].image, "picture_0.png")
    self.assertFalse(any(o.coarse for o in objects))

  @parameterized.named_parameters(
      ("azimuth_sign", lambda convert, a, e, t: convert(-a, e, t)),
      ("elevation_sign", lambda convert, a, e, t: convert(a, -e, t)),
      ("in_plane_sign", lambda convert, a, e, t: convert(a, e, -t)),
      ("transposed_rotation",
       lambda convert, a, e, t: np.swapaxes(convert(a, e, t), -1, -2)))
  def test_flipped_convention_misses_the_bound(self, flip):
    convert = viewpoint_annotations.rotation_from_viewpoint
    with mock.patch.object(viewpoint_annotations, "rotation_from_viewpoint",
                           lambda a, e, t: flip(convert, a, e, t)):
      objects = self.read_fixture()
    self.assertGreater(self.max_error(objects), _BOUND_DEGREES)

  def test_recovered_rotation_renders_the_pictures_object(self):
    for annotated in self.read_fixture():
      x0, y0, x1, y1 = annotated.box
      picture = np.asarray(Image.open(
          os.path.join(self.images, annotated.image)))
      view = render.render_view(
          self.meshes[self.true_pose(annotated)[3]], annotated.rotation,
          _SIZE)
      rows, columns = np.nonzero(_silhouette(view))
      rendered = _silhouette(view)[rows.min():rows.max() + 1,
                                   columns.min():columns.max() + 1]
      in_box = _silhouette(picture[y0:y1, x0:x1])
      self.assertEqual(rendered.shape, in_box.shape, annotated.instance)
      self.assertGreater(np.mean(rendered == in_box), 0.99,
                         annotated.instance)

  def test_fixture_matches_the_datasets_projection(self):
    for _, view, viewpoint, slot in self.true.values():
      columns, rows = _toolbox_pixels(self.meshes[slot].vertices, viewpoint)
      left = _MARGIN + slot * (_SIZE + _MARGIN)
      # Vertices on the outline may land a pixel off the rasterised mask.
      inside = ndimage.binary_dilation(_silhouette(view))[
          np.clip(np.floor(rows).astype(int) - _MARGIN, 0, _SIZE - 1),
          np.clip(np.floor(columns).astype(int) - left, 0, _SIZE - 1)]
      self.assertGreater(np.mean(inside), 0.98)
      bbox = _bbox(_silhouette(view), left, _MARGIN)
      # Pixel centres, 1-based: the silhouette's outer pixels' centres.
      self.assertAllClose([columns.min() + 1, rows.min() + 1,
                           columns.max() + 1, rows.max() + 1], bbox, atol=1.5)

  def test_zero_in_plane_rotation_is_the_upright_pose(self):
    rng = np.random.default_rng(0)
    azimuth, elevation = rng.uniform(0, 360, 20), rng.uniform(-85, 85, 20)
    a, e = np.radians(azimuth), np.radians(elevation)
    direction = np.stack([np.cos(e) * np.cos(a), np.cos(e) * np.sin(a),
                          np.sin(e)], axis=-1)
    self.assertAllClose(
        viewpoint_annotations.rotation_from_viewpoint(azimuth, elevation, 0),
        rotations.upright_rotations(direction), atol=1e-9)

  def test_box_crops_the_object_as_its_lone_render(self):
    annotated = self.read_fixture()[4]
    lone = os.path.join(tempfile.mkdtemp(dir=self.root), "lone.png")
    Image.fromarray(self.true_pose(annotated)[1]).save(lone)
    self.assertAllClose(
        viewpoint_annotations.crop_view(annotated, self.images,
                                        background="auto"),
        image_input.prepare_image(lone, _SIZE), atol=1e-6)

  def test_table_scores_pairs_against_the_true_poses(self):
    objects = self.read_fixture()
    truth = np.stack([self.true_pose(o)[0] for o in objects])
    table = viewpoint_annotations.annotation_table(objects)
    rows, skipped, _, errors, _ = relative_from_absolute.evaluate(
        truth, table, "cb")
    self.assertEqual(skipped, [])
    self.assertLen(errors, 3 * len(objects))
    self.assertLess(errors.max(), _BOUND_DEGREES)
    self.assertEqual([r.name for r in rows], ["airplane", "car", "overall"])
    # A picture shows an object once: IB needs ids of pictures of one
    # object (here the fixture's CAD index).
    _, skipped, _, _, _ = relative_from_absolute.evaluate(truth, table, "ib")
    self.assertLen(skipped, len(objects))
    same_mesh = [dataclasses.replace(o, instance=f"{o.category}{o.cad_index}")
                 for o in objects]
    _, skipped, _, errors, _ = relative_from_absolute.evaluate(
        truth, viewpoint_annotations.annotation_table(same_mesh), "ib")
    self.assertEqual(skipped, [])
    self.assertLen(errors, 3 * len(_INSTANCES))
    self.assertLess(errors.max(), _BOUND_DEGREES)

  @parameterized.named_parameters(
      ("pascal3d_distance_zero", {"azimuth": 0.0, "elevation": 0.0,
                                  "distance": 0.0}),
      ("objectnet3d_empty", {"azimuth": np.zeros((0, 0)),
                             "elevation": np.zeros((0, 0))}))
  def test_coarse_viewpoint_is_read_when_fine_is_missing(self, fine):
    path = os.path.join(tempfile.mkdtemp(dir=self.root), "coarse.mat")
    viewpoint = dict(fine, azimuth_coarse=90.0, elevation_coarse=30.0,
                     theta=np.zeros((0, 0)))
    _write_record(path, "coarse.jpg", [_object_entry("car", [2, 3, 40, 30],
                                                     viewpoint)])
    (annotated,) = viewpoint_annotations.read_annotation(path)
    self.assertTrue(annotated.coarse)
    self.assertEqual((annotated.azimuth, annotated.elevation,
                      annotated.theta), (90.0, 30.0, 0.0))
    self.assertEqual(annotated.box, (1, 2, 40, 30))

  def bad_file(self, kind):
    folder = tempfile.mkdtemp(dir=self.root)
    path = os.path.join(folder, "bad.mat")
    if kind == "not_a_mat_file":
      shutil.copy(os.path.join(self.images, "picture_0.png"), path)
    elif kind == "no_record":
      scipy_io.savemat(path, {"objects": 1})
    elif kind == "missing_viewpoint_fields":
      _write_record(path, "a.jpg", [_object_entry(
          "car", [1, 1, 9, 9], {"theta": 0.0, "distance": 5.0})])
    elif kind == "missing_theta":
      _write_record(path, "a.jpg", [_object_entry(
          "car", [1, 1, 9, 9], {"azimuth": 10.0, "elevation": 5.0})])
    elif kind == "object_without_viewpoint":
      shutil.copy(os.path.join(self.annotations, "picture_0.mat"), path)
    return path

  @parameterized.parameters("not_a_mat_file", "no_record",
                            "missing_viewpoint_fields", "missing_theta",
                            "object_without_viewpoint")
  def test_bad_input_is_one_line_naming_the_file(self, kind):
    path = self.bad_file(kind)
    with self.assertRaisesRegex(ValueError, "^" + re.escape(path)) as raised:
      viewpoint_annotations.read_annotation(path)
    self.assertNotIn("\n", str(raised.exception))


if __name__ == "__main__":
  tf.test.main()
