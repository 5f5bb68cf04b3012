"""Slow, plain references for the SO(3) correlation's tests (test-only).

Each is written the direct way, so that the fast code in
sph_embed.pose.correlation can be checked against it.
"""

import math

import numpy as np
from scipy import ndimage

from sph_embed.pose.correlation import coefficients
from sph_embed.pose.correlation import wigner_tables
from sph_embed.sphere import dh_grid


def wigner_d_reference(l, beta):
  """d^l_nm(beta) by Wigner's explicit sum: [2l+1 (n), 2l+1 (m)].

  Exact for small l: the reference for `wigner_d_half_pi` and the
  factorisation d(beta) = i^(m-n) Delta diag(e^{-ik beta}) Delta^T, with
  d^l_nm(beta) = <l n| exp(-i beta J_y) |l m>.
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


def fourier_correlation_reference(coefficients1, coefficients2):
  """`fourier_correlation` of one pair by a loop over degrees and orders."""
  c1, c2 = np.asarray(coefficients1), np.asarray(coefficients2)
  lmax = c1.shape[-2] - 1
  delta = wigner_tables.wigner_d_half_pi(lmax)
  out = np.zeros((2 * lmax + 1, 2 * lmax + 1, lmax + 1), dtype=complex)
  for l in range(lmax + 1):
    for n in range(-l, l + 1):
      for m in range(0, l + 1):
        weight = 1j ** ((m - n) % 4) * np.sum(
            c1[:, l, lmax + m] * np.conj(c2[:, l, lmax + n]))
        out[lmax + n, :, m] += (weight * delta[l, lmax + n, :]
                                * delta[l, lmax + m, :])
  return out


def upsample_maps(maps, factor):
  """DH maps [..., n, n] -> [..., kn, kn], upsampled as `upsampled_sht` does.

  Cubic-spline interpolation (scipy, 2D, periodic) of each map's closed
  meridians (longitude wraps; a meridian continues over both poles) at
  (j / factor, k / factor): the unfused reference for `upsampled_sht`.
  """
  maps = np.asarray(maps, dtype=np.float64)
  n = dh_grid.validate_maps(maps)
  circles = coefficients.closed_meridians(maps).reshape((-1, 2 * n, n))
  points = np.stack(np.meshgrid(np.arange(n * factor) / factor,
                                np.arange(n * factor) / factor,
                                indexing="ij"))
  out = np.stack([ndimage.map_coordinates(circle, points, order=3,
                                          mode="grid-wrap")
                  for circle in circles])
  return out.reshape(maps.shape[:-2] + (n * factor, n * factor))
