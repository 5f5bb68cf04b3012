"""Photo-like views of meshes: coloured, randomly lit, on random backgrounds.

The domain-gap test of issue 29 (item 5) and the appearance randomisation of
training data (tools/build_dataset.py --appearance=photo).  A view is made as
a user's photograph would be turned into the network's input:

1. `render_photo`: an RGB picture of the mesh rotated by R, seen by the fixed
   camera of sph_embed.data.render at `RENDER_SCALE` times the view size, with
   - the mesh's own look when it has one (trimesh's visuals: the .mtl
     colours and textures of an OBJ, vertex or face colours); a mesh without
     (the synthetic shapes, the shared furniture OBJs, which are geometry
     only) is `painted`: a random colour per part (connected component) with
     a per-face grain, drawn once per instance;
   - `random_lights`: ambient light and 1-3 directional lights of random
     direction (from the camera's side), tint and intensity, each with a
     weaker opposite fill light so that faces of inconsistent winding
     (common in real meshes, see render.py) are never black;
   - `random_background`: a solid colour, a linear gradient or smooth noise.
2. `prepare_photo`: the picture through sph_embed.data.image_input, as
   tools/relative_pose.py prepares a photograph: the object isolated, by the
   border colour on a solid background (what prepare_image does for a plain
   backdrop: parts of the object close to that colour are lost, as they
   would be in a photograph), by the render's own mask on a gradient or
   noise (as a user's mask file); then cropped, centred with its longer side
   at image_input.OBJECT_FRACTION, resized, grey.

`framed_views` is the plain grey render (render.py) through step 2: beside
it, photo-like views measure the change of appearance alone; beside the
plain views, the change of framing (fixed camera vs the preparation's).

Deterministic given the random generator, within a process (the light nodes
are built once per process, as render.py's, for the same summation order).
Like render.py, it must run where Mesa is safe: this module does not import
TensorFlow.
"""

import dataclasses
import functools

import numpy as np
from PIL import Image
import pyrender
import trimesh

from sph_embed.data import image_input
from sph_embed.data import render

# Renders are made this many times larger than the view, then prepared down
# to it, as a photograph is larger than the network's input.
RENDER_SCALE = 4
BACKGROUNDS = ("solid", "gradient", "noise")
MAX_LIGHTS = 3
_ROUGHNESS = 0.6
# Ranges of the random look (intensities as render.py's lights: 0.8, 2.5).
_AMBIENT = (0.05, 0.3)
_INTENSITY = (1.5, 4.0)
_FILL = (0.1, 0.4)       # Opposite light's intensity over its light's.
_TINT = (0.7, 1.0)       # Per channel of a light's colour.
_PART_COLOUR = (0.05, 0.95)
_GRAIN = (0.0, 0.15)     # Per-face brightness jitter (x 1 +- grain).
_NOISE_CELLS = (3, 12)   # Noise backgrounds: random colours on a coarse grid.


@dataclasses.dataclass(frozen=True)
class Light:
  direction: tuple   # Where it shines, in the camera (= world) frame.
  colour: tuple      # RGB in [0, 1].
  intensity: float
  fill: float        # Intensity of the opposite light over `intensity`.


@dataclasses.dataclass(frozen=True)
class Lighting:
  ambient: float
  lights: tuple      # Of Light, at most MAX_LIGHTS.


@dataclasses.dataclass(frozen=True)
class Photo:
  """A photo-like render."""
  rgb: np.ndarray    # float32 [H, W, 3] in [0, 1], background included.
  mask: np.ndarray   # bool [H, W]: the object's pixels.
  background: str    # One of BACKGROUNDS.


def painted(mesh, rng):
  """`mesh` itself if it has colours or textures, else a painted copy.

  The copy has a random colour per connected component (the parts of a
  synthetic shape or of a furniture model), each face's brightness jittered
  by a random grain, as a texture would vary it.
  """
  if mesh.visual.defined:
    return mesh
  labels = trimesh.graph.connected_component_labels(
      mesh.face_adjacency, node_count=len(mesh.faces))
  parts = rng.uniform(*_PART_COLOUR, size=(labels.max() + 1, 3))
  grain = rng.uniform(*_GRAIN)
  shade = 1 + rng.uniform(-grain, grain, size=(len(mesh.faces), 1))
  colours = np.clip(parts[labels] * shade, 0, 1)
  out = mesh.copy()
  out.visual = trimesh.visual.ColorVisuals(
      out, face_colors=np.round(colours * 255).astype(np.uint8))
  return out


def random_lights(rng):
  """A random `Lighting`."""
  lights = []
  for _ in range(rng.integers(1, MAX_LIGHTS + 1)):
    # Toward -z: from the camera's side, so the visible faces get light.
    direction = np.array([rng.uniform(-1, 1), rng.uniform(-1, 1),
                          -rng.uniform(0.3, 1)])
    lights.append(Light(
        tuple(direction / np.linalg.norm(direction)),
        tuple(rng.uniform(*_TINT, size=3)), float(rng.uniform(*_INTENSITY)),
        float(rng.uniform(*_FILL))))
  return Lighting(float(rng.uniform(*_AMBIENT)), tuple(lights))


def random_background(rng, size):
  """(kind, float32 [size, size, 3] in [0, 1]): one of BACKGROUNDS."""
  kind = BACKGROUNDS[rng.integers(len(BACKGROUNDS))]
  if kind == "solid":
    return kind, np.broadcast_to(rng.uniform(size=3).astype(np.float32),
                                 (size, size, 3)).copy()
  if kind == "gradient":
    start, end = rng.uniform(size=(2, 3))
    angle = rng.uniform(0, 2 * np.pi)
    rows, columns = np.mgrid[0:size, 0:size] / (size - 1)
    along = np.cos(angle) * columns + np.sin(angle) * rows
    t = (along - along.min()) / (along.max() - along.min())
    return kind, (start + t[..., None] * (end - start)).astype(np.float32)
  cells = rng.integers(_NOISE_CELLS[0], _NOISE_CELLS[1] + 1)
  coarse = Image.fromarray(
      rng.integers(0, 256, size=(cells, cells, 3), dtype=np.uint8))
  smooth = coarse.resize((size, size), Image.Resampling.BICUBIC)
  return kind, np.asarray(smooth, np.float32) / 255


@functools.lru_cache(maxsize=None)
def _scene():
  """The camera and MAX_LIGHTS pairs of light nodes, built once per process
  (see the module docstring); `_light` sets them for each view."""
  scene = pyrender.Scene(bg_color=[0, 0, 0, 0])
  render.add_camera(scene)
  pairs = [(scene.add(pyrender.DirectionalLight()),
            scene.add(pyrender.DirectionalLight()))
           for _ in range(MAX_LIGHTS)]
  return scene, pairs


def _light(scene, pairs, lighting):
  scene.ambient_light = np.full(3, lighting.ambient)
  for index, (node, opposite) in enumerate(pairs):
    light = (lighting.lights[index] if index < len(lighting.lights)
             else Light((0.0, 0.0, -1.0), (1.0, 1.0, 1.0), 0.0, 0.0))
    direction = np.asarray(light.direction)
    for each, sign, intensity in ((node, 1, light.intensity),
                                  (opposite, -1, light.intensity * light.fill)):
      each.light.color = np.asarray(light.colour)
      each.light.intensity = intensity
      scene.set_pose(each, render.rigid_pose(render.look_along(
          sign * direction)))


def _pyrender_mesh(mesh):
  """The mesh with its colours or texture, matte, seen from both sides."""
  node_mesh = pyrender.Mesh.from_trimesh(mesh, smooth=False)
  for primitive in node_mesh.primitives:
    primitive.material.doubleSided = True
    primitive.material.alphaMode = "OPAQUE"
    primitive.material.metallicFactor = 0.0
    primitive.material.roughnessFactor = _ROUGHNESS
  return node_mesh


def render_photo(mesh, rotation, lighting, background):
  """The `Photo` of `mesh` (coloured: see `painted`) rotated by `rotation`.

  Args:
    mesh: normalised trimesh.Trimesh (meshes.normalize_mesh).
    rotation: [3, 3].
    lighting: a `Lighting`.
    background: (kind, float [H, W, 3]) of `random_background`; H is the
      picture's size.

  Raises:
    render.RenderError: nothing of the mesh is in view.
  """
  kind, backdrop = background
  scene, pairs = _scene()
  _light(scene, pairs, lighting)
  node = scene.add(_pyrender_mesh(mesh),
                   pose=render.rigid_pose(np.asarray(rotation)))
  try:
    colour, depth = render.offscreen_renderer(backdrop.shape[0]).render(scene)
  finally:
    scene.remove_node(node)
  mask = depth > 0
  if not mask.any():
    raise render.RenderError("photo-like view is empty (the mesh is not in"
                             " front of the camera)")
  rgb = np.where(mask[..., None], colour.astype(np.float32) / 255, backdrop)
  return Photo(rgb.astype(np.float32), mask, kind)


def _isolated_view(grey, weights, size, how):
  """image_input.frame_object's view, as uint8 [size, size]."""
  view = image_input.frame_object(grey, weights, size)
  if view is None or not view.any():
    raise render.RenderError(f"photo-like view: no object left once"
                             f" isolated by {how}")
  return np.round(view[..., 0] * 255).astype(np.uint8)


def prepare_photo(photo, size):
  """The network's input view of a `Photo`: uint8 [size, size].

  Raises:
    render.RenderError: the isolation left no object (its colours all
      within image_input.BORDER_TOLERANCE of a solid background).
  """
  if photo.background == "solid":
    weights, how = image_input.object_weights(
        photo.rgb, None, "border", "photo-like render")
  else:
    weights, how = photo.mask.astype(np.float32), "the render's mask"
  return _isolated_view(image_input.luminance(photo.rgb), weights, size, how)


def photo_views(meshes, poses, size, rng):
  """Photo-like views uint8 [k, size, size] of meshes[i] rotated by poses[i].

  The meshes are the examples' (views.example_meshes: the same object when
  not anisotropically scaled); all are painted alike, as one object, and
  each view gets its own lighting and background.

  Raises:
    render.RenderError: a view is empty, or its object was lost.
  """
  paint_seed = int(rng.integers(2**63))
  looks = {}  # id(mesh) -> painted mesh: paint each distinct mesh once.
  views = []
  for mesh, rotation in zip(meshes, poses):
    if id(mesh) not in looks:
      looks[id(mesh)] = painted(mesh, np.random.default_rng(paint_seed))
    photo = render_photo(looks[id(mesh)], rotation, random_lights(rng),
                         random_background(rng, RENDER_SCALE * size))
    views.append(prepare_photo(photo, size))
  return np.stack(views)


def framed_views(meshes, poses, size):
  """The plain renders of meshes[i] rotated by poses[i], prepared as photos:
  uint8 [k, size, size] (isolated by their black background)."""
  views = []
  for mesh, rotation in zip(meshes, poses):
    grey = render.render_view(mesh, rotation, RENDER_SCALE * size) / 255
    views.append(_isolated_view(grey, (grey > 0).astype(np.float32), size,
                                "the black background"))
  return np.stack(views)
