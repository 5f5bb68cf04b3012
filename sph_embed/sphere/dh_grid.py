"""Driscoll-Healy sphere grid: sample positions, directions, area weights.

Conventions (DESIGN §1): an n x n grid, n = 2B (B = bandwidth, max degree
L = B - 1), colatitude theta_j = pi j / n (theta_0 = north pole), longitude
phi_k = 2 pi k / n.  Arrays are laid out [..., lat, lon] and Keras tensors
[batch, lat, lon, channels].  This is pyshtools' DH grid with sampling=1.

NumPy only (no TensorFlow), so tools such as tools/correlate.py can use it.
"""

import functools

import numpy as np


class GridError(ValueError):
  """A spherical map or grid size does not fit the DH conventions."""


def validate_grid_size(n, what="grid"):
  """Checks that n is a valid DH grid size: even and a power of two >= 4."""
  if not isinstance(n, (int, np.integer)) or isinstance(n, bool):
    raise GridError(f"{what}: grid size must be an integer, got {n!r}")
  if n < 4 or n & (n - 1):
    raise GridError(
        f"{what}: grid size must be a power of two >= 4 (n = 2 * bandwidth),"
        f" got {n}")
  return int(n)


def validate_maps(maps, what="maps", min_rank=2):
  """Checks the last two axes of `maps` form a valid n x n DH grid.

  Args:
    maps: array-like [..., n, n] (or [..., n, n, C]: pass the spatial shape).
    what: name used in error messages (e.g. a file name and key).
    min_rank: minimum number of axes.

  Returns:
    n, the grid size.
  """
  shape = tuple(np.shape(maps))
  if len(shape) < min_rank:
    raise GridError(
        f"{what}: expected at least {min_rank} axes [..., lat, lon], got shape"
        f" {shape}")
  lat, lon = shape[-2], shape[-1]
  if lat != lon:
    raise GridError(
        f"{what}: DH maps must be square (lat == lon), got {lat} x {lon}"
        f" (shape {shape})")
  return validate_grid_size(lat, what)


def bandwidth(n):
  """Bandwidth B of an n x n DH grid (max degree L = B - 1)."""
  return validate_grid_size(n) // 2


def grid_size(bw):
  """Grid size n = 2B of bandwidth B."""
  return validate_grid_size(2 * int(bw), f"bandwidth {bw}")


@functools.lru_cache(maxsize=None)
def _colatitudes(n):
  out = np.pi * np.arange(n) / n
  out.flags.writeable = False
  return out


def colatitudes(n):
  """Colatitudes theta_j = pi j / n, shape [n]."""
  return _colatitudes(validate_grid_size(n))


def longitudes(n):
  """Longitudes phi_k = 2 pi k / n, shape [n]."""
  return 2 * colatitudes(n)


@functools.lru_cache(maxsize=None)
def _directions(n):
  theta, phi = np.meshgrid(colatitudes(n), longitudes(n), indexing="ij")
  out = np.stack([np.sin(theta) * np.cos(phi),
                  np.sin(theta) * np.sin(phi),
                  np.cos(theta)], axis=-1)
  out.flags.writeable = False
  return out


def directions(n):
  """Unit vectors of the samples, shape [n, n, 3] (x, y, z)."""
  return _directions(validate_grid_size(n))


@functools.lru_cache(maxsize=None)
def _area_weights(n):
  w = np.sin(colatitudes(n))
  w = w / (n * w.sum())
  out = np.repeat(w[:, None], n, axis=1)
  out.flags.writeable = False
  return out


def area_weights(n):
  """Per-sample area weights ~ sin(theta), shape [n, n], summing to 1.

  The north-pole row weighs 0.  Area-weighted means are sum(w * f).
  """
  return _area_weights(validate_grid_size(n))


def directions_to_colat_lon(xyz):
  """Colatitude and longitude (in [0, 2pi)) of unit vectors [..., 3]."""
  xyz = np.asarray(xyz, dtype=np.float64)
  theta = np.arccos(np.clip(xyz[..., 2], -1.0, 1.0))
  phi = np.mod(np.arctan2(xyz[..., 1], xyz[..., 0]), 2 * np.pi)
  return theta, phi
