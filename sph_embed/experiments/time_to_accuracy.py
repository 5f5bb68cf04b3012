"""Time to accuracy: embedding-network recipes at one wall-clock budget.

A recipe is a set of tools/train_embedding.py flags and a learning-rate
schedule fitted to the run's length (sph_embed/experiments/recipes.json).  `run` trains every recipe on the same dataset, one after the
other on the same machine, for the same number of minutes, and scores the
held-out split of that dataset (a validation split carved from the training
instances: tools/build_dataset.py --validation_instances) at each kept
checkpoint exactly as the report scores the final network (3DOF pairs,
SO(3) correlation; sph_embed.report.pose_curve), against the minutes of
training that checkpoint had.

Each recipe's step count is fitted to the budget by timing a short run of
it first (`calibrate`: its steps/s after the first logged steps, so start-up
is excluded); the real run then has --max_steps = budget x that rate, which
sets its schedule, and --max_minutes = the budget, so a slower machine cuts
the run rather than overrunning it.  A checkpoint's minutes are its index
file's time since the run's process started: start-up, the teacher's
targets (precomputed once and shared beforehand, as a real run computes
them once) and checkpointing count, scoring does not.

Work directory (every stage resumes when rerun):
  calibration/<recipe>/   the timing runs and calibration.json
  teacher_targets/        the train split's teacher maps, shared
  runs/<recipe>/          the runs; started.json (start time, steps)
  time_to_accuracy.csv    recipe, step, minutes, pairs, median_deg, acc15,
                          acc30 per scored checkpoint
  time_to_accuracy.png    median error vs minutes, a line per recipe
  time_to_accuracy.md     the table of each recipe at the budget
"""

import dataclasses
import json
import os
import time

from absl import logging
from tensorboard.backend.event_processing import event_accumulator

from sph_embed.common import files
from sph_embed.common import stages
from sph_embed.report import recipe_curves

RECIPES_FILE = os.path.join(os.path.dirname(__file__), "recipes.json")
SCHEDULES = ("piecewise", "cosine")
# Flags the harness sets itself; a recipe may not.
_HARNESS_FLAGS = frozenset((
    "data_dir", "model_dir", "max_steps", "max_minutes", "lr_schedule",
    "lr_boundaries", "lr_values", "lr_warmup_steps", "checkpoint_every_steps",
    "keep_checkpoints", "eval_every_steps", "log_every_steps"))


@dataclasses.dataclass(frozen=True)
class Recipe:
  """One way of training the embedding network.

  Attributes:
    name: a short identifier (a directory name).
    description: one line for tables.
    flags: tools/train_embedding.py flags besides the harness's own.
    schedule: 'piecewise': lr_values dropping at 2/3 and 11/12 of the run
      (the main job's); 'cosine': warm-up over warmup_fraction of the run
      to lr_values[0], cosine decay to lr_values[-1].
    lr_values: the rates (see schedule).
    warmup_fraction: of the run (cosine).
  """
  name: str
  description: str
  flags: dict
  schedule: str = "piecewise"
  lr_values: tuple = (1e-3, 2e-4, 4e-5)
  warmup_fraction: float = 0.0

  def validate(self, where):
    """Returns self; ValueError starting with `where` and the recipe."""
    prefix = f"{where}: recipe {self.name!r}"
    if not self.name or os.sep in self.name or self.name.startswith("."):
      raise ValueError(f"{prefix}: the name must be a plain directory name")
    if self.schedule not in SCHEDULES:
      raise ValueError(f"{prefix}: schedule must be one of {SCHEDULES}, got"
                       f" {self.schedule!r}")
    reserved = sorted(set(self.flags) & _HARNESS_FLAGS)
    if reserved:
      raise ValueError(f"{prefix}: flags {reserved} are set by the harness")
    if not 0 <= self.warmup_fraction < 1:
      raise ValueError(f"{prefix}: warmup_fraction must be in [0, 1), got"
                       f" {self.warmup_fraction}")
    return self

  def schedule_flags(self, steps):
    """The learning-rate flags of a run of `steps` steps."""
    if self.schedule == "cosine":
      return {"lr_schedule": "cosine", "lr_values": list(self.lr_values),
              "lr_warmup_steps": int(self.warmup_fraction * steps)}
    return {"lr_schedule": "piecewise",
            **piecewise_flags(steps, self.lr_values)}


def piecewise_flags(steps, lr_values=(1e-3, 2e-4, 4e-5)):
  """lr_boundaries and lr_values of the main job's piecewise schedule for a
  run of `steps` steps: drops at 2/3 and 11/12 of the run."""
  boundaries = sorted({b for b in (steps * 2 // 3, steps * 11 // 12)
                       if b > 0})
  return {"lr_boundaries": boundaries,
          "lr_values": list(lr_values)[:len(boundaries) + 1]}


def read_recipes(path=RECIPES_FILE, names=None):
  """The recipes of a JSON file {"recipes": [{...}, ...]}, in file order
  (only `names`, in that order, when given).

  Raises:
    ValueError naming the file and the problem.
  """
  data = files.read_json_object(path)
  try:
    recipes = [Recipe(**{**entry, "lr_values": tuple(entry.get(
        "lr_values", Recipe.lr_values))}).validate(path)
               for entry in data["recipes"]]
  except (KeyError, TypeError) as e:
    raise ValueError(f"{path}: not a recipes file ({e})") from None
  by_name = {recipe.name: recipe for recipe in recipes}
  if len(by_name) != len(recipes):
    raise ValueError(f"{path}: two recipes have the same name")
  if names is None:
    return recipes
  unknown = [name for name in names if name not in by_name]
  if unknown:
    raise ValueError(f"{path}: no recipes {unknown}; it has"
                     f" {sorted(by_name)}")
  return [by_name[name] for name in names]


def _link_targets(model_dir, targets_dir):
  """Points the run's teacher_targets cache at the shared one."""
  os.makedirs(model_dir, exist_ok=True)
  link = os.path.join(model_dir, "teacher_targets")
  if not os.path.lexists(link):
    os.makedirs(targets_dir, exist_ok=True)
    os.symlink(os.path.abspath(targets_dir), link)


def _train_command(recipe, data_dir, hub_module, model_dir, **flag_values):
  return stages.tool_command(
      "train_embedding.py", hub_module=hub_module, data_dir=data_dir,
      model_dir=model_dir, **{**recipe.flags, **flag_values})


def _step_walltimes(model_dir):
  """{step: wall time} of the run's logged training steps (TensorBoard)."""
  accumulator = event_accumulator.EventAccumulator(
      os.path.join(model_dir, "train"),
      size_guidance={event_accumulator.TENSORS: 0,
                     event_accumulator.SCALARS: 0})
  accumulator.Reload()
  tags = accumulator.Tags()
  if "loss" in tags.get("tensors", ()):
    events = accumulator.Tensors("loss")
  else:
    events = accumulator.Scalars("loss")
  return {event.step: event.wall_time for event in events}


def calibrate(recipe, data_dir, hub_module, work_dir, steps=120):
  """Seconds per training step of `recipe` on this machine, now.

  A run of `steps` steps logging every steps/6; the rate is taken from the
  first logged step to the last, so start-up and tracing are left out.
  Kept in calibration/<recipe>/calibration.json and reused.
  """
  model_dir = os.path.join(work_dir, "calibration", recipe.name)
  record = os.path.join(model_dir, "calibration.json")
  if os.path.exists(record):
    return files.read_json_object(record)["seconds_per_step"]
  _link_targets(model_dir, os.path.join(work_dir, "teacher_targets"))
  every = max(1, steps // 6)
  stages.run_stage(f"calibrate {recipe.name}", _train_command(
      recipe, data_dir, hub_module, model_dir, max_steps=steps,
      log_every_steps=every, eval_every_steps=0, checkpoint_every_steps=steps,
      **recipe.schedule_flags(steps)))
  times = _step_walltimes(model_dir)
  first, last = min(times), max(times)
  seconds = (times[last] - times[first]) / (last - first)
  files.write_json_atomic(record, {"seconds_per_step": seconds,
                                   "steps": [first, last]})
  logging.info("%s: %.1f ms per step", recipe.name, 1e3 * seconds)
  return seconds


def train(recipe, data_dir, hub_module, work_dir, budget_minutes,
          seconds_per_step, points=8):
  """Trains `recipe` for `budget_minutes`, keeping `points` checkpoints.

  Returns:
    (model_dir, start time): the run and the wall-clock time its process
    started (what checkpoint times are measured from).
  """
  model_dir = os.path.join(work_dir, "runs", recipe.name)
  record = os.path.join(model_dir, "started.json")
  if os.path.exists(record):
    started = files.read_json_object(record)
    if started.get("finished"):
      return model_dir, started["time"]
    raise ValueError(f"{model_dir}: a run that did not finish (interrupted"
                     " runs are not resumed: resuming would count the"
                     " interruption as training time); remove it and rerun")
  steps = max(points, int(60 * budget_minutes / seconds_per_step))
  _link_targets(model_dir, os.path.join(work_dir, "teacher_targets"))
  started = {"time": time.time(), "steps": steps,
             "budget_minutes": budget_minutes,
             "seconds_per_step": seconds_per_step}
  files.write_json_atomic(record, started)
  stages.run_stage(f"train {recipe.name}", _train_command(
      recipe, data_dir, hub_module, model_dir, max_steps=steps,
      max_minutes=budget_minutes, eval_every_steps=0,
      log_every_steps=max(1, min(100, steps // 20)),
      checkpoint_every_steps=-(-steps // points),  # The last is the end.
      keep_checkpoints=points + 1, **recipe.schedule_flags(steps)))
  files.write_json_atomic(record, dict(started, finished=True))
  return model_dir, started["time"]


def checkpoint_minutes(model_dir, start_time, step):
  """Minutes from the run's start to checkpoint `step`'s index file."""
  index = os.path.join(model_dir, "checkpoints", f"ckpt-{step}.index")
  return (os.path.getmtime(index) - start_time) / 60.0


def scored_split(data_dir):
  """What the dataset's test split holds, for titles: "validation" when it
  was carved from the training instances (--validation_instances), else
  "test"."""
  from sph_embed.data import input_pipeline  # TensorFlow.
  source = input_pipeline.read_metadata(data_dir).get("source", {})
  return "validation" if source.get("validation_instances") else "test"


def score(recipe, model_dir, start_time, data_dir, pairs=3):
  """Rows {recipe, step, minutes, pairs, median_deg, acc15, acc30}, one
  per kept checkpoint, on the dataset's held-out split (`pairs` IB pairs
  per instance, as tools/correlate.py --pairs)."""
  from sph_embed.report import pose_curve  # TensorFlow: only to score.
  rows = pose_curve.measure(model_dir, data_dir, split="test", pairs=pairs,
                            upsample=4)
  return [dict(row, recipe=recipe.name,
               minutes=checkpoint_minutes(model_dir, start_time, row["step"]))
          for row in rows]


def at_budget(rows, budget_minutes):
  """{recipe: its last row within the budget (or its first, if none is)}."""
  best = {}
  for row in sorted(rows, key=lambda r: (r["recipe"], r["minutes"])):
    current = best.get(row["recipe"])
    if current is None or row["minutes"] <= budget_minutes * 1.02:
      best[row["recipe"]] = row
  return best


def markdown_table(rows, recipes, budget_minutes, split):
  """Each recipe at the budget, and its best checkpoint, as Markdown; the
  median's column names the `split` scored."""
  final = at_budget(rows, budget_minutes)
  lines = [f"| recipe | what | steps | minutes | {split} median (deg) |"
           " acc@15 (%) | acc@30 (%) | best median (deg) |",
           "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
  for recipe in recipes:
    own = [r for r in rows if r["recipe"] == recipe.name]
    if not own:
      continue
    row = final[recipe.name]
    lines.append(
        f"| {recipe.name} | {recipe.description} | {row['step']:,} |"
        f" {row['minutes']:.1f} | {row['median_deg']:.1f} |"
        f" {row['acc15']:.1f} | {row['acc30']:.1f} |"
        f" {min(r['median_deg'] for r in own):.1f} |")
  return "\n".join(lines) + "\n"


def run(recipes, data_dir, hub_module, work_dir, budget_minutes, points=8,
        calibration_steps=120, pairs=3):
  """Calibrates, trains and scores every recipe (`pairs`: IB pairs per
  held-out instance); writes the CSV, the plot and the table; returns the
  rows."""
  from sph_embed.report import figures  # matplotlib, TensorFlow.
  os.makedirs(work_dir, exist_ok=True)
  # Every recipe is timed before any is trained: a broken one fails early.
  rates = {recipe.name: calibrate(recipe, data_dir, hub_module, work_dir,
                                  calibration_steps)
           for recipe in recipes}
  runs = {recipe.name: train(recipe, data_dir, hub_module, work_dir,
                             budget_minutes, rates[recipe.name], points)
          for recipe in recipes}
  rows = []
  for recipe in recipes:
    rows += score(recipe, *runs[recipe.name], data_dir, pairs)
  recipe_curves.write_csv(os.path.join(work_dir, recipe_curves.CSV_NAME),
                          rows)
  split = scored_split(data_dir)
  figures.time_to_accuracy_figure(
      rows, f"{split} split: median error vs minutes of training"
      f" ({budget_minutes:g} min each)",
      os.path.join(work_dir, "time_to_accuracy.png"))
  with files.atomic_write(os.path.join(work_dir, "time_to_accuracy.md")) as f:
    f.write(markdown_table(rows, recipes, budget_minutes, split))
  with files.atomic_write(os.path.join(work_dir, "recipes.json")) as f:
    json.dump({"recipes": [dataclasses.asdict(r) for r in recipes]}, f,
              indent=1)
  return rows
