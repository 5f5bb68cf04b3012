"""Batched, differentiable real spherical harmonic transforms in TensorFlow.

Maps are Keras tensors [batch, lat, lon, channels] on the n x n DH grid
(DESIGN §1); coefficients are in the "packed" layout of
`sph_embed.sphere.sht_numpy` with channels last:
[batch, 2L+1 (order m = -L..L), L+1 (degree l), channels].

The transform is a longitude DFT followed by a per-order Legendre
contraction over colatitude, both plain matrix products in an order-major
layout ([2L+1, batch, channels, L+1], used directly by the layers).  The DFT is a dense real matrix product rather
than tf.signal.rfft: for the grid sizes used here (n <= 128) a real GEMM is
faster on CPU than TF's complex FFT, stays in float32 and runs unchanged on
GPUs (see BUILD_NOTES.md).  All constants come from the NumPy reference
module and are built once per (n, L).
"""

import functools

import numpy as np
import tensorflow as tf

from sph_embed.sphere import dh_grid
from sph_embed.sphere import sht_numpy


@functools.lru_cache(maxsize=None)
def packed_fourier_basis(n, lmax):
  """[n (lon), 2L+1]: column L+m is cos(m phi) for m >= 0, sin(|m| phi) else."""
  cos_m, sin_m = sht_numpy.fourier_bases(n, lmax)
  return np.concatenate([sin_m[:, :0:-1], cos_m], axis=1).astype(np.float32)


def _packed_legendre(table, lmax):
  """[n, L+1, L+1 (m >= 0)] -> [n, 2L+1 (m), L+1 (l)], zero where l < |m|."""
  by_order = np.swapaxes(table, 1, 2)                     # [n, m, l]
  packed = np.concatenate([by_order[:, :0:-1], by_order], axis=1)
  return (packed * sht_numpy.packed_mask(lmax)).astype(np.float32)


@functools.lru_cache(maxsize=None)
def analysis_table(n, lmax):
  return _packed_legendre(sht_numpy.analysis_legendre_table(n, lmax), lmax)


@functools.lru_cache(maxsize=None)
def synthesis_table(n, lmax):
  return _packed_legendre(sht_numpy.legendre_table(n, lmax), lmax)


def validate_spherical_input(shape, what="input"):
  """Checks a static shape [batch, n, n, channels]; returns (n, channels)."""
  shape = tf.TensorShape(shape)
  if shape.rank != 4:
    raise ValueError(f"{what}: expected a rank-4 tensor [batch, lat, lon,"
                     f" channels] on a DH grid, got shape {shape}")
  lat, lon, channels = shape[1], shape[2], shape[3]
  if lat is None or lon is None:
    raise ValueError(f"{what}: the grid size must be static, got {shape}")
  try:
    n = dh_grid.validate_maps(np.empty((lat, lon), np.bool_), what)
  except dh_grid.GridError as e:
    raise ValueError(str(e)) from None
  return n, channels


def forward_by_order(maps, lmax=None):
  """Real SHT in the order-major layout used inside layers.

  Args:
    maps: [B, n, n, C] on the DH grid.
    lmax: maximum degree (default n/2 - 1).

  Returns:
    [2L+1 (order m), B, C, L+1 (degree l)] coefficients.  Keeping the order
    axis first lets both contractions be plain (batched) matrix products.
  """
  maps = tf.convert_to_tensor(maps)
  n, channels = validate_spherical_input(maps.shape, "sht.forward")
  lmax = sht_numpy.max_degree(n, lmax)
  fourier = tf.constant(packed_fourier_basis(n, lmax), dtype=maps.dtype)
  legendre = tf.constant(np.transpose(analysis_table(n, lmax), (1, 0, 2)),
                         dtype=maps.dtype)                    # [m, j, l]
  batch = tf.shape(maps)[0]
  rows = tf.reshape(tf.transpose(maps, (0, 3, 1, 2)), (-1, n))  # [BCj, k]
  by_order = tf.reshape(tf.matmul(rows, fourier), (-1, n, 2 * lmax + 1))
  coefficients = tf.matmul(tf.transpose(by_order, (2, 0, 1)), legendre)
  return tf.reshape(coefficients, (2 * lmax + 1, batch, channels, lmax + 1))


def inverse_by_order(coefficients, n):
  """Inverse of `forward_by_order`: [2L+1, B, C, L+1] -> maps [B, n, n, C]."""
  coefficients = tf.convert_to_tensor(coefficients)
  shape = coefficients.shape
  if shape.rank != 4 or shape[0] is None or shape[3] is None or (
      shape[0] != 2 * shape[3] - 1):
    raise ValueError("sht.inverse: expected coefficients [2L+1, batch,"
                     f" channels, L+1], got shape {shape}")
  lmax = shape[3] - 1
  if lmax > sht_numpy.max_degree(n):
    raise ValueError(f"sht.inverse: degree {lmax} does not fit a {n} x {n}"
                     " grid")
  fourier = tf.constant(packed_fourier_basis(n, lmax).T,
                        dtype=coefficients.dtype)              # [m, k]
  legendre = tf.constant(np.transpose(synthesis_table(n, lmax), (1, 2, 0)),
                         dtype=coefficients.dtype)             # [m, l, j]
  batch = tf.shape(coefficients)[1]
  channels = shape[2]
  flat = tf.reshape(coefficients, (2 * lmax + 1, -1, lmax + 1))
  by_order = tf.matmul(flat, legendre)                         # [m, BC, j]
  rows = tf.reshape(tf.transpose(by_order, (1, 2, 0)), (-1, 2 * lmax + 1))
  maps = tf.reshape(tf.matmul(rows, fourier), (batch, channels, n, n))
  return tf.transpose(maps, (0, 2, 3, 1))


def forward(maps, lmax=None):
  """Real SHT: maps [B, n, n, C] -> packed coefficients [B, 2L+1, L+1, C]."""
  return tf.transpose(forward_by_order(maps, lmax), (1, 0, 3, 2))


def inverse(coefficients, n):
  """Inverse real SHT: packed [B, 2L+1, L+1, C] -> maps [B, n, n, C]."""
  coefficients = tf.convert_to_tensor(coefficients)
  shape = coefficients.shape
  if shape.rank != 4 or shape[1] is None or shape[2] is None or (
      shape[1] != 2 * shape[2] - 1):
    raise ValueError("sht.inverse: expected packed coefficients [batch, 2L+1,"
                     f" L+1, channels], got shape {shape}")
  return inverse_by_order(tf.transpose(coefficients, (1, 0, 3, 2)), n)


def rotate(maps, rotations):
  """Rotates maps [B, n, n, C] by rotations [B, 3, 3] (f -> f(R^T x)).

  Exact for band-limited maps.  The Wigner matrices are built in NumPy
  (`sph_embed.sphere.sht_numpy.wigner_matrices`), so `rotations` must
  be concrete (eager) values; the application is a TF op and differentiable
  with respect to `maps`.
  """
  maps = tf.convert_to_tensor(maps)
  n, _ = validate_spherical_input(maps.shape, "sht.rotate")
  rotations = np.asarray(rotations)
  if rotations.ndim == 2:
    rotations = np.broadcast_to(rotations, (maps.shape[0] or 1, 3, 3))
  wigner = sht_numpy.wigner_matrices(rotations, sht_numpy.max_degree(n))
  wigner = tf.constant(wigner, dtype=maps.dtype)             # [B, l, m, k]
  rotated = tf.einsum("blmk,bklc->bmlc", wigner, forward(maps))
  return inverse(rotated, n)
