"""Band-limited functions on SO(3): Wigner basis, Euler grid, filters (NumPy).

The constants of the SO(3) layers (`sph_embed.sphere.so3_layers`) and their
reference implementation, all on this project's conventions (DESIGN §1).

Basis.  A function on SO(3) of band limit L is written in the real Wigner
matrices D^l(R) of `sht_numpy.wigner_matrices` (D^l(R) maps the packed
degree-l coefficients of a sphere function f to those of f(R^T x), so
D(R1 R2) = D(R1) D(R2)):

  f(R) = sum_l sqrt(2l+1) sum_{m,n} F^l_mn D^l_mn(R).

The functions sqrt(2l+1) D^l_mn are orthonormal under the Haar measure of
total mass 1 (Schur orthogonality; the real representations of SO(3) are
irreducible over the reals), so F^l_mn = int f(R) sqrt(2l+1) D^l_mn(R) dR
and the coefficient vector has the L2 norm of f.  Left translation,
(Lambda_Q f)(R) = f(Q^T R), maps F^l to D^l(Q) F^l; right translation,
R -> f(R Q), maps F^l to F^l D^l(Q)^T.

Flat layout: [..., S], S = sum_l (2l+1)^2 = (L+1)(2L+1)(2L+3)/3 (455 for
L = 6); degree l occupies [offset(l), offset(l+1)), its (2l+1) x (2l+1)
matrix row-major, rows m and columns n running over -l..l.

Sphere side: 4pi-normalised real harmonics Y_lm of `sht_numpy` (pyshtools'
convention), in the packed layout [..., 2L+1 (m), L+1 (l)].

Euler grid: the grid of `sph_embed.pose.distributions` and of the
correlation (`sph_embed.pose.correlation`): alpha_a = 2 pi a / N,
beta_b = 2 pi b / N for b = 0..N/2 (both poles), gamma_c = 2 pi c / N, laid
out [N, N/2 + 1, N].  A grid point's share of the Haar measure is
v_b = w_b / (2 N^2), w_b the Clenshaw-Curtis weights of the nodes
cos(beta_b) (`euler_grid_weights`; the sphere layer may not import the pose
layer, so the weights are derived here from their defining moment
equations, and a test checks they equal distributions.beta_weights).  The
rule integrates exactly every function of band limit <= N/2 (beta: a
polynomial of that degree in cos(beta) is left after the alpha and gamma
sums, exact for degrees < N): a product of two functions of band limit L,
as in a round trip evaluate -> analyse, needs N >= 4L.
"""

import functools
import math

import numpy as np
import pyshtools

from sph_embed.sphere import rotations as rotations_lib
from sph_embed.sphere import sht_numpy


def _frozen(array):
  array.flags.writeable = False
  return array


def flat_size(lmax):
  """S = sum_{l <= L} (2l+1)^2, the length of the flat layout."""
  return (lmax + 1) * (2 * lmax + 1) * (2 * lmax + 3) // 3


def degree_offsets(lmax):
  """[L+2] start of each degree's block in the flat layout (last: S)."""
  return np.concatenate([[0], np.cumsum((2 * np.arange(lmax + 1) + 1) ** 2)])


def lmax_of_flat_size(size):
  """The L with flat_size(L) == size; ValueError if there is none."""
  lmax = 0
  while flat_size(lmax) < size:
    lmax += 1
  if flat_size(lmax) != size:
    raise ValueError(f"{size} is not a flat SO(3) coefficient size"
                     f" (sum of (2l+1)^2 over l <= L)")
  return lmax


def degree_blocks(flat, lmax):
  """Flat [..., S] -> list over l of the [..., 2l+1, 2l+1] matrices."""
  flat = np.asarray(flat)
  offsets = degree_offsets(lmax)
  return [flat[..., offsets[l]:offsets[l + 1]].reshape(
      flat.shape[:-1] + (2 * l + 1, 2 * l + 1)) for l in range(lmax + 1)]


def wigner_blocks(rotations, lmax):
  """D^l(R) of rotations [..., 3, 3] for l = 0..L: list of [..., 2l+1, 2l+1].

  From `sht_numpy.wigner_matrices`, which needs L + 1 to be a power of two
  (its quarter-turn matrix comes from a DH transform): it is called with
  the next such degree and the blocks l <= L are kept (each degree's
  matrix does not depend on the others).
  """
  rotations = np.asarray(rotations, np.float64)
  padded = 2 ** math.ceil(math.log2(lmax + 1)) - 1 if lmax else 1
  wigner = sht_numpy.wigner_matrices(rotations, padded)
  return [wigner[..., l, padded - l:padded + l + 1, padded - l:padded + l + 1]
          for l in range(lmax + 1)]


def flat_wigner(rotations, lmax):
  """The orthonormal basis at rotations [..., 3, 3]: sqrt(2l+1) D^l_mn(R),
  flat [..., S] (float64), D from `wigner_blocks`."""
  rotations = np.asarray(rotations, np.float64)
  return np.concatenate(
      [np.sqrt(2 * l + 1.0) * block.reshape(rotations.shape[:-2] + (-1,))
       for l, block in enumerate(wigner_blocks(rotations, lmax))], axis=-1)


def evaluate(coefficients, rotations):
  """f(R) of flat coefficients [..., S] at rotations [K, 3, 3]: [..., K]."""
  coefficients = np.asarray(coefficients, np.float64)
  lmax = lmax_of_flat_size(coefficients.shape[-1])
  return coefficients @ flat_wigner(rotations, lmax).T


def left_translate(coefficients, rotation):
  """Coefficients [..., S] of f(Q^T R), for Q = `rotation` [3, 3]."""
  coefficients = np.asarray(coefficients, np.float64)
  lmax = lmax_of_flat_size(coefficients.shape[-1])
  return np.concatenate([
      (wigner @ block).reshape(coefficients.shape[:-1] + (-1,))
      for wigner, block in zip(wigner_blocks(rotation, lmax),
                               degree_blocks(coefficients, lmax))], axis=-1)


def real_harmonics(directions, lmax):
  """Y_lm at unit vectors [..., 3], packed [..., 2L+1 (m), L+1 (l)].

  4pi-normalised, no Condon-Shortley phase (sht_numpy's basis): for m >= 0
  row L+m holds P_lm(cos theta) cos(m phi), row L-m P_lm(cos theta)
  sin(m phi); zero where l < |m|.  A map with packed coefficients p is
  f(x) = sum p * real_harmonics(x).
  """
  directions = np.asarray(directions, np.float64)
  shape = directions.shape[:-1]
  flat = directions.reshape(-1, 3)
  z = np.clip(flat[:, 2], -1.0, 1.0)
  phi = np.arctan2(flat[:, 1], flat[:, 0])
  legendre = np.stack([pyshtools.legendre.legendre(lmax, value,
                                                   normalization="4pi",
                                                   csphase=1)
                       for value in z]).reshape(-1, lmax + 1, lmax + 1)
  orders = np.arange(lmax + 1)
  by_order = np.swapaxes(legendre, 1, 2)                 # [K, m, l]
  cos_part = by_order * np.cos(phi[:, None] * orders)[:, :, None]
  sin_part = by_order * np.sin(phi[:, None] * orders)[:, :, None]
  packed = np.concatenate([sin_part[:, :0:-1], cos_part], axis=1)
  return (packed * sht_numpy.packed_mask(lmax)).reshape(
      shape + (2 * lmax + 1, lmax + 1))


# ----------------------------------------------------------------------------
# The Euler grid.


def _check_grid_size(grid_size):
  if (not isinstance(grid_size, (int, np.integer))
      or isinstance(grid_size, bool) or grid_size < 2 or grid_size % 2):
    raise ValueError(f"grid_size must be an even integer >= 2, got"
                     f" {grid_size!r}")
  return int(grid_size)


@functools.lru_cache(maxsize=None)
def euler_grid_weights(grid_size):
  """Share of the Haar measure of one grid point in each beta row: [N/2 + 1].

  The beta weights w_b integrate polynomials of degree <= M = N/2 in
  x = cos(beta) exactly at the nodes x_b = cos(b pi / M): they solve
  sum_b w_b T_k(x_b) = int_{-1}^{1} T_k(x) dx, k = 0..M (T_k the Chebyshev
  polynomials: T_k(x_b) = cos(k b pi / M); the integral is 2 / (1 - k^2)
  for even k, 0 for odd k).  Times the trapezoid rule in alpha and gamma
  and 1 / (8 pi^2): v_b = w_b / (2 N^2); the N^2 (N/2 + 1) grid points'
  shares sum to 1.
  """
  size = _check_grid_size(grid_size)
  half = size // 2
  k = np.arange(half + 1)
  chebyshev = np.cos(np.outer(k, k) * np.pi / half)       # [k, b]
  moments = np.zeros(half + 1)
  moments[::2] = 2.0 / (1.0 - k[::2].astype(float) ** 2)
  weights = np.linalg.solve(chebyshev, moments)
  return _frozen(weights / (2 * size ** 2))


def euler_grid_angles(grid_size):
  """The N angles 2 pi j / N of each grid axis (beta uses the first N/2+1)."""
  return 2 * np.pi * np.arange(_check_grid_size(grid_size)) / grid_size


@functools.lru_cache(maxsize=4)
def euler_grid_rotations(grid_size):
  """The rotation of each grid point: [N, N/2 + 1, N, 3, 3]."""
  angles = euler_grid_angles(grid_size)
  alpha, beta, gamma = np.meshgrid(angles, angles[:grid_size // 2 + 1],
                                   angles, indexing="ij")
  return _frozen(rotations_lib.matrix_from_zyz(alpha, beta, gamma))


@functools.lru_cache(maxsize=8)
def euler_grid_tables(grid_size, lmax):
  """The two factors of the basis on the Euler grid.

  R(alpha, beta, gamma) = Rz(alpha) R(0, beta, gamma), so
  sqrt(2l+1) D^l(R) = Dz^l(alpha) E^l(beta, gamma) with
  E^l = sqrt(2l+1) D^l(R(0, beta, gamma)), and

    f(alpha_a, beta_b, gamma_c) = sum_l sum_{k,n} (Dz^l(alpha_a)^T F^l)_kn
                                  E^l_kn(beta_b, gamma_c):

  a small per-degree product over the N alphas, then one matrix product
  with E, instead of a dense table of N^3 / 2 rotations by S.

  Returns:
    (alpha_blocks, rest): alpha_blocks a tuple over l of Dz^l(alpha_a),
    [N, 2l+1, 2l+1]; rest [(N/2 + 1) N, S], E flat, rows (beta_b, gamma_c)
    row-major.
  """
  size = _check_grid_size(grid_size)
  angles = euler_grid_angles(size)
  z_rotations = rotations_lib.matrix_from_zyz(angles, 0.0, 0.0)
  alpha_blocks = tuple(_frozen(np.ascontiguousarray(block)) for block
                       in wigner_blocks(z_rotations, lmax))
  beta, gamma = np.meshgrid(angles[:size // 2 + 1], angles, indexing="ij")
  rest = flat_wigner(rotations_lib.matrix_from_zyz(0.0, beta, gamma), lmax)
  return alpha_blocks, _frozen(rest.reshape(-1, flat_size(lmax)))


# ----------------------------------------------------------------------------
# Localised filters: point sets near the north pole and near the identity.


def sphere_filter_directions(rings=3, points_per_ring=8,
                             max_colatitude=math.pi / 8):
  """The north pole and `rings` rings of points around it: [K, 3].

  Ring j (1..rings) lies at colatitude j max_colatitude / rings with
  `points_per_ring` evenly spaced longitudes; K = 1 + rings points_per_ring.
  """
  _check_filter_counts(rings=rings, points_per_ring=points_per_ring)
  colatitude = np.repeat(np.arange(1, rings + 1) * max_colatitude / rings,
                         points_per_ring)
  longitude = np.tile(2 * np.pi * np.arange(points_per_ring)
                      / points_per_ring, rings)
  ring_points = np.stack([np.sin(colatitude) * np.cos(longitude),
                          np.sin(colatitude) * np.sin(longitude),
                          np.cos(colatitude)], axis=-1)
  return np.concatenate([[[0.0, 0.0, 1.0]], ring_points])


def so3_filter_rotations(rings=3, directions_per_ring=8, twists=8,
                         max_tilt=math.pi / 8):
  """Rotations near the identity in tilt, all twists: [K, 3, 3].

  R = Rz(a) Ry(t) Rz(s - a): R e_z is tilted by t towards longitude a, and
  s is the twist about the tilted axis.  The tilts are 0 (pure twists
  Rz(s)) and `rings` values up to `max_tilt`; a in `directions_per_ring`
  and s in `twists` evenly spaced angles; K = twists (1 + rings
  directions_per_ring).  The filter is local in the direction of R e_z and
  free in the twist (an image's in-plane rotation), as Image2Sphere's.
  """
  _check_filter_counts(rings=rings, directions_per_ring=directions_per_ring,
                       twists=twists)
  directions = sphere_filter_directions(rings, directions_per_ring, max_tilt)
  tilt = np.arccos(np.clip(directions[:, 2], -1.0, 1.0))
  azimuth = np.arctan2(directions[:, 1], directions[:, 0])
  twist = 2 * np.pi * np.arange(twists) / twists
  a, s = np.meshgrid(azimuth, twist, indexing="ij")
  t = np.broadcast_to(tilt[:, None], a.shape)
  return rotations_lib.matrix_from_zyz(a, t, s - a).reshape(-1, 3, 3)


def _check_filter_counts(**counts):
  for name, value in counts.items():
    if (not isinstance(value, (int, np.integer)) or isinstance(value, bool)
        or value < 1):
      raise ValueError(f"{name} must be a positive integer, got {value!r}")
