"""Where C peaks: grid argmax, continuous refinement, separated peaks."""

import numpy as np
from scipy import ndimage
from scipy import optimize

from sph_embed.pose.correlation import euler_grid
from sph_embed.sphere import rotations as rotations_lib


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


def grid_argmax(grids):
  """Euler angles [..., 3] and values [...] of the maxima of grids."""
  grids = np.asarray(grids)
  size = grids.shape[-1]
  flat = grids.reshape(grids.shape[:-3] + (-1,))
  best = np.argmax(flat, axis=-1)
  a, b, c = np.unravel_index(best, grids.shape[-3:])
  angles = euler_grid.grid_angles(size)
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
  angles = euler_grid.grid_angles(size)
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
