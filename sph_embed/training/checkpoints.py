"""Checkpoints of a training run: saving, restoring, recovering from damage.

`Checkpointer` saves on step and time triggers and restores the newest
readable checkpoint; a directory with damaged files is recovered (state file
rebuilt, damaged newest checkpoint moved aside) or refused, never silently
restarted from step 0.  `latest_checkpoint` and `restore_weights` read a
finished run the same way.  Under a multi-worker strategy only the chief
writes to the run's directory.
"""

import glob
import os
import re
import time

from absl import logging
import tensorflow as tf



def is_chief(strategy):
  """Whether this process is the chief (it writes checkpoints and logs)."""
  resolver = getattr(strategy, "cluster_resolver", None)
  if resolver is None or not resolver.task_type:
    return True
  return (resolver.task_type == "chief" or
          (resolver.task_type == "worker" and resolver.task_id == 0 and
           "chief" not in resolver.cluster_spec().as_dict()))


class CheckpointError(ValueError):
  """The checkpoints of a run cannot be restored (named in the message)."""


_CHECKPOINT_INDEX = re.compile(r"ckpt-(\d+)\.index")
# What a checkpoint found unreadable is renamed to: out of the way of
# tf.train.latest_checkpoint and of this class, but kept for inspection.
CORRUPT_SUFFIX = ".corrupt"
UNUSED_SUFFIX = ".unused"  # Newer than the step the other workers resume.


def _checkpoints_on_disk(directory):
  """Prefixes of the ckpt-<step> checkpoints in `directory`, newest first."""
  found = []
  for path in glob.glob(os.path.join(glob.escape(directory), "ckpt-*.index")):
    match = _CHECKPOINT_INDEX.fullmatch(os.path.basename(path))
    if match:
      found.append((int(match.group(1)), path[:-len(".index")]))
  return [prefix for _, prefix in sorted(found, reverse=True)]


def _state_file_problem(directory):
  """Why `directory`/checkpoint cannot be used (None: it can, or is absent).

  tf.train.get_checkpoint_state raises UnicodeDecodeError on binary bytes
  and returns None (a warning only) on unparsable text; both must not turn
  a run with checkpoints into a fresh start.
  """
  path = os.path.join(directory, "checkpoint")
  if not os.path.exists(path):
    return None
  try:
    with open(path, "rb") as f:
      f.read().decode("utf-8")
  except UnicodeDecodeError:
    return "binary garbage, not a checkpoint state file"
  except OSError as e:
    return f"cannot read it ({e.strerror})"
  state = tf.train.get_checkpoint_state(directory)
  if state is None or not state.model_checkpoint_path:
    return "not a valid checkpoint state file"
  if not tf.io.gfile.exists(_absolute(directory, state.model_checkpoint_path)
                            + ".index"):
    return f"names {state.model_checkpoint_path}, which does not exist"
  return None


def _absolute(directory, prefix):
  return prefix if os.path.isabs(prefix) else os.path.join(directory, prefix)


def _checkpoint_problem(prefix):
  """Why the checkpoint `prefix` cannot be read (None: every tensor reads).

  Reading every tensor checks the index and the data files (sizes and
  checksums), before anything is assigned to the model.
  """
  try:
    reader = tf.train.load_checkpoint(prefix)
    for name in reader.get_variable_to_shape_map():
      reader.get_tensor(name)
  except Exception as e:  # pylint: disable=broad-except
    # The reader raises OpError, IndexError, ValueError... for damaged files.
    lines = str(e).strip().splitlines() or [type(e).__name__]
    return f"{type(e).__name__}: {lines[0]}"
  return None


def restore_weights(model, model_dir, checkpoint=None, what="model"):
  """Loads trained weights into `model` (built from the run's spec).

  Args:
    model: the network, built as the run `model_dir` describes.
    model_dir: a run directory written by a trainer.
    checkpoint: a checkpoint path prefix (default: the newest readable one
      in model_dir/checkpoints).
    what: the network's name, for the log.

  Returns:
    `model`.  ValueError when the run has no checkpoint.
  """
  if checkpoint is None:
    checkpoint = latest_checkpoint(os.path.join(model_dir, "checkpoints"))
    if checkpoint is None:
      raise ValueError(f"{model_dir}/checkpoints: no checkpoint")
  status = tf.train.Checkpoint(model=model).restore(checkpoint)
  status.expect_partial().assert_existing_objects_matched()
  logging.info("Restored the %s from %s", what, checkpoint)
  return model


def restore_run(model_dir, read_spec, build_model, what, checkpoint=None):
  """(model, spec): a trainer's network rebuilt from its run spec, with weights.

  Args:
    model_dir: a directory written by a trainer.
    read_spec: model_dir -> the run's spec (checked).
    build_model: spec -> the untrained network.
    what: the network's name in error messages.
    checkpoint: a checkpoint path prefix (default: the newest in
      model_dir/checkpoints).
  """
  spec = read_spec(model_dir)
  return restore_weights(build_model(spec), model_dir, checkpoint, what), spec


def latest_checkpoint(directory):
  """The newest readable checkpoint in `directory` (for reading a run).

  Unlike tf.train.latest_checkpoint, a damaged state file is not fatal (it
  raises UnicodeDecodeError on binary bytes) and a damaged newest
  checkpoint is skipped, each with a warning naming it; nothing is
  changed on disk (training's `Checkpointer.restore` repairs).

  Returns:
    The path prefix, or None when the directory holds no checkpoint.

  Raises:
    CheckpointError: checkpoints exist, but none can be read.
  """
  on_disk = _checkpoints_on_disk(directory)
  problem = _state_file_problem(directory)
  if problem and on_disk:
    logging.warning("%s: %s; using the checkpoints on disk",
                    os.path.join(directory, "checkpoint"), problem)
  for prefix in on_disk:
    problem = _checkpoint_problem(prefix)
    if problem is None:
      return prefix
    logging.warning("%s: damaged checkpoint (%s); trying the previous one",
                    prefix, problem)
  if on_disk:
    raise CheckpointError(f"{directory}: none of its {len(on_disk)}"
                          " checkpoints can be read")
  return None


def check_max_steps(model_dir, max_steps):
  """Refuses a `max_steps` below the step the run in `model_dir` reached.

  Training would do nothing, and the run, still at its later step, would
  be reported as trained ("trained steps 47..47").  None: no limit given.

  Raises:
    CheckpointError naming --max_steps, the run and its step.
  """
  if max_steps is None:
    return
  reached = _step_of(latest_checkpoint(os.path.join(model_dir,
                                                    "checkpoints")))
  if reached > max_steps:
    raise CheckpointError(
        f"--max_steps={max_steps}: the run in {model_dir} is already at step"
        f" {reached}, so nothing would be trained; give --max_steps of at"
        " least that to go on, or a new --model_dir to start again")


def _move_aside(prefix):
  """Renames every file of the checkpoint `prefix` to *.corrupt."""
  for path in glob.glob(glob.escape(prefix) + ".*"):
    if not path.endswith(CORRUPT_SUFFIX):
      os.replace(path, path + CORRUPT_SUFFIX)


def is_multi_worker(strategy):
  """Whether `strategy` runs over a cluster of workers (TF_CONFIG)."""
  resolver = getattr(strategy, "cluster_resolver", None)
  return bool(resolver is not None and resolver.task_type)


def _step_of(prefix):
  return int(prefix.rsplit("-", 1)[1]) if prefix else 0


def _every_workers_value(strategy, value):
  """[value of worker 0, worker 1, ...]; every worker must call it."""
  local = strategy.run(lambda: tf.constant([value], tf.int64))
  return [int(v) for v in strategy.gather(local, axis=0).numpy()]


class Checkpointer:
  """tf.train.CheckpointManager with step- and time-based saving.

  Saves when `every_steps` steps or `every_minutes` minutes have passed
  since the last save (either, when both are given), keeps the newest
  `keep`, and restores the newest one on `restore()`.  Under a multi-worker
  strategy only the chief writes to `directory`; other workers write to a
  scratch folder (required, as every worker must take part in a save).

  A directory with checkpoints never silently starts again from step 0: a
  damaged state file (`checkpoint`) is rebuilt from the ckpt-* files on
  disk, and a damaged newest checkpoint is moved aside (*.corrupt) for the
  previous one, each with a one-line warning naming the file; when no
  checkpoint can be read, `restore` raises CheckpointError.
  """

  def __init__(self, directory, step, strategy=None, keep=3, every_steps=None,
               every_minutes=None, **objects):
    """Prepares the manager; call `restore()` before saving.

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
    if not is_chief(strategy):
      directory = os.path.join(
          directory, f"worker_{strategy.cluster_resolver.task_id}_scratch")
    self._directory = directory
    self._strategy = strategy
    self._keep = keep
    self._checkpoint = tf.train.Checkpoint(step=step, **objects)
    # Made by `restore`, once the state file is known to be readable (the
    # manager reads it on creation).
    self._manager = None
    self._last_step = None
    self._last_time = time.monotonic()

  @property
  def latest(self):
    """Path prefix of the newest checkpoint, or None."""
    return self._manager.latest_checkpoint if self._manager else None

  @property
  def manager(self):
    """The tf.train.CheckpointManager (made by `restore`)."""
    return self._manager

  def restore(self):
    """Restores the newest readable checkpoint; returns the restored step.

    Raises:
      CheckpointError naming the directory when it holds checkpoints of
      which none can be read, or the checkpoint when it does not fit the
      objects (another model).
    """
    directory = self._directory
    on_disk = _checkpoints_on_disk(directory)
    chosen = None
    for prefix in on_disk:
      problem = _checkpoint_problem(prefix)
      if problem is None:
        chosen = prefix
        break
      logging.warning("%s: damaged checkpoint (%s); moved aside as *%s,"
                      " using the previous one", prefix, problem,
                      CORRUPT_SUFFIX)
      _move_aside(prefix)
    if on_disk and chosen is None:
      raise CheckpointError(
          f"{directory}: none of its {len(on_disk)} checkpoints can be read"
          f" (now *{CORRUPT_SUFFIX}); move the directory away to start from"
          " step 0, or put back a good checkpoint")
    if is_multi_worker(self._strategy):
      chosen = self._common_checkpoint(chosen)
    state_problem = _state_file_problem(directory)
    state = None if state_problem else tf.train.get_checkpoint_state(directory)
    if chosen and (state is None or chosen != _absolute(
        directory, state.model_checkpoint_path)):
      if state_problem:
        logging.warning("%s: %s; rebuilt it from the checkpoints on disk"
                        " (newest readable: %s)",
                        os.path.join(directory, "checkpoint"), state_problem,
                        os.path.basename(chosen))
      kept = [p for p in reversed(on_disk)
              if os.path.exists(p + ".index")][-self._keep:]
      tf.compat.v1.train.update_checkpoint_state(
          directory, chosen, all_model_checkpoint_paths=kept)
    elif not chosen and state_problem:
      # No checkpoint to lose: the state file goes, the run starts afresh.
      logging.warning("%s: %s and no checkpoint beside it; starting from"
                      " step 0", os.path.join(directory, "checkpoint"),
                      state_problem)
      os.remove(os.path.join(directory, "checkpoint"))
    self._manager = tf.train.CheckpointManager(
        self._checkpoint, directory, max_to_keep=self._keep)
    if chosen:
      try:
        self._checkpoint.restore(chosen).assert_existing_objects_matched()
      except (AssertionError, ValueError) as e:
        first = (str(e).strip().splitlines() or [""])[0]
        raise CheckpointError(
            f"{chosen}: does not fit this model ({first}); use another"
            " model directory or the settings it was trained with") from None
      logging.info("Restored %s (step %d)", chosen, int(self._step.numpy()))
    self._last_step = int(self._step.numpy())
    self._last_time = time.monotonic()
    return self._last_step

  def _common_checkpoint(self, chosen):
    """This worker's checkpoint at the step every worker can restore.

    Workers save together, but one killed mid-save (the chief, say) leaves
    the others one checkpoint ahead; resuming from different steps would
    hang the cluster at its first collective.  So every worker restores the
    oldest of the workers' newest steps, and moves its newer checkpoints
    aside (*.unused: they would be overwritten on the way).

    Raises:
      CheckpointError naming the steps when this worker has no checkpoint
      at that step.
    """
    steps = _every_workers_value(self._strategy, _step_of(chosen))
    common = min(steps)
    if common == _step_of(chosen):
      return chosen
    prefix = os.path.join(self._directory, f"ckpt-{common}")
    if common == 0 or _checkpoint_problem(prefix) is not None:
      raise CheckpointError(
          f"{self._directory}: the workers' newest checkpoints are at steps"
          f" {steps}, and this worker has no readable ckpt-{common} to"
          " resume with the others; give every worker the same checkpoints"
          " (or move them all away to start from step 0)")
    for newer in _checkpoints_on_disk(self._directory):
      if _step_of(newer) > common:
        logging.warning("%s: another worker's newest checkpoint is step %d;"
                        " moved aside as *%s, resuming from step %d", newer,
                        common, UNUSED_SUFFIX, common)
        for path in glob.glob(glob.escape(newer) + ".*"):
          if not path.endswith((CORRUPT_SUFFIX, UNUSED_SUFFIX)):
            os.replace(path, path + UNUSED_SUFFIX)
    return prefix

  def due(self, step):
    """Whether a trigger fires at `step` (reads nothing from the device)."""
    if self._last_step is None or step == self._last_step:
      return False
    return (self._every_steps is not None and
            step - self._last_step >= self._every_steps) or (
                self._every_seconds is not None and
                time.monotonic() - self._last_time >= self._every_seconds)

  def steps_to_trigger(self, step):
    """Steps from `step` to the step trigger (None: no step trigger)."""
    if self._every_steps is None or self._last_step is None:
      return None
    return max(1, self._last_step + self._every_steps - step)

  def maybe_save(self, force=False, step=None):
    """Saves if a trigger fired (or `force`); returns the path or None.

    Triggers fire only once the step has moved since the last save or
    restore; the same step is never saved twice.  `step`: the step variable's
    value when the caller knows it (spares reading it from the device).
    """
    if self._manager is None:
      raise RuntimeError("Checkpointer.restore() must run before saving")
    if step is None:
      step = int(self._step.numpy())
    if self._last_step is None:
      self._last_step = step
    if step == self._saved_step() or not (force or self.due(step)):
      return None
    path = self._manager.save(checkpoint_number=step)
    self._last_step = step
    self._last_time = time.monotonic()
    logging.info("Saved checkpoint %s", path)
    return path

  def _saved_step(self):
    latest = self.latest
    return _step_of(latest) if latest else None
