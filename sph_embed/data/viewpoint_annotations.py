"""Viewpoints of real photographs (PASCAL3D+, ObjectNet3D) as rotations R.

The paper's real-image experiment (§4.2.1) scores relative poses between
ObjectNet3D photographs.  Both datasets (PASCAL3D+:
cvgl.stanford.edu/projects/pascal3d, ObjectNet3D:
cvgl.stanford.edu/projects/objectnet3d) annotate each object of a picture
in a MATLAB file, one per picture:

  record.filename                 the picture's file name
  record.objects(k).class         category name
  record.objects(k).bbox          [x1 y1 x2 y2], 1-based pixels, inclusive
  record.objects(k).cad_index     the CAD model aligned to it
  record.objects(k).viewpoint     azimuth, elevation, theta (degrees),
                                  distance, focal, px, py, viewport, and the
                                  coarse azimuth_coarse, elevation_coarse;
                                  empty for objects not annotated (PASCAL3D+
                                  lists the picture's other VOC objects too)

`read_annotation` turns each object into an `AnnotatedObject` whose
`rotation` is the pose R of this project (DESIGN §1): the rotation applied
to the object in its canonical frame (up +z, front +x, as
sph_embed.data.synthetic) before sph_embed.data.render's fixed camera sees
it.  `crop_view` makes the network's input from the object's box
(sph_embed.data.image_input), and `annotation_table` is the table
sph_embed.pose.relative_from_absolute.evaluate and
sph_embed.pose.evaluation.make_pairs score IB/CB pairs on.

Derivation.  The datasets' toolbox (project_3d.m) projects a point X of
the CAD frame (z up; azimuth 0 views the object's front, so the front faces
-y) with the camera centre C = d (cos e sin a, -cos e cos a, sin e) as

  X_cam = Rx(e - 90°) Rz(-a) (X - C)   camera x right, y up, looking
                                       along its -z;
  (u, v) = M f (x, y) / (-z), turned by [cos θ, -sin θ; sin θ, cos θ]
  (counter-clockwise, v up); column = px + u, row = py - v.

sph_embed.data.render's camera has the same axes (looks along -z, image
right +x, up +y, row 0 at the top), so turning the picture by θ is a
left-multiplied Rz(θ) on camera coordinates.  Our canonical frame maps to
the CAD frame by P = Rz(-90°): our front +x -> their -y, our left +y ->
their +x, up +z kept.  Hence

  R = Rz(θ) Rx(e - 90°) Rz(-a) P = Rz(θ - 90°) Ry(e - 90°) Rz(-a),

i.e. ZYZ angles (θ - 90°, e - 90°, -a).  Checks: the camera sits at
R^T e_z = (cos e cos a, cos e sin a, sin e) in our frame (azimuth 0 in
front, growing counter-clockwise seen from above, elevation above the
ground plane); with θ = 0, R is the upright 2DOF pose of that direction
(sph_embed.sphere.rotations.upright_rotations); θ > 0 turns the object
counter-clockwise in the picture.  P is common to every picture, so it
cancels in relative poses R_j R_i^T (IB/CB): only absolute uses of R
depend on the datasets' front being -y.

Every malformed file raises ValueError with one line naming the file (and
the object): not a MATLAB file, no `record`, a missing field, an object of
the chosen categories without a viewpoint.  NumPy, SciPy and (for crops)
Pillow; no TensorFlow.
"""

import dataclasses
import glob
import math
import os

import numpy as np
from scipy import io as scipy_io
from scipy.spatial import transform

from sph_embed.data import image_input

_MatStruct = scipy_io.matlab.mat_struct
# Our canonical frame (front +x) in the datasets' CAD frame (front -y).
PASCAL_FROM_CANONICAL = transform.Rotation.from_euler(
    "z", -90, degrees=True).as_matrix()


@dataclasses.dataclass(frozen=True, eq=False)
class AnnotatedObject:
  """One annotated object of a picture."""
  annotation: str       # The .mat file.
  index: int            # 1-based, as MATLAB numbers record.objects.
  image: str            # record.filename: the picture's file name.
  category: str
  box: tuple            # (x0, y0, x1, y1): image_input's box (0-based,
                        # x1 and y1 excluded).
  azimuth: float        # Degrees, as annotated.
  elevation: float
  theta: float
  coarse: bool          # Only the coarse azimuth / elevation are annotated.
  cad_index: int | None
  rotation: np.ndarray  # [3, 3] pose R (module docstring).
  # The object itself: "<file name without .mat>:<index>".  A picture shows
  # an object once, so IB needs ids shared by pictures of one object
  # (dataclasses.replace); CB pairs objects of a category as they are.
  instance: str


def rotation_from_viewpoint(azimuth, elevation, theta):
  """Pose R [..., 3, 3] of annotated angles in degrees (module docstring)."""
  angles = np.stack(np.broadcast_arrays(theta, np.subtract(elevation, 90.0),
                                        np.negative(azimuth)), axis=-1)
  # Intrinsic "ZXZ": Rz(θ) Rx(e - 90°) Rz(-a), the toolbox's camera.
  camera = transform.Rotation.from_euler("ZXZ", angles.reshape(-1, 3),
                                         degrees=True).as_matrix()
  return (camera @ PASCAL_FROM_CANONICAL).reshape(angles.shape[:-1] + (3, 3))


def _load_record(path):
  try:
    contents = scipy_io.loadmat(path, squeeze_me=True,
                                struct_as_record=False)
  except (ValueError, OSError, NotImplementedError,
          scipy_io.matlab.MatReadError) as e:
    raise ValueError(f"{path}: not a readable MATLAB .mat annotation file"
                     f" ({type(e).__name__}: {e})") from None
  record = contents.get("record")
  if not isinstance(record, _MatStruct):
    raise ValueError(f"{path}: no 'record' struct (not a PASCAL3D+ /"
                     " ObjectNet3D annotation file)")
  return record


def _field(struct, name, where):
  if name not in struct._fieldnames:  # pylint: disable=protected-access
    raise ValueError(f"{where}: missing field '{name}'")
  return getattr(struct, name)


def _is_empty(value):
  return isinstance(value, np.ndarray) and value.size == 0


def _numbers(value, name, count, where):
  """`value` as `count` finite floats."""
  try:
    array = np.asarray(value, dtype=np.float64).reshape(-1)
  except (TypeError, ValueError):
    array = np.array([])
  if array.size != count or not np.all(np.isfinite(array)):
    raise ValueError(f"{where}: field '{name}' is {value!r}, not {count}"
                     " finite number(s)")
  return array


def _angle(viewpoint, name, fine, where):
  """An angle in degrees: the fine one if annotated, else the coarse one."""
  used = name if fine else name + "_coarse"
  if used not in viewpoint._fieldnames:  # pylint: disable=protected-access
    raise ValueError(f"{where}: the viewpoint has neither '{name}' nor"
                     f" '{name}_coarse'")
  return _numbers(getattr(viewpoint, used), used, 1, where)[0]


def _has_fine_angles(viewpoint):
  """Whether the fine azimuth and elevation are annotated.

  ObjectNet3D leaves them empty where only the coarse ones were annotated;
  PASCAL3D+ marks such objects with distance 0 (the toolbox falls back to
  the coarse angles in both cases).
  """
  fields = viewpoint._fieldnames  # pylint: disable=protected-access
  if any(name not in fields or _is_empty(getattr(viewpoint, name))
         for name in ("azimuth", "elevation")):
    return False
  distance = getattr(viewpoint, "distance", None)
  return distance is None or _is_empty(distance) or distance != 0


def _box(bbox, where):
  """1-based inclusive [x1 y1 x2 y2] -> 0-based (x0, y0, x1, y1), x1 and y1
  excluded, widened to whole pixels."""
  x1, y1, x2, y2 = _numbers(bbox, "bbox", 4, where)
  if x2 < x1 or y2 < y1:
    raise ValueError(f"{where}: bbox {[x1, y1, x2, y2]} has x2 < x1 or"
                     " y2 < y1")
  return (math.floor(x1) - 1, math.floor(y1) - 1, math.ceil(x2),
          math.ceil(y2))


def _annotated_object(path, image, index, item, category):
  where = f"{path}: object {index} ({category})"
  viewpoint = _field(item, "viewpoint", where)
  if not isinstance(viewpoint, _MatStruct):
    raise ValueError(f"{where}: has no viewpoint annotation (read only the"
                     " annotated categories with categories=...)")
  fine = _has_fine_angles(viewpoint)
  azimuth = _angle(viewpoint, "azimuth", fine, where)
  elevation = _angle(viewpoint, "elevation", fine, where)
  theta = _field(viewpoint, "theta", where)
  # The toolbox reads an empty in-plane rotation as 0.
  theta = 0.0 if _is_empty(theta) else _numbers(theta, "theta", 1, where)[0]
  cad_index = getattr(item, "cad_index", None)
  return AnnotatedObject(
      annotation=path, index=index, image=image, category=category,
      box=_box(_field(item, "bbox", where), where),
      azimuth=float(azimuth), elevation=float(elevation), theta=float(theta),
      coarse=not fine,
      cad_index=(None if cad_index is None or _is_empty(cad_index)
                 else int(cad_index)),
      rotation=rotation_from_viewpoint(azimuth, elevation, theta),
      instance=f"{os.path.splitext(os.path.basename(path))[0]}:{index}")


def read_annotation(path, categories=None):
  """The annotated objects of one .mat file, in the file's order.

  Args:
    path: a PASCAL3D+ or ObjectNet3D annotation file.
    categories: category names to read (others are skipped unread), or None
      for every object.

  Raises:
    ValueError naming `path` (module docstring).
  """
  path = os.fspath(path)
  record = _load_record(path)
  image = _field(record, "filename", f"{path}: record")
  if not isinstance(image, str) or not image:
    raise ValueError(f"{path}: record.filename is {image!r}, not a file"
                     " name")
  items = np.atleast_1d(_field(record, "objects", f"{path}: record"))
  objects = []
  for index, item in enumerate(items, start=1):
    if not isinstance(item, _MatStruct):
      raise ValueError(f"{path}: record.objects({index}) is not a struct")
    category = str(_field(item, "class", f"{path}: object {index}"))
    if categories is None or category in categories:
      objects.append(_annotated_object(path, image, index, item, category))
  return objects


def read_annotation_dir(directory, categories=None):
  """The annotated objects of every .mat file in `directory` (sorted).

  Raises:
    ValueError naming the directory (no .mat file) or the file at fault.
  """
  paths = sorted(glob.glob(os.path.join(os.fspath(directory), "*.mat")))
  if not paths:
    raise ValueError(f"{directory}: no .mat annotation files")
  return [item for path in paths
          for item in read_annotation(path, categories)]


def crop_view(annotated, image_dir, size=64, background="none"):
  """The network's input [size, size, 1] of the object in its box.

  The picture `image_dir`/`annotated.image` is cropped to the box and made
  into a view as image_input.prepare_image does; `background` "none"
  keeps a photograph's background (the paper assumes boxes are given),
  "auto" isolates the object on a plain one.
  """
  return image_input.prepare_image(
      os.path.join(image_dir, annotated.image), size, box=annotated.box,
      background=background)


def annotation_table(objects):
  """The "rotations", "category" and "instance" arrays of the objects: the
  table sph_embed.pose (make_pairs, true_relative_rotations,
  relative_from_absolute.evaluate) scores IB/CB pairs on."""
  return {"rotations": np.stack([o.rotation for o in objects]),
          "category": np.array([o.category for o in objects]),
          "instance": np.array([o.instance for o in objects])}
