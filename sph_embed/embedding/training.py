"""Training of the image embedding network against a TF-Hub teacher.

As the original: for every example the teacher (a TF-Hub module run through
`hub.KerasLayer`, frozen) maps the ray-cast map of the rotated mesh to its
spherical feature maps (`pose` or `synthesis`), which are the targets of the
embedding network fed the rendered view of the same rotated mesh.  Loss:
area-weighted Huber; metric: relative error (sph_embed.embedding.losses).  Adam with
a piecewise-constant learning rate, checkpoints with automatic resume,
TensorBoard scalars, progress and periodic evaluation on the held-out
split all come from sph_embed.training.loop.

A model directory holds:
  embedding_model.json  what the network is (widths, sizes, teacher output)
                        and what it was trained from; written before the
                        first step, checked on every resume
  checkpoints/          model + optimizer + step (sph_embed.training.loop)
  train/, eval/         TensorBoard scalars: loss, relative_error,
                        learning_rate (train); loss, relative_error (eval)

`restore_model(model_dir)` rebuilds the network from embedding_model.json and
loads its newest (or a given) checkpoint.
"""

import dataclasses
import functools
import os
import time

from absl import logging
import tensorflow as tf

from sph_embed.data import input_pipeline
from sph_embed.embedding import model as embedding_model
from sph_embed.embedding import losses
from sph_embed.embedding import targets as embedding_targets
from sph_embed.teacher import export as teacher_export
from sph_embed.training import checkpoints
from sph_embed.training import loop as train_loop
from sph_embed.training import run_spec
from sph_embed.data import view_stream
from sph_embed.data import views

MODEL_SPEC = "embedding_model.json"
SPEC_VERSION = 1
OUTPUT_KEYS = ("pose", "synthesis")
VIEW_SOURCES = ("dataset", "on_the_fly")
# Keys of the model spec that define the network: a resume must match them.
_ARCHITECTURE_KEYS = ("embedding", "image_size", "target_size", "channels",
                      "output_key")


@dataclasses.dataclass(frozen=True)
class EmbeddingTraining:
  """The embedding network's own training settings (tools/train_embedding.py's
  flags); those every trainer shares are a train_loop.LoopConfig."""
  hub_module: str
  output_key: str = "pose"
  embedding: embedding_model.EmbeddingConfig = dataclasses.field(
      default_factory=lambda: embedding_model.preset("paper"))
  huber_delta: float = 1.0
  views: str = "dataset"
  anisotropic_scale: float | None = None
  num_workers: int | None = None
  eval_examples: int | None = None
  precompute_targets: bool = False

  def validate(self):
    """Raises ValueError naming the bad field."""
    if self.output_key not in OUTPUT_KEYS:
      raise ValueError(f"output_key must be one of {OUTPUT_KEYS}, got"
                       f" {self.output_key!r}")
    if self.views not in VIEW_SOURCES:
      raise ValueError(f"views must be one of {VIEW_SOURCES}, got"
                       f" {self.views!r}")
    for name in ("eval_examples", "num_workers"):
      value = getattr(self, name)
      if value is not None and value < 1:
        raise ValueError(f"{name} must be >= 1 (or unset), got {value}")
    if not self.huber_delta > 0:
      raise ValueError(f"huber_delta must be > 0, got {self.huber_delta}")
    if self.anisotropic_scale is not None and self.views != "on_the_fly":
      raise ValueError("anisotropic_scale only applies to views='on_the_fly'"
                       " (a dataset's views were scaled when it was built:"
                       " tools/build_dataset.py --anisotropic_scale)")
    return self


def load_teacher(hub_module, output_key):
  """(hub.KerasLayer of the teacher's `output_key`, its map shape [T, T, C]).

  Raises:
    teacher_export.ModuleError naming the module and the problem.
  """
  layer = teacher_export.load_teacher_layer(hub_module, output_key)
  probe = layer(tf.zeros((1,) + teacher_export.INPUT_SHAPE[1:]),
                training=False)
  shape = tuple(int(d) for d in probe.shape[1:])
  if len(shape) != 3 or shape[0] != shape[1]:
    raise teacher_export.ModuleError(
        f"{hub_module}: output {output_key!r} has shape {list(shape)}, not"
        " a [T, T, C] spherical map")
  try:
    embedding_model.num_decoder_stages(shape[0])
  except ValueError as e:
    raise teacher_export.ModuleError(
        f"{hub_module}: output {output_key!r}: {e}") from None
  return layer, shape


def check_dataset(data_dir, teacher_grid):
  """The dataset's metadata, checked against the teacher's input grid."""
  metadata = input_pipeline.read_metadata(data_dir)
  where = os.path.join(data_dir, "dataset.json")
  if metadata["sphere_size"] != teacher_grid:
    raise input_pipeline.DataError(
        f"{where}: ray-cast maps are {metadata['sphere_size']} x"
        f" {metadata['sphere_size']}, the teacher takes {teacher_grid} x"
        f" {teacher_grid}; rebuild the dataset with --sphere_size="
        f"{teacher_grid}")
  try:
    embedding_model.num_encoder_stages(metadata["image_size"])
  except ValueError as e:
    raise input_pipeline.DataError(f"{where}: image_size: {e}") from None
  return metadata


def model_spec(settings, data_dir, metadata, target_shape):
  """The embedding_model.json contents of a run."""
  return {
      "version": SPEC_VERSION,
      "embedding": dataclasses.asdict(settings.embedding),
      "image_size": metadata["image_size"],
      "target_size": target_shape[0],
      "channels": target_shape[2],
      "output_key": settings.output_key,
      "hub_module": os.path.abspath(settings.hub_module),
      "data_dir": os.path.abspath(data_dir),
      "categories": metadata["categories"],
      "huber_delta": settings.huber_delta,
  }


def read_model_spec(model_dir):
  """The embedding_model.json of a model directory, checked."""
  return run_spec.read_model_spec(
      model_dir, MODEL_SPEC, SPEC_VERSION, "tools/train_embedding.py",
      _ARCHITECTURE_KEYS)


def _check_resume(model_dir, spec):
  """Writes the spec of a new run, or checks a resumed run's matches it."""
  previous = run_spec.write_or_check_run_spec(
      os.path.join(model_dir, MODEL_SPEC), spec, _ARCHITECTURE_KEYS)
  if previous and previous.get("hub_module") != spec["hub_module"]:
    logging.warning("Resuming with teacher %s (the run started with %s)",
                    spec["hub_module"], previous.get("hub_module"))


def build_model(spec):
  """The embedding network a model spec describes."""
  config = embedding_model.EmbeddingConfig(**spec["embedding"])
  return embedding_model.build_embedding_model(
      config, spec["target_size"], spec["channels"],
      image_size=spec["image_size"])


def restore_model(model_dir, checkpoint=None):
  """(model, spec): the network of `model_dir` with trained weights.

  Args:
    model_dir: a directory written by `train`.
    checkpoint: a checkpoint path prefix (default: the newest in
      model_dir/checkpoints).
  """
  return checkpoints.restore_run(model_dir, read_model_spec, build_model,
                                 "embedding network", checkpoint)


def make_loss_fn(teacher, delta):
  """train_loop.train's loss_fn: Huber loss, relative error per example.

  The targets are the batch's precomputed `targets` (sph_embed.embedding.
  targets) when it has them, else the teacher's maps of its `sphere`.
  """

  def loss_fn(model, batch):
    if "targets" in batch:
      targets = batch["targets"]
    else:
      targets = tf.stop_gradient(teacher(batch["sphere"], training=False))
    predictions = model(batch["image"], training=True)
    return (losses.area_weighted_huber(predictions, targets, delta),
            {"relative_error": losses.relative_error(predictions, targets)})

  return loss_fn


def make_eval_fn(model, teacher, data_dir, batch_size, delta,
                 max_examples=None):
  """step -> {loss, relative_error} over the held-out (test) split.

  The model runs in inference mode; the first `max_examples` examples of the
  split in a fixed order are used (all when None).
  """

  @tf.function(reduce_retracing=True)
  def compute(images, spheres):
    targets = teacher(spheres, training=False)
    # float32 also under a mixed-precision policy (LoopConfig).
    predictions = tf.cast(model(images, training=False), tf.float32)
    return (losses.area_weighted_huber(predictions, targets, delta),
            losses.relative_error(predictions, targets))

  def eval_fn(step):
    del step  # The same examples every time.
    batches = input_pipeline.make_dataset(data_dir, "test", batch_size,
                                      shuffle=False, deterministic=True)
    if max_examples:
      batches = batches.unbatch().take(max_examples).batch(batch_size)
    totals = {"loss": 0.0, "relative_error": 0.0}
    count = 0
    for batch in batches:
      loss, relative = compute(batch["image"], batch["sphere"])
      totals["loss"] += float(tf.reduce_sum(loss))
      totals["relative_error"] += float(tf.reduce_sum(relative))
      count += int(loss.shape[0])
    return {name: total / count for name, total in totals.items()}

  return eval_fn


def make_dataset_fn(config, settings, metadata, teacher=None,
                    target_shape=None, strategy=None):
  """start_step -> the training batches from that step on (endless).

  With settings.precompute_targets (views='dataset', one worker) the
  batches carry the teacher's targets, computed once into
  <model_dir>/teacher_targets (sph_embed.embedding.targets).
  """
  if settings.views == "on_the_fly":
    categories, instances = view_stream.instances_from_metadata(metadata)
    scale = (metadata.get("anisotropic_scale", 0.0)
             if settings.anisotropic_scale is None
             else settings.anisotropic_scale)
    stream = view_stream.ViewStream(
        instances, categories,
        views.ViewConfig(dof=metadata["dof"], anisotropic_scale=scale,
                         image_size=metadata["image_size"],
                         sphere_size=metadata["sphere_size"]),
        config.batch_size, seed=config.seed, num_workers=settings.num_workers)
    logging.info("Views made on the fly from %d train instances,"
                 " anisotropic scale %.3g", len(instances), scale)
    return stream.dataset

  targets = None
  if settings.precompute_targets:
    if strategy is not None and checkpoints.is_multi_worker(strategy):
      logging.info("Teacher targets computed every step: the cache is not"
                   " shared between workers")
    else:
      start = time.perf_counter()
      targets = embedding_targets.cached_targets(
          config.data_dir, "train", teacher, settings.hub_module,
          settings.output_key, target_shape,
          os.path.join(config.model_dir, "teacher_targets"))
      logging.info("Teacher targets of the train split ready in %.0f s",
                   time.perf_counter() - start)
  return functools.partial(input_pipeline.training_batches, config.data_dir,
                           config.batch_size, config.seed, targets=targets,
                           targets_shape=target_shape)


def train(config, settings, after_step=None):
  """Trains (or resumes training) as the configs say.

  Args:
    config: train_loop.LoopConfig (data, run directory, schedule, ...); its
      max_steps must be set.
    settings: EmbeddingTraining (teacher, network, loss, views).
    after_step: optional callback(step) after each step (tests use it to
      interrupt a run).

  Returns:
    (model, train_loop.TrainResult): the trained network and what was done.

  Raises:
    ValueError (and its subclasses teacher_export.ModuleError,
    input_pipeline.DataError) naming the flag, file or setting at fault.
  """
  config.validate()
  settings.validate()
  if config.max_steps is None:
    raise ValueError("max_steps must be set (the embedding network has no"
                     " epochs)")
  tf.keras.utils.set_random_seed(config.seed)
  strategy = config.make_strategy()  # Sets the precision policy too.
  # The frozen teacher is loaded outside the strategy's scope: a TF-Hub
  # module loaded inside a MirroredStrategy's scope fails when called (its
  # functions get traced in the cross-replica context).  Its variables are
  # only read, so plain variables serve every replica.
  teacher, target_shape = load_teacher(settings.hub_module,
                                       settings.output_key)
  metadata = check_dataset(config.data_dir, teacher_export.INPUT_SHAPE[1])
  spec = model_spec(settings, config.data_dir, metadata, target_shape)
  _check_resume(config.model_dir, spec)
  with strategy.scope():
    model = build_model(spec)
    # The legacy optimizer is TF1's AdamOptimizer (the original's; epsilon
    # is the paper's "epsilon hat"), and its update traces in seconds where
    # the new one XLA-compiles for ~10 s on a CPU (BUILD_NOTES.md).
    optimizer = tf.keras.optimizers.legacy.Adam(
        learning_rate=config.learning_rate(), beta_1=config.adam_beta1,
        epsilon=config.adam_epsilon)
  logging.info("Embedding network %s: %d parameters, %d x %d image -> %s"
               " (teacher output %r); training views: %s (dataset built"
               " with anisotropic scale %s)", settings.embedding,
               model.count_params(), metadata["image_size"],
               metadata["image_size"], list(target_shape),
               settings.output_key, settings.views,
               metadata.get("anisotropic_scale"))
  result = train_loop.train(
      strategy=strategy, model=model, optimizer=optimizer,
      loss_fn=make_loss_fn(teacher, settings.huber_delta),
      dataset_fn=make_dataset_fn(config, settings, metadata, teacher,
                                 target_shape, strategy),
      num_steps=config.max_steps, metric_names=("relative_error",),
      eval_fn=make_eval_fn(model, teacher, config.data_dir,
                           config.batch_size, settings.huber_delta,
                           settings.eval_examples),
      after_step=after_step, **config.train_arguments())
  steps = result.final_step - result.start_step
  if steps and result.seconds > 0:
    logging.info("Trained steps %d..%d in %.0f s: %.1f images/s (including"
                 " evaluation and checkpoints)", result.start_step,
                 result.final_step, result.seconds,
                 steps * config.batch_size / result.seconds)
  return model, result
