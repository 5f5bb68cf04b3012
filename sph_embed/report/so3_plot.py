"""Plots of distributions over SO(3) as Implicit-PDF and Image2Sphere draw them.

A rotation R is drawn as one point: the direction of its rotated x axis,
R e_x (the first column of R), on a Mollweide map (longitude
atan2(y, x), latitude asin(z) of R e_x), coloured by the remaining angle,
the tilt psi: the rotation about that axis, defined by

  R = Rz(longitude) Ry(-latitude) Rx(psi)

(scipy's intrinsic 'ZYX' Euler angles of R), on a cyclic colour map shown
as a colour wheel.  Marker area is proportional to the probability mass of
the point; the true rotation, if given, is an open ring in the colour of
its tilt (inside a thin black ring).  Implicit-PDF's own code plots the
same axis and tilt, with its longitude origin turned by 90 degrees.
"""

import warnings

import numpy as np
from matplotlib import cm
from matplotlib import figure as figure_lib
from scipy.spatial import transform

from sph_embed.common import files
from sph_embed.pose import distributions

_COLORMAP = cm.hsv


def axis_and_tilt(rotations):
  """(longitude, latitude, tilt) in radians of rotations [..., 3, 3].

  R e_x points at (longitude, latitude); tilt in (-pi, pi] is the rotation
  about it: R = Rz(longitude) Ry(-latitude) Rx(tilt).
  """
  rotations = np.asarray(rotations, dtype=np.float64)
  flat = transform.Rotation.from_matrix(rotations.reshape(-1, 3, 3))
  with warnings.catch_warnings():
    # R e_x at a pole: only longitude +- tilt is defined; scipy sets the
    # tilt to 0, which still rebuilds R.
    warnings.filterwarnings("ignore", message="Gimbal lock detected")
    angles = flat.as_euler("ZYX").reshape(rotations.shape[:-2] + (3,))
  return angles[..., 0], -angles[..., 1], angles[..., 2]


def tilt_colors(tilt):
  """RGBA [..., 4] of tilt angles (radians) on the cyclic colour map."""
  return np.asarray(_COLORMAP((np.asarray(tilt) + np.pi) / (2 * np.pi)))


def _color_wheel(fig, rect):
  ax = fig.add_axes(rect, projection="polar")
  theta = np.linspace(-np.pi, np.pi, 361)
  radii = np.array([0.6, 1.0])
  ax.pcolormesh(theta, radii, np.tile(theta[:-1], (1, 1)), cmap=_COLORMAP,
                vmin=-np.pi, vmax=np.pi, shading="flat")
  ax.set_ylim(0, 1)
  ax.set_yticks([])
  ax.set_xticks(np.radians([0, 90, 180, 270]))
  ax.set_xticklabels(["0", "90", "180", "-90"], fontsize=7)
  ax.spines["polar"].set_visible(False)
  ax.set_title("tilt about R·x (deg)", fontsize=8)
  return ax


def plot_so3_distribution(rotations, masses, true_rotation=None, path=None,
                          title=None, display_fraction=1e-3,
                          max_marker_area=250.0, size_inches=(8.0, 4.4),
                          dpi=100):
  """Draws a discrete distribution over SO(3); optionally writes a PNG.

  Args:
    rotations: [K, 3, 3] support points (e.g. a correlation grid's points).
    masses: [K] their probability masses.
    true_rotation: optional [3, 3], ringed.
    path: if given, the PNG is written there (atomically).
    title: optional title.
    display_fraction: points with mass below this fraction of the largest
      are not drawn.
    max_marker_area: marker area (points^2) of the largest mass.
    size_inches, dpi: figure size; the PNG has size_inches * dpi pixels.

  Returns:
    The matplotlib Figure (not attached to pyplot: no global state).
  """
  rotations = np.asarray(rotations, dtype=np.float64).reshape(-1, 3, 3)
  masses = np.asarray(masses, dtype=np.float64).ravel()
  if len(masses) != len(rotations):
    raise ValueError(f"{len(rotations)} rotations but {len(masses)} masses")
  if not len(masses) or not np.all(np.isfinite(masses)) or masses.max() <= 0:
    raise ValueError("masses must be finite, with a positive maximum")
  fig = figure_lib.Figure(figsize=size_inches, dpi=dpi)
  ax = fig.add_axes([0.05, 0.06, 0.72, 0.84], projection="mollweide")
  shown = np.flatnonzero(masses >= display_fraction * masses.max())
  shown = shown[np.argsort(masses[shown])]   # the largest drawn last
  longitude, latitude, tilt = axis_and_tilt(rotations[shown])
  ax.scatter(longitude, latitude,
             s=max_marker_area * masses[shown] / masses.max(),
             c=tilt_colors(tilt), linewidths=0)
  if true_rotation is not None:
    longitude, latitude, tilt = axis_and_tilt(true_rotation)
    ax.scatter([longitude], [latitude], s=3 * max_marker_area,
               facecolors="none", edgecolors="k", linewidths=3.5)
    ax.scatter([longitude], [latitude], s=3 * max_marker_area,
               facecolors="none", edgecolors=tilt_colors(tilt)[None],
               linewidths=2)
  ax.grid(True, linewidth=0.4, alpha=0.5)
  ax.tick_params(labelsize=7)
  if title:
    ax.set_title(title, fontsize=9, pad=14)
  _color_wheel(fig, [0.81, 0.37, 0.14, 0.25])
  if path:
    _save_png(fig, path)
  return fig


def plot_grid_distribution(masses, true_rotation=None, path=None, title=None,
                           **kwargs):
  """`plot_so3_distribution` of a correlation grid's cell masses.

  Args:
    masses: [N, N/2 + 1, N] (`distributions.cell_masses`).
    true_rotation, path, title, kwargs: as `plot_so3_distribution`.
  """
  masses = np.asarray(masses)
  return plot_so3_distribution(
      distributions.grid_rotations(masses.shape[-1]).reshape(-1, 3, 3),
      masses.ravel(), true_rotation, path, title, **kwargs)


def _save_png(fig, path):
  """Writes the figure as PNG atomically (sph_embed.common.files)."""
  with files.atomic_path(path) as temp:
    fig.savefig(temp, format="png")
