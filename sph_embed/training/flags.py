"""The flags every trainer shares, defined once; LoopConfig built from them.

A trainer tool (tools/train_teacher.py, tools/train_embedding.py, ...)
defines them with its own defaults and builds the loop's config:

  _LOOP = training_flags.define_loop_flags(
      max_steps=200_000, lr_boundaries=(80_000, 180_000),
      eval_every_steps=5000)
  ...
  loop_config = training_flags.loop_config(_LOOP)   # app.UsageError

One flag per `loop.LoopConfig` field: --data_dir, --model_dir,
--batch_size, --max_steps, --lr_schedule, --lr_boundaries, --lr_values,
--lr_warmup_steps, --adam_beta1,
--adam_epsilon, --strategy, --seed, --checkpoint_every_steps,
--checkpoint_every_minutes, --keep_checkpoints, --log_every_steps,
--eval_every_steps, --max_minutes, and the speed options --jit_compile, --steps_per_call,
--mixed_precision (BUILD_NOTES "Speed options").
"""

import dataclasses
import re
import shlex
import sys

from absl import app
from absl import flags

from sph_embed.training import checkpoints
from sph_embed.training import loop
from sph_embed.training import schedules


@dataclasses.dataclass(frozen=True)
class LoopFlags:
  """The holders of the shared flags, one per LoopConfig field."""
  data_dir: flags.FlagHolder
  model_dir: flags.FlagHolder
  batch_size: flags.FlagHolder
  max_steps: flags.FlagHolder
  lr_schedule: flags.FlagHolder
  lr_boundaries: flags.FlagHolder
  lr_values: flags.FlagHolder
  lr_warmup_steps: flags.FlagHolder
  adam_beta1: flags.FlagHolder
  adam_epsilon: flags.FlagHolder
  strategy: flags.FlagHolder
  seed: flags.FlagHolder
  checkpoint_every_steps: flags.FlagHolder
  checkpoint_every_minutes: flags.FlagHolder
  keep_checkpoints: flags.FlagHolder
  log_every_steps: flags.FlagHolder
  eval_every_steps: flags.FlagHolder
  max_minutes: flags.FlagHolder
  jit_compile: flags.FlagHolder
  steps_per_call: flags.FlagHolder
  mixed_precision: flags.FlagHolder


def define_loop_flags(*, max_steps, lr_boundaries, eval_every_steps,
                      lr_values=(1e-3, 2e-4, 4e-5), batch_size=16,
                      adam_beta1=0.9, adam_epsilon=1e-7,
                      checkpoint_every_minutes=10.0, keep_checkpoints=3,
                      flag_values=flags.FLAGS):
  """Defines the shared flags with a trainer's defaults; returns LoopFlags.

  Args:
    max_steps: default total steps; None: the trainer derives it (the
      teacher: from --epochs).
    lr_boundaries, lr_values: default learning-rate schedule.
    eval_every_steps: default evaluation period; 0: only at the end.
    lr_values, batch_size, adam_beta1, adam_epsilon, checkpoint_every_minutes,
      keep_checkpoints: defaults.
    flag_values: the FlagValues to define them in (tests use their own).
  """
  define = dict(flag_values=flag_values)
  return LoopFlags(
      data_dir=flags.DEFINE_string(
          "data_dir", None, "Dataset directory (tools/build_dataset.py): the"
          " train split for training, the test split for evaluation.",
          required=True, **define),
      model_dir=flags.DEFINE_string(
          "model_dir", None, "Run directory: checkpoints, TensorBoard"
          " scalars, the run's spec and results; an existing run there is"
          " resumed.", required=True, **define),
      batch_size=flags.DEFINE_integer("batch_size", batch_size,
                                      "Global batch size.", **define),
      max_steps=flags.DEFINE_integer(
          "max_steps", max_steps, "Total training steps, counting those"
          " done before a resume" + (
              "." if max_steps is not None else
              " (default: from --epochs)."), **define),
      lr_schedule=flags.DEFINE_enum(
          "lr_schedule", "piecewise", list(schedules.SCHEDULES),
          "piecewise: --lr_values changing at --lr_boundaries (the"
          " paper's); cosine: linear warm-up over --lr_warmup_steps to the"
          " first of --lr_values, then a cosine decay to the last (or 0) at"
          " --max_steps (BUILD_NOTES 'Time to accuracy').", **define),
      lr_boundaries=flags.DEFINE_list(
          "lr_boundaries", [str(b) for b in lr_boundaries],
          "Steps at which the learning rate changes (piecewise).", **define),
      lr_values=flags.DEFINE_list(
          "lr_values", [str(v) for v in lr_values],
          "Learning rates: one more than --lr_boundaries (piecewise), or"
          " peak[,final] (cosine).", **define),
      lr_warmup_steps=flags.DEFINE_integer(
          "lr_warmup_steps", 0, "Linear warm-up steps (cosine).",
          lower_bound=0, **define),
      adam_beta1=flags.DEFINE_float(
          "adam_beta1", adam_beta1, "Adam's beta_1 (decay of the gradient's"
          " running mean).", **define),
      adam_epsilon=flags.DEFINE_float("adam_epsilon", adam_epsilon,
                                      "Adam's epsilon.", **define),
      strategy=flags.DEFINE_enum("strategy", "default",
                                 list(loop.STRATEGIES),
                                 "tf.distribute strategy.", **define),
      seed=flags.DEFINE_integer("seed", 0, "Initialisation and data seed.",
                                **define),
      checkpoint_every_steps=flags.DEFINE_integer(
          "checkpoint_every_steps", None, "Save a checkpoint every N steps"
          " (as well as every --checkpoint_every_minutes).", **define),
      checkpoint_every_minutes=flags.DEFINE_float(
          "checkpoint_every_minutes", checkpoint_every_minutes,
          "Save a checkpoint every N minutes.", **define),
      keep_checkpoints=flags.DEFINE_integer(
          "keep_checkpoints", keep_checkpoints, "Checkpoints kept.",
          **define),
      log_every_steps=flags.DEFINE_integer(
          "log_every_steps", 100, "Progress line and TensorBoard period"
          " (steps).", **define),
      eval_every_steps=flags.DEFINE_integer(
          "eval_every_steps", eval_every_steps, "Held-out (test split)"
          " evaluation period (steps); 0: only at the end.", **define),
      max_minutes=flags.DEFINE_float(
          "max_minutes", None, "Wall-clock budget of this run (minutes):"
          " training ends, saved and evaluated, once it is spent, even"
          " before --max_steps.", **define),
      jit_compile=flags.DEFINE_bool(
          "jit_compile", False, "XLA-compile each step's forward and"
          " backward pass (GPUs; slower to start).", **define),
      steps_per_call=flags.DEFINE_integer(
          "steps_per_call", 1, "Training steps per tf.function call (GPUs:"
          " fewer host round trips); logs, checkpoints and evaluations stay"
          " at their steps.", **define),
      mixed_precision=flags.DEFINE_enum(
          "mixed_precision", None, list(loop.MIXED_PRECISION),
          "Keras mixed-precision policy: mixed_float16 (GPUs, with loss"
          " scaling) or mixed_bfloat16; unset: float32.", **define),
  )


def parse_list_flag(holder, kind):
  """An absl list flag's values as a tuple of `kind` (int, float).

  Raises:
    app.UsageError naming the flag when a value does not parse.
  """
  try:
    return tuple(kind(v) for v in holder.value)
  except ValueError:
    raise app.UsageError(f"--{holder.name}: expected a comma-separated list"
                         f" of {kind.__name__}s, got {','.join(holder.value)}"
                         ) from None


def loop_config(loop_flags, command=None):
  """The LoopConfig the flags describe, validated.

  Args:
    loop_flags: LoopFlags from `define_loop_flags`.
    command: the command line recorded with the run (default: this one).

  Raises:
    app.UsageError naming the flag and the problem;
    checkpoints.CheckpointError: --max_steps is below the step the run in
      --model_dir reached.
  """
  values = {f.name: getattr(loop_flags, f.name).value
            for f in dataclasses.fields(LoopFlags)}
  values["lr_boundaries"] = parse_list_flag(loop_flags.lr_boundaries, int)
  values["lr_values"] = parse_list_flag(loop_flags.lr_values, float)
  if values["lr_schedule"] == "cosine":
    # The trainer's default drops are a piecewise schedule's: unless given,
    # the cosine runs from its first rate to its last over --max_steps.
    if not loop_flags.lr_boundaries.present:
      values["lr_boundaries"] = ()
    if not loop_flags.lr_values.present:
      values["lr_values"] = values["lr_values"][::max(
          1, len(values["lr_values"]) - 1)]
  values["eval_every_steps"] = values["eval_every_steps"] or None
  try:
    schedules.make_schedule(values["lr_schedule"], values["lr_boundaries"],
                            values["lr_values"], values["max_steps"],
                            values["lr_warmup_steps"])
  except ValueError as e:
    flag_names = ("--lr_boundaries / --lr_values"
                  if values["lr_schedule"] == "piecewise" else
                  "--lr_schedule=cosine")
    raise app.UsageError(f"{flag_names}: {e}") from None
  config = loop.LoopConfig(
      **values, command=command or shlex.join(["python3"] + sys.argv))
  try:
    config = config.validate()
  except ValueError as e:
    # LoopConfig's messages start with the field, which is the flag's name.
    raise app.UsageError(f"--{e}") from None
  checkpoints.check_max_steps(config.model_dir, config.max_steps)
  return config


def print_training_summary(result, model_dir):
  """What every trainer tool prints at the end (stdout)."""
  print(f"trained steps {result.start_step}..{result.final_step} in"
        f" {result.seconds:.0f} s; last metrics:")
  for name, value in sorted(result.last_metrics.items()):
    print(f"  {name} = {float(value):.6g}")
  print(f"model: {model_dir}")


def define_eval_examples_flag():
  """--eval_examples of the trainers that evaluate on a held-out split."""
  return flags.DEFINE_integer(
      "eval_examples", 0, "Held-out examples per evaluation; 0 = the whole "
      "test split.", lower_bound=0)


def validated(settings):
  """`settings.validate()`, its ValueError as a UsageError naming the flag.

  The trainers' settings name the bad field first (after the class name of
  a nested config, e.g. "TeacherConfig."), and each field is the flag of
  the same name.
  """
  try:
    return settings.validate()
  except ValueError as e:
    raise app.UsageError("--" + re.sub(r"^[A-Z]\w*\.", "", str(e))) from None
