"""Real spherical harmonic transforms and exact rotations on the DH grid (NumPy).

The NumPy reference beside the TensorFlow transform in `sph_embed.sphere.sht_tf`; both
share the constants built here.  Coefficients use pyshtools' conventions:
4pi-normalised real harmonics without the Condon-Shortley phase,
Y_lm = P_lm(cos theta) cos(m phi) and Y_l,-m = P_lm(cos theta) sin(m phi).

Two coefficient layouts:
- `cilm` [..., 2, L+1, L+1], exactly pyshtools' SHExpandDH output
  (cilm[0, l, m] cosine terms, cilm[1, l, m] sine terms);
- "packed" [..., 2L+1, L+1]: row L+m holds order m (m < 0: the sine term of
  order |m|), column l the degree; entries with l < |m| are zero.  Every
  degree is then one slice [:, l], which makes Wigner matrices and
  per-degree filters simple batched products.

Rotations follow DESIGN §1: (Lambda_R f)(x) = f(R^T x).  A real Wigner
matrix is assembled as D(R) = Dz(alpha) Dq Dz(beta) Dq^T Dz(gamma), with
R = Rz(alpha) Ry(beta) Rz(gamma), Ry(beta) = Q Rz(beta) Q^T and
Q = Rx(-pi/2) (which maps z to y); Dz is closed form and Dq, the matrix of
the fixed rotation Q, is computed once per degree from the exact transform
of the rotated basis.  pyshtools' SHRotateRealCoef is the test reference.
"""

import functools

import numpy as np
import pyshtools
from pyshtools.backends import shtools

from sph_embed.sphere import rotations as rotations_lib
from sph_embed.sphere import dh_grid


def max_degree(n, lmax=None):
  """Degree L used for an n x n grid: n/2 - 1 unless a smaller lmax is given."""
  full = dh_grid.bandwidth(n) - 1
  if lmax is None:
    return full
  if not 0 <= lmax <= full:
    raise dh_grid.GridError(
        f"lmax must be in [0, {full}] for a {n} x {n} grid, got {lmax}")
  return int(lmax)


def _frozen(array):
  array.flags.writeable = False
  return array


@functools.lru_cache(maxsize=None)
def fourier_bases(n, lmax):
  """cos(m phi_k), sin(m phi_k): two [n, L+1] matrices."""
  m_phi = np.outer(dh_grid.longitudes(n), np.arange(lmax + 1))
  return _frozen(np.cos(m_phi)), _frozen(np.sin(m_phi))


@functools.lru_cache(maxsize=None)
def legendre_table(n, lmax):
  """P_lm(cos theta_j), 4pi-normalised, shape [n, L+1 (l), L+1 (m)]."""
  return _frozen(np.stack([
      pyshtools.legendre.legendre(lmax, np.cos(t), normalization="4pi",
                                  csphase=1)
      for t in dh_grid.colatitudes(n)]))


@functools.lru_cache(maxsize=None)
def analysis_legendre_table(n, lmax):
  """Quadrature-weighted Legendre table for the forward transform.

  c_lm = sum_jk w_j P_lm(cos theta_j) [cos | sin](m phi_k) f_jk, with the
  Driscoll-Healy weights w_j (pyshtools' DHaj) scaled for the
  4pi-normalised harmonics (c_lm = 1/(4pi) int f Y_lm).
  """
  weights = shtools.DHaj(n) * np.sqrt(2.0) / (2.0 * n)
  return _frozen(weights[:, None, None] * legendre_table(n, lmax))


def sht(maps, lmax=None):
  """Forward real SHT of DH maps [..., n, n] -> cilm [..., 2, L+1, L+1]."""
  maps = np.asarray(maps, dtype=np.float64)
  n = dh_grid.validate_maps(maps)
  lmax = max_degree(n, lmax)
  cos_m, sin_m = fourier_bases(n, lmax)
  weighted = analysis_legendre_table(n, lmax)
  cos_part = np.einsum("...jk,km,jlm->...lm", maps, cos_m, weighted,
                       optimize=True)
  sin_part = np.einsum("...jk,km,jlm->...lm", maps, sin_m, weighted,
                       optimize=True)
  return np.stack([cos_part, sin_part], axis=-3)


def _validate_cilm(cilm):
  cilm = np.asarray(cilm, dtype=np.float64)
  if cilm.ndim < 3 or cilm.shape[-3] != 2 or cilm.shape[-2] != cilm.shape[-1]:
    raise ValueError(f"expected coefficients [..., 2, L+1, L+1], got shape"
                     f" {cilm.shape}")
  return cilm


def isht(cilm, n):
  """Inverse real SHT: cilm [..., 2, L+1, L+1] -> DH maps [..., n, n]."""
  cilm = _validate_cilm(cilm)
  lmax = cilm.shape[-1] - 1
  if lmax > max_degree(n):
    raise dh_grid.GridError(
        f"degree {lmax} does not fit a {n} x {n} grid (max {max_degree(n)})")
  cos_m, sin_m = fourier_bases(n, lmax)
  table = legendre_table(n, lmax)
  return (np.einsum("...lm,jlm,km->...jk", cilm[..., 0, :, :], table, cos_m,
                    optimize=True)
          + np.einsum("...lm,jlm,km->...jk", cilm[..., 1, :, :], table, sin_m,
                      optimize=True))


def cilm_to_packed(cilm):
  """cilm [..., 2, L+1, L+1] -> packed [..., 2L+1, L+1] (rows m = -L..L)."""
  cilm = _validate_cilm(cilm)
  lmax = cilm.shape[-1] - 1
  cos_rows = np.swapaxes(cilm[..., 0, :, :], -1, -2)        # [..., m, l]
  sin_rows = np.swapaxes(cilm[..., 1, :, 1:], -1, -2)[..., ::-1, :]
  return np.concatenate([sin_rows, cos_rows], axis=-2).reshape(
      cilm.shape[:-3] + (2 * lmax + 1, lmax + 1))


def packed_to_cilm(packed):
  """packed [..., 2L+1, L+1] -> cilm [..., 2, L+1, L+1]."""
  packed = np.asarray(packed, dtype=np.float64)
  lmax = packed.shape[-1] - 1
  if packed.shape[-2] != 2 * lmax + 1:
    raise ValueError(f"expected packed coefficients [..., 2L+1, L+1], got"
                     f" shape {packed.shape}")
  cilm = np.zeros(packed.shape[:-2] + (2, lmax + 1, lmax + 1))
  cilm[..., 0, :, :] = np.swapaxes(packed[..., lmax:, :], -1, -2)
  cilm[..., 1, :, 1:] = np.swapaxes(packed[..., lmax - 1::-1, :], -1, -2)
  return cilm


def packed_mask(lmax):
  """[2L+1, L+1] boolean: True where degree l >= |m| (a real coefficient)."""
  m = np.abs(np.arange(-lmax, lmax + 1))[:, None]
  return m <= np.arange(lmax + 1)[None, :]


def _z_rotation(angles, lmax):
  """Real Wigner matrices of Rz(angle): [..., 2L+1, 2L+1] (all degrees).

  Rotating by Rz(a) maps phi -> phi - a, so order m's cosine/sine pair
  (C, S) becomes (C cos ma - S sin ma, C sin ma + S cos ma).
  """
  angles = np.asarray(angles, dtype=np.float64)[..., None]
  m = np.arange(-lmax, lmax + 1)
  cos = np.cos(np.abs(m) * angles)
  sin = np.sin(np.abs(m) * angles)
  out = np.zeros(angles.shape[:-1] + (2 * lmax + 1, 2 * lmax + 1))
  rows = np.arange(2 * lmax + 1)
  out[..., rows, rows] = cos
  # Row L+m (cosine, m > 0) takes -sin * S_m from row L-m and vice versa.
  out[..., lmax + m[m > 0], lmax - m[m > 0]] = -sin[..., lmax + 1:]
  out[..., lmax - m[m > 0], lmax + m[m > 0]] = sin[..., lmax + 1:]
  return out


@functools.lru_cache(maxsize=None)
def _quarter_turn(lmax):
  """Per-degree real Wigner matrices of Q = Rx(-pi/2): [L+1, 2L+1, 2L+1].

  Column (m) of degree l is the packed transform of Y_lm(Q^T x), which is
  band-limited to degree l, so the DH transform gives it exactly.
  """
  n = dh_grid.grid_size(lmax + 1)
  q = rotations_lib.rotation_x(-np.pi / 2)
  theta, phi = dh_grid.directions_to_colat_lon(dh_grid.directions(n) @ q)
  legendre = np.stack([
      pyshtools.legendre.legendre(lmax, np.cos(t), normalization="4pi",
                                  csphase=1) for t in theta.ravel()])
  legendre = legendre.reshape(theta.shape + (lmax + 1, lmax + 1))
  orders = np.arange(lmax + 1)
  cos_mphi = np.cos(phi[..., None] * orders)                   # [n, n, m]
  sin_mphi = np.sin(phi[..., None] * orders)
  rotated_cos = legendre * cos_mphi[..., None, :]              # [n, n, l, m]
  rotated_sin = legendre * sin_mphi[..., None, :]
  packed_cos = cilm_to_packed(sht(np.moveaxis(rotated_cos, (0, 1), (-2, -1))))
  packed_sin = cilm_to_packed(sht(np.moveaxis(rotated_sin, (0, 1), (-2, -1))))
  # packed_*[l, m] is the packed expansion [2L+1, L+1] of the rotated Y_lm.
  out = np.zeros((lmax + 1, 2 * lmax + 1, 2 * lmax + 1))
  for l in range(lmax + 1):
    for m in range(l + 1):
      out[l, :, lmax + m] = packed_cos[l, m, :, l]
      if m:
        out[l, :, lmax - m] = packed_sin[l, m, :, l]
  return _frozen(out)


def wigner_matrices(rotations, lmax):
  """Real Wigner matrices D(R) per degree: [..., L+1, 2L+1, 2L+1].

  For packed coefficients p of f, the packed coefficients of Lambda_R f are
  D[l] @ p[:, l] for each degree l.  Entries outside |m| <= l are zero.
  """
  rotations = np.asarray(rotations, dtype=np.float64)
  alpha, beta, gamma = rotations_lib.zyz_from_matrix(rotations)
  dq = _quarter_turn(lmax)
  z_alpha = _z_rotation(alpha, lmax)[..., None, :, :]
  z_beta = _z_rotation(beta, lmax)[..., None, :, :]
  z_gamma = _z_rotation(gamma, lmax)[..., None, :, :]
  return (z_alpha @ dq) @ z_beta @ (np.swapaxes(dq, -1, -2) @ z_gamma)


def rotate_packed(packed, wigner):
  """Applies per-degree Wigner matrices [..., L+1, 2L+1, 2L+1] to packed."""
  return np.einsum("...lmk,...kl->...ml", wigner, packed)


def rotate_maps(maps, rotations, channels_last=False):
  """Rotates DH maps exactly (for band-limited maps): f -> f(R^T x).

  Args:
    maps: [..., n, n], or [..., n, n, C] with channels_last=True.
    rotations: [3, 3] or [..., 3, 3] broadcasting against the leading axes
      of `maps` (for channels_last, the axes before n, n, C).
    channels_last: whether the last axis of `maps` holds channels.

  Returns:
    The rotated maps, float64, same shape as `maps`.  Content above degree
    n/2 - 1 is not representable on the grid and is dropped.
  """
  maps = np.asarray(maps, dtype=np.float64)
  if channels_last:
    maps = np.moveaxis(maps, -1, -3)
  n = dh_grid.validate_maps(maps)
  rotations = rotations_lib.validate_rotations(rotations)
  lmax = max_degree(n)
  wigner = wigner_matrices(rotations, lmax)
  if channels_last:
    wigner = wigner[..., None, :, :, :]   # broadcast over the channel axis
  packed = cilm_to_packed(sht(maps))
  out = isht(packed_to_cilm(rotate_packed(packed, wigner)), n)
  return np.moveaxis(out, -3, -1) if channels_last else out
