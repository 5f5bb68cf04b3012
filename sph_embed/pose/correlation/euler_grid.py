"""C on the Euler grid: inverse FFTs of T, grid angles, the cell radius.

alpha_a = 2 pi a / N, beta_b = 2 pi b / N, gamma_c = 2 pi c / N, for any
even N >= 2L + 2 (zero padding gives a finer grid).  The FFT would sample
beta over [0, 2 pi), but (alpha, beta, gamma) with beta in (pi, 2 pi) is
the rotation (alpha + pi, 2 pi - beta, gamma + pi), also on the grid, so
only beta in [0, pi] (N/2 + 1 samples) is computed.  C is real, so only
m >= 0 is kept and the last FFT stage is a real one.

The grid step is s = 360 / N degrees: moving one angle by s is a geodesic
step of exactly s.  "Half the grid step" in geodesic terms is the
half-diagonal of an Euler cell, `cell_radius_degrees(N, beta)`
~ (s / 2) sqrt(3 + 2 |cos beta|) <= 1.12 s: the largest distance from a
rotation to the grid point obtained by rounding its three angles.
"""

import numpy as np

from sph_embed.pose.correlation import array_cache
from sph_embed.sphere import rotations as rotations_lib


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
  grids = grids_from_parts(flat.real, flat.imag, grid_size,
                           array_cache.WorkArrays())
  return grids.reshape(fourier.shape[:-3] + grids.shape[1:])


def grids_from_parts(real, imag, grid_size, work):
  """`correlation_grid` of T = real + i imag, both [P, 2L+1, 2L+1, L+1].

  The result is an array of `work` (array_cache.WorkArrays).  The inverse
  FFT runs axis by axis, beta first, so that the redundant half is never
  evaluated.
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
