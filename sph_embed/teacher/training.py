"""Training and evaluation of the spherical CNN teacher (or its control).

The teacher learns to classify ray-cast maps (`sphere` of the dataset built
by tools/build_dataset.py) with cross-entropy, Adam and a piecewise-constant
learning rate, in the custom loop of sph_embed.training.loop (checkpoints,
automatic resume, TensorBoard scalars, progress log).  It is evaluated on
the test split: held-out instances, each in the dataset's random poses
(uniform on SO(3) for a 3DOF build).

Files in the model directory, besides those of sph_embed.training.loop:
  teacher_spec.json  architecture, widths, categories, dataset: a run is
                     resumed only with the same spec, and the exporter and
                     evaluator rebuild the model from it;
  results.json       test accuracy (overall, per category), steps, training
                     wall time summed over runs, the commands of each run.

Augmentation (random anisotropic scaling, as the paper) happens when the
dataset is built (tools/build_dataset.py --anisotropic_scale=s): each
example's mesh is scaled along its axes by factors uniform in [1-s, 1+s]
and re-normalised before being rotated and ray-cast, so every view of an
instance sees a different scaling.
"""

import dataclasses
import os
import time

from absl import logging
import numpy as np
import tensorflow as tf

from sph_embed.common import files
from sph_embed.data import input_pipeline
from sph_embed.teacher import model as teacher_model
from sph_embed.training import checkpoints
from sph_embed.training import loop as train_loop
from sph_embed.training import run_spec

ARCHITECTURES = ("spherical", "planar")
SPEC_FILE = "teacher_spec.json"
RESULTS_FILE = "results.json"
SPEC_VERSION = 1


@dataclasses.dataclass(frozen=True)
class TeacherTraining:
  """The teacher's own training settings (tools/train_teacher.py's flags);
  those every trainer shares are a train_loop.LoopConfig."""
  architecture: str = "spherical"
  network: teacher_model.TeacherConfig = teacher_model.TeacherConfig()
  epochs: int = 15  # Over the train split; LoopConfig.max_steps overrides.

  def validate(self):
    if self.architecture not in ARCHITECTURES:
      raise ValueError(f"architecture must be one of {ARCHITECTURES}, got"
                       f" {self.architecture!r}")
    if self.epochs < 1:
      raise ValueError(f"epochs must be >= 1, got {self.epochs}")
    self.network.validate()
    return self


def build_model(architecture, config, num_classes):
  """The teacher ('spherical') or its planar control ('planar')."""
  if architecture == "spherical":
    return teacher_model.build_teacher(config, num_classes)
  if architecture == "planar":
    return teacher_model.build_planar_control(config, num_classes)
  raise ValueError(f"architecture must be one of {ARCHITECTURES}, got"
                   f" {architecture!r}")


def check_dataset(data_dir):
  """The dataset's metadata, checked to fit the teacher's input grid."""
  metadata = input_pipeline.read_metadata(data_dir)
  if metadata["sphere_size"] != teacher_model.GRID_SIZE:
    raise input_pipeline.DataError(
        f"{os.path.join(data_dir, input_pipeline.example_schema.METADATA_FILE)}:"
        f" ray-cast maps are {metadata['sphere_size']} x"
        f" {metadata['sphere_size']}, the teacher takes {teacher_model.GRID_SIZE} x"
        f" {teacher_model.GRID_SIZE}; rebuild with --sphere_size={teacher_model.GRID_SIZE}")
  return metadata


def model_spec(architecture, config, metadata, data_dir):
  """The teacher_spec.json contents of a run."""
  return {
      "version": SPEC_VERSION,
      "architecture": architecture,
      "teacher": dataclasses.asdict(config),
      "categories": list(metadata["categories"]),
      "data_dir": os.path.abspath(data_dir),
      "dataset_fingerprint": metadata.get("fingerprint"),
  }


def read_spec(model_dir):
  """teacher_spec.json of `model_dir`, with the TeacherConfig rebuilt."""
  path = os.path.join(model_dir, SPEC_FILE)
  spec = run_spec.read_run_spec(
      path, SPEC_VERSION, f"{model_dir} holds no teacher run (train one with"
      " tools/train_teacher.py)")
  try:
    config = teacher_model.TeacherConfig.from_dict(spec["teacher"])
  except (TypeError, ValueError) as e:
    raise ValueError(f"{path}: bad teacher config ({e})") from e
  return spec, config


def restore_model(model_dir):
  """(model, spec): the model of `model_dir` with its newest checkpoint."""
  spec, config = read_spec(model_dir)
  model = checkpoints.restore_weights(
      build_model(spec["architecture"], config, len(spec["categories"])),
      model_dir, what=f"{spec['architecture']} teacher")
  return model, spec


def _loss_fn(model, batch):
  logits = model(batch["sphere"], training=True)["logits"]
  loss = tf.keras.losses.sparse_categorical_crossentropy(
      batch["label"], logits, from_logits=True)
  correct = tf.cast(tf.equal(tf.argmax(logits, axis=-1, output_type=tf.int32),
                             batch["label"]), tf.float32)
  return loss, {"accuracy": correct}


def _training_batches(batch):
  return {"sphere": batch["sphere"], "label": batch["label"]}


def evaluate(model, data_dir, split="test", batch_size=64, categories=None):
  """Classification accuracy of `model` on a split.

  Args:
    model: callable(spheres, training=False) -> {"logits": [B, K]}.
    data_dir, split: the dataset split to classify.
    batch_size: maps per forward pass.
    categories: the model's K class names (default: the dataset's).  The
      truth is each example's category name, so a model trained on other
      data (another category order) is scored correctly.

  Returns:
    dict: `accuracy`, `examples`, `per_category` {name: accuracy},
    `confusion` [true][predicted] counts (in `categories` order).

  Raises:
    input_pipeline.DataError naming the dataset's categories the model
    does not have.
  """
  metadata = input_pipeline.read_metadata(data_dir)
  categories = list(categories or metadata["categories"])
  unknown = sorted(set(metadata["splits"].get(split, {}).get(
      "examples_per_category", {})) - set(categories))
  if unknown:
    raise input_pipeline.DataError(
        f"{data_dir}: the {split} split has categories {unknown} that the"
        f" teacher does not classify (it has {categories})")
  index = tf.lookup.StaticHashTable(
      tf.lookup.KeyValueTensorInitializer(
          tf.constant(categories), tf.range(len(categories))), -1)
  confusion = np.zeros((len(categories), len(categories)), np.int64)

  @tf.function
  def predict(spheres):
    return tf.argmax(model(spheres, training=False)["logits"], axis=-1,
                     output_type=tf.int32)

  for batch in input_pipeline.make_dataset(data_dir, split, batch_size,
                                           shuffle=False):
    predicted = predict(batch["sphere"]).numpy()
    np.add.at(confusion, (index.lookup(batch["category"]).numpy(),
                          predicted), 1)
  examples = int(confusion.sum())
  per_category = {
      name: float(confusion[i, i] / confusion[i].sum())
      for i, name in enumerate(categories) if confusion[i].sum()}
  return {"accuracy": float(np.trace(confusion) / max(1, examples)),
          "examples": examples, "per_category": per_category,
          "confusion": confusion.tolist()}


def _update_results(config, architecture, result, evaluation, metadata):
  path = os.path.join(config.model_dir, RESULTS_FILE)
  previous = files.read_json_object(path) if os.path.exists(path) else {}
  runs = previous.get("runs", []) + [{
      "command": config.command, "start_step": result.start_step,
      "final_step": result.final_step,
      "seconds": round(result.seconds, 1),
      "finished": time.strftime("%Y-%m-%d %H:%M:%S")}]
  results = {
      "architecture": architecture,
      "test_accuracy": evaluation["accuracy"],
      "test_examples": evaluation["examples"],
      "per_category_accuracy": evaluation["per_category"],
      "confusion": evaluation["confusion"],
      "steps": result.final_step,
      "train_seconds": round(sum(r["seconds"] for r in runs), 1),
      "batch_size": config.batch_size,
      "lr_boundaries": list(config.lr_boundaries),
      "lr_values": list(config.lr_values),
      "dataset": {k: metadata.get(k) for k in (
          "source", "views_per_instance", "dof", "anisotropic_scale",
          "command_line", "fingerprint")},
      "dataset_examples": {s: i["examples"]
                           for s, i in metadata["splits"].items()},
      "runs": runs,
  }
  files.write_json_atomic(path, results)
  return results


def steps_for(config, epochs, metadata):
  """Total steps: config.max_steps, or `epochs` over the train split."""
  if config.max_steps is not None:
    return config.max_steps
  examples = metadata["splits"]["train"]["examples"]
  return epochs * max(1, examples // config.batch_size)


def train(config, teacher=TeacherTraining(), after_step=None):
  """Trains (or resumes) as the configs say, then evaluates on the test split.

  Args:
    config: train_loop.LoopConfig (data, run directory, schedule, ...).
    teacher: TeacherTraining (architecture, widths, epochs).
    after_step: optional callback(step) after each step (tests use it to
      interrupt a run).

  Returns:
    (model, train_loop.TrainResult, results dict as in results.json).
  """
  config.validate()
  teacher.validate()
  metadata = check_dataset(config.data_dir)
  if "test" not in metadata["splits"]:
    raise input_pipeline.DataError(f"{config.data_dir}: no test split to"
                               " evaluate on")
  tf.keras.utils.set_random_seed(config.seed)
  strategy = config.make_strategy()  # Sets the precision policy too.
  spec = model_spec(teacher.architecture, teacher.network, metadata,
                    config.data_dir)
  run_spec.write_or_check_run_spec(
      os.path.join(config.model_dir, SPEC_FILE), spec,
      ("architecture", "teacher", "categories"))
  with strategy.scope():
    model = build_model(teacher.architecture, teacher.network,
                        len(metadata["categories"]))
    optimizer = tf.keras.optimizers.Adam(
        learning_rate=config.learning_rate(), beta_1=config.adam_beta1,
        epsilon=config.adam_epsilon)
  num_steps = steps_for(config, teacher.epochs, metadata)
  logging.info("%s: %d parameters, %d steps of batch %d (%d train examples)",
               model.name, model.count_params(), num_steps,
               config.batch_size, metadata["splits"]["train"]["examples"])

  def dataset_fn(start_step):
    return input_pipeline.training_batches(
        config.data_dir, config.batch_size, config.seed,
        start_step).map(_training_batches)

  evaluations = {}

  def eval_fn(step):
    evaluations[step] = evaluate(model, config.data_dir)
    return {"accuracy": evaluations[step]["accuracy"]}

  result = train_loop.train(
      strategy=strategy, model=model, optimizer=optimizer, loss_fn=_loss_fn,
      dataset_fn=dataset_fn, num_steps=num_steps,
      metric_names=("accuracy",),
      eval_fn=eval_fn if config.eval_every_steps else None,
      after_step=after_step, **config.train_arguments())
  evaluation = (evaluations.get(result.final_step) or
                evaluate(model, config.data_dir))
  logging.info("Test accuracy (held-out instances, random poses): %.4f on"
               " %d examples", evaluation["accuracy"], evaluation["examples"])
  results = _update_results(config, teacher.architecture, result, evaluation,
                            metadata)
  return model, result, results
