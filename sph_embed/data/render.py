"""Grayscale views of meshes from one fixed camera (pyrender, headless EGL).

The camera is the one fixed in sph_embed.sphere.rotations: on the +z axis looking at
the origin, image up = +y.  It is a perspective camera at distance
`CAMERA_DISTANCE` whose field of view exactly frames the unit ball, so a
normalised mesh (meshes.normalize_mesh) is always entirely in view.  The object
is rotated by R (v -> R v) in front of that camera.

Lighting is fixed in the camera (= world) frame: ambient light plus two pairs
of opposite directional lights (along the view axis and along an oblique
upper-left axis).  Opposite pairs make a face's shade |n . l|, independent of
its winding: real meshes (ModelNet, ShapeNet) often have inconsistently
oriented faces, and one-sided lighting would leave half of them black.  The
material is a matte grey, double-sided, flat-shaded; the background is black.

TensorFlow and Mesa cannot share a process naively (../shared/STACK.md): TF
exports LLVM symbols that Mesa's llvmpipe binds to, and the process crashes
(SIGSEGV).  This module handles both orders:
* TF imported first: before the first render, Mesa's driver is preloaded with
  RTLD_DEEPBIND so that it (and its libLLVM) bind to their own symbols.
* rendering first: TF cannot be imported afterwards (its import crashes in
  LLVM's initialisers); an import hook turns that crash into an ImportError
  that explains it.  The dataset builder avoids the problem altogether by
  rendering in worker processes.
"""

import ctypes
import functools
import glob
import importlib.abc
import math
import os
import sys
import sysconfig

# pyrender picks its OpenGL platform when imported.
os.environ.setdefault("PYOPENGL_PLATFORM", "egl")

import numpy as np  # pylint: disable=g-import-not-at-top
import pyrender  # pylint: disable=g-import-not-at-top

from sph_embed.sphere import rotations  # pylint: disable=g-import-not-at-top

CAMERA_DISTANCE = 3.0
# Vertical (= horizontal: images are square) field of view that exactly
# frames the unit ball seen from CAMERA_DISTANCE.
FIELD_OF_VIEW = 2 * math.asin(1.0 / CAMERA_DISTANCE)
_AMBIENT = 0.1
_BASE_COLOR = (0.8, 0.8, 0.8, 1.0)
# (direction the light shines toward, intensity); each also gets its opposite.
_LIGHTS = (((0.0, 0.0, -1.0), 0.8),
           ((1.0, -1.0, -1.0), 2.5))


class RenderError(RuntimeError):
  """A view could not be rendered (empty image, missing Mesa driver)."""


class _TensorFlowAfterMesaBlocker(importlib.abc.MetaPathFinder):
  """Refuses to import TensorFlow once Mesa was loaded without it."""

  def find_spec(self, fullname, path, target=None):
    del path, target  # Unused.
    if fullname.split(".")[0] == "tensorflow":
      raise ImportError(
          "tensorflow cannot be imported in this process: sph_embed.data.render"
          " already rendered with Mesa, and TensorFlow's LLVM symbols crash"
          " Mesa's (SIGSEGV). Import tensorflow before the first render, or"
          " render in a separate process (see sph_embed/data/render.py).")
    return None


def _mesa_driver_path():
  """Path of Mesa's software-rendering DRI driver (loaded by EGL)."""
  dirs = [d for d in os.environ.get("LIBGL_DRIVERS_PATH", "").split(":") if d]
  multiarch = sysconfig.get_config_var("MULTIARCH")
  if multiarch:
    dirs.append(f"/usr/lib/{multiarch}/dri")
  dirs += ["/usr/lib64/dri", "/usr/lib/dri"]
  for d in dirs:
    found = glob.glob(os.path.join(d, "swrast_dri.so"))
    if found:
      return found[0]
  raise RenderError(
      "TensorFlow is imported, so Mesa's driver must be preloaded before"
      " rendering, but swrast_dri.so was not found in " + ", ".join(dirs) +
      " (set LIBGL_DRIVERS_PATH, or render in a process without TensorFlow)")


@functools.lru_cache(maxsize=None)
def _prepare_mesa():
  """Makes Mesa safe in this process; runs once, before the first context."""
  if "tensorflow" in sys.modules:
    ctypes.CDLL(_mesa_driver_path(),
                mode=os.RTLD_NOW | os.RTLD_LOCAL | os.RTLD_DEEPBIND)
  else:
    sys.meta_path.insert(0, _TensorFlowAfterMesaBlocker())


@functools.lru_cache(maxsize=None)
def offscreen_renderer(size):
  """The process's renderer of size x size images (Mesa made safe first)."""
  _prepare_mesa()
  return pyrender.OffscreenRenderer(size, size)


def rigid_pose(rotation=None, translation=(0.0, 0.0, 0.0)):
  """4 x 4 rigid transform."""
  pose = np.eye(4)
  if rotation is not None:
    pose[:3, :3] = rotation
  pose[:3, 3] = translation
  return pose


def look_along(direction):
  """Rotation whose -z axis (where pyrender lights point) is `direction`."""
  back = -np.asarray(direction, dtype=np.float64)
  back /= np.linalg.norm(back)
  helper = np.array([0.0, 1.0, 0.0]) if abs(back[1]) < 0.9 else np.eye(3)[0]
  right = np.cross(helper, back)
  right /= np.linalg.norm(right)
  return np.stack([right, np.cross(back, right), back], axis=1)


def add_camera(scene):
  """Adds the fixed camera (module docstring) to a pyrender scene."""
  camera = pyrender.PerspectiveCamera(
      yfov=FIELD_OF_VIEW, aspectRatio=1.0, znear=CAMERA_DISTANCE - 1.5,
      zfar=CAMERA_DISTANCE + 1.5)
  scene.add(camera, pose=rigid_pose(translation=(0, 0, CAMERA_DISTANCE)))


@functools.lru_cache(maxsize=None)
def _scene():
  """The camera and lights, built once per process.

  pyrender keeps light nodes in a set and sums their contributions in the
  set's iteration order, which follows the nodes' addresses: rebuilding the
  lights for every render changed that order and, through float rounding,
  a few pixels by one grey level.  One shared scene keeps the order, so the
  same (mesh, rotation) renders the same image within a process.
  """
  scene = pyrender.Scene(ambient_light=[_AMBIENT] * 3, bg_color=[0, 0, 0, 0])
  add_camera(scene)
  for direction, intensity in _LIGHTS:
    for sign in (1.0, -1.0):
      scene.add(pyrender.DirectionalLight(intensity=intensity),
                pose=rigid_pose(look_along(sign * np.asarray(direction))))
  return scene


def render_views(mesh, poses, size=64):
  """Renders `mesh` rotated by each of the rotations `poses` [k, 3, 3].

  Returns:
    np.uint8 [k, size, size] grayscale images (row 0 = top of the image).

  Raises:
    RenderError: a view is empty (nothing of the mesh is in front of the
      camera).
  """
  poses = rotations.validate_rotations(poses, "render rotations")
  if poses.ndim != 3:
    raise ValueError(f"render_views: expected rotations [k, 3, 3], got shape"
                     f" {poses.shape}")
  renderer = offscreen_renderer(int(size))
  scene = _scene()
  material = pyrender.MetallicRoughnessMaterial(
      baseColorFactor=_BASE_COLOR, metallicFactor=0.0, roughnessFactor=1.0,
      doubleSided=True)
  node = scene.add(pyrender.Mesh.from_trimesh(mesh, material=material,
                                              smooth=False))
  images = np.empty((len(poses), size, size), dtype=np.uint8)
  try:
    for i, rotation in enumerate(poses):
      scene.set_pose(node, rigid_pose(rotation))
      color, depth = renderer.render(scene)
      if not (depth > 0).any():
        raise RenderError(f"render_views: view {i} is empty (mesh with"
                          f" {len(mesh.faces)} faces, bounds"
                          f" {mesh.bounds.tolist()} is not in front of the"
                          " camera)")
      images[i] = np.round(color.mean(axis=-1)).astype(np.uint8)
  finally:
    scene.remove_node(node)
  return images


def render_view(mesh, rotation, size=64):
  """Renders `mesh` rotated by `rotation` (3 x 3): np.uint8 [size, size]."""
  rotation = np.asarray(rotation, dtype=np.float64)
  if rotation.shape != (3, 3):
    raise ValueError(f"render_view: expected one 3 x 3 rotation, got shape"
                     f" {rotation.shape}")
  return render_views(mesh, rotation[None], size)[0]
