"""Training progress: TensorBoard scalars and tqdm progress lines."""

import sys
import time

from absl import logging
import tensorflow as tf
import tqdm


class ScalarWriter:
  """Writes scalars to a TensorBoard event file (a no-op without a dir)."""

  def __init__(self, logdir):
    self._writer = tf.summary.create_file_writer(logdir) if logdir else None

  def write(self, step, scalars):
    """Writes {name: number} at `step`."""
    if self._writer is None:
      return
    with self._writer.as_default():
      for name, value in scalars.items():
        tf.summary.scalar(name, float(value), step=int(step))
    self._writer.flush()

  def close(self):
    if self._writer is not None:
      self._writer.close()


class Progress:
  """Training progress through tqdm, as the dataset builder and correlate.

  On a terminal: a live tqdm bar (steps, rate, ETA, the latest metrics).
  Every `every_steps` steps: one line in tqdm's format with the metrics,
  printed above the bar on a terminal and logged otherwise (a pipe, a log
  file), so that a run's history reads the same in both.
  """

  def __init__(self, total_steps, every_steps=100, start_step=0,
               prefix="train", live=None):
    """`live`: show the bar (default: when stderr is a terminal)."""
    self._total = int(total_steps)
    self._every = max(1, int(every_steps))
    self._prefix = prefix
    self._start_step = int(start_step)
    self._start_time = time.monotonic()
    self._bar = tqdm.tqdm(
        total=self._total, initial=self._start_step, desc=prefix,
        unit="step", file=sys.stderr, dynamic_ncols=True,
        disable=not (sys.stderr.isatty() if live is None else live))

  def advance(self, steps=1):
    """`steps` steps done."""
    self._bar.update(steps)

  def due(self, step):
    return step % self._every == 0 or step >= self._total

  def log(self, step, metrics):
    """Reports the metrics at `step`; returns the line (for tests)."""
    values = ", ".join(f"{k}={float(v):.4g}" for k, v in metrics.items())
    line = tqdm.tqdm.format_meter(
        n=step, total=self._total, elapsed=time.monotonic() - self._start_time,
        ncols=0, prefix=self._prefix, unit="step", postfix=values,
        initial=self._start_step)
    if self._bar.disable:
      logging.info("%s", line)
    else:
      self._bar.set_postfix_str(values, refresh=False)
      self._bar.write(line, file=sys.stderr)
    return line

  def close(self):
    self._bar.close()
