"""Maps -> complex harmonic coefficients, with the upsampling fused in.

The MATLAB original upsampled its 16 x 16 maps x4 (bicubic) before the
transform.  Here the upsampling is periodic cubic-spline interpolation that
follows the sphere's topology: longitude wraps, and each meridian continues
over the poles at longitude + pi (`closed_meridians`).  Sample (j, k) of
the upsampled map sits at (j / factor, k / factor) of the input grid, so
input samples are kept.  Interpolation and transform are both linear, so
they are applied as one operator (`upsampled_sht`) and the upsampled maps
are never formed.
"""

import functools
import math

import numpy as np
from scipy import ndimage

from sph_embed.pose.correlation import array_cache
from sph_embed.sphere import dh_grid
from sph_embed.sphere import sht_numpy


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
  return array_cache.frozen(out)


def closed_meridians(maps):
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


@functools.lru_cache(maxsize=None)
def _upsampled_analysis(n, factor):
  """The upsampling and the SHT as two operators on the closed meridians.

  The spline matrices fold into the transform's Fourier and Legendre
  tables: cilm[t, l, m] = sum_{j,k} circle[j, k] fourier[k, t, m]
  legendre[j, l, m] (t: cosine / sine), about 5x fewer operations than
  upsampling first at factor 4.

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
  return (array_cache.frozen(fourier),
          array_cache.frozen(np.ascontiguousarray(legendre)))


def upsampled_sht(maps, factor):
  """Real SHT (pyshtools cilm) of the maps upsampled by `factor`, fused.

  Equal to `sht_numpy.sht` of the [..., kn, kn] spline-upsampled maps
  (module docstring) without forming them.

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
  over_k = closed_meridians(maps).reshape((-1, n)) @ fourier
  # [m, (maps, t), j] @ [m, j, l]: one matmul per order m.
  over_k = over_k.reshape((-1, 2 * n, 2, lmax + 1)).transpose(3, 0, 2, 1)
  cilm = over_k.reshape(lmax + 1, -1, 2 * n) @ legendre      # [m, (.., t), l]
  cilm = cilm.reshape(lmax + 1, -1, 2, lmax + 1).transpose(1, 2, 3, 0)
  return cilm.reshape(batch + cilm.shape[1:])


def map_coefficients(maps, upsample=1, normalize=False, what="maps"):
  """Complex coefficients of channels-last DH maps.

  Args:
    maps: [..., n, n, C] real maps.
    upsample: integer factor applied before the transform (module
      docstring).
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
