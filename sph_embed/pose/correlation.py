"""SO(3) cross-correlation of multi-channel spherical maps, relative pose.

Replaces the authors' MATLAB spherical_correlation.m / align.m (SOFT 1.0 +
S2kit).  NumPy, scipy and pyshtools only: no TensorFlow.

Conventions (DESIGN §1).  Maps are DH grids [n, n, C], channels last.  The
correlation of f1 against f2 is

  C(R) = sum_c int_{S^2} f2_c(x) (Lambda_R f1_c)(x) dx,

dx the area element (total 4 pi) and (Lambda_R f)(x) = f(R^T x).  If
f2 = Lambda_{R_rel} f1 (views in poses R1, R2: R_rel = R2 R1^T) the maximum
is at R = R_rel.  R(alpha, beta, gamma) = Rz(alpha) Ry(beta) Rz(gamma).

Maths.  With complex orthonormal harmonics Y_lm (Condon-Shortley phase, as
scipy.special.sph_harm_y), f1 = sum f_lm Y_lm, f2 = sum h_lm Y_lm, and
Lambda_R Y_lm = sum_n Y_ln D^l_nm(R), where
D^l_nm(alpha, beta, gamma) = e^{-i n alpha} d^l_nm(beta) e^{-i m gamma}
(the active Wigner D of Sakurai / Wikipedia), so
C(R) = sum_{l,n,m} conj(h_ln) f_lm D^l_nm(R).  Writing
Ry(beta) = Rz(pi/2) Ry(pi/2) Rz(beta) Ry(-pi/2) Rz(-pi/2) gives
d^l_nm(beta) = i^(m-n) sum_k Delta^l_nk Delta^l_mk e^{-i k beta} with
Delta^l = d^l(pi/2) (from pyshtools' djpi2), hence

  C(alpha, beta, gamma) = sum_{n,k,m} T_nkm e^{-i (n alpha + k beta + m gamma)},
  T_nkm = sum_c sum_l i^(m-n) Delta^l_nk Delta^l_mk f^c_lm conj(h^c_ln):

channels and degrees are summed in the Fourier domain and one inverse 3D FFT
per pair gives C on an N^3 Euler grid, for any even N >= 2L + 2 (zero
padding gives a finer grid).  C is real, so only m >= 0 is kept and the
last FFT stage is a real one.  The result is proven against Wigner's
explicit formula, scipy's harmonics, a brute-force quadrature of C, pysofft
and known rotations (tests/correlation_test.py).

Grid.  alpha_a = 2 pi a / N, beta_b = 2 pi b / N, gamma_c = 2 pi c / N.  The
FFT would sample beta over [0, 2 pi), but (alpha, beta, gamma) with beta in
(pi, 2 pi) is the rotation (alpha + pi, 2 pi - beta, gamma + pi), also on
the grid, so only beta in [0, pi] (N/2 + 1 samples) is computed.  The grid
step is s = 360 / N degrees: moving one angle by s is a geodesic step of
exactly s.  "Half the
grid step" in geodesic terms is the half-diagonal of an Euler cell,
`cell_radius_degrees(N, beta)` ~ (s / 2) sqrt(3 + 2 |cos beta|) <= 1.12 s:
the largest distance from a rotation to the grid point obtained by rounding
its three angles.

The MATLAB original upsampled its 16 x 16 maps x4 (bicubic) before the
transform; `upsample_maps` does this with periodic cubic splines that follow
the sphere's topology (longitude wraps; a meridian continues over the poles
at longitude + pi).
"""

import dataclasses
import functools
import math

import numpy as np
from pyshtools import rotate as pysh_rotate
from scipy import ndimage
from scipy import optimize

from sph_embed.sphere import rotations as rotations_lib
from sph_embed.sphere import dh_grid
from sph_embed.sphere import sht_numpy

# Degree-product tables larger than this are computed per block, not cached.
_MAX_CACHED_PRODUCT_BYTES = 1 << 28


def _frozen(array):
  array.flags.writeable = False
  return array


# ----------------------------------------------------------------------------
# Wigner d(pi/2) and the degree-product tables (cached per max degree).


@functools.lru_cache(maxsize=None)
def wigner_d_half_pi(lmax):
  """Delta^l = d^l(pi/2) for l = 0..lmax: [L+1, 2L+1 (n), 2L+1 (k)].

  Entry [l, L + n, L + k] is d^l_nk(pi/2) (Wikipedia's phase convention,
  see `wigner_d_reference`); zero where |n| > l or |k| > l.  pyshtools'
  djpi2(L)[k, n, l] holds d^l_nk(pi/2) for n, k >= 0; negative orders follow
  from d_{n,-k} = (-1)^(l+n) d_nk, d_{-n,k} = (-1)^(l+k) d_nk,
  d_{-n,-k} = (-1)^(n+k) d_nk at beta = pi/2.
  """
  dj = pysh_rotate.djpi2(max(lmax, 1))
  out = np.zeros((lmax + 1, 2 * lmax + 1, 2 * lmax + 1))
  for l in range(lmax + 1):
    pos = dj[:l + 1, :l + 1, l].T                         # [n >= 0, k >= 0]
    orders = np.arange(l + 1)
    n, k = orders[:, None], orders[None, :]
    plus, minus = lmax + orders, lmax - orders
    out[l][np.ix_(plus, plus)] = pos
    out[l][np.ix_(plus, minus)] = (-1.0) ** (l + n) * pos
    out[l][np.ix_(minus, plus)] = (-1.0) ** (l + k) * pos
    out[l][np.ix_(minus, minus)] = (-1.0) ** (n + k) * pos
  return _frozen(out)


def wigner_d_reference(l, beta):
  """d^l_nm(beta) by Wigner's explicit sum: [2l+1 (n), 2l+1 (m)].

  The slow reference (exact for small l) against which `wigner_d_half_pi`
  and the factorisation d(beta) = i^(m-n) Delta diag(e^{-ik beta}) Delta^T
  are tested: d^l_nm(beta) = <l n| exp(-i beta J_y) |l m>.
  """
  out = np.zeros((2 * l + 1, 2 * l + 1))
  cos, sin = math.cos(beta / 2), math.sin(beta / 2)
  for n in range(-l, l + 1):
    for m in range(-l, l + 1):
      total = 0.0
      for s in range(max(0, m - n), min(l + m, l - n) + 1):
        total += ((-1) ** (n - m + s) * cos ** (2 * l + m - n - 2 * s)
                  * sin ** (n - m + 2 * s)
                  / (math.factorial(l + m - s) * math.factorial(s)
                     * math.factorial(n - m + s) * math.factorial(l - n - s)))
      out[n + l, m + l] = total * math.sqrt(
          math.factorial(l + n) * math.factorial(l - n)
          * math.factorial(l + m) * math.factorial(l - m))
  return out


def _order_blocks(lmax):
  """The (n, m >= 0) orders grouped by l0 = max(|n|, m), as index slices.

  Delta^l_nk Delta^l_mk vanishes for l < l0, so the sum over degrees of an
  order pair only runs over l = l0..L: grouping the pairs by l0 makes every
  group one batched matmul with contraction length L + 1 - l0 (about a
  third of the work of summing over all degrees).  Each l0 gives two blocks
  of [2L+1 (n), L+1 (m)] index space: |n| = l0 with m <= l0, and m = l0
  with |n| < l0.

  Yields:
    (l0, n slice, m slice); n indices are offset by L.
  """
  yield 0, slice(lmax, lmax + 1), slice(0, 1)
  for l0 in range(1, lmax + 1):
    yield l0, slice(lmax - l0, lmax + l0 + 1, 2 * l0), slice(0, l0 + 1)
    yield l0, slice(lmax - l0 + 1, lmax + l0), slice(l0, l0 + 1)


def _block_products(lmax, l0, n_slice, m_slice):
  """W[n, m, l, k] = Delta^l_nk Delta^l_mk for one block, l = l0..L."""
  delta = wigner_d_half_pi(lmax)[l0:]
  m_slice = slice(lmax + m_slice.start, lmax + m_slice.stop)
  return _frozen(np.einsum("lnk,lmk->nmlk", delta[:, n_slice],
                           delta[:, m_slice], optimize=True))


@functools.lru_cache(maxsize=2)
def _cached_products(lmax):
  return tuple((l0, n_slice, m_slice,
                _block_products(lmax, l0, n_slice, m_slice))
               for l0, n_slice, m_slice in _order_blocks(lmax))


@functools.lru_cache(maxsize=None)
def _products_bytes(lmax):
  """Size of all the `_block_products` tables for max degree L."""
  orders = range(2 * lmax + 1)
  entries = sum(len(orders[n]) * len(orders[m]) * (lmax + 1 - l0)
                for l0, n, m in _order_blocks(lmax))
  return 8 * entries * (2 * lmax + 1)


def _products(lmax):
  """Yields (l0, n slice, m slice, W) over `_order_blocks`.

  The tables (11 MiB at L = 31, 171 MiB at L = 63) are cached unless larger
  than _MAX_CACHED_PRODUCT_BYTES; then each block is computed when needed.
  """
  if _products_bytes(lmax) <= _MAX_CACHED_PRODUCT_BYTES:
    yield from _cached_products(lmax)
    return
  for l0, n_slice, m_slice in _order_blocks(lmax):
    yield l0, n_slice, m_slice, _block_products(lmax, l0, n_slice, m_slice)


# ----------------------------------------------------------------------------
# Maps -> complex coefficients.


def complex_coefficients(cilm):
  """pyshtools real 4pi cilm [..., 2, L+1, L+1] -> complex [..., L+1, 2L+1].

  Entry [..., l, L + m] is f_lm = int f conj(Y_lm) dx for orthonormal
  complex harmonics with the Condon-Shortley phase: for m > 0,
  f_lm = sqrt(2 pi) (-1)^m (C_lm - i S_lm), f_l,-m = sqrt(2 pi)
  (C_lm + i S_lm), and f_l0 = sqrt(4 pi) C_l0.
  """
  cilm = np.asarray(cilm, dtype=np.float64)
  lmax = cilm.shape[-1] - 1
  cos, sin = cilm[..., 0, :, :], cilm[..., 1, :, :]          # [..., l, m]
  scale = math.sqrt(2 * math.pi)
  signed = scale * (-1.0) ** np.arange(lmax + 1)
  # Written part by part into the output: no complex temporaries.
  out = np.empty(cilm.shape[:-3] + (lmax + 1, 2 * lmax + 1), dtype=complex)
  positive, negative = out[..., lmax:], out[..., lmax::-1]   # [..., l, m]
  np.multiply(cos, signed, out=positive.real)
  np.multiply(sin, -signed, out=positive.imag)
  np.multiply(cos, scale, out=negative.real)
  np.multiply(sin, scale, out=negative.imag)
  out[..., lmax] = math.sqrt(4 * math.pi) * cos[..., 0]
  return out


@functools.lru_cache(maxsize=None)
def _spline_matrix(size, factor):
  """Periodic cubic-spline interpolation of `size` samples at j / factor."""
  coords = np.arange(size * factor) / factor
  out = np.stack([
      ndimage.map_coordinates(column, coords[None], order=3, mode="grid-wrap")
      for column in np.eye(size)], axis=-1)
  return _frozen(out)


def _closed_meridians(maps):
  """DH maps [..., n, n] -> [..., 2n, n]: each meridian as a closed circle.

  Rows 0..n-1 are the maps, row n the south pole (the band-limited
  expansion's value there, which the DH grid does not sample), rows
  n+1..2n-1 the rows n-1..1 at longitude + pi (theta' = 2 pi - theta).
  """
  n = maps.shape[-1]
  cilm = sht_numpy.sht(maps)
  degrees = np.arange(cilm.shape[-1])
  south = np.einsum("...l,l->...", cilm[..., 0, :, 0],
                    (-1.0) ** degrees * np.sqrt(2 * degrees + 1))
  shifted = np.roll(maps, n // 2, axis=-1)[..., :0:-1, :]   # rows n-1 .. 1
  return np.concatenate(
      [maps, np.broadcast_to(south[..., None, None], maps.shape[:-2] + (1, n)),
       shifted], axis=-2)


def _check_factor(factor):
  if not isinstance(factor, (int, np.integer)) or factor < 1:
    raise ValueError(f"upsampling factor must be a positive integer, got"
                     f" {factor!r}")


def upsample_maps(maps, factor):
  """Cubic-spline upsampling of DH maps [..., n, n] -> [..., kn, kn].

  Sample (j, k) of the output sits at (j / factor, k / factor) of the input
  grid, so input samples are kept.  Longitude wraps.  In colatitude each
  meridian is continued over both poles to a closed great circle (see
  `_closed_meridians`).  The interpolation is separable: two small cached
  matrices.
  """
  maps = np.asarray(maps, dtype=np.float64)
  n = dh_grid.validate_maps(maps)
  _check_factor(factor)
  if factor == 1:
    return maps
  lat = _spline_matrix(2 * n, factor)[:n * factor]          # [kn, 2n]
  lon = _spline_matrix(n, factor)                           # [kn, n]
  return lat @ _closed_meridians(maps) @ lon.T


@functools.lru_cache(maxsize=None)
def _upsampled_analysis(n, factor):
  """`sht(upsample_maps(maps, factor))` as two operators on the meridians.

  Both steps are linear, so the spline matrices fold into the transform's
  Fourier and Legendre tables: cilm[t, l, m] = sum_{j,k} circle[j, k]
  fourier[k, t, m] legendre[j, l, m] (t: cosine / sine), about 5x fewer
  operations than upsampling first at factor 4.

  Returns:
    fourier [n, 2 (L+1)], legendre [L+1 (m), 2n (j), L+1 (l)].
  """
  size = n * factor
  lmax = sht_numpy.max_degree(size)
  cos_m, sin_m = sht_numpy.fourier_bases(size, lmax)
  lon = _spline_matrix(n, factor)                           # [kn, n]
  lat = _spline_matrix(2 * n, factor)[:size]                # [kn, 2n]
  fourier = lon.T @ np.concatenate([cos_m, sin_m], axis=1)
  legendre = np.einsum("jJ,jlm->mJl", lat,
                       sht_numpy.analysis_legendre_table(size, lmax))
  return _frozen(fourier), _frozen(np.ascontiguousarray(legendre))


def upsampled_sht(maps, factor):
  """Real SHT (pyshtools cilm) of `upsample_maps(maps, factor)`, fused.

  Args:
    maps: [..., n, n] DH maps.
    factor: positive integer upsampling factor.

  Returns:
    cilm [..., 2, L+1, L+1] with L = n * factor / 2 - 1.
  """
  maps = np.asarray(maps, dtype=np.float64)
  n = dh_grid.validate_maps(maps)
  _check_factor(factor)
  if factor == 1:
    return sht_numpy.sht(maps)
  fourier, legendre = _upsampled_analysis(n, factor)
  lmax = legendre.shape[0] - 1
  batch = maps.shape[:-2]
  over_k = _closed_meridians(maps).reshape((-1, n)) @ fourier
  # [m, (maps, t), j] @ [m, j, l]: one matmul per order m.
  over_k = over_k.reshape((-1, 2 * n, 2, lmax + 1)).transpose(3, 0, 2, 1)
  cilm = over_k.reshape(lmax + 1, -1, 2 * n) @ legendre      # [m, (.., t), l]
  cilm = cilm.reshape(lmax + 1, -1, 2, lmax + 1).transpose(1, 2, 3, 0)
  return cilm.reshape(batch + cilm.shape[1:])


def map_coefficients(maps, upsample=1, normalize=False, what="maps"):
  """Complex coefficients of channels-last DH maps.

  Args:
    maps: [..., n, n, C] real maps.
    upsample: integer factor applied before the transform (`upsample_maps`).
    normalize: if True, each channel is made zero-mean (degree 0 dropped)
      and scaled to unit L2 norm on the sphere, so that C(R) / C is a mean
      correlation coefficient in [-1, 1].  Constant channels become zero.
    what: name used in error messages.

  Returns:
    complex [..., C, L+1, 2L+1] (see `complex_coefficients`), with
    L = (n * upsample) / 2 - 1.

  Raises:
    dh_grid.GridError (a ValueError) for non-square or non-DH maps and
    ValueError for NaN or infinite values.
  """
  maps = np.asarray(maps, dtype=np.float64)
  if maps.ndim < 3:
    raise dh_grid.GridError(f"{what}: expected [..., n, n, C] channels-last"
                           f" maps, got shape {maps.shape}")
  maps = np.moveaxis(maps, -1, -3)
  dh_grid.validate_maps(maps, what)
  if not np.all(np.isfinite(maps)):
    raise ValueError(f"{what}: contains NaN or infinite values")
  coefficients = complex_coefficients(upsampled_sht(maps, upsample))
  if normalize:
    lmax = coefficients.shape[-2] - 1
    total = np.sqrt(np.sum(np.abs(coefficients) ** 2, axis=(-2, -1)))
    coefficients[..., 0, lmax] = 0
    norm = np.sqrt(np.sum(np.abs(coefficients) ** 2, axis=(-2, -1)))
    # Constant channels (variation at rounding level) get weight zero.
    scale = np.divide(1.0, norm, out=np.zeros_like(norm),
                      where=norm > 1e-10 * total)
    coefficients *= scale[..., None, None]
  return coefficients


# ----------------------------------------------------------------------------
# Fourier coefficients T of the correlation and its values.


def _check_pair(coefficients1, coefficients2):
  c1 = np.asarray(coefficients1)
  c2 = np.asarray(coefficients2)
  if c1.ndim < 3 or c1.shape[-1] != 2 * c1.shape[-2] - 1:
    raise ValueError(f"expected coefficients [..., C, L+1, 2L+1], got shape"
                     f" {c1.shape}")
  if c1.shape[-3:] != c2.shape[-3:]:
    raise ValueError(f"the two sides differ in channels or bandwidth:"
                     f" {c1.shape[-3:]} vs {c2.shape[-3:]} ([C, L+1, 2L+1])")
  return c1, c2


class _WorkArrays:
  """Work arrays kept from one batch of pairs to the next.

  Fresh arrays of several MB are mapped anew and page-faulted on every
  batch, which on small VMs costs about as much as the transforms
  (BUILD_NOTES.md); reusing them avoids that.
  """

  def __init__(self):
    self._arrays = {}

  def empty(self, name, shape, dtype=np.float64):
    array = self._arrays.get(name)
    if array is None or array.shape != shape or array.dtype != dtype:
      array = self._arrays[name] = np.empty(shape, dtype)
    return array


def _operands(coefficients1, coefficients2):
  """Per-map factors of M = i^(m-n) sum_c f_lm conj(h_ln), ready for matmul.

  i^(m-n) = i^m i^-n is applied here, once per map rather than per pair.

  Returns:
    (first [..., L+1 (l), L+1 (m >= 0), C], second [..., L+1 (l), C,
    2L+1 (n)]), contiguous.
  """
  c1, c2 = _check_pair(coefficients1, coefficients2)
  lmax = c1.shape[-2] - 1
  # One pass each: phase, new layout and (second side) conjugate.
  first = np.moveaxis(c1[..., lmax:], -3, -1)                 # [..., l, m, C]
  first = np.multiply(first, 1j ** np.mod(np.arange(lmax + 1), 4)[:, None],
                      out=np.empty(first.shape, complex))
  second = np.moveaxis(c2, -3, -2)                            # [..., l, C, n]
  second = np.multiply(second, 1j ** np.mod(np.arange(-lmax, lmax + 1), 4),
                       out=np.empty(second.shape, complex))
  return first, np.conjugate(second, out=second)


def _fourier_parts(first, second, index1, index2, work):
  """T of `fourier_correlation` as real and imaginary parts.

  Args:
    first, second: `_operands` of the maps, [V1, ...] and [V2, ...].
    index1, index2: int [P]: pair p correlates first[index1[p]] with
      second[index2[p]] (maps shared by several pairs are not copied).
    work: _WorkArrays.

  Returns:
    (real, imag), [P, 2L+1 (n), 2L+1 (k), L+1 (m)] views into one array of
    `work` laid out for the degree sums.
  """
  pairs, lmax = len(index1), first.shape[1] - 1
  mixed = work.empty("mixed", (pairs, lmax + 1, lmax + 1, 2 * lmax + 1),
                     complex)                              # [p, l, m, n]
  for pair, (i, j) in enumerate(zip(index1, index2)):
    np.matmul(first[i], second[j], out=mixed[pair])
  # Rows of the degree sums: [n, m, (real, imag) x pairs, l].
  stacked = work.empty("stacked",
                       (2 * lmax + 1, lmax + 1, 2 * pairs, lmax + 1))
  stacked[:, :, :pairs] = mixed.real.transpose(3, 2, 0, 1)
  stacked[:, :, pairs:] = mixed.imag.transpose(3, 2, 0, 1)
  # T[p, n, k, m] = sum_{l >= l0} W[n, m, l, k] M[p, l, m, n], one batched
  # real matmul per block of orders.
  out = work.empty("sums", (2 * lmax + 1, lmax + 1, 2 * pairs, 2 * lmax + 1))
  for l0, n_slice, m_slice, products in _products(lmax):
    np.matmul(stacked[n_slice, m_slice, :, l0:], products,
              out=out[n_slice, m_slice])
  out = out.transpose(2, 0, 3, 1)                          # [2p, n, k, m]
  return out[:pairs], out[pairs:]


def _broadcast_operands(coefficients1, coefficients2):
  """`_operands` flattened, with the pair indices their broadcast implies.

  Returns:
    (batch shape, first, second, index1, index2); see `_fourier_parts`.
  """
  first, second = _operands(coefficients1, coefficients2)
  batch = np.broadcast_shapes(first.shape[:-3], second.shape[:-3])
  indices = [np.broadcast_to(np.arange(math.prod(x.shape[:-3])).reshape(
      x.shape[:-3]), batch).ravel() for x in (first, second)]
  return (batch, first.reshape((-1,) + first.shape[-3:]),
          second.reshape((-1,) + second.shape[-3:]), *indices)


def fourier_correlation(coefficients1, coefficients2):
  """T_nkm of C (f1 rotated, f2 fixed), summed over channels and degrees.

  Args:
    coefficients1: complex [..., C, L+1, 2L+1] of f1 (from map_coefficients).
    coefficients2: same for f2; leading axes broadcast.

  Returns:
    complex [..., 2L+1 (n), 2L+1 (k), L+1 (m >= 0)], entry [L+n, L+k, m].
  """
  batch, *operands = _broadcast_operands(coefficients1, coefficients2)
  real, imag = _fourier_parts(*operands, _WorkArrays())
  fourier = real + 1j * imag
  return fourier.reshape(batch + fourier.shape[1:])


def fourier_correlation_reference(coefficients1, coefficients2):
  """Reference for `fourier_correlation` (one pair): a loop over degrees."""
  c1, c2 = _check_pair(coefficients1, coefficients2)
  lmax = c1.shape[-2] - 1
  delta = wigner_d_half_pi(lmax)
  out = np.zeros((2 * lmax + 1, 2 * lmax + 1, lmax + 1), dtype=complex)
  for l in range(lmax + 1):
    for n in range(-l, l + 1):
      for m in range(0, l + 1):
        weight = 1j ** ((m - n) % 4) * np.sum(
            c1[:, l, lmax + m] * np.conj(c2[:, l, lmax + n]))
        out[lmax + n, :, m] += (weight * delta[l, lmax + n, :]
                                * delta[l, lmax + m, :])
  return out


def _grid_size(lmax, grid_size):
  minimum = 2 * lmax + 2
  if grid_size is None:
    return minimum
  if (not isinstance(grid_size, (int, np.integer)) or grid_size < minimum
      or grid_size % 2):
    raise ValueError(f"grid_size must be an even integer >= 2L + 2 = {minimum},"
                     f" got {grid_size!r}")
  return int(grid_size)


def correlation_grid(fourier, grid_size=None):
  """C on the N^3 Euler grid, beta in [0, pi], from T [..., 2L+1, 2L+1, L+1].

  Returns:
    float64 [..., N, N/2 + 1, N], axes (alpha, beta, gamma), angle
    2 pi j / N, N = grid_size (default 2L + 2).  Only beta in [0, pi] is
    computed: the rest of the FFT's [0, 2 pi) repeats it (module docstring).
  """
  fourier = np.asarray(fourier)
  flat = fourier.reshape((-1,) + fourier.shape[-3:])
  grids = _grids(flat.real, flat.imag, grid_size, _WorkArrays())
  return grids.reshape(fourier.shape[:-3] + grids.shape[1:])


def _grids(real, imag, grid_size, work):
  """`correlation_grid` of T = real + i imag, both [P, 2L+1, 2L+1, L+1].

  The result is an array of `work`.  The inverse FFT runs axis by axis, beta
  first, so that the redundant half is never evaluated.
  """
  lmax = real.shape[-1] - 1
  size = _grid_size(lmax, grid_size)
  half = size // 2 + 1
  out = work.empty("grids", (real.shape[0], size, half, size))
  # C = sum conj(T) e^{+i (n alpha + k beta + m gamma)}; orders go to
  # indices mod N.  One pair at a time keeps the work arrays in cache; the
  # transforms run in place.
  over_k = work.empty("over_k", (2 * lmax + 1, size, lmax + 1), complex)
  over_n = work.empty("over_n", (size, half, lmax + 1), complex)
  for i in range(real.shape[0]):
    over_k.real[:, :lmax + 1] = real[i, :, lmax:]
    over_k.real[:, size - lmax:] = real[i, :, :lmax]
    np.negative(imag[i, :, lmax:], out=over_k.imag[:, :lmax + 1])
    np.negative(imag[i, :, :lmax], out=over_k.imag[:, size - lmax:])
    over_k[:, lmax + 1:size - lmax] = 0
    beta = np.fft.ifft(over_k, axis=1, norm="forward", out=over_k)[:, :half]
    over_n[:lmax + 1] = beta[lmax:]
    over_n[size - lmax:] = beta[:lmax]
    over_n[lmax + 1:size - lmax] = 0
    alpha = np.fft.ifft(over_n, axis=0, norm="forward", out=over_n)
    np.fft.irfft(alpha, n=size, axis=2, norm="forward", out=out[i])
  return out


def correlation_at(fourier, alpha, beta, gamma, gradient=False):
  """C(alpha, beta, gamma) summed from T (one pair): a float.

  The direct trigonometric sum, used to refine a grid maximum and as the
  reference for `correlation_grid`.  With gradient=True, also returns
  dC / d(alpha, beta, gamma) as a [3] array.
  """
  fourier = np.asarray(fourier)
  lmax = fourier.shape[-1] - 1
  n = np.arange(-lmax, lmax + 1)
  m = np.arange(lmax + 1)
  e_alpha = np.exp(-1j * n * alpha)
  e_beta = np.exp(-1j * n * beta)
  e_gamma = np.where(m > 0, 2.0, 1.0) * np.exp(-1j * m * gamma)
  over_gamma = fourier @ e_gamma                             # [n, k]
  value = np.real(e_alpha @ over_gamma @ e_beta)
  if not gradient:
    return value
  d_gamma = np.real(e_alpha @ (fourier @ (-1j * m * e_gamma)) @ e_beta)
  d_alpha = np.real((-1j * n * e_alpha) @ over_gamma @ e_beta)
  d_beta = np.real(e_alpha @ over_gamma @ (-1j * n * e_beta))
  return value, np.array([d_alpha, d_beta, d_gamma])


def refine_maximum(fourier, euler, max_iterations=100):
  """Continuous maximisation of C from a starting point (BFGS on ZYZ angles).

  Returns:
    (euler [3], value); the start is returned if no higher value is found.
  """
  euler = np.asarray(euler, dtype=np.float64)
  start_value = correlation_at(fourier, *euler)
  scale = abs(start_value) if start_value else 1.0

  def negative(x):
    value, grad = correlation_at(fourier, *x, gradient=True)
    return -value / scale, -grad / scale

  result = optimize.minimize(negative, euler, jac=True, method="BFGS",
                             options={"maxiter": max_iterations,
                                      "gtol": 1e-10})
  value = -result.fun * scale
  if value > start_value:
    return result.x, value
  return euler, start_value


def grid_angles(grid_size):
  """The N Euler angles 2 pi j / N of each grid axis."""
  return 2 * np.pi * np.arange(grid_size) / grid_size


def cell_radius_degrees(grid_size, beta):
  """Geodesic half-diagonal of the Euler cell at colatitude-angle beta.

  The largest angle between R(alpha, beta, gamma) and
  R(alpha +- h/2, beta +- h/2, gamma +- h/2), h = 2 pi / grid_size (it does
  not depend on alpha, gamma): the geodesic meaning of "half the grid step".
  """
  half = np.pi / grid_size
  beta = np.asarray(beta, dtype=np.float64)
  signs = np.array(np.meshgrid([-1, 1], [-1, 1], [-1, 1])).reshape(3, -1).T
  base = rotations_lib.matrix_from_zyz(0.0, beta, 0.0)[..., None, :, :]
  corners = rotations_lib.matrix_from_zyz(
      half * signs[:, 0], beta[..., None] + half * signs[:, 1],
      half * signs[:, 2])
  return rotations_lib.geodesic_degrees(base, corners).max(axis=-1)


def grid_argmax(grids):
  """Euler angles [..., 3] and values [...] of the maxima of grids."""
  grids = np.asarray(grids)
  size = grids.shape[-1]
  flat = grids.reshape(grids.shape[:-3] + (-1,))
  best = np.argmax(flat, axis=-1)
  a, b, c = np.unravel_index(best, grids.shape[-3:])
  angles = grid_angles(size)
  euler = np.stack([angles[a], angles[b], angles[c]], axis=-1)
  return euler, np.take_along_axis(flat, best[..., None], axis=-1)[..., 0]


def peaks(grid, count=4, min_separation_degrees=20.0):
  """Up to `count` local maxima of one grid, as a discrete pose distribution.

  Symmetric objects correlate equally well at several rotations; listing
  the separated local maxima (not only the argmax) exposes them.

  Returns:
    (rotations [K, 3, 3], values [K]), K <= count, by decreasing value,
    pairwise at least `min_separation_degrees` apart.
  """
  grid = np.asarray(grid)
  size = grid.shape[-1]
  local = grid == ndimage.maximum_filter(grid, size=3,
                                         mode=("wrap", "nearest", "wrap"))
  a, b, c = np.nonzero(local)
  order = np.argsort(grid[a, b, c])[::-1]
  angles = grid_angles(size)
  chosen, values = [], []
  for i in order:
    rotation = rotations_lib.matrix_from_zyz(angles[a[i]], angles[b[i]],
                                             angles[c[i]])
    if all(rotations_lib.geodesic_degrees(rotation, other)
           >= min_separation_degrees for other in chosen):
      chosen.append(rotation)
      values.append(grid[a[i], b[i], c[i]])
      if len(chosen) == count:
        break
  return np.array(chosen).reshape(-1, 3, 3), np.array(values)


# ----------------------------------------------------------------------------
# Relative pose.


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
  batch, *operands = _broadcast_operands(coefficients1, coefficients2)
  alignment, grids = _align(*operands, grid_size, refine, _WorkArrays())
  alignment = _reshape_alignment(alignment, batch)
  if return_grids:
    return dataclasses.replace(alignment,
                               grids=grids.reshape(batch + grids.shape[1:]))
  return alignment


def _batch_operands(maps1, maps2, pairs, upsample, normalize):
  """`_fourier_parts` inputs for index pairs, each distinct map once.

  Returns:
    (first, second, index1, index2): operands of the distinct first and
    second views and, per pair, the index of its maps among them.
  """
  views1, index1 = np.unique(pairs[:, 0], return_inverse=True)
  views2, index2 = np.unique(pairs[:, 1], return_inverse=True)
  first, second = _operands(
      map_coefficients(maps1[views1], upsample, normalize,
                       f"first views {views1.tolist()}"),
      map_coefficients(maps2[views2], upsample, normalize,
                       f"second views {views2.tolist()}"))
  return first, second, index1, index2


def _align(first, second, index1, index2, grid_size, refine, work):
  """Alignments of pairs given `_fourier_parts` inputs: (Alignment, grids)."""
  real, imag = _fourier_parts(first, second, index1, index2, work)
  grids = _grids(real, imag, grid_size, work)
  euler, scores = grid_argmax(grids)
  if refine:
    for i in range(len(real)):
      euler[i], scores[i] = refine_maximum(real[i] + 1j * imag[i], euler[i])
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
  c1 = map_coefficients(maps1, upsample, normalize, "maps1")
  c2 = map_coefficients(maps2, upsample, normalize, "maps2")
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
  work = _WorkArrays()
  for start in range(0, len(order), batch_size):
    chunk = order[start:start + batch_size]
    result, _ = _align(
        *_batch_operands(maps1, maps2, pairs[chunk], upsample, normalize),
        grid_size, refine, work)
    rotations[chunk] = result.rotations
    euler[chunk] = result.euler
    scores[chunk] = result.scores
    if callback is not None:
      callback(len(chunk))
  return Alignment(rotations=rotations, euler=euler, scores=scores)

