"""Exact rotation of spherical embeddings on the DH grid (NumPy).

Rotating the embedding f of a view by R gives Lambda_R f = f(R^T x)
(DESIGN §1), the embedding of the object rotated by R as far as the
embedding is equivariant.  The rotation is spectral and exact: SHT, real
Wigner-D matrices per degree, inverse SHT (`sph_embed.sphere.sht_numpy`,
tested against pyshtools there).

A T x T DH grid holds degrees up to T/2 - 1; the rest of a map (whatever a
pointwise nonlinearity put above that degree) cannot be rotated and is
dropped.  So the synthesis network decodes band-limited embeddings:
`band_limit` (the rotation by the identity) for plain reconstructions and
training inputs, `rotate_embeddings` for novel views.  The shipped
teacher's `synthesis` maps carry 0.24 % of their energy above degree 15.
"""

import numpy as np

from sph_embed.sphere import dh_grid
from sph_embed.sphere import rotations as rotations_lib
from sph_embed.sphere import sht_numpy


def _as_maps(embeddings):
  """[B, T, T, C] float64 -> channels-first [B, C, T, T] and T."""
  embeddings = np.asarray(embeddings, dtype=np.float64)
  if embeddings.ndim != 4:
    raise ValueError(f"embeddings: expected [batch, lat, lon, channels], got"
                     f" shape {embeddings.shape}")
  maps = np.moveaxis(embeddings, -1, 1)
  return maps, dh_grid.validate_maps(maps, "embeddings")


def _to_embeddings(maps):
  return np.moveaxis(maps, 1, -1).astype(np.float32)


def band_limit(embeddings):
  """The part of embeddings [B, T, T, C] that rotations keep (float32)."""
  maps, n = _as_maps(embeddings)
  return _to_embeddings(sht_numpy.isht(sht_numpy.sht(maps), n))


def rotate_embeddings(embeddings, rotations):
  """Rotates embeddings [B, T, T, C] by R: f -> f(R^T x) (float32).

  Args:
    embeddings: [B, T, T, C] DH maps.
    rotations: one [3, 3] rotation for the whole batch, or [B, 3, 3].

  Returns:
    [B, T, T, C] float32, band-limited to degree T/2 - 1.  The identity
    rotation returns `band_limit(embeddings)` bit for bit (its Wigner
    matrices are set to the exact identity; the general construction is
    off by rounding).
  """
  maps, n = _as_maps(embeddings)
  rotations = rotations_lib.validate_rotations(rotations)
  if rotations.ndim not in (2, 3):
    raise ValueError(f"rotations: expected [3, 3] or [batch, 3, 3], got"
                     f" shape {rotations.shape}")
  if rotations.ndim == 3 and rotations.shape[0] != maps.shape[0]:
    raise ValueError(f"rotations: {rotations.shape[0]} rotations for a batch"
                     f" of {maps.shape[0]} embeddings")
  lmax = sht_numpy.max_degree(n)
  wigner = sht_numpy.wigner_matrices(rotations, lmax)
  is_identity = np.all(rotations == np.eye(3), axis=(-2, -1))
  wigner = np.where(is_identity[..., None, None, None],
                    np.eye(2 * lmax + 1), wigner)
  if rotations.ndim == 3:
    wigner = wigner[:, None]            # broadcast over the channel axis
  packed = sht_numpy.cilm_to_packed(sht_numpy.sht(maps))
  rotated = sht_numpy.rotate_packed(packed, wigner)
  return _to_embeddings(sht_numpy.isht(sht_numpy.packed_to_cilm(rotated), n))
