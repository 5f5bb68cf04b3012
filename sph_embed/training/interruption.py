"""Stopping training on SIGTERM / Ctrl-C with the step reached saved.

`StopOnSignal` turns the first signal into a request to stop after the
current call; under a multi-worker strategy TensorFlow's
PreemptionCheckpointHandler (`preemption_handler`) has every worker save
the same step.  `TrainingInterrupted` then ends the tool with the exit
status a shell gives a process killed by the signal.
"""

import signal
import threading

import tensorflow as tf

from sph_embed.training import checkpoints


class TrainingInterrupted(SystemExit):
  """SIGTERM or SIGINT stopped training; the step reached was saved first.

  A SystemExit, so that a tool ends with the logged one-line message and
  the exit status a shell gives a process killed by the signal (128 + its
  number), without a traceback.
  """

  def __init__(self, signum, step, path):
    super().__init__(128 + signum)
    self.signal_name = signal.Signals(signum).name
    self.step = step
    self.path = path


class StopOnSignal:
  """Turns the first SIGTERM/SIGINT into a request to stop after the call.

  The previous handlers come back at the first signal, so a second Ctrl-C
  interrupts at once.  Only the main thread can set handlers; elsewhere
  signals keep their usual effect.  With `stop_early=False` (multi-worker,
  where a save needs every worker) the signal is only recorded in `received`
  for `preemption_handler`, which decides where all workers stop.
  """

  def __init__(self, stop_early=True):
    self.received = None
    self._enabled = threading.current_thread() is threading.main_thread()
    self._stop_early = stop_early
    self._previous = {}

  @property
  def stopping(self):
    """Whether training should end now (a signal came, and stops early)."""
    return self.received is not None and self._stop_early

  def __enter__(self):
    """Sets the handlers; leaving the block (or `restore`) restores them."""
    if self._enabled:
      for signum in (signal.SIGTERM, signal.SIGINT):
        self._previous[signum] = signal.signal(signum, self._handle)
    return self

  def __exit__(self, *exc_info):
    self.restore()

  def _handle(self, signum, frame):
    del frame  # Unused.
    self.received = signum
    self.restore()

  def restore(self):
    for signum, handler in self._previous.items():
      signal.signal(signum, handler)
    self._previous = {}


def preemption_handler(strategy, checkpointer, stop, saved):
  """TensorFlow's preemption handling across the workers of a cluster.

  The handler polls `stop.received` (a signal to this worker, about once a
  second) and then, through the coordination service, has every worker save
  through `checkpointer`'s manager at the same step (the chief to its
  directory, the others to scratch), after which it calls `saved.set`.
  Its counter of `save_checkpoint_if_preempted` calls is stored in the
  checkpoint ("checkpointed_runs"), so that all workers resume it alike.

  Returns:
    The tf.distribute.experimental.PreemptionCheckpointHandler, or None for
    a single-worker strategy (where `StopOnSignal` stops training alone).
  """
  if not checkpoints.is_multi_worker(strategy):
    return None
  config = tf.distribute.experimental.TerminationConfig(
      termination_watcher_fn=lambda: stop.received is not None,
      exit_fn=saved.set, grace_period=0)
  with strategy.scope():
    return tf.distribute.experimental.PreemptionCheckpointHandler(
        strategy.cluster_resolver, checkpointer.manager,
        termination_config=config)
