"""Measurements of a teacher on meshes: equivariance error and predictions.

Equivariance error of an output map F (`pose` 16 x 16, `synthesis`
32 x 32) on a mesh M and rotation R:

  a = LP(F(raycast(R M)))          the map of the rotated mesh
  b = Rot_R(F(raycast(M)))         the rotated map of the mesh
  error = |a - b| / |b|,  |f|^2 = sum_c sum_jk w_jk f_jkc^2

where Rot_R is the exact rotation of `spherical_harmonics.rotate_maps`,
which keeps only the degrees the map's grid can represent (l < h/2 for an
h x h map), LP is the same band limit applied alone (rotate_maps by the
identity: forward and inverse SHT), and w are the DH area weights
(`dh_grid.area_weights`), so the norm is the L2 norm on the sphere.  Both
sides are therefore compared on the same band; the feature maps are not
band-limited (ReLU), so the error is not 0 even for an exactly equivariant
network.  The reported number is the mean over meshes and rotations.  The
`centered` variant removes each channel's area-weighted mean from a and b
first (the degree-0 part, which pooled ReLU features share whatever the
rotation), so it measures the equivariance of the pattern alone.

The ray-cast maps are sampled on the grid, so the input itself is only
approximately rotated (sampling and the hit/miss edges); that error is part
of the measurement, as it is for every input the teacher sees.
"""

import numpy as np

from sph_embed.data import meshes as meshes_lib
from sph_embed.data import raycast
from sph_embed.sphere import rotations as rotations_lib
from sph_embed.sphere import dh_grid
from sph_embed.sphere import sht_numpy

MAP_KEYS = ("pose", "synthesis")


def lowpass(maps):
  """Band-limits maps [..., h, h, C] to their grid's degrees (l < h/2)."""
  return sht_numpy.rotate_maps(maps, np.eye(3), channels_last=True)


def relative_l2(a, b, centered=False):
  """|a - b| / |b| per map [..., h, h, C], area-weighted on the sphere."""
  a = np.asarray(a, np.float64)
  b = np.asarray(b, np.float64)
  weights = dh_grid.area_weights(a.shape[-2])[..., None]
  if centered:
    a = a - (a * weights).sum(axis=(-3, -2), keepdims=True)
    b = b - (b * weights).sum(axis=(-3, -2), keepdims=True)
  difference = ((a - b)**2 * weights).sum(axis=(-3, -2, -1))
  reference = (b**2 * weights).sum(axis=(-3, -2, -1))
  return np.sqrt(difference / reference)


def mesh_maps(paths, num_rotations, seed=0, n=64):
  """Ray-cast maps of meshes, upright and in random rotations.

  Args:
    paths: mesh files.
    num_rotations: rotations per mesh (uniform on SO(3)).
    seed: rotation seed.
    n: grid size.

  Returns:
    (upright [M, n, n], rotated [M, K, n, n], rotations [M, K, 3, 3]).
  """
  rotations = rotations_lib.random_rotations(len(paths) * num_rotations,
                                             seed=seed)
  rotations = rotations.reshape(len(paths), num_rotations, 3, 3)
  upright, rotated = [], []
  for path, mesh_rotations in zip(paths, rotations):
    mesh = meshes_lib.normalize_mesh(meshes_lib.load_mesh(path))
    upright.append(raycast.raycast(mesh, n))
    rotated.append([raycast.raycast(mesh, n, r) for r in mesh_rotations])
  return np.stack(upright), np.asarray(rotated), rotations


def equivariance_errors(apply_fn, upright, rotated, rotations,
                        keys=MAP_KEYS):
  """Mean equivariance errors (see the module docstring).

  Args:
    apply_fn: float32 maps [N, n, n, 1] -> {key: array [N, h, h, C]}.
    upright, rotated, rotations: as returned by `mesh_maps`.
    keys: outputs to measure.

  Returns:
    {key: {"relative_l2": mean, "relative_l2_centered": mean,
           "per_mesh": [mean over rotations per mesh]}}.
  """
  count, num_rotations = rotated.shape[:2]
  upright_out = apply_fn(upright[..., None].astype(np.float32))
  rotated_out = apply_fn(rotated.reshape((-1,) + rotated.shape[2:])[
      ..., None].astype(np.float32))
  results = {}
  for key in keys:
    reference = np.asarray(upright_out[key])
    reference = np.repeat(reference[:, None], num_rotations, axis=1)
    expected = sht_numpy.rotate_maps(reference, rotations, channels_last=True)
    actual = lowpass(np.asarray(rotated_out[key]).reshape(expected.shape))
    errors = relative_l2(actual, expected)
    results[key] = {
        "relative_l2": float(errors.mean()),
        "relative_l2_centered": float(
            relative_l2(actual, expected, centered=True).mean()),
        "per_mesh": [float(e) for e in errors.mean(axis=1)],
    }
  return results


def predictions(apply_fn, maps, categories, top=3):
  """Class probabilities averaged over maps [K, n, n] of one mesh.

  Returns:
    (top list of (category, mean probability), fraction of the K maps whose
    argmax is the top category).
  """
  logits = np.asarray(apply_fn(maps[..., None].astype(np.float32))["logits"],
                      np.float64)
  probabilities = np.exp(logits - logits.max(axis=-1, keepdims=True))
  probabilities /= probabilities.sum(axis=-1, keepdims=True)
  mean = probabilities.mean(axis=0)
  order = np.argsort(-mean)[:top]
  agreement = float(np.mean(probabilities.argmax(axis=-1) == order[0]))
  return [(categories[i], float(mean[i])) for i in order], agreement
