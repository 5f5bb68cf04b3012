"""Learning-rate schedules of the trainers (LoopConfig.lr_schedule).

'piecewise': the paper's piecewise-constant rate, lr_values[i] until step
lr_boundaries[i].  'cosine': a linear warm-up from 0 to lr_values[0] over
`warmup_steps`, then a cosine decay to lr_values[-1] at `total_steps` (with
one value: to 0), fitted to a run of known length.  Keras' own schedules
do the work; this module only checks and assembles their arguments.
"""

import math

import tensorflow as tf

SCHEDULES = ("piecewise", "cosine")


def _check_rates(values):
  if any(not (v > 0 and math.isfinite(v)) for v in values):
    raise ValueError(f"learning rates must be positive and finite, got"
                     f" {values}")


def learning_rate_schedule(boundaries, values):
  """Piecewise-constant learning rate: values[i] until step boundaries[i].

  Args:
    boundaries: increasing positive step numbers, e.g. [5000, 8500].
    values: len(boundaries) + 1 positive rates, e.g. [1e-3, 2e-4, 4e-5].

  Returns:
    A tf.keras LearningRateSchedule (or the constant rate when there are no
    boundaries).
  """
  boundaries = [int(b) for b in boundaries]
  values = [float(v) for v in values]
  if len(values) != len(boundaries) + 1:
    raise ValueError(f"learning rate schedule: expected len(values) =="
                     f" len(boundaries) + 1, got {len(values)} values"
                     f" {values} for {len(boundaries)} boundaries"
                     f" {boundaries}")
  if any(b <= 0 for b in boundaries):
    raise ValueError(f"learning rate boundaries must be positive steps, got"
                     f" {boundaries}")
  if any(b2 <= b1 for b1, b2 in zip(boundaries, boundaries[1:])):
    raise ValueError(f"learning rate boundaries must be strictly increasing,"
                     f" got {boundaries}")
  _check_rates(values)
  if not boundaries:
    return values[0]
  return tf.keras.optimizers.schedules.PiecewiseConstantDecay(boundaries,
                                                              values)


def warmup_cosine_schedule(values, total_steps, warmup_steps=0):
  """Linear warm-up to values[0], then cosine decay to values[-1].

  Args:
    values: (peak,) or (peak, final) positive rates; final < peak.
    total_steps: the run's length; the rate reaches `final` there.
    warmup_steps: steps of the linear warm-up from 0 (0: start at the peak).

  Returns:
    A tf.keras LearningRateSchedule.
  """
  values = [float(v) for v in values]
  if len(values) not in (1, 2):
    raise ValueError(f"cosine learning rate: expected lr_values = peak or"
                     f" peak,final, got {values}")
  _check_rates(values)
  peak, final = values[0], (values[1] if len(values) == 2 else 0.0)
  if final >= peak:
    raise ValueError(f"cosine learning rate: the final rate {final} must be"
                     f" below the peak {peak}")
  if not 0 <= warmup_steps < total_steps:
    raise ValueError(f"cosine learning rate: warm-up steps must be in"
                     f" [0, max_steps={total_steps}), got {warmup_steps}")
  if warmup_steps:
    return tf.keras.optimizers.schedules.CosineDecay(
        0.0, total_steps - warmup_steps, alpha=final / peak,
        warmup_target=peak, warmup_steps=warmup_steps)
  return tf.keras.optimizers.schedules.CosineDecay(
      peak, total_steps, alpha=final / peak)


def make_schedule(kind, boundaries, values, total_steps=None,
                  warmup_steps=0):
  """The schedule `kind` (one of SCHEDULES) from a trainer's settings.

  'piecewise' uses boundaries and values; 'cosine' uses values, the run's
  total_steps (required) and warmup_steps, and no boundaries.
  """
  if kind == "piecewise":
    if warmup_steps:
      raise ValueError("lr_warmup_steps only applies to lr_schedule=cosine")
    return learning_rate_schedule(boundaries, values)
  if kind == "cosine":
    if boundaries:
      raise ValueError("lr_boundaries do not apply to lr_schedule=cosine"
                       " (it decays over max_steps)")
    if total_steps is None:
      raise ValueError("lr_schedule=cosine needs max_steps")
    return warmup_cosine_schedule(values, total_steps, warmup_steps)
  raise ValueError(f"lr_schedule must be one of {SCHEDULES}, got {kind!r}")
