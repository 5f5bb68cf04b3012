"""Wigner d(pi/2) and the degree-product tables (cached per max degree).

Delta^l = d^l(pi/2) factorises every d^l(beta) (package docstring); the
sums over degrees of T_nkm use W[n, m, l, k] = Delta^l_nk Delta^l_mk,
grouped into blocks of order pairs that share the lowest contributing
degree.
"""

import functools

import numpy as np
from pyshtools import rotate as pysh_rotate

from sph_embed.pose.correlation import array_cache

# Degree-product tables larger than this are computed per block, not cached.
_MAX_CACHED_PRODUCT_BYTES = 1 << 28


@functools.lru_cache(maxsize=None)
def wigner_d_half_pi(lmax):
  """Delta^l = d^l(pi/2) for l = 0..lmax: [L+1, 2L+1 (n), 2L+1 (k)].

  Entry [l, L + n, L + k] is d^l_nk(pi/2) (Wikipedia's phase convention,
  d^l_nm(beta) = <l n| exp(-i beta J_y) |l m>); zero where |n| > l or
  |k| > l.  pyshtools' djpi2(L)[k, n, l] holds d^l_nk(pi/2) for n, k >= 0;
  negative orders follow from d_{n,-k} = (-1)^(l+n) d_nk,
  d_{-n,k} = (-1)^(l+k) d_nk, d_{-n,-k} = (-1)^(n+k) d_nk at beta = pi/2.
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
  return array_cache.frozen(out)


def order_blocks(lmax):
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
  return array_cache.frozen(np.einsum("lnk,lmk->nmlk", delta[:, n_slice],
                                      delta[:, m_slice], optimize=True))


@functools.lru_cache(maxsize=2)
def _cached_products(lmax):
  return tuple((l0, n_slice, m_slice,
                _block_products(lmax, l0, n_slice, m_slice))
               for l0, n_slice, m_slice in order_blocks(lmax))


@functools.lru_cache(maxsize=None)
def _products_bytes(lmax):
  """Size of all the `_block_products` tables for max degree L."""
  orders = range(2 * lmax + 1)
  entries = sum(len(orders[n]) * len(orders[m]) * (lmax + 1 - l0)
                for l0, n, m in order_blocks(lmax))
  return 8 * entries * (2 * lmax + 1)


def degree_products(lmax):
  """Yields (l0, n slice, m slice, W) over `order_blocks`.

  The tables (11 MiB at L = 31, 171 MiB at L = 63) are cached unless larger
  than _MAX_CACHED_PRODUCT_BYTES; then each block is computed when needed.
  """
  if _products_bytes(lmax) <= _MAX_CACHED_PRODUCT_BYTES:
    yield from _cached_products(lmax)
    return
  for l0, n_slice, m_slice in order_blocks(lmax):
    yield l0, n_slice, m_slice, _block_products(lmax, l0, n_slice, m_slice)
