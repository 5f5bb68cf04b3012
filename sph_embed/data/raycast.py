"""Spherical ray-cast maps of meshes: the spherical CNN's input (DESIGN §2).

For each sample direction d of the n x n Driscoll-Healy grid (sph_embed.sphere.dh_grid)
a ray starts at d on the unit sphere and travels toward the centre.  The map
value is the distance from the sphere to the first hit, in [0, 1].  A ray that
reaches the centre without hitting anything has value 1.0 (the radius): hits
beyond the centre are ignored, so every value is a distance along the segment
from the sphere to the centre.

Meshes must lie inside the unit ball (see meshes.normalize_mesh).

The map is equivariant: raycast(mesh, rotation=R) equals
raycast(meshes.rotate_mesh(mesh, R)) and samples Λ_R raycast(mesh), with
(Λ_R f)(x) = f(Rᵀ x).  Rotating the mesh by R is implemented by rotating the
rays by Rᵀ instead, which leaves the mesh (and trimesh's cached Embree
acceleration structure) untouched, so many views of one mesh are cheap.

All rays are cast in one batch through Embree (embreex, via trimesh's
ray_pyembree); trimesh's pure-Python fallback is ~1000x slower and can run out
of memory on large meshes, so it is never used.
"""

import numpy as np
from trimesh.ray import ray_pyembree

from sph_embed.sphere import rotations
from sph_embed.sphere import dh_grid

# Rays start this far outside the unit sphere so that surface points lying on
# the sphere itself (a normalised mesh's farthest vertex) are hit.
_START_MARGIN = 1e-3
# Tolerated excess of the mesh's radius over 1 (float round-off).
_RADIUS_TOLERANCE = 1e-6


def raycast(mesh, n=64, rotation=None):
  """Ray-cast map of `mesh` (rotated by `rotation` if given).

  Args:
    mesh: trimesh.Trimesh inside the unit ball.
    n: grid size (power of two >= 4).
    rotation: optional 3 x 3 rotation R; the map is that of the mesh with
      every vertex v mapped to R v.

  Returns:
    np.float32 [n, n] distances in [0, 1], laid out [colatitude, longitude];
    1.0 where the ray reached the centre without a hit.

  Raises:
    ValueError: the mesh extends outside the unit ball, or bad arguments.
  """
  n = dh_grid.validate_grid_size(n, "raycast")
  radius = np.linalg.norm(mesh.vertices, axis=1).max()
  if radius > 1 + _RADIUS_TOLERANCE:
    raise ValueError(f"raycast: mesh extends outside the unit ball (radius"
                     f" {radius:.6g}); normalise it first")
  directions = dh_grid.directions(n).reshape(-1, 3)
  if rotation is not None:
    rotation = rotations.validate_rotations(rotation, "raycast rotation")
    if rotation.shape != (3, 3):
      raise ValueError(f"raycast: expected one 3 x 3 rotation, got shape"
                       f" {rotation.shape}")
    # Row-vector form of d -> Rᵀ d.
    directions = directions @ rotation
  intersector = mesh.ray
  if not isinstance(intersector, ray_pyembree.RayMeshIntersector):
    raise RuntimeError("raycast: trimesh is not using Embree (is embreex"
                       " installed?)")
  origins = (1 + _START_MARGIN) * directions
  locations, ray_index, _ = intersector.intersects_location(
      origins, -directions, multiple_hits=False)
  depth = np.ones(n * n)
  hit_distance = np.linalg.norm(locations - origins[ray_index], axis=1)
  depth[ray_index] = np.clip(hit_distance - _START_MARGIN, 0.0, 1.0)
  return depth.reshape(n, n).astype(np.float32)
