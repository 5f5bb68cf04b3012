"""Loading, normalising, scaling and rotating triangle meshes (trimesh).

`load_mesh` reads any format trimesh reads (ModelNet .off, including the
malformed header where `OFF` and the counts share line 1; ShapeNet .obj whose
.mtl and textures are missing; scenes, merged into one mesh) and checks the
result, raising `MeshError` naming the file and the problem.

`normalize_mesh` centres a mesh on the centre of its bounding box and scales
it so that its farthest vertex lies on the unit sphere: the ray caster
(sph_embed.data.raycast) casts rays from that sphere, and the renderer
(sph_embed.data.render) frames exactly that ball.  The bounding-box centre is
used because it is cheap and robust to uneven tessellation (a vertex centroid
is pulled toward densely meshed parts).  Normalise in the canonical frame,
before rotating: the bounding box of a rotated mesh has a different centre.

The canonical frame is z up (DESIGN §1).  Sources with another up axis
(ShapeNet and the shared furniture set are y up) are brought into it on load
by `to_canonical_frame`, a proper rotation (determinant +1, never a
mirroring axis swap) that maps the source's up axis to +z:
* up axis y: Rx(+90°): (x, y, z) -> (x, -z, y);
* up axis x: Ry(-90°): (x, y, z) -> (-z, y, x);
* up axis z: the identity.
"""

import logging
import os

import numpy as np
import trimesh

from sph_embed.sphere import rotations


UP_AXES = ("x", "y", "z")
# Rotations mapping each up axis to +z (integer entries: exact in floats).
_TO_Z_UP = {
    "x": np.array([[0, 0, -1], [0, 1, 0], [1, 0, 0]], np.float64),
    "y": np.array([[1, 0, 0], [0, 0, -1], [0, 1, 0]], np.float64),
    "z": np.eye(3),
}


# Least surface area a mesh scaled into the unit ball may have (see
# `normalize_mesh`).
_MIN_NORMALIZED_AREA = 1e-8


class MeshError(ValueError):
  """A mesh file cannot be read or does not hold a usable triangle mesh."""


def up_axis_rotation(up_axis):
  """The rotation [3, 3] that maps `up_axis` ("x", "y" or "z") to +z."""
  if up_axis not in _TO_Z_UP:
    raise ValueError(f"up axis must be one of {UP_AXES}, got {up_axis!r}")
  return _TO_Z_UP[up_axis].copy()


def to_canonical_frame(mesh, up_axis):
  """`mesh` (z up already: itself) rotated so that `up_axis` points to +z."""
  rotation = up_axis_rotation(up_axis)
  return mesh if up_axis == "z" else rotate_mesh(mesh, rotation)


def _read(path, **options):
  """trimesh.load(path, process=False, **options), quietly.

  Raises:
    MeshError naming `path` when trimesh cannot read it.
  """
  # trimesh logs a warning for every missing ShapeNet .mtl/texture; the
  # geometry is all we need, so keep the build log readable.
  trimesh_logger = logging.getLogger("trimesh")
  level = trimesh_logger.level
  trimesh_logger.setLevel(logging.ERROR)
  try:
    # process=False keeps NaN vertices visible (processing would drop them).
    return trimesh.load(path, process=False, **options)
  except Exception as e:  # trimesh raises many types for malformed files.
    raise MeshError(f"{path}: cannot read mesh ({type(e).__name__}: {e})"
                   ) from e
  finally:
    trimesh_logger.setLevel(level)


def _vertex_count(path):
  """The vertices in a file without faces: read as what it is, since
  force="mesh" turns a point cloud into an empty mesh."""
  loaded = _read(path)
  parts = (loaded.geometry.values() if isinstance(loaded, trimesh.Scene)
           else [loaded])
  return sum(len(getattr(part, "vertices", ())) for part in parts)


def load_mesh(path):
  """Reads a triangle mesh file; scenes are merged into one mesh.

  Args:
    path: file name (str or os.PathLike); the format is taken from the
      extension.

  Returns:
    trimesh.Trimesh with only the vertices its faces reference.

  Raises:
    MeshError: the file is missing, empty, unreadable, not a triangle mesh,
      has no faces, or has non-finite vertex coordinates.
  """
  path = os.fspath(path)
  if not os.path.isfile(path):
    raise MeshError(f"{path}: no such file")
  if os.path.getsize(path) == 0:
    raise MeshError(f"{path}: empty file")
  loaded = _read(path, force="mesh")
  if not isinstance(loaded, trimesh.Trimesh):
    raise MeshError(f"{path}: not a triangle mesh (got"
                    f" {type(loaded).__name__})")
  if len(loaded.faces) == 0:
    raise MeshError(f"{path}: mesh has no faces ({_vertex_count(path)}"
                    " vertices)")
  bad = ~np.isfinite(loaded.vertices).all(axis=1)
  if bad.any():
    raise MeshError(f"{path}: {bad.sum()} of {len(bad)} vertices have NaN or"
                    " infinite coordinates")
  # Unreferenced vertices (common in ModelNet) would distort the bounding box.
  loaded.remove_unreferenced_vertices()
  loaded.merge_vertices()
  return loaded


def normalize_mesh(mesh):
  """Copy of `mesh` centred on its bounding-box centre, max radius 1.

  Raises:
    MeshError: the mesh is degenerate: all vertices at one point, or (far-
      away outlier vertices, e.g. at 1e10, or faces without area) next to
      no surface left once scaled into the unit ball, which would render
      as an empty view.
  """
  out = mesh.copy()
  out.apply_translation(-out.bounds.mean(axis=0))
  radius = np.linalg.norm(out.vertices, axis=1).max()
  if not radius > 0:
    raise MeshError("cannot normalise a mesh whose vertices all coincide")
  out.apply_scale(1.0 / radius)
  # A square of 1e-4 x 1e-4 of the unit ball is far below one pixel of a
  # 64 x 64 view (and one ray-cast cell).
  if not out.area > _MIN_NORMALIZED_AREA:
    raise MeshError(
        f"scaled into the unit ball (divided by {radius:.3g}) the mesh has"
        f" surface area {out.area:.3g}: it has vertices far from the rest"
        f" (coordinates up to {np.abs(mesh.vertices).max():.3g}) or faces"
        " without area; remove the outlying vertices or fix the file")
  return out


def random_anisotropic_scale(mesh, rng, low, high):
  """Copy of `mesh` with each axis scaled by a factor uniform in [low, high].

  The result is not re-normalised: call `normalize_mesh` afterwards to bring
  it back into the unit ball.

  Args:
    mesh: trimesh.Trimesh.
    rng: np.random.Generator (or a seed for np.random.default_rng).
    low, high: range of the per-axis factors, 0 < low <= high.
  """
  if not 0 < low <= high:
    raise ValueError(f"anisotropic scale range must satisfy 0 < low <= high,"
                     f" got [{low}, {high}]")
  factors = np.random.default_rng(rng).uniform(low, high, size=3)
  out = mesh.copy()
  out.apply_transform(np.diag(np.append(factors, 1.0)))
  return out


def rotate_mesh(mesh, rotation):
  """Copy of `mesh` with every vertex v mapped to R v (DESIGN §1)."""
  rotation = rotations.validate_rotations(rotation, "rotate_mesh rotation")
  if rotation.shape != (3, 3):
    raise ValueError(f"rotate_mesh: expected one 3 x 3 rotation, got shape"
                     f" {rotation.shape}")
  transform = np.eye(4)
  transform[:3, :3] = rotation
  out = mesh.copy()
  out.apply_transform(transform)
  return out
