"""T_nkm, the Fourier coefficients of C: sums over channels and degrees.

  T_nkm = sum_c sum_l i^(m-n) Delta^l_nk Delta^l_mk f^c_lm conj(h^c_ln)

(package docstring).  The channel sum M_lnm = i^(m-n) sum_c f_lm conj(h_ln)
is one small matmul per pair; the degree sum T_nkm = sum_l W[n, m, l, k]
M_lnm runs over the cached `wigner_tables.degree_products`, one batched
real matmul per block of orders for all the pairs of a batch.
"""

import math

import numpy as np

from sph_embed.pose.correlation import array_cache
from sph_embed.pose.correlation import wigner_tables


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


def operands(coefficients1, coefficients2):
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


def fourier_parts(first, second, index1, index2, work):
  """T of `fourier_correlation` as real and imaginary parts.

  Args:
    first, second: `operands` of the maps, [V1, ...] and [V2, ...].
    index1, index2: int [P]: pair p correlates first[index1[p]] with
      second[index2[p]] (maps shared by several pairs are not copied).
    work: array_cache.WorkArrays.

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
  for l0, n_slice, m_slice, products in wigner_tables.degree_products(lmax):
    np.matmul(stacked[n_slice, m_slice, :, l0:], products,
              out=out[n_slice, m_slice])
  out = out.transpose(2, 0, 3, 1)                          # [2p, n, k, m]
  return out[:pairs], out[pairs:]


def broadcast_operands(coefficients1, coefficients2):
  """`operands` flattened, with the pair indices their broadcast implies.

  Returns:
    (batch shape, first, second, index1, index2); see `fourier_parts`.
  """
  first, second = operands(coefficients1, coefficients2)
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
  batch, *inputs = broadcast_operands(coefficients1, coefficients2)
  real, imag = fourier_parts(*inputs, array_cache.WorkArrays())
  fourier = real + 1j * imag
  return fourier.reshape(batch + fourier.shape[1:])
