"""Throughput of the TF spherical harmonic transform vs a pyshtools loop.

Forward + inverse real SHT of a batch of 64 maps x 16 channels at n = 64
(bandwidth 32), in maps/s (one map = one channel of one example).

  python3 benchmarks/sht_bench.py [--batch 64 --channels 16 --n 64]
"""

import os
import platform
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app  # pylint: disable=g-import-not-at-top
from absl import flags
import numpy as np
import pyshtools
import tensorflow as tf

from sph_embed.sphere import sht_tf

_BATCH = flags.DEFINE_integer("batch", 64, "Maps per batch.")
_CHANNELS = flags.DEFINE_integer("channels", 16, "Channels per map.")
_N = flags.DEFINE_integer("n", 64, "Grid size (n x n).")
_REPEATS = flags.DEFINE_integer("repeats", 10, "Timed TF repetitions.")


def best_seconds(fn, repeats):
  fn()  # warm-up (tracing, constant building)
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    fn()
    times.append(time.perf_counter() - start)
  return min(times), float(np.median(times))


def main(_):
  batch, channels, n = _BATCH.value, _CHANNELS.value, _N.value
  maps = np.random.default_rng(0).normal(size=(batch, n, n, channels))
  maps_tf = tf.constant(maps, tf.float32)
  round_trip = tf.function(lambda x: sht_tf.inverse(sht_tf.forward(x), n),
                           autograph=False)
  tf_best, tf_median = best_seconds(lambda: round_trip(maps_tf).numpy(),
                                    _REPEATS.value)

  planes = np.moveaxis(maps, -1, 1).reshape(-1, n, n)

  def pyshtools_loop():
    for plane in planes:
      pyshtools.expand.MakeGridDH(
          pyshtools.expand.SHExpandDH(plane, sampling=1), sampling=1)

  py_best, py_median = best_seconds(pyshtools_loop, 2)
  count = batch * channels
  print(f"machine: {platform.machine()}, {os.cpu_count()} cores; "
        f"TF {tf.__version__}, pyshtools {pyshtools.__version__}")
  print(f"forward+inverse SHT, {batch} x {channels} maps of {n} x {n}:")
  print(f"  TF (float32, tf.function): {count / tf_best:10.0f} maps/s "
        f"(best), {count / tf_median:10.0f} maps/s (median)")
  print(f"  pyshtools loop (float64):  {count / py_best:10.0f} maps/s "
        f"(best), {count / py_median:10.0f} maps/s (median)")


if __name__ == "__main__":
  app.run(main)
