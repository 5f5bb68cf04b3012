"""Relative pose: the public alignment API (maps or coefficients -> R_rel)."""

import dataclasses

import numpy as np

from sph_embed.pose.correlation import array_cache
from sph_embed.pose.correlation import coefficients as coefficients_lib
from sph_embed.pose.correlation import euler_grid
from sph_embed.pose.correlation import fourier_sums
from sph_embed.pose.correlation import maxima
from sph_embed.sphere import rotations as rotations_lib


@dataclasses.dataclass(frozen=True)
class Alignment:
  """Estimated relative rotations R_rel (R2 = R_rel R1), batched.

  Attributes:
    rotations: [..., 3, 3] R_rel.
    euler: [..., 3] its ZYZ angles (alpha, beta, gamma) where C peaks.
    scores: [...] C at the estimate.
    grids: [..., N, N/2 + 1, N] correlation grids (`correlation_grid`),
      or None unless requested.
  """
  rotations: np.ndarray
  euler: np.ndarray
  scores: np.ndarray
  grids: np.ndarray | None = None


def align_coefficients(coefficients1, coefficients2, grid_size=None,
                       refine=False, return_grids=False):
  """Relative rotations of pairs given their coefficients (batched).

  Args:
    coefficients1: complex [..., C, L+1, 2L+1] of the first views.
    coefficients2: the same for the second views; leading axes broadcast,
      so one first view can be aligned to many second views without
      repeating its coefficients.
    grid_size: even N >= 2L + 2 (default 2L + 2); larger values zero-pad.
    refine: refine each grid maximum by continuous maximisation of C.
    return_grids: keep the [..., N, N/2 + 1, N] correlation grids.

  Returns:
    Alignment with R_rel such that f2 ~ Lambda_{R_rel} f1.
  """
  batch, *operands = fourier_sums.broadcast_operands(coefficients1,
                                                     coefficients2)
  alignment, grids = _align(*operands, grid_size, refine,
                            array_cache.WorkArrays())
  alignment = _reshape_alignment(alignment, batch)
  if return_grids:
    return dataclasses.replace(alignment,
                               grids=grids.reshape(batch + grids.shape[1:]))
  return alignment


def batch_operands(maps1, maps2, pairs, upsample, normalize):
  """`fourier_sums.fourier_parts` inputs for index pairs, each map once.

  Returns:
    (first, second, index1, index2): operands of the distinct first and
    second views and, per pair, the index of its maps among them.
  """
  views1, index1 = np.unique(pairs[:, 0], return_inverse=True)
  views2, index2 = np.unique(pairs[:, 1], return_inverse=True)
  first, second = fourier_sums.operands(
      coefficients_lib.map_coefficients(maps1[views1], upsample, normalize,
                                        f"first views {views1.tolist()}"),
      coefficients_lib.map_coefficients(maps2[views2], upsample, normalize,
                                        f"second views {views2.tolist()}"))
  return first, second, index1, index2


def _align(first, second, index1, index2, grid_size, refine, work):
  """Alignments of pairs given `fourier_parts` inputs: (Alignment, grids)."""
  real, imag = fourier_sums.fourier_parts(first, second, index1, index2, work)
  grids = euler_grid.grids_from_parts(real, imag, grid_size, work)
  euler, scores = maxima.grid_argmax(grids)
  if refine:
    for i in range(len(real)):
      euler[i], scores[i] = maxima.refine_maximum(real[i] + 1j * imag[i],
                                                  euler[i])
  rotations = rotations_lib.matrix_from_zyz(euler[:, 0], euler[:, 1],
                                            euler[:, 2])
  return Alignment(rotations=rotations, euler=euler, scores=scores), grids


def _reshape_alignment(alignment, batch):
  return Alignment(rotations=alignment.rotations.reshape(batch + (3, 3)),
                   euler=alignment.euler.reshape(batch + (3,)),
                   scores=alignment.scores.reshape(batch))


def align(maps1, maps2, upsample=1, grid_size=None, refine=False,
          normalize=False, return_grid=False):
  """Relative rotation R_rel of two multi-channel DH maps (R2 = R_rel R1).

  Args:
    maps1, maps2: [n, n, C] channels-last maps of the two views (or
      [..., n, n, C] for a batch of pairs; leading axes broadcast).
    upsample: spatial upsampling factor before the transform (the original
      used 4 on 16 x 16 maps).
    grid_size: Euler grid size N (even, >= n * upsample; default equal).
    refine: continuous refinement of the grid maximum.
    normalize: per-channel normalisation (see `map_coefficients`).
    return_grid: keep the correlation grid in the result.

  Returns:
    Alignment.
  """
  shape1, shape2 = np.shape(maps1), np.shape(maps2)
  if shape1[-3:] != shape2[-3:]:
    raise ValueError(f"maps differ in shape: {shape1} vs {shape2} (expected"
                     f" the same [n, n, C])")
  c1 = coefficients_lib.map_coefficients(maps1, upsample, normalize, "maps1")
  c2 = coefficients_lib.map_coefficients(maps2, upsample, normalize, "maps2")
  return align_coefficients(c1, c2, grid_size, refine, return_grid)


def align_pairs(maps1, maps2, pairs, upsample=1, grid_size=None,
                refine=False, normalize=False, batch_size=8, callback=None):
  """Relative rotations of many index pairs, reusing per-map coefficients.

  Pairs are sorted by first view and processed in batches; within a batch
  each distinct map is transformed once (so a first view shared by the
  pairs of a batch costs one transform) and all pairs share one pass over
  the cached Wigner products.

  Args:
    maps1: [V, n, n, C] maps of the first views.
    maps2: [V2, n, n, C] maps of the second views (maps1 again, or other
      maps such as a teacher's maps of the meshes).
    pairs: int [P, 2] (i, j): estimate R_rel with maps2[j] ~ Lambda_R maps1[i].
    upsample, grid_size, refine, normalize: as in `align`.
    batch_size: pairs per batch (about 5 MB of work arrays per pair at
      N = 64, reused from batch to batch).
    callback: called with the number of pairs finished after each batch.

  Returns:
    Alignment over the P pairs (no grids), in the order of `pairs`.
  """
  maps1, maps2, pairs = np.asarray(maps1), np.asarray(maps2), np.asarray(pairs)
  if pairs.ndim != 2 or pairs.shape[1] != 2:
    raise ValueError(f"pairs must be an int array [P, 2], got shape"
                     f" {pairs.shape}")
  if maps1.shape[1:] != maps2.shape[1:]:
    raise ValueError(f"maps differ in shape: {maps1.shape[1:]} vs"
                     f" {maps2.shape[1:]} (expected the same [n, n, C])")
  rotations = np.empty((len(pairs), 3, 3))
  euler = np.empty((len(pairs), 3))
  scores = np.empty(len(pairs))
  order = np.argsort(pairs[:, 0], kind="stable")
  work = array_cache.WorkArrays()
  for start in range(0, len(order), batch_size):
    chunk = order[start:start + batch_size]
    result, _ = _align(
        *batch_operands(maps1, maps2, pairs[chunk], upsample, normalize),
        grid_size, refine, work)
    rotations[chunk] = result.rotations
    euler[chunk] = result.euler
    scores[chunk] = result.scores
    if callback is not None:
      callback(len(chunk))
  return Alignment(rotations=rotations, euler=euler, scores=scores)
