"""Training of the Image2Sphere baseline (sph_embed.baselines.image2sphere).

The network learns a distribution over each train-split view's canonical
rotation: the example's `rotation` R, the rotation the object was rendered
in (DESIGN §1), as the regression baseline.  The loss is -log p at the
grid point nearest R on the training Euler grid (Image2Sphere's
cross-entropy, image2sphere module docstring); Adam with a
piecewise-constant learning rate, checkpoints with automatic resume,
SIGTERM save, TensorBoard scalars and the held-out evaluation (test split,
on the config's evaluation grid) come from sph_embed.training.loop.

Compute budget: the same steps x batch as the embedding network it is
compared with (tools/train_embedding.py's defaults, DESIGN: 200k steps of
16, drops at 80k and 180k), so on a CPU both see the same number of images.

A model directory holds:
  image2sphere_model.json  what the network is (widths, degree, grids, image
                           size) and what it was trained from; written before
                           the first step, checked on every resume
  checkpoints/             model + optimizer + step (sph_embed.training.loop)
  train/, eval/            TensorBoard scalars: loss, log_likelihood,
                           geodesic_degrees, learning_rate (train);
                           log_likelihood, geodesic_degrees,
                           median_geodesic_degrees (eval)

`restore_model(model_dir)` rebuilds the network from image2sphere_model.json
and loads its newest (or a given) checkpoint.
"""

import dataclasses
import os

from absl import logging
import numpy as np
import tensorflow as tf

from sph_embed.baselines import image2sphere
from sph_embed.baselines import training as pose_training
from sph_embed.data import input_pipeline
from sph_embed.sphere import so3
from sph_embed.training import checkpoints
from sph_embed.training import loop as train_loop
from sph_embed.training import run_spec

MODEL_SPEC = "image2sphere_model.json"
SPEC_VERSION = 1
# Keys of the model spec that define the network: a resume must match them.
_ARCHITECTURE_KEYS = ("image2sphere", "image_size")


def model_spec(settings, data_dir, metadata):
  """The image2sphere_model.json contents of a run."""
  return {
      "version": SPEC_VERSION,
      "image2sphere": dataclasses.asdict(settings),
      "image_size": metadata["image_size"],
      "data_dir": os.path.abspath(data_dir),
      "categories": metadata["categories"],
      "dataset_fingerprint": metadata.get("fingerprint"),
  }


def read_model_spec(model_dir):
  """The image2sphere_model.json of a model directory, checked."""
  return run_spec.read_model_spec(
      model_dir, MODEL_SPEC, SPEC_VERSION, "tools/train_image2sphere.py",
      _ARCHITECTURE_KEYS)


def config_of(spec):
  """The Image2SphereConfig a model spec records."""
  try:
    return image2sphere.Image2SphereConfig.from_dict(spec["image2sphere"])
  except (TypeError, ValueError, KeyError) as e:
    raise ValueError(f"{MODEL_SPEC}: bad image2sphere config ({e})") from e


def build_model(spec):
  """The Image2Sphere network a model spec describes."""
  return image2sphere.build_image2sphere_model(config_of(spec),
                                               spec["image_size"])


def restore_model(model_dir, checkpoint=None):
  """(model, spec): the Image2Sphere network of `model_dir`, trained weights.

  Args:
    model_dir: a directory written by `train`.
    checkpoint: a checkpoint path prefix (default: the newest in
      model_dir/checkpoints).
  """
  return checkpoints.restore_run(model_dir, read_model_spec, build_model,
                                 "Image2Sphere network", checkpoint)


def evaluate(model, data_dir, grid_size, split="test", batch_size=64):
  """Held-out scores of the predicted distributions on an Euler grid.

  The log-likelihood is that of the training loss (grid point nearest the
  truth, image2sphere module docstring); the pose layer's
  sph_embed.pose.absolute_distributions scores `image2sphere.predict`'s
  probabilities with distributions.nearest_cell instead (the cell whose
  Euler angles round to the truth's), which differs only near cell
  boundaries.

  Returns:
    dict: `log_likelihood` (mean), `geodesic_degrees` (mean error of the
    argmax), `median_geodesic_degrees`, `examples`.
  """
  lmax = so3.lmax_of_flat_size(model.output_shape[-1])
  distribution = image2sphere.GridDistribution(grid_size, lmax)

  @tf.function(reduce_retracing=True)
  def scores(images, rotations):
    loss, error, _ = distribution.scores(model(images, training=False),
                                         rotations)
    return -loss - image2sphere.LOG_PI_SQUARED, error

  likelihoods, errors = [np.zeros(0)], [np.zeros(0)]
  for batch in input_pipeline.make_dataset(data_dir, split, batch_size,
                                           shuffle=False, deterministic=True):
    likelihood, error = scores(batch["image"], batch["rotation"])
    likelihoods.append(likelihood.numpy())
    errors.append(error.numpy())
  likelihoods = np.concatenate(likelihoods)
  degrees = np.degrees(np.concatenate(errors))
  if not degrees.size:
    raise input_pipeline.DataError(f"{data_dir}: the {split} split is empty")
  return {"log_likelihood": float(likelihoods.mean()),
          "geodesic_degrees": float(degrees.mean()),
          "median_geodesic_degrees": float(np.median(degrees)),
          "examples": int(degrees.size)}


def train(config, settings, after_step=None):
  """Trains (or resumes training) as the configs say.

  Args:
    config: train_loop.LoopConfig (data, run directory, schedule, ...); its
      max_steps must be set (the CPU budget of the module docstring).
    settings: image2sphere.Image2SphereConfig.
    after_step: optional callback(step) after each step (tests use it to
      interrupt a run).

  Returns:
    (model, train_loop.TrainResult): the trained network and what was done.

  Raises:
    ValueError (and its subclass input_pipeline.DataError) naming the
    setting or file at fault.
  """
  strategy, model, optimizer = pose_training.start_run(
      config, lambda metadata: model_spec(settings, config.data_dir, metadata),
      os.path.join(config.model_dir, MODEL_SPEC), _ARCHITECTURE_KEYS,
      build_model, "Image2Sphere baseline")
  distribution = image2sphere.GridDistribution(settings.train_grid_size,
                                               settings.lmax)
  logging.info("Image2Sphere network: %d parameters, degree %d, training"
               " grid %d (%d rotations, %.1f degree steps), %d steps of"
               " batch %d", model.count_params(), settings.lmax,
               settings.train_grid_size,
               distribution.rotations.shape[0],
               360 / settings.train_grid_size, config.max_steps,
               config.batch_size)

  def eval_fn(step):
    del step  # The whole test split every time.
    results = evaluate(model, config.data_dir, settings.eval_grid_size,
                       batch_size=config.batch_size)
    return {k: v for k, v in results.items() if k != "examples"}

  return model, train_loop.train(
      strategy=strategy, model=model, optimizer=optimizer,
      loss_fn=image2sphere.make_loss_fn(distribution),
      dataset_fn=pose_training.pose_batches(config),
      num_steps=config.max_steps,
      metric_names=("log_likelihood", "geodesic_degrees"), eval_fn=eval_fn,
      after_step=after_step, **config.train_arguments())

