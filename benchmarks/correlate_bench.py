"""Benchmark of the SO(3) correlation (pairs/s), single-threaded.

For 16 x 16 x C maps upsampled x4 (bandwidth 32, a 64^3 Euler grid), as the
original system did, and C in --channels, measures:

- ours, single pair: sph_embed.pose.correlation.align on two maps (upsampling,
  transforms, channel-summed T, one 3D FFT, argmax);
- ours, batched: IB-like pairs (each anchor against 3 views) through
  align_pairs (--batch_size pairs per batch, each map transformed once per
  batch);
- the original way: one SO(3) transform per channel, then summed, with
  pysofft (a port of SOFT) -- cross_correlation_ylm_real per channel on the
  same coefficients, sum, argmax;
- the floor: one 64 x 64 x 64 complex FFT (numpy), i.e. the pairs/s if a
  pair cost nothing but its inverse transform.

Refinement is off (the original took the grid argmax).  BLAS and OpenMP are
limited to one thread so the comparison is per core; times are the best
process CPU time of --repeats runs (robust to other jobs on shared cores).

pysofft is needed only here (and by one optional test).  On Debian 12:

  apt-get install gfortran libfftw3-dev
  FFLAGS=-ffree-line-length-none pip install pysofft

  python3 benchmarks/correlate_bench.py --channels=1,16,64

With --breakdown, also prints where the batched path's time goes for each
C (the stages of one batch of --batch_size pairs, same timing rules).
"""

import os

for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
  os.environ.setdefault(_name, "1")

# pylint: disable=g-import-not-at-top,wrong-import-position
import functools
import time

from absl import app
from absl import flags
import numpy as np

from sph_embed.pose import correlation
from sph_embed.pose.correlation import alignment
from sph_embed.pose.correlation import array_cache
from sph_embed.pose.correlation import euler_grid
from sph_embed.pose.correlation import fourier_sums

_CHANNELS = flags.DEFINE_list("channels", ["1", "16", "64"],
                              "Channel counts C.")
_ANCHORS = flags.DEFINE_integer("anchors", 16,
                                "Batched run: anchors (3 pairs each).")
_REPEATS = flags.DEFINE_integer("repeats", 3, "Timing repeats (best kept).")
_BATCH_SIZE = flags.DEFINE_integer("batch_size", 8,
                                   "Batched run: align_pairs batch_size.")
_BREAKDOWN = flags.DEFINE_bool("breakdown", False,
                                "Also time the stages of one batch.")
_SIZE = 16
_UPSAMPLE = 4


def best_times(functions, repeats):
  """Best CPU time of this process for each function over `repeats` rounds.

  Each round calls every function once, so a slow spell of the shared host
  affects all columns alike instead of one of them; the first round is a
  warm-up.  Everything measured runs on one thread, so CPU time equals wall
  time on an idle machine and does not count other jobs sharing the cores.
  """
  times = np.full(len(functions), np.inf)
  for round_index in range(repeats + 1):
    for i, function in enumerate(functions):
      start = time.process_time()
      function()
      if round_index:
        times[i] = min(times[i], time.process_time() - start)
  return times


def pysofft_pair(soft, index, maps1, maps2):
  """The original way: one SO(3) correlation per channel, summed, argmax."""
  bandwidth = soft.bw
  c1 = correlation.map_coefficients(maps1, _UPSAMPLE)
  c2 = correlation.map_coefficients(maps2, _UPSAMPLE)
  half1 = c1[:, :, bandwidth - 1:]                      # [C, l, m >= 0]
  half2 = c2[:, :, bandwidth - 1:]
  total = 0
  for c in range(c1.shape[0]):
    f = np.zeros(bandwidth * bandwidth, complex)
    g = np.zeros(bandwidth * bandwidth, complex)
    f[index[0]] = half1[c][index[1], index[2]]
    g[index[0]] = half2[c][index[1], index[2]]
    total = total + soft.cross_correlation_ylm_real(f, g, use_mp=False)
  return np.unravel_index(np.argmax(total), total.shape)


def stage_breakdown(maps, pairs, batch_size, repeats):
  """CPU ms per pair of each stage of `align_pairs` on its first batch."""
  chunk = pairs[:batch_size]
  work = array_cache.WorkArrays()
  coefficients = functools.partial(alignment.batch_operands, maps, maps,
                                   chunk, _UPSAMPLE, False)
  operands = coefficients()
  parts = fourier_sums.fourier_parts(*operands, work)
  grids = euler_grid.grids_from_parts(*parts, None, array_cache.WorkArrays())
  stages = {
      "coefficients (maps of the batch)": coefficients,
      "T (channel and degree sums)": functools.partial(
          fourier_sums.fourier_parts, *operands, work),
      "grids (inverse FFTs)": functools.partial(
          euler_grid.grids_from_parts, *parts, None, work),
      "argmax": functools.partial(correlation.grid_argmax, grids)}
  times = best_times(list(stages.values()), repeats) / len(chunk)
  return {name: 1e3 * t for name, t in zip(stages, times)}


def main(argv):
  del argv  # Unused.
  repeats, anchors = _REPEATS.value, _ANCHORS.value
  rng = np.random.default_rng(0)
  bandwidth = _SIZE * _UPSAMPLE // 2
  try:
    import pysofft
    soft = pysofft.Soft(bandwidth)
  except ImportError:
    soft = None
    print("pysofft not installed: that column is skipped (see the docstring)")
  packed = [((m * (2 * bandwidth - 1 - m)) // 2 + l, l, m)
            for m in range(bandwidth) for l in range(m, bandwidth)]
  index = tuple(np.array(column) for column in zip(*packed))
  size = 2 * bandwidth
  volume = rng.normal(size=(size,) * 3) + 1j * rng.normal(size=(size,) * 3)
  pairs = 3 * anchors
  first = np.repeat(np.arange(anchors) * 4, 3)
  second = first + np.tile([1, 2, 3], anchors)
  print(f"maps {_SIZE}x{_SIZE}xC upsampled x{_UPSAMPLE} (bandwidth"
        f" {bandwidth}, Euler grid {size}^3); batched: {anchors} anchors x 3"
        f" = {pairs} pairs over {anchors * 4} maps in batches of"
        f" {_BATCH_SIZE.value}; best of {repeats} interleaved rounds; floor:"
        f" one {size}^3 complex FFT")
  print("| C | ours, single (pairs/s) | ours, batched (pairs/s) | pysofft per"
        " channel (pairs/s) | batched / pysofft | single / pysofft |"
        " FFT floor (pairs/s) | batched cost / floor |")
  print("|---|---|---|---|---|---|---|---|")
  for channels in map(int, _CHANNELS.value):
    maps = rng.normal(size=(anchors * 4, _SIZE, _SIZE, channels)).astype(
        np.float32)
    functions = [
        functools.partial(np.fft.fftn, volume),
        functools.partial(correlation.align, maps[0], maps[1],
                          upsample=_UPSAMPLE),
        functools.partial(correlation.align_pairs, maps, maps,
                          np.stack([first, second], axis=1), _UPSAMPLE,
                          batch_size=_BATCH_SIZE.value)]
    if soft is not None:
      functions.append(functools.partial(pysofft_pair, soft, index, maps[0],
                                         maps[1]))
    floor, single, batch, *original = best_times(functions, repeats)
    batch /= pairs
    if original:
      theirs = (f"{1 / original[0]:.2f} | {original[0] / batch:.1f}x |"
                f" {original[0] / single:.1f}x")
    else:
      theirs = "n/a | n/a | n/a"
    print(f"| {channels} | {1 / single:.1f} | {1 / batch:.1f} | {theirs} |"
          f" {1 / floor:.1f} | {batch / floor:.2f} |")
    if _BREAKDOWN.value:
      stages = stage_breakdown(maps, np.stack([first, second], axis=1),
                               _BATCH_SIZE.value, repeats)
      print(f"  C = {channels}, ms per pair: " + ", ".join(
          f"{name} {value:.2f}" for name, value in stages.items()))

if __name__ == "__main__":
  app.run(main)
