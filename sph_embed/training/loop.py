"""Shared training utilities: strategies, schedules, checkpoints, logging.

Both trainers (the spherical CNN teacher and the image embedding network)
use the custom loop in `train`:

  strategy = training.make_strategy("mirrored")
  with strategy.scope():
    model = ...
    optimizer = tf.keras.optimizers.Adam(
        schedules.learning_rate_schedule([5000, 8500], [1e-3, 2e-4, 4e-5]))
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
as an uninterrupted one.  Under a multi-worker strategy the batches are
split between the workers by element (tf.data auto-shard policy DATA), so
that this holds there too: step t trains on global batch t.

SIGTERM or Ctrl-C (SIGINT) ends training after the current step (the
current call's steps, with steps_per_call > 1) with a checkpoint of that
step and `TrainingInterrupted` (exit status 128 + the signal's number, one
logged line); rerunning the command resumes there.
Under a multi-worker strategy a signal to any worker stops all of them:
TensorFlow's PreemptionCheckpointHandler agrees on the next step, every
worker saves it (the chief to model_dir/checkpoints) and ends the same way.
A checkpoint directory with damaged files is recovered or refused
(`sph_embed.training.checkpoints`), never silently restarted from step 0;
the run's spec file: `sph_embed.training.run_spec`.

Speed options (LoopConfig; off by default, for GPUs): `jit_compile` (XLA
for each step's forward and backward pass), `steps_per_call` (several steps
per tf.function call, so the host does not wait between small steps) and
`mixed_precision` (Keras' mixed_float16 / mixed_bfloat16 policy, set by
`LoopConfig.make_strategy` before the model is built; the loss and the
variables stay float32).  In every case the host reads the step back from
the device only when a log line, checkpoint or evaluation is due.
"""

import dataclasses
import os
import signal
import threading
import time

from absl import logging
import tensorflow as tf

from sph_embed.common import outputs
from sph_embed.training import checkpoints
from sph_embed.training import interruption
from sph_embed.training import progress as progress_lib
from sph_embed.training import schedules

STRATEGIES = ("default", "mirrored", "multi_worker")
# Keras mixed-precision policies: float16 (GPUs; the loop scales the loss)
# or bfloat16 (recent CPUs, TPUs, Ampere+ GPUs) compute, float32 variables.
MIXED_PRECISION = ("mixed_float16", "mixed_bfloat16")


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


@dataclasses.dataclass(frozen=True)
class LoopConfig:
  """The settings every trainer shares (sph_embed.training.flags defines
  their flags, one per field, and builds this from them).

  The trainers' own settings (network widths, loss, teacher, ...) are in
  their own config types, next to this one.
  """
  data_dir: str  # Dataset: the train split trains, the test split evaluates.
  model_dir: str  # Checkpoints, TensorBoard scalars, the run's spec.
  batch_size: int = 16  # Global batch.
  max_steps: int | None = None  # Total steps; None: the trainer's default.
  lr_schedule: str = "piecewise"  # schedules.SCHEDULES.
  lr_boundaries: tuple = ()
  lr_values: tuple = (1e-3,)
  lr_warmup_steps: int = 0  # Linear warm-up (lr_schedule='cosine').
  adam_beta1: float = 0.9
  adam_epsilon: float = 1e-7
  strategy: str = "default"
  seed: int = 0
  checkpoint_every_steps: int | None = None
  checkpoint_every_minutes: float | None = 10.0
  keep_checkpoints: int = 3
  log_every_steps: int = 100
  eval_every_steps: int | None = None  # None: evaluate at the end only.
  # Wall-clock limit of one call of `train` (a time budget); None: none.
  max_minutes: float | None = None
  # Speed options (BUILD_NOTES "Speed options"); they leave the model as it
  # is, so run specs do not record them and a resume may change them.
  jit_compile: bool = False  # XLA for each step's forward and backward pass.
  steps_per_call: int = 1  # Optimisation steps per tf.function call.
  mixed_precision: str | None = None  # A MIXED_PRECISION policy, or None.
  command: str = ""  # The command line, recorded with the run's results.

  def validate(self):
    """Returns self; ValueError whose message starts with the bad field
    (or, for the learning rates, with "learning rate schedule")."""
    if self.strategy not in STRATEGIES:
      raise ValueError(f"strategy must be one of {STRATEGIES}, got"
                       f" {self.strategy!r}")
    if self.mixed_precision not in (None,) + MIXED_PRECISION:
      raise ValueError(f"mixed_precision must be one of {MIXED_PRECISION}"
                       f" (or unset), got {self.mixed_precision!r}")
    for name in ("batch_size", "keep_checkpoints", "log_every_steps",
                 "steps_per_call"):
      if getattr(self, name) < 1:
        raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
    for name in ("max_steps", "eval_every_steps", "checkpoint_every_steps"):
      value = getattr(self, name)
      if value is not None and value < 1:
        raise ValueError(f"{name} must be >= 1 (or unset), got {value}")
    if self.max_minutes is not None and not self.max_minutes > 0:
      raise ValueError(f"max_minutes must be > 0 (or unset), got"
                       f" {self.max_minutes}")
    if (self.checkpoint_every_minutes is not None and
        not self.checkpoint_every_minutes > 0):
      raise ValueError(f"checkpoint_every_minutes must be > 0 (or unset),"
                       f" got {self.checkpoint_every_minutes}")
    if not 0 <= self.adam_beta1 < 1:
      raise ValueError(f"adam_beta1 must be in [0, 1), got {self.adam_beta1}")
    if not self.adam_epsilon > 0:
      raise ValueError(f"adam_epsilon must be > 0, got {self.adam_epsilon}")
    self.learning_rate()
    return self

  def learning_rate(self):
    """The learning-rate schedule (`schedules.make_schedule`)."""
    return schedules.make_schedule(self.lr_schedule, self.lr_boundaries,
                                   self.lr_values, self.max_steps,
                                   self.lr_warmup_steps)

  def make_strategy(self):
    """The strategy, after setting Keras' global dtype policy.

    Call it before building the model: layers take the policy in force when
    they are made ("float32" unless `mixed_precision` is set).
    """
    tf.keras.mixed_precision.set_global_policy(self.mixed_precision or
                                               "float32")
    return make_strategy(self.strategy)

  def train_arguments(self):
    """The keyword arguments of `train` that this config sets."""
    return dict(
        model_dir=self.model_dir,
        checkpoint_every_steps=self.checkpoint_every_steps,
        checkpoint_every_minutes=self.checkpoint_every_minutes,
        keep_checkpoints=self.keep_checkpoints,
        log_every_steps=self.log_every_steps,
        eval_every_steps=self.eval_every_steps,
        max_minutes=self.max_minutes,
        jit_compile=self.jit_compile,
        steps_per_call=self.steps_per_call)


@dataclasses.dataclass
class TrainResult:
  """What `train` did: the steps it started and stopped at, and its time."""
  start_step: int
  final_step: int
  seconds: float
  last_metrics: dict


def _shard_by_data(dataset):
  """`dataset` split between workers by element (auto-shard policy DATA).

  Under the default policy (AUTO) a dataset read from at least as many
  files as workers is split by file: each worker batches its own files'
  examples to the global batch size and tf.data rebatches them, so that
  one of its batches feeds `num_workers` steps, and skipping `start_step`
  batches on resume (`dataset_fn`) would skip too far.  By element, every
  worker reads the global batches and keeps its part of each: step t
  trains on global batch t, as with one worker, and resume is exact.
  """
  options = tf.data.Options()
  options.experimental_distribute.auto_shard_policy = (
      tf.data.experimental.AutoShardPolicy.DATA)
  return dataset.with_options(options)


class _Float32Outputs:
  """Calls a model and casts its floating outputs to float32.

  Under a mixed-precision policy a model computes in float16/bfloat16; its
  outputs go to the loss in float32 (Keras' mixed-precision guide).
  """

  def __init__(self, model):
    self._model = model

  def __call__(self, *args, **kwargs):
    return tf.nest.map_structure(
        lambda t: tf.cast(t, tf.float32) if t.dtype.is_floating else t,
        self._model(*args, **kwargs))


def _make_replica_step(model, optimizer, loss_fn, metrics, jit_compile):
  """One optimisation step on a per-replica batch (see make_train_step)."""
  scaled = isinstance(optimizer, tf.keras.mixed_precision.LossScaleOptimizer)
  model_for_loss = (model if model.compute_dtype == "float32"
                    else _Float32Outputs(model))

  def gradients(batch):
    with tf.GradientTape() as tape:
      per_example, values = loss_fn(model_for_loss, batch)
      loss = tf.nn.compute_average_loss(per_example)
      if model.losses:
        loss += tf.nn.scale_regularization_loss(
            tf.add_n([tf.cast(l, tf.float32) for l in model.losses]))
      if scaled:  # float16: scaled so that small gradients do not vanish.
        loss = optimizer.get_scaled_loss(loss)
    grads = tape.gradient(loss, model.trainable_variables)
    if scaled:
      grads = optimizer.get_unscaled_gradients(grads)
    return grads, per_example, values

  if jit_compile:
    # The forward and backward pass only: the update's cross-replica sum
    # (MirroredStrategy) cannot run inside an XLA cluster.
    gradients = tf.function(gradients, jit_compile=True)

  def replica_step(batch):
    grads, per_example, values = gradients(batch)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
    unknown = sorted(set(values) - set(metrics))
    if unknown:
      raise ValueError(f"loss_fn returned metrics {unknown} that are not in"
                       f" metric_names ({sorted(set(metrics) - {'loss'})})")
    metrics["loss"].update_state(per_example)
    for name, value in values.items():
      metrics[name].update_state(value)

  return replica_step


def make_train_step(strategy, model, optimizer, loss_fn, metrics,
                    jit_compile=False):
  """A tf.function running one distributed optimisation step.

  Args:
    strategy: tf.distribute strategy (the model and optimizer were built in
      its scope).
    model: tf.keras.Model; under a mixed-precision policy its outputs reach
      loss_fn cast to float32.
    optimizer: tf.keras optimizer; a LossScaleOptimizer scales the loss.
    loss_fn: (model, per_replica_batch) -> (per_example_loss [b],
      {name: per-example values [b]}); runs inside the replica context.
    metrics: {name: tf.keras.metrics.Mean} made in the strategy's scope;
      "loss" plus every name loss_fn returns.
    jit_compile: compile the forward and backward pass with XLA.

  Returns:
    step(distributed_batch), updating the model, the optimizer and metrics.
  """
  replica_step = _make_replica_step(model, optimizer, loss_fn, metrics,
                                    jit_compile)

  @tf.function
  def step(batch):
    strategy.run(replica_step, args=(batch,))

  return step


def make_multi_step(strategy, model, optimizer, loss_fn, metrics, counter,
                    jit_compile=False):
  """A tf.function running several steps on batches from an iterator.

  Args:
    strategy, model, optimizer, loss_fn, metrics, jit_compile: as
      `make_train_step`.
    counter: int64 tf.Variable incremented by each step done.

  Returns:
    steps(distributed_iterator, count): runs `count` (a scalar tensor, so
    that a new count does not retrace) steps, fewer where the iterator
    ends.  Nothing is read back to the host.
  """
  replica_step = _make_replica_step(model, optimizer, loss_fn, metrics,
                                    jit_compile)

  @tf.function
  def steps(iterator, count):
    for _ in tf.range(count):
      batch = iterator.get_next_as_optional()
      if not batch.has_value():
        break
      strategy.run(replica_step, args=(batch.get_value(),))
      counter.assign_add(1)

  return steps


def train(*, strategy, model, optimizer, loss_fn, dataset_fn, num_steps,
          model_dir, metric_names=(), checkpoint_every_steps=None,
          checkpoint_every_minutes=10.0, keep_checkpoints=3,
          log_every_steps=100, eval_fn=None, eval_every_steps=None,
          max_minutes=None, after_step=None, jit_compile=False,
          steps_per_call=1):
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
    max_minutes: wall-clock budget of this call: once it is spent, training
      ends after the current call of the steps as if num_steps were
      reached (final checkpoint and evaluation); None: no limit.
    after_step: optional callback(step) run after each call of the steps
      (each step when steps_per_call=1; tests use it to simulate an
      interruption).
    jit_compile: XLA-compile each step's forward and backward pass.
    steps_per_call: steps per tf.function call.  A call ends early where the
      log, an evaluation or a step-triggered checkpoint is due, so these
      come at the same steps as with 1, and resume stays exact.

  The host reads the step back from the device (waits for it) only when
  something is due: a log line, a checkpoint, an evaluation, the end.  A
  model built under the mixed_float16 policy trains through a
  LossScaleOptimizer around `optimizer` (only `optimizer` is checkpointed,
  so a run resumes with or without it; the loss scale starts afresh).

  Returns:
    TrainResult.
  """
  if num_steps < 0:
    raise ValueError(f"num_steps must be >= 0, got {num_steps}")
  if steps_per_call < 1:
    raise ValueError(f"steps_per_call must be >= 1, got {steps_per_call}")
  outputs.check_output_dir(model_dir, "model_dir")
  with strategy.scope():
    step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
    metrics = {name: tf.keras.metrics.Mean(name)
               for name in ("loss",) + tuple(metric_names)}
  checkpointer = checkpoints.Checkpointer(
      os.path.join(model_dir, "checkpoints"), step, strategy=strategy,
      keep=keep_checkpoints, every_steps=checkpoint_every_steps,
      every_minutes=checkpoint_every_minutes, model=model, optimizer=optimizer)
  start_step = checkpointer.restore()
  chief = checkpoints.is_chief(strategy)
  train_writer = progress_lib.ScalarWriter(os.path.join(model_dir, "train")
                              if chief else None)
  eval_writer = progress_lib.ScalarWriter(os.path.join(model_dir, "eval")
                             if chief else None)
  progress = progress_lib.Progress(num_steps, log_every_steps, start_step)
  step_optimizer = optimizer
  if model.dtype_policy.name == "mixed_float16":
    with strategy.scope():
      step_optimizer = tf.keras.mixed_precision.LossScaleOptimizer(optimizer)
  train_steps = make_multi_step(strategy, model, step_optimizer, loss_fn,
                                metrics, step, jit_compile)
  start_time = time.monotonic()

  def out_of_time():
    return (max_minutes is not None and
            time.monotonic() - start_time >= 60 * max_minutes)
  last_metrics = {}

  def evaluate(at_step):
    results = eval_fn(at_step)
    logging.info("eval step %d: %s", at_step, " ".join(
        f"{k}={float(v):.4g}" for k, v in results.items()))
    eval_writer.write(at_step, results)
    return results

  def eval_due(at_step):
    return bool(eval_fn is not None and eval_every_steps and
                at_step < num_steps and at_step % eval_every_steps == 0)

  def next_call_steps(at_step):
    """At most steps_per_call, ending where something is due."""
    limits = [steps_per_call, num_steps - at_step,
              log_every_steps - at_step % log_every_steps,
              checkpointer.steps_to_trigger(at_step)]
    if eval_fn is not None and eval_every_steps:
      limits.append(eval_every_steps - at_step % eval_every_steps)
    return min(n for n in limits if n is not None)

  current = start_step
  stop = interruption.StopOnSignal(stop_early=not checkpoints.is_multi_worker(strategy))
  preempted = threading.Event()  # The cluster saved after a signal.
  preemption = interruption.preemption_handler(strategy, checkpointer, stop, preempted)
  if current < num_steps:
    dataset = dataset_fn(current)
    if checkpoints.is_multi_worker(strategy):
      dataset = _shard_by_data(dataset)
    iterator = iter(strategy.experimental_distribute_dataset(dataset))
    with stop:
      while (current < num_steps and not stop.stopping
             and not out_of_time()):
        count = next_call_steps(current)
        train_steps(iterator, tf.constant(count, tf.int64))
        current += count
        progress.advance(count)
        if ((progress.due(current) or eval_due(current) or
             checkpointer.due(current)) and int(step.numpy()) < current):
          break  # The dataset ended; the calls since did nothing.
        if progress.due(current):
          last_metrics = {name: m.result().numpy()
                          for name, m in metrics.items()}
          last_metrics["learning_rate"] = _current_learning_rate(optimizer)
          progress.log(current, last_metrics)
          train_writer.write(current, last_metrics)
          for m in metrics.values():
            m.reset_state()
        checkpointer.maybe_save(step=current)
        if after_step is not None:
          after_step(current)
        if eval_due(current):
          last_metrics.update(
              {f"eval_{k}": v for k, v in evaluate(current).items()})
        if preemption is not None:
          preemption.save_checkpoint_if_preempted(checkpoint_number=current)
          if preempted.is_set():
            break
    current = int(step.numpy())
    if current < num_steps and out_of_time():
      logging.info("Time budget of %g minutes spent at step %d of %d",
                   max_minutes, current, num_steps)
    elif (current < num_steps and stop.received is None and
          not preempted.is_set()):
      logging.warning("The dataset ended at step %d before num_steps=%d",
                      current, num_steps)
  if preempted.is_set() or (preemption is None and
                            stop.received is not None):
    path = checkpointer.maybe_save(force=True) or checkpointer.latest
    # A worker stopped by another's signal reports it as SIGTERM.
    interrupted = interruption.TrainingInterrupted(stop.received or signal.SIGTERM,
                                      current, path)
    logging.warning("%s%s at step %d: saved %s; run the same command again"
                    " to resume from there", interrupted.signal_name,
                    "" if stop.received else " to another worker", current,
                    path)
    train_writer.close()
    eval_writer.close()
    progress.close()
    raise interrupted
  checkpointer.maybe_save(force=True)
  if eval_fn is not None:
    last_metrics.update({f"eval_{k}": v
                         for k, v in evaluate(current).items()})
  train_writer.close()
  eval_writer.close()
  progress.close()
  return TrainResult(start_step=start_step, final_step=current,
                     seconds=time.monotonic() - start_time,
                     last_metrics=last_metrics)


def _current_learning_rate(optimizer):
  rate = optimizer.learning_rate
  if callable(rate):
    rate = rate(optimizer.iterations)
  return float(tf.convert_to_tensor(rate).numpy())
