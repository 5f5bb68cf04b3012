"""The examples of one instance: random poses, rendered views, ray-cast maps.

The mesh is loaded in the canonical z-up frame (sources.Instance.load
applies the source's up axis).  For each of `views_per_instance` poses R
(uniform on SO(3) for 3DOF; for 2DOF a uniform viewing direction with the
object upright in the image, see sph_embed.sphere.rotations) an example
holds the view of the mesh rotated by R and the ray-cast map of the same
rotated mesh.  With anisotropic scaling on, each example's mesh is first
scaled along its canonical axes by factors uniform in [1 - s, 1 + s] and
normalised again (the paper's augmentation).

`appearance` (APPEARANCES) says how views look: "plain" the grey renders of
sph_embed.data.render (the paper's); "photo" photo-like renders (coloured,
random lights and backgrounds) prepared as a user's photograph
(sph_embed.data.photo_render); "framed" the plain renders prepared the same
way, to tell the change of framing from that of appearance.  Poses and
scales do not depend on it: builds that differ only in appearance hold the
same meshes in the same poses.

Poses and scales depend only on the build seed and the instance, not on the
order or process in which instances are made, so builds are reproducible and
resumable.

This module runs in the dataset builder's worker processes, which must stay
free of TensorFlow (see sph_embed.data.render), so it must not import it.
"""

import dataclasses
import hashlib

import numpy as np

from sph_embed.data import meshes
from sph_embed.data import photo_render
from sph_embed.data import raycast
from sph_embed.data import render
from sph_embed.sphere import rotations
from sph_embed.sphere import dh_grid

APPEARANCES = ("plain", "framed", "photo")


@dataclasses.dataclass(frozen=True)
class ViewConfig:
  """How the examples of an instance are made."""
  views_per_instance: int = 4
  dof: int = 3
  anisotropic_scale: float = 0.0  # s: factors in [1 - s, 1 + s]; 0 = off.
  image_size: int = 64
  sphere_size: int = 64
  seed: int = 0
  appearance: str = "plain"  # One of APPEARANCES.

  def __post_init__(self):
    if self.views_per_instance < 1:
      raise ValueError(f"views_per_instance must be >= 1, got"
                       f" {self.views_per_instance}")
    if self.dof not in (2, 3):
      raise ValueError(f"dof must be 2 or 3, got {self.dof}")
    if not 0 <= self.anisotropic_scale < 1:
      raise ValueError(f"anisotropic_scale must be in [0, 1), got"
                       f" {self.anisotropic_scale}")
    if self.image_size < 8:
      raise ValueError(f"image_size must be >= 8, got {self.image_size}")
    dh_grid.validate_grid_size(self.sphere_size, "sphere_size")
    if self.appearance not in APPEARANCES:
      raise ValueError(f"appearance must be one of {APPEARANCES}, got"
                       f" {self.appearance!r}")


def _instance_rng(instance, seed, stream=()):
  """The instance's generator; `stream` (e.g. (1,)) makes an independent
  one, so that drawing from it leaves the poses and scales unchanged."""
  key = f"{instance.split}/{instance.category}/{instance.name}"
  digest = hashlib.sha256(key.encode("utf-8")).digest()
  return np.random.default_rng(
      [seed, int.from_bytes(digest[:8], "little"), *stream])


def _views(instance, config, scaled, poses):
  """uint8 [k, S, S] views of scaled[i] rotated by poses[i], by appearance."""
  size = config.image_size
  if config.appearance == "photo":
    return photo_render.photo_views(scaled, poses, size,
                                    _instance_rng(instance, config.seed, (1,)))
  if config.appearance == "framed":
    return photo_render.framed_views(scaled, poses, size)
  if config.anisotropic_scale:
    return np.stack([render.render_view(m, r, size)
                     for m, r in zip(scaled, poses)])
  # One scene for all views of the mesh.
  return render.render_views(scaled[0], poses, size)


def example_meshes(instance, config):
  """(meshes, poses) of an instance's examples, in `make_examples`' order.

  meshes: the normalised mesh of each example (anisotropically scaled when
  the config says so), before its pose; poses: float64 [k, 3, 3].  The
  view of example i is that mesh rotated by poses[i] (novel-view truth
  renders it in other poses).

  Raises:
    meshes.MeshError: the mesh cannot be loaded.
  """
  rng = _instance_rng(instance, config.seed)
  mesh = meshes.normalize_mesh(instance.load())
  poses = rotations.random_rotations(config.views_per_instance, config.dof,
                                     seed=rng)
  if not config.anisotropic_scale:
    return [mesh] * len(poses), poses
  return [meshes.normalize_mesh(meshes.random_anisotropic_scale(
      mesh, rng, 1 - config.anisotropic_scale, 1 + config.anisotropic_scale))
          for _ in poses], poses


def make_examples(instance, config):
  """Examples of one sources.Instance.

  Returns:
    dict of `image` uint8 [k, S, S], `sphere` float32 [k, n, n] and
    `rotation` float32 [k, 3, 3], k = config.views_per_instance.

  Raises:
    meshes.MeshError: the mesh cannot be loaded.
    render.RenderError: a view is empty.
  """
  scaled, poses = example_meshes(instance, config)
  images = _views(instance, config, scaled, poses)
  spheres = np.stack([raycast.raycast(m, config.sphere_size, r)
                      for m, r in zip(scaled, poses)])
  return {"image": images, "sphere": spheres,
          "rotation": poses.astype(np.float32)}


def make_examples_or_error(task):
  """(examples, None), or (None, reason) if the instance is bad input.

  Args:
    task: (instance, config), one picklable argument for a process pool.
  """
  instance, config = task
  try:
    return make_examples(instance, config), None
  except (meshes.MeshError, render.RenderError) as e:
    message = str(e)
    if instance.describe() not in message:
      message = f"{instance.describe()}: {message}"
    return None, message
