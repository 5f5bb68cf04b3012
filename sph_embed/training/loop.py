"""Shared training utilities: strategies, schedules, checkpoints, logging.

Both trainers (the spherical CNN teacher and the image embedding network)
use the custom loop in `train`:

  strategy = training.make_strategy("mirrored")
  with strategy.scope():
    model = ...
    optimizer = tf.keras.optimizers.Adam(
        training.learning_rate_schedule([5000, 8500], [1e-3, 2e-4, 4e-5]))
  def loss_fn(model, batch):        # per-replica batch; returns per-example
    logits = model(batch["sphere"], training=True)["logits"]
    loss = tf.keras.losses.sparse_categorical_crossentropy(
        batch["label"], logits, from_logits=True)
    return loss, {"accuracy": ...per-example values...}
  training.train(strategy=strategy, model=model, optimizer=optimizer,
                 loss_fn=loss_fn, dataset_fn=..., num_steps=10000,
                 model_dir="runs/teacher")

Resume is exact: the checkpoint holds the model, the optimizer (and so its
step counter) and the step; `dataset_fn(start_step)` must return the batches
from `start_step` on (`data_input.training_batches` for a dataset split:
seeded, deterministic, repeated, skipped to the step), so a run interrupted
and restarted trains on the same batches and ends with the same variables
as an uninterrupted one.
"""

import dataclasses
import json
import math
import os
import time

from absl import app
from absl import logging
import tensorflow as tf

from sph_embed.data import dataset

STRATEGIES = ("default", "mirrored", "multi_worker")


def make_strategy(name):
  """A tf.distribute strategy by name: 'default', 'mirrored', 'multi_worker'.

  'mirrored' replicates over the local GPUs, or without GPUs over all
  logical CPU devices (one unless configured with
  tf.config.set_logical_device_configuration); 'multi_worker' reads the
  cluster from the TF_CONFIG environment variable (without it, a single
  worker).
  """
  if name == "default":
    return tf.distribute.get_strategy()
  if name == "mirrored":
    devices = (tf.config.list_logical_devices("GPU") or
               tf.config.list_logical_devices("CPU"))
    return tf.distribute.MirroredStrategy([d.name for d in devices])
  if name == "multi_worker":
    return tf.distribute.MultiWorkerMirroredStrategy()
  raise ValueError(f"unknown strategy {name!r}; expected one of {STRATEGIES}")


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
  if any(not (v > 0 and math.isfinite(v)) for v in values):
    raise ValueError(f"learning rates must be positive and finite, got"
                     f" {values}")
  if not boundaries:
    return values[0]
  return tf.keras.optimizers.schedules.PiecewiseConstantDecay(boundaries,
                                                              values)


def parse_list_flag(flag, kind):
  """An absl list flag's values as a tuple of `kind` (int, float).

  Raises:
    app.UsageError naming the flag when a value does not parse.
  """
  try:
    return tuple(kind(v) for v in flag.value)
  except ValueError:
    raise app.UsageError(f"--{flag.name}: expected a comma-separated list of"
                         f" {kind.__name__}s, got {','.join(flag.value)}"
                         ) from None


def read_run_spec(path, version, hint):
  """The JSON spec of a training run (what was trained, from what).

  Args:
    path: the spec file.
    version: the spec version this code reads.
    hint: what to do when the file is missing (ends the error message).

  Raises:
    ValueError naming the file: missing, unreadable, or another version.
  """
  if not os.path.isfile(path):
    raise ValueError(f"{path}: not found; {hint}")
  try:
    with open(path, encoding="utf-8") as f:
      spec = json.load(f)
  except (OSError, ValueError) as e:
    raise ValueError(f"{path}: cannot read ({e})") from e
  if not isinstance(spec, dict) or spec.get("version") != version:
    raise ValueError(f"{path}: not a version-{version} run spec")
  return spec


def write_or_check_run_spec(path, spec, keys):
  """Writes the spec of a new run, or checks that of the run being resumed.

  Args:
    path: the spec file in the model directory.
    spec: this run's spec (JSON-serialisable, with a "version").
    keys: the keys that define the model: a resume must match them.

  Returns:
    The resumed run's spec, or None for a new run.

  Raises:
    ValueError naming the file and the keys that differ.
  """
  spec = json.loads(json.dumps(spec))  # Tuples become lists, as when read.
  if not os.path.exists(path):
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    dataset.write_json_atomic(path, spec)
    return None
  previous = read_run_spec(path, spec["version"], "")
  changed = [k for k in keys if previous.get(k) != spec[k]]
  if changed:
    raise ValueError(
        f"{path}: the run in {os.path.dirname(path)} has a different"
        f" {', '.join(changed)} (was {[previous.get(k) for k in changed]},"
        f" now {[spec[k] for k in changed]}); use another --model_dir or"
        " the same settings to resume")
  return previous


def _is_chief(strategy):
  resolver = getattr(strategy, "cluster_resolver", None)
  if resolver is None or not resolver.task_type:
    return True
  return (resolver.task_type == "chief" or
          (resolver.task_type == "worker" and resolver.task_id == 0 and
           "chief" not in resolver.cluster_spec().as_dict()))


class Checkpointer:
  """tf.train.CheckpointManager with step- and time-based saving.

  Saves when `every_steps` steps or `every_minutes` minutes have passed
  since the last save (either, when both are given), keeps the newest
  `keep`, and restores the newest one on `restore()`.  Under a multi-worker
  strategy only the chief writes to `directory`; other workers write to a
  scratch folder (required, as every worker must take part in a save).
  """

  def __init__(self, directory, step, strategy=None, keep=3, every_steps=None,
               every_minutes=None, **objects):
    """Creates the manager; call `restore()` before training.

    Args:
      directory: checkpoint directory (created if missing).
      step: int64 tf.Variable, the global step; saved with the checkpoint.
      strategy: the distribution strategy (default: the current one).
      keep: number of checkpoints to keep.
      every_steps: save every this many steps (None: no step trigger).
      every_minutes: save every this many minutes (None: no time trigger).
      **objects: trackables to save (model=..., optimizer=...).
    """
    if keep < 1:
      raise ValueError(f"keep must be >= 1, got {keep}")
    for name, value in (("every_steps", every_steps),
                        ("every_minutes", every_minutes)):
      if value is not None and not value > 0:
        raise ValueError(f"{name} must be positive, got {value}")
    strategy = strategy or tf.distribute.get_strategy()
    self._step = step
    self._every_steps = every_steps
    self._every_seconds = every_minutes * 60 if every_minutes else None
    self.directory = directory
    if not _is_chief(strategy):
      directory = os.path.join(
          directory, f"worker_{strategy.cluster_resolver.task_id}_scratch")
    self._checkpoint = tf.train.Checkpoint(step=step, **objects)
    self._manager = tf.train.CheckpointManager(self._checkpoint, directory,
                                               max_to_keep=keep)
    self._last_step = None
    self._last_time = time.monotonic()

  @property
  def latest(self):
    """Path prefix of the newest checkpoint, or None."""
    return self._manager.latest_checkpoint

  def restore(self):
    """Restores the newest checkpoint if any; returns the restored step."""
    latest = self._manager.latest_checkpoint
    if latest:
      self._checkpoint.restore(latest).assert_existing_objects_matched()
      logging.info("Restored %s (step %d)", latest, int(self._step.numpy()))
    self._last_step = int(self._step.numpy())
    self._last_time = time.monotonic()
    return self._last_step

  def maybe_save(self, force=False):
    """Saves if a trigger fired (or `force`); returns the path or None.

    Triggers fire only once the step has moved since the last save or
    restore; the same step is never saved twice.
    """
    step = int(self._step.numpy())
    if self._last_step is None:
      self._last_step = step
    if step == self._saved_step() or (step == self._last_step and not force):
      return None
    due = force or (
        self._every_steps is not None and
        step - self._last_step >= self._every_steps) or (
            self._every_seconds is not None and
            time.monotonic() - self._last_time >= self._every_seconds)
    if not due:
      return None
    path = self._manager.save(checkpoint_number=step)
    self._last_step = step
    self._last_time = time.monotonic()
    logging.info("Saved checkpoint %s", path)
    return path

  def _saved_step(self):
    latest = self.latest
    return int(latest.rsplit("-", 1)[1]) if latest else None


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
  """Periodic progress log: step/total, steps per second, ETA, metrics."""

  def __init__(self, total_steps, every_steps=100, start_step=0,
               prefix="train"):
    self._total = int(total_steps)
    self._every = max(1, int(every_steps))
    self._prefix = prefix
    self._start_step = int(start_step)
    self._start_time = time.monotonic()

  def due(self, step):
    return step % self._every == 0 or step >= self._total

  def log(self, step, metrics):
    """Logs one line; returns it (for tests and tools)."""
    elapsed = time.monotonic() - self._start_time
    done = step - self._start_step
    rate = done / elapsed if elapsed > 0 else 0.0
    eta = (self._total - step) / rate if rate > 0 else float("nan")
    values = " ".join(f"{k}={float(v):.4g}" for k, v in metrics.items())
    line = (f"{self._prefix} step {step}/{self._total}"
            f" ({100.0 * step / max(1, self._total):.1f}%) {rate:.2f} steps/s"
            f" elapsed {elapsed:.0f}s eta {eta:.0f}s {values}")
    logging.info(line)
    return line


@dataclasses.dataclass
class TrainResult:
  """What `train` did: the steps it started and stopped at, and its time."""
  start_step: int
  final_step: int
  seconds: float
  last_metrics: dict


def make_train_step(strategy, model, optimizer, loss_fn, metrics):
  """A tf.function running one distributed optimisation step.

  Args:
    strategy: tf.distribute strategy (the model and optimizer were built in
      its scope).
    model: tf.keras.Model.
    optimizer: tf.keras optimizer.
    loss_fn: (model, per_replica_batch) -> (per_example_loss [b],
      {name: per-example values [b]}); runs inside the replica context.
    metrics: {name: tf.keras.metrics.Mean} made in the strategy's scope;
      "loss" plus every name loss_fn returns.

  Returns:
    step(distributed_batch), updating the model, the optimizer and metrics.
  """

  def replica_step(batch):
    with tf.GradientTape() as tape:
      per_example, values = loss_fn(model, batch)
      loss = tf.nn.compute_average_loss(per_example)
      if model.losses:
        loss += tf.nn.scale_regularization_loss(tf.add_n(model.losses))
    grads = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
    unknown = sorted(set(values) - set(metrics))
    if unknown:
      raise ValueError(f"loss_fn returned metrics {unknown} that are not in"
                       f" metric_names ({sorted(set(metrics) - {'loss'})})")
    metrics["loss"].update_state(per_example)
    for name, value in values.items():
      metrics[name].update_state(value)

  @tf.function
  def step(batch):
    strategy.run(replica_step, args=(batch,))

  return step


def train(*, strategy, model, optimizer, loss_fn, dataset_fn, num_steps,
          model_dir, metric_names=(), checkpoint_every_steps=None,
          checkpoint_every_minutes=10.0, keep_checkpoints=3,
          log_every_steps=100, eval_fn=None, eval_every_steps=None,
          after_step=None):
  """Custom training loop with automatic resume; see the module docstring.

  Args:
    strategy: tf.distribute strategy; `model` and `optimizer` must have been
      created in its scope.
    model: tf.keras.Model (built).
    optimizer: tf.keras optimizer.
    loss_fn: see `make_train_step`.
    dataset_fn: start_step -> tf.data.Dataset of global batches from that
      step on (see the module docstring); it may end early, which ends
      training.
    num_steps: total number of steps (including those done before a resume).
    model_dir: checkpoints go to model_dir/checkpoints, TensorBoard scalars
      to model_dir/train (and model_dir/eval).
    metric_names: names of the per-example values loss_fn returns.
    checkpoint_every_steps, checkpoint_every_minutes: save triggers.  A final
      checkpoint is always saved at the end.
    keep_checkpoints: checkpoints kept.
    log_every_steps: progress log and TensorBoard write period; also the
      period at which training metrics are reset.
    eval_fn: optional step -> {name: value}, run every `eval_every_steps`
      and at the end; results go to the log and model_dir/eval.
    eval_every_steps: evaluation period (None: only at the end).
    after_step: optional callback(step) run after each step (used by tests
      to simulate an interruption).

  Returns:
    TrainResult.
  """
  if num_steps < 0:
    raise ValueError(f"num_steps must be >= 0, got {num_steps}")
  with strategy.scope():
    step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
    metrics = {name: tf.keras.metrics.Mean(name)
               for name in ("loss",) + tuple(metric_names)}
  checkpointer = Checkpointer(
      os.path.join(model_dir, "checkpoints"), step, strategy=strategy,
      keep=keep_checkpoints, every_steps=checkpoint_every_steps,
      every_minutes=checkpoint_every_minutes, model=model, optimizer=optimizer)
  start_step = checkpointer.restore()
  chief = _is_chief(strategy)
  train_writer = ScalarWriter(os.path.join(model_dir, "train")
                              if chief else None)
  eval_writer = ScalarWriter(os.path.join(model_dir, "eval")
                             if chief else None)
  progress = Progress(num_steps, log_every_steps, start_step)
  train_step = make_train_step(strategy, model, optimizer, loss_fn, metrics)
  start_time = time.monotonic()
  last_metrics = {}

  def evaluate(at_step):
    results = eval_fn(at_step)
    logging.info("eval step %d: %s", at_step, " ".join(
        f"{k}={float(v):.4g}" for k, v in results.items()))
    eval_writer.write(at_step, results)
    return results

  current = start_step
  if current < num_steps:
    dataset = strategy.experimental_distribute_dataset(dataset_fn(current))
    for batch in dataset:
      train_step(batch)
      step.assign_add(1)
      current += 1
      if progress.due(current):
        last_metrics = {name: m.result().numpy()
                        for name, m in metrics.items()}
        last_metrics["learning_rate"] = _current_learning_rate(optimizer)
        progress.log(current, last_metrics)
        train_writer.write(current, last_metrics)
        for m in metrics.values():
          m.reset_state()
      checkpointer.maybe_save()
      if after_step is not None:
        after_step(current)
      if (eval_fn is not None and eval_every_steps and current < num_steps
          and current % eval_every_steps == 0):
        last_metrics.update(
            {f"eval_{k}": v for k, v in evaluate(current).items()})
      if current >= num_steps:
        break
    if current < num_steps:
      logging.warning("The dataset ended at step %d before num_steps=%d",
                      current, num_steps)
  checkpointer.maybe_save(force=True)
  if eval_fn is not None:
    last_metrics.update({f"eval_{k}": v
                         for k, v in evaluate(current).items()})
  train_writer.close()
  eval_writer.close()
  return TrainResult(start_step=start_step, final_step=current,
                     seconds=time.monotonic() - start_time,
                     last_metrics=last_metrics)


def _current_learning_rate(optimizer):
  rate = optimizer.learning_rate
  if callable(rate):
    rate = rate(optimizer.iterations)
  return float(tf.convert_to_tensor(rate).numpy())
