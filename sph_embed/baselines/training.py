"""Training of the pose regression baseline (sph_embed.baselines.regression).

The network learns each train-split view's canonical rotation: the
example's `rotation` R, the rotation the object was rendered in (DESIGN §1).
The loss is the RMSE of the axis-angle vector until `regression.switch_step`
(`loss_switch_fraction` of the run's steps), then the geodesic angle; Adam
with a piecewise-constant learning rate, checkpoints with automatic resume,
SIGTERM save, TensorBoard scalars and the held-out evaluation (geodesic
error in degrees on the test split) come from sph_embed.training.loop.

Compute budget: the same steps x batch as the embedding network it is
compared with (tools/train_embedding.py's defaults, DESIGN: 200k steps of
16, drops at 80k and 180k), so on a CPU both see the same number of images.

A model directory holds:
  regression_model.json  what the network is (widths, loss schedule, image
                         size) and what it was trained from; written before
                         the first step, checked on every resume
  checkpoints/           model + optimizer + step (sph_embed.training.loop)
  train/, eval/          TensorBoard scalars: loss, rmse, geodesic_degrees,
                         learning_rate (train); geodesic_degrees,
                         median_geodesic_degrees (eval)

`restore_model(model_dir)` rebuilds the network from regression_model.json
and loads its newest (or a given) checkpoint.
"""

import dataclasses
import os

from absl import logging
import numpy as np
import tensorflow as tf

from sph_embed.baselines import regression
from sph_embed.data import input_pipeline
from sph_embed.training import checkpoints
from sph_embed.training import loop as train_loop
from sph_embed.training import run_spec

MODEL_SPEC = "regression_model.json"
SPEC_VERSION = 1
# Keys of the model spec that define the network and its loss schedule: a
# resume must match them.
_ARCHITECTURE_KEYS = ("regression", "image_size")


def model_spec(settings, data_dir, metadata):
  """The regression_model.json contents of a run."""
  return {
      "version": SPEC_VERSION,
      "regression": dataclasses.asdict(settings),
      "image_size": metadata["image_size"],
      "data_dir": os.path.abspath(data_dir),
      "categories": metadata["categories"],
      "dataset_fingerprint": metadata.get("fingerprint"),
  }


def read_model_spec(model_dir):
  """The regression_model.json of a model directory, checked."""
  return run_spec.read_model_spec(
      model_dir, MODEL_SPEC, SPEC_VERSION, "tools/train_regression.py",
      _ARCHITECTURE_KEYS)


def build_model(spec):
  """The regression network a model spec describes."""
  try:
    config = regression.RegressionConfig.from_dict(spec["regression"])
  except (TypeError, ValueError, KeyError) as e:
    raise ValueError(f"{MODEL_SPEC}: bad regression config ({e})") from e
  return regression.build_regression_model(config, spec["image_size"])


def restore_model(model_dir, checkpoint=None):
  """(model, spec): the regression network of `model_dir`, trained weights.

  Args:
    model_dir: a directory written by `train`.
    checkpoint: a checkpoint path prefix (default: the newest in
      model_dir/checkpoints).
  """
  return checkpoints.restore_run(model_dir, read_model_spec, build_model,
                                 "regression network", checkpoint)


def evaluate(model, data_dir, split="test", batch_size=64):
  """Geodesic error (degrees) of the predicted canonical rotations.

  Returns:
    dict: `geodesic_degrees` (mean), `median_geodesic_degrees`, `examples`.
  """

  @tf.function(reduce_retracing=True)
  def errors(images, rotations):
    predicted = model(images, training=False)
    return regression.geodesic_loss(predicted, rotations)

  values = [errors(batch["image"], batch["rotation"]).numpy()
            for batch in input_pipeline.make_dataset(
                data_dir, split, batch_size, shuffle=False,
                deterministic=True)]
  degrees = np.degrees(np.concatenate(values)) if values else np.zeros(0)
  if not degrees.size:
    raise input_pipeline.DataError(f"{data_dir}: the {split} split is empty")
  return {"geodesic_degrees": float(degrees.mean()),
          "median_geodesic_degrees": float(np.median(degrees)),
          "examples": int(degrees.size)}


def start_run(config, make_spec, spec_path, architecture_keys, build,
              what):
  """What the absolute-pose baselines do before their first step.

  Checks the loop config and the dataset (a test split to evaluate on),
  seeds, makes the strategy (and precision policy), writes or checks the
  run spec make_spec(metadata) at `spec_path`, and builds the network
  (`build(spec)`) and the legacy (TF1) Adam in the strategy's scope: its
  update traces in seconds where the new one XLA-compiles for ~10 s on a
  CPU.  `what` names the baseline in messages.

  Returns:
    (strategy, model, optimizer).
  """
  config.validate()
  if config.max_steps is None:
    raise ValueError(f"max_steps must be set (the {what} has the embedding"
                     " network's steps, no epochs)")
  metadata = input_pipeline.read_metadata(config.data_dir)
  if "test" not in metadata["splits"]:
    raise input_pipeline.DataError(f"{config.data_dir}: no test split to"
                                   " evaluate on")
  tf.keras.utils.set_random_seed(config.seed)
  strategy = config.make_strategy()  # Sets the precision policy too.
  spec = make_spec(metadata)
  run_spec.write_or_check_run_spec(spec_path, spec, architecture_keys)
  with strategy.scope():
    model = build(spec)
    optimizer = tf.keras.optimizers.legacy.Adam(
        learning_rate=config.learning_rate(), beta_1=config.adam_beta1,
        epsilon=config.adam_epsilon)
  return strategy, model, optimizer


def pose_batches(config):
  """The loop's dataset_fn for the absolute-pose baselines: each train view
  with its canonical rotation (the label)."""

  def dataset_fn(start_step):
    return input_pipeline.training_batches(
        config.data_dir, config.batch_size, config.seed, start_step).map(
            lambda batch: {"image": batch["image"],
                           "rotation": batch["rotation"]})

  return dataset_fn


def train(config, settings, after_step=None):
  """Trains (or resumes training) as the configs say.

  Args:
    config: train_loop.LoopConfig (data, run directory, schedule, ...); its
      max_steps must be set (the CPU budget of the module docstring).
    settings: regression.RegressionConfig (widths, loss switch).
    after_step: optional callback(step) after each step (tests use it to
      interrupt a run).

  Returns:
    (model, train_loop.TrainResult): the trained network and what was done.

  Raises:
    ValueError (and its subclass input_pipeline.DataError) naming the
    setting or file at fault.
  """
  strategy, model, optimizer = start_run(
      config, lambda metadata: model_spec(settings, config.data_dir, metadata),
      os.path.join(config.model_dir, MODEL_SPEC), _ARCHITECTURE_KEYS,
      build_model, "regression baseline")
  with strategy.scope():
    # The optimizer's step counter is checkpointed, so a resumed run keeps
    # its place in the loss schedule.
    step = optimizer.iterations
  first_geodesic_step = regression.switch_step(settings, config.max_steps)
  logging.info("Regression network: %d parameters, %d steps of batch %d,"
               " RMSE loss until step %d then geodesic", model.count_params(),
               config.max_steps, config.batch_size, first_geodesic_step)

  def eval_fn(step):
    del step  # The whole test split every time.
    results = evaluate(model, config.data_dir, batch_size=config.batch_size)
    return {k: v for k, v in results.items() if k != "examples"}

  return model, train_loop.train(
      strategy=strategy, model=model, optimizer=optimizer,
      loss_fn=regression.make_loss_fn(step, first_geodesic_step),
      dataset_fn=pose_batches(config), num_steps=config.max_steps,
      metric_names=("rmse", "geodesic_degrees"), eval_fn=eval_fn,
      after_step=after_step, **config.train_arguments())
