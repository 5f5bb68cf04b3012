"""Training of the synthesis network: spherical embedding -> view (A.3).

For every example a frozen network makes the spherical embedding of the
rendered view; the synthesis network (sph_embed.synthesis.model) learns to
decode the band-limited embedding back into that view.  Rotating an
embedding before decoding then gives novel views (sph_embed.synthesis.
rotate, `model.decode`).  The embeddings come from (`embedding_source`):

  predicted  the synthesis embedding network (an embedding-network run of
             tools/train_embedding.py --output_key=synthesis, or the
             synthesis head of an --output_key=pose,synthesis run) run on
             the view itself, as the paper (slightly better than the
             teacher's);
  teacher    the TF-Hub teacher's `synthesis` maps of the ray-cast map of
             the same rotated mesh.

Inputs are band-limited in the graph (forward then inverse SHT at the
grid's bandwidth: `band_limit`, the TF twin of `rotate.band_limit`), so the
network trains on what `decode` feeds it.  Loss: per-pixel L1 (or L2) of
the sigmoid output against the view; metric: PSNR.  Adam with a
piecewise-constant learning rate, checkpoints with automatic resume,
SIGTERM save, TensorBoard scalars and the held-out evaluation all come
from sph_embed.training.loop.

A model directory holds:
  synthesis_model.json  what the network is (widths, sizes) and what it was
                        trained from; written before the first step,
                        checked on every resume
  checkpoints/          model + optimizer + step (sph_embed.training.loop)
  train/, eval/         TensorBoard scalars: loss, psnr, learning_rate
                        (train); loss, psnr (eval)

`restore_model(model_dir)` rebuilds the network from synthesis_model.json
and loads its newest (or a given) checkpoint.
"""

import dataclasses
import os

from absl import logging
import tensorflow as tf

from sph_embed.data import input_pipeline
from sph_embed.embedding import model as embedding_model
from sph_embed.embedding import training as embedding_training
from sph_embed.sphere import sht_tf
from sph_embed.synthesis import model as synthesis_model
from sph_embed.teacher import export as teacher_export
from sph_embed.training import checkpoints
from sph_embed.training import loop as train_loop
from sph_embed.training import run_spec

MODEL_SPEC = "synthesis_model.json"
SPEC_VERSION = 1
EMBEDDING_SOURCES = ("predicted", "teacher")
PIXEL_LOSSES = ("l1", "l2")
# Keys of the model spec that define the network and what it decodes: a
# resume must match them.
_ARCHITECTURE_KEYS = ("synthesis", "embedding_size", "channels", "image_size",
                      "embedding_source")


@dataclasses.dataclass(frozen=True)
class SynthesisTraining:
  """The synthesis network's own training settings (tools/
  train_synthesis.py's flags); those every trainer shares are a
  train_loop.LoopConfig."""
  embedding_source: str = "predicted"
  embedding_model_dir: str | None = None
  hub_module: str | None = None
  synthesis: synthesis_model.SynthesisConfig = dataclasses.field(
      default_factory=lambda: synthesis_model.preset("paper"))
  pixel_loss: str = "l1"
  eval_examples: int | None = None

  def validate(self):
    """Raises ValueError whose message starts with the bad field."""
    if self.embedding_source not in EMBEDDING_SOURCES:
      raise ValueError(f"embedding_source must be one of {EMBEDDING_SOURCES},"
                       f" got {self.embedding_source!r}")
    if self.pixel_loss not in PIXEL_LOSSES:
      raise ValueError(f"pixel_loss must be one of {PIXEL_LOSSES}, got"
                       f" {self.pixel_loss!r}")
    if self.embedding_source == "predicted" and not self.embedding_model_dir:
      raise ValueError("embedding_model_dir must be set for"
                       " embedding_source='predicted' (a run of"
                       " tools/train_embedding.py --output_key=synthesis)")
    if self.embedding_source == "teacher" and not self.hub_module:
      raise ValueError("hub_module must be set for embedding_source="
                       "'teacher' (e.g. hub_modules/teacher_synthetic)")
    if self.eval_examples is not None and self.eval_examples < 1:
      raise ValueError(f"eval_examples must be >= 1 (or unset), got"
                       f" {self.eval_examples}")
    return self


@dataclasses.dataclass(frozen=True)
class Embedder:
  """The frozen network that makes the embeddings the synthesis decodes."""
  network: tf.keras.layers.Layer  # batch[input_key] -> [B, T, T, C]
  input_key: str                  # "image" (predicted) or "sphere" (teacher)
  shape: tuple                    # (T, T, C)
  required_image_size: int | None  # The embedding network's input size.


def load_embedder(settings):
  """The Embedder `settings.embedding_source` names.

  Raises:
    ValueError starting with the setting (hub_module, embedding_model_dir)
    whose module or run cannot be used.
  """
  if settings.embedding_source == "teacher":
    try:
      layer, shape = embedding_training.load_teacher(settings.hub_module,
                                                     "synthesis")
    except ValueError as e:
      raise ValueError(f"hub_module: {e}") from None
    return Embedder(layer, "sphere", shape, None)
  model_dir = settings.embedding_model_dir
  try:
    # A synthesis run, or the synthesis head of a pose,synthesis run.
    model, spec = embedding_training.restore_model(model_dir,
                                                   output_key="synthesis")
  except (ValueError, OSError) as e:
    raise ValueError(f"embedding_model_dir: {e}") from None
  model.trainable = False
  shape = (spec["target_size"], spec["target_size"], spec["channels"])
  return Embedder(model, "image", shape, spec["image_size"])


def check_dataset(data_dir, embedder):
  """The dataset's metadata, checked to fit the embedder and the decoder."""
  if embedder.input_key == "sphere":
    metadata = embedding_training.check_dataset(
        data_dir, teacher_export.INPUT_SHAPE[1])
  else:
    metadata = input_pipeline.read_metadata(data_dir)
    if metadata["image_size"] != embedder.required_image_size:
      raise input_pipeline.DataError(
          f"{os.path.join(data_dir, 'dataset.json')}: views are"
          f" {metadata['image_size']} x {metadata['image_size']}, the"
          f" embedding network takes {embedder.required_image_size} x"
          f" {embedder.required_image_size}")
  try:
    embedding_model.num_decoder_stages(metadata["image_size"])
  except ValueError as e:
    raise input_pipeline.DataError(
        f"{os.path.join(data_dir, 'dataset.json')}: image_size: {e}"
    ) from None
  return metadata


def band_limit(embeddings):
  """embeddings [B, T, T, C] -> the part rotations keep (degrees < T/2).

  In-graph twin of `sph_embed.synthesis.rotate.band_limit`.
  """
  n, _ = sht_tf.validate_spherical_input(embeddings.shape, "embeddings")
  return sht_tf.inverse_by_order(sht_tf.forward_by_order(embeddings), n)


def pixel_error(images, targets, kind):
  """Per-example mean |images - targets| ('l1') or its square ('l2')."""
  difference = images - targets
  per_pixel = tf.abs(difference) if kind == "l1" else tf.square(difference)
  return tf.reduce_mean(per_pixel, axis=(1, 2, 3))


def model_spec(settings, data_dir, metadata, embedder):
  """The synthesis_model.json contents of a run."""
  absolute = lambda path: os.path.abspath(path) if path else None
  return {
      "version": SPEC_VERSION,
      "synthesis": dataclasses.asdict(settings.synthesis),
      "embedding_size": embedder.shape[0],
      "channels": embedder.shape[2],
      "image_size": metadata["image_size"],
      "embedding_source": settings.embedding_source,
      "embedding_model_dir": (absolute(settings.embedding_model_dir)
                              if settings.embedding_source == "predicted"
                              else None),
      "hub_module": (absolute(settings.hub_module)
                     if settings.embedding_source == "teacher" else None),
      "pixel_loss": settings.pixel_loss,
      "data_dir": os.path.abspath(data_dir),
      "categories": metadata["categories"],
  }


def read_model_spec(model_dir):
  """The synthesis_model.json of a model directory, checked."""
  return run_spec.read_model_spec(
      model_dir, MODEL_SPEC, SPEC_VERSION, "tools/train_synthesis.py",
      _ARCHITECTURE_KEYS)


def build_model(spec):
  """The synthesis network a model spec describes."""
  return synthesis_model.build_synthesis_model(
      synthesis_model.SynthesisConfig(**spec["synthesis"]), spec["channels"],
      embedding_size=spec["embedding_size"], image_size=spec["image_size"])


def restore_model(model_dir, checkpoint=None):
  """(model, spec): the synthesis network of `model_dir`, trained weights.

  Args:
    model_dir: a directory written by `train`.
    checkpoint: a checkpoint path prefix (default: the newest in
      model_dir/checkpoints).
  """
  return checkpoints.restore_run(model_dir, read_model_spec, build_model,
                                 "synthesis network", checkpoint)


def make_loss_fn(embedder, kind):
  """train_loop.train's loss_fn: pixel loss, PSNR per example."""

  def loss_fn(model, batch):
    embeddings = tf.stop_gradient(band_limit(
        embedder.network(batch[embedder.input_key], training=False)))
    images = model(embeddings, training=True)
    return (pixel_error(images, batch["image"], kind),
            {"psnr": tf.image.psnr(images, batch["image"], max_val=1.0)})

  return loss_fn


def make_eval_fn(model, embedder, data_dir, batch_size, kind,
                 max_examples=None):
  """step -> {loss, psnr} over the held-out (test) split.

  The first `max_examples` examples of the split in a fixed order are used
  (all when None); the synthesis network runs in inference mode.
  """

  @tf.function(reduce_retracing=True)
  def compute(inputs, views):
    embeddings = band_limit(embedder.network(inputs, training=False))
    images = model(embeddings, training=False)
    return (pixel_error(images, views, kind),
            tf.image.psnr(images, views, max_val=1.0))

  def eval_fn(step):
    del step  # The same examples every time.
    batches = input_pipeline.make_dataset(data_dir, "test", batch_size,
                                          shuffle=False, deterministic=True)
    if max_examples:
      batches = batches.unbatch().take(max_examples).batch(batch_size)
    totals = {"loss": 0.0, "psnr": 0.0}
    count = 0
    for batch in batches:
      loss, psnr = compute(batch[embedder.input_key], batch["image"])
      totals["loss"] += float(tf.reduce_sum(loss))
      totals["psnr"] += float(tf.reduce_sum(psnr))
      count += int(loss.shape[0])
    return {name: total / count for name, total in totals.items()}

  return eval_fn


def make_dataset_fn(config, embedder):
  """start_step -> the training batches from that step on (endless)."""
  keys = sorted({"image", embedder.input_key})

  def dataset_fn(start_step):
    return input_pipeline.training_batches(
        config.data_dir, config.batch_size, config.seed, start_step).map(
            lambda batch: {k: batch[k] for k in keys})

  return dataset_fn


def train(config, settings, after_step=None):
  """Trains (or resumes training) as the configs say.

  Args:
    config: train_loop.LoopConfig (data, run directory, schedule, ...); its
      max_steps must be set.
    settings: SynthesisTraining (embedding source, network, loss).
    after_step: optional callback(step) after each step (tests use it to
      interrupt a run).

  Returns:
    (model, train_loop.TrainResult): the trained network and what was done.

  Raises:
    ValueError (and its subclass input_pipeline.DataError) naming the
    setting or file at fault.
  """
  config.validate()
  settings.validate()
  if config.max_steps is None:
    raise ValueError("max_steps must be set (the synthesis network has no"
                     " epochs)")
  tf.keras.utils.set_random_seed(config.seed)
  strategy = config.make_strategy()  # Sets the precision policy too.
  # The frozen embedder is loaded outside the strategy's scope: a TF-Hub
  # module loaded inside a MirroredStrategy's scope fails when called (its
  # functions get traced in the cross-replica context).  Its variables are
  # only read, so plain variables serve every replica.
  embedder = load_embedder(settings)
  metadata = check_dataset(config.data_dir, embedder)
  spec = model_spec(settings, config.data_dir, metadata, embedder)
  run_spec.write_or_check_run_spec(
      os.path.join(config.model_dir, MODEL_SPEC), spec, _ARCHITECTURE_KEYS)
  with strategy.scope():
    model = build_model(spec)
    # The legacy (TF1) Adam, as the embedding trainer: its update traces in
    # seconds where the new one XLA-compiles for ~10 s on a CPU.
    optimizer = tf.keras.optimizers.legacy.Adam(
        learning_rate=config.learning_rate(), beta_1=config.adam_beta1,
        epsilon=config.adam_epsilon)
  logging.info("Synthesis network %s: %d parameters, %s embeddings (%s) ->"
               " %d x %d views, %s loss", settings.synthesis,
               model.count_params(), settings.embedding_source,
               list(embedder.shape), metadata["image_size"],
               metadata["image_size"], settings.pixel_loss)
  result = train_loop.train(
      strategy=strategy, model=model, optimizer=optimizer,
      loss_fn=make_loss_fn(embedder, settings.pixel_loss),
      dataset_fn=make_dataset_fn(config, embedder),
      num_steps=config.max_steps, metric_names=("psnr",),
      eval_fn=make_eval_fn(model, embedder, config.data_dir,
                           config.batch_size, settings.pixel_loss,
                           settings.eval_examples),
      after_step=after_step, **config.train_arguments())
  steps = result.final_step - result.start_step
  if steps and result.seconds > 0:
    logging.info("Trained steps %d..%d in %.0f s: %.1f images/s (including"
                 " evaluation and checkpoints)", result.start_step,
                 result.final_step, result.seconds,
                 steps * config.batch_size / result.seconds)
  return model, result
