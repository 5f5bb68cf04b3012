"""Training of the image embedding network against a TF-Hub teacher.

As the original: for every example the teacher (a TF-Hub module run through
`hub.KerasLayer`, frozen) maps the ray-cast map of the rotated mesh to its
spherical feature maps (`pose` or `synthesis`), which are the targets of the
embedding network fed the rendered view of the same rotated mesh.  With
output_key "pose,synthesis" one network learns both: one encoder, a decoder
(head) per output, the sum of the heads' losses; `restore_model(model_dir,
output_key=...)` then gives the one-head network of either.  Loss:
area-weighted Huber; metric: relative error (sph_embed.embedding.losses).  Adam with
a piecewise-constant learning rate, checkpoints with automatic resume,
TensorBoard scalars, progress and periodic evaluation on the held-out
split all come from sph_embed.training.loop.

A model directory holds:
  embedding_model.json  what the network is (widths, sizes, teacher output;
                        `heads` when it has several) and what it was
                        trained from; written before the first step, checked
                        on every resume
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
from sph_embed.embedding import pose_loss as pose_loss_lib
from sph_embed.embedding import rotated_targets
from sph_embed.embedding import targets as embedding_targets
from sph_embed.teacher import export as teacher_export
from sph_embed.training import checkpoints
from sph_embed.training import loop as train_loop
from sph_embed.training import run_spec
from sph_embed.data import fresh_views
from sph_embed.data import view_stream
from sph_embed.data import views

MODEL_SPEC = "embedding_model.json"
SPEC_VERSION = 1
OUTPUT_KEYS = ("pose", "synthesis")
VIEW_SOURCES = ("dataset", "on_the_fly", "fresh")
# Keys every model spec has; with `heads` (several-head runs only) they
# define the network: a resume must match them.
_REQUIRED_KEYS = ("embedding", "image_size", "target_size", "channels",
                  "output_key")
_ARCHITECTURE_KEYS = _REQUIRED_KEYS + ("heads",)


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
  pose_loss: pose_loss_lib.PoseLossConfig = dataclasses.field(
      default_factory=pose_loss_lib.PoseLossConfig)
  init_from: str | None = None  # A pose module or run to start from.

  @property
  def output_keys(self):
    """The teacher outputs learned, one head each (the first: primary)."""
    return tuple(self.output_key.split(","))

  def validate(self):
    """Raises ValueError naming the bad field."""
    keys = self.output_keys
    if (not set(keys) <= set(OUTPUT_KEYS)
        or len(set(keys)) != len(keys)):
      raise ValueError(f"output_key must be one of {OUTPUT_KEYS} or several"
                       f" of them joined by ',', got {self.output_key!r}")
    if self.views not in VIEW_SOURCES:
      raise ValueError(f"views must be one of {VIEW_SOURCES}, got"
                       f" {self.views!r}")
    for name in ("eval_examples", "num_workers"):
      value = getattr(self, name)
      if value is not None and value < 1:
        raise ValueError(f"{name} must be >= 1 (or unset), got {value}")
    if not self.huber_delta > 0:
      raise ValueError(f"huber_delta must be > 0, got {self.huber_delta}")
    self.pose_loss.validate()
    if self.pose_loss.weight and "pose" not in keys:
      raise ValueError("pose_loss_weight applies to the pose head: it needs"
                       " output_key to include 'pose'")
    if self.precompute_targets and self.views != "dataset":
      raise ValueError("precompute_targets only applies to views='dataset'"
                       " (fresh views' targets are rotated canonical maps)")
    if self.init_from is not None and not os.path.isdir(self.init_from):
      raise ValueError(f"init_from: {self.init_from} is not a directory (a"
                       " pose embedding module or a tools/train_embedding.py"
                       " run)")
    if self.init_from is not None and "pose" not in keys:
      raise ValueError("init_from starts the encoder and pose head: it"
                       " needs output_key to include 'pose'")
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
  return layer, _map_shape(hub_module, output_key, probe)


def load_teacher_maps(hub_module, output_keys):
  """(teacher, shapes): teacher(spheres) -> {key: maps [B, T, T, C]} of
  `output_keys` in one forward pass, and {key: (T, T, C)}.

  Raises:
    teacher_export.ModuleError naming the module and the problem.
  """
  output_keys = tuple(output_keys)
  layer = teacher_export.load_teacher_layer(hub_module, output_keys)
  probe = layer(tf.zeros((1,) + teacher_export.INPUT_SHAPE[1:]),
                training=False)
  shapes = {key: _map_shape(hub_module, key, probe[key])
            for key in output_keys}

  def teacher(spheres):
    maps = layer(spheres, training=False)
    return {key: maps[key] for key in output_keys}

  return teacher, shapes


def _map_shape(hub_module, output_key, probe):
  """The [T, T, C] shape of a teacher output, checked to be a DH map a
  decoder can make."""
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
  return shape


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


def model_spec(settings, data_dir, metadata, target_shapes):
  """The embedding_model.json contents of a run.

  `target_shapes`: {key: (T, T, C)} of settings.output_keys.  The
  top-level output_key, target_size and channels describe the first
  head; a several-head run also lists all of them under `heads`.
  """
  keys = settings.output_keys
  first = target_shapes[keys[0]]
  spec = {
      "version": SPEC_VERSION,
      "embedding": dataclasses.asdict(settings.embedding),
      "image_size": metadata["image_size"],
      "target_size": first[0],
      "channels": first[2],
      "output_key": keys[0],
      "hub_module": os.path.abspath(settings.hub_module),
      "data_dir": os.path.abspath(data_dir),
      "categories": metadata["categories"],
      "huber_delta": settings.huber_delta,
  }
  if settings.pose_loss.weight:
    spec["pose_loss"] = settings.pose_loss.spec()
  if settings.init_from:
    spec["init_from"] = os.path.abspath(settings.init_from)
  if len(keys) > 1:
    spec["heads"] = [[key, target_shapes[key][0], target_shapes[key][2]]
                     for key in keys]
  return spec


def spec_heads(spec):
  """[(key, T, C)] of the heads a model spec describes, first = primary."""
  return [tuple(head) for head in spec.get("heads", [
      (spec["output_key"], spec["target_size"], spec["channels"])])]


def _head_spec(spec, output_key, where):
  """The spec as seen by head `output_key`'s one-head network.

  Raises:
    ValueError starting with `where`: the run has no such head.
  """
  heads = {key: (size, channels) for key, size, channels in spec_heads(spec)}
  if output_key not in heads:
    raise ValueError(
        f"{where} learned the teacher's"
        f" {' and '.join(repr(k) for k in heads)} maps, not"
        f" {output_key!r} (train one with tools/train_embedding.py"
        f" --output_key={output_key})")
  size, channels = heads[output_key]
  return dict(spec, output_key=output_key, target_size=size,
              channels=channels)


def read_model_spec(model_dir):
  """The embedding_model.json of a model directory, checked."""
  return run_spec.read_model_spec(
      model_dir, MODEL_SPEC, SPEC_VERSION, "tools/train_embedding.py",
      _REQUIRED_KEYS)


def _check_resume(model_dir, spec):
  """Writes the spec of a new run, or checks a resumed run's matches it."""
  previous = run_spec.write_or_check_run_spec(
      os.path.join(model_dir, MODEL_SPEC), spec, _ARCHITECTURE_KEYS)
  if previous and previous.get("hub_module") != spec["hub_module"]:
    logging.warning("Resuming with teacher %s (the run started with %s)",
                    spec["hub_module"], previous.get("hub_module"))


def build_model(spec):
  """The embedding network a model spec describes: image -> maps, or
  image -> {key: maps} when it has several heads."""
  config = embedding_model.EmbeddingConfig(**spec["embedding"])
  heads = spec_heads(spec)
  if len(heads) > 1:
    return embedding_model.build_multi_head_model(
        config, heads, image_size=spec["image_size"])
  return embedding_model.build_embedding_model(
      config, spec["target_size"], spec["channels"],
      image_size=spec["image_size"])


def restore_model(model_dir, checkpoint=None, output_key=None):
  """(model, spec): one head of the network of `model_dir`, trained.

  Args:
    model_dir: a directory written by `train`.
    checkpoint: a checkpoint path prefix (default: the newest in
      model_dir/checkpoints).
    output_key: the head (teacher output) wanted; default: the run's
      first.  The model maps images to that head's maps, and the spec's
      output_key, target_size and channels are that head's.

  Raises:
    ValueError naming the run: it has no head `output_key`, or cannot be
    restored.
  """
  spec = read_model_spec(model_dir)
  network = build_model(spec)
  head, view = head_of(network, spec, output_key, model_dir)
  checkpoints.restore_weights(network, model_dir, checkpoint,
                              "embedding network")
  return head, view


def warm_start(model, spec, init_from):
  """Sets the encoder and pose head of `model` (built from `spec`) to the
  trained ones of `init_from`, a pose embedding module or a
  tools/train_embedding.py run with a pose head, of the same widths; other
  heads keep their initialisation.

  Raises:
    ValueError naming init_from: it cannot be read, or its network differs.
  """
  from sph_embed.embedding import export  # It imports this module.
  where = f"--init_from={init_from}"
  try:
    if os.path.exists(os.path.join(init_from, MODEL_SPEC)):
      source, _ = restore_model(init_from, output_key="pose")
    else:
      source = export.load_embedding(init_from)
  except (ValueError, OSError) as e:
    raise ValueError(f"{where}: not a pose embedding module or run ({e})"
                     ) from None
  target, _ = head_of(model, spec, "pose")
  shapes = [tuple(v.shape) for v in source.variables]
  wanted = [tuple(v.shape) for v in target.variables]
  if shapes != wanted:
    differ = ("a different number of weights" if len(shapes) != len(wanted)
              else next(f"weight {i} of shape {a}, this run's {b}" for i, (a, b)
                        in enumerate(zip(shapes, wanted)) if a != b))
    raise ValueError(
        f"{where}: its pose network is not this run's ({differ}; this run's"
        f" widths {spec['embedding']}); give the module's --preset and width"
        " flags")
  for variable, value in zip(target.variables, source.variables):
    variable.assign(value)
  logging.info("Encoder and pose head start from %s", init_from)


def head_of(network, spec, output_key=None, where="the run"):
  """(model, spec) of one head of `network` (built from `spec`): the
  one-head network sharing its weights, and the spec as that head sees it.

  `output_key`: the head wanted; default: the first.  Raises ValueError
  starting with `where` when the network has no such head.
  """
  key = output_key or spec["output_key"]
  view = _head_spec(spec, key, where)
  if len(spec_heads(spec)) > 1:
    network = embedding_model.head_model(network, key)
  return network, view


def metric_names(output_keys, pose_loss=None):
  """The per-head relative-error metrics: `relative_error` for the first
  head, `relative_error_<key>` for the others; `pose_cross_entropy` too when
  the pose loss term (a PoseLossConfig) is on."""
  names = tuple("relative_error" if index == 0 else f"relative_error_{key}"
                for index, key in enumerate(output_keys))
  if pose_loss is not None and pose_loss.weight:
    names += ("pose_cross_entropy",)
  return names


def _by_head(outputs, output_keys):
  """A one-head network's maps as {key: maps}, like a multi-head one's."""
  return outputs if isinstance(outputs, dict) else {output_keys[0]: outputs}


def head_losses(predictions, targets, output_keys, delta, pose_loss=None):
  """(per-example loss [B]: the sum of the heads' area-weighted Huber
  losses, plus the pose head's weighted pose cross-entropy when
  `pose_loss` (a PoseLossConfig) is on; {metric name: per-example values
  [B]}: each head's relative error and the cross-entropy)."""
  loss = tf.add_n([losses.area_weighted_huber(predictions[key],
                                              targets[key], delta)
                   for key in output_keys])
  metrics = {name: losses.relative_error(predictions[key], targets[key])
             for name, key in zip(metric_names(output_keys), output_keys)}
  if pose_loss is not None and pose_loss.weight:
    cross_entropy = pose_loss_lib.pose_cross_entropy(
        predictions["pose"], targets["pose"], pose_loss)
    loss += pose_loss.weight * cross_entropy
    metrics["pose_cross_entropy"] = cross_entropy
  return loss, metrics


def make_loss_fn(teacher, delta, layout, pose_loss=None):
  """train_loop.train's loss_fn: `head_losses` per example.

  Args:
    teacher: spheres -> {key: maps} (load_teacher_maps).
    delta: the Huber breakpoint.
    layout: embedding_targets.TargetLayout of the heads.
    pose_loss: PoseLossConfig of the pose term (None or weight 0: off).

  The targets are the batch's precomputed `targets` (sph_embed.embedding.
  targets, flat, split by `layout`) when it has them, else the teacher's
  maps of its `sphere`.
  """

  def loss_fn(model, batch):
    if "targets" in batch:
      targets = layout.split(batch["targets"])
    else:
      targets = tf.nest.map_structure(tf.stop_gradient,
                                      teacher(batch["sphere"]))
    predictions = _by_head(model(batch["image"], training=True),
                           layout.keys)
    return head_losses(predictions, targets, layout.keys, delta, pose_loss)

  return loss_fn


def make_eval_fn(model, teacher, output_keys, data_dir, batch_size, delta,
                 max_examples=None, pose_loss=None):
  """step -> {loss, `head_losses`' metrics} over the held-out (test) split.

  The model runs in inference mode; the first `max_examples` examples of the
  split in a fixed order are used (all when None).  `teacher`: spheres ->
  {key: maps} (load_teacher_maps).
  """

  @tf.function(reduce_retracing=True)
  def compute(images, spheres):
    # float32 also under a mixed-precision policy (LoopConfig).
    predictions = tf.nest.map_structure(
        lambda maps: tf.cast(maps, tf.float32),
        _by_head(model(images, training=False), output_keys))
    return head_losses(predictions, teacher(spheres), output_keys, delta,
                       pose_loss)

  def eval_fn(step):
    del step  # The same examples every time.
    batches = input_pipeline.make_dataset(data_dir, "test", batch_size,
                                      shuffle=False, deterministic=True)
    if max_examples:
      batches = batches.unbatch().take(max_examples).batch(batch_size)
    totals = dict.fromkeys(("loss",) + metric_names(output_keys, pose_loss),
                           0.0)
    count = 0
    for batch in batches:
      loss, relative = compute(batch["image"], batch["sphere"])
      totals["loss"] += float(tf.reduce_sum(loss))
      for name, values in relative.items():
        totals[name] += float(tf.reduce_sum(values))
      count += int(loss.shape[0])
    return {name: total / count for name, total in totals.items()}

  return eval_fn


def make_dataset_fn(config, settings, metadata, teacher=None, layout=None,
                    strategy=None):
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
                         sphere_size=metadata["sphere_size"],
                         appearance=metadata.get("appearance", "plain")),
        config.batch_size, seed=config.seed, num_workers=settings.num_workers)
    logging.info("Views made on the fly from %d train instances,"
                 " anisotropic scale %.3g", len(instances), scale)
    return stream.dataset

  if settings.views == "fresh":
    return _fresh_view_dataset_fn(config, settings, metadata, teacher,
                                  layout)
  targets = None
  if settings.precompute_targets:
    if strategy is not None and checkpoints.is_multi_worker(strategy):
      logging.info("Teacher targets computed every step: the cache is not"
                   " shared between workers")
    else:
      start = time.perf_counter()
      targets = embedding_targets.cached_targets(
          config.data_dir, "train", teacher, settings.hub_module, layout,
          os.path.join(config.model_dir, "teacher_targets"))
      logging.info("Teacher targets of the train split ready in %.0f s",
                   time.perf_counter() - start)
  return functools.partial(
      input_pipeline.training_batches, config.data_dir, config.batch_size,
      config.seed, targets=targets,
      targets_shape=(layout.size,) if targets else None)


def _fresh_view_dataset_fn(config, settings, metadata, teacher, layout):
  """Fresh 3DOF poses of the train meshes, rendered in worker processes,
  their targets the teacher's canonical maps rotated (data.fresh_views,
  embedding.rotated_targets)."""
  appearance = metadata.get("appearance", "plain")
  if (metadata["dof"] != 3 or metadata.get("anisotropic_scale")
      or appearance != "plain"):
    raise input_pipeline.DataError(
        f"{config.data_dir}: views='fresh' draws 3DOF poses of unscaled"
        f" meshes, rendered plain; this dataset is {metadata['dof']}DOF with"
        f" anisotropic scale {metadata.get('anisotropic_scale')} and"
        f" {appearance} appearance")
  start = time.perf_counter()
  _, instances = view_stream.instances_from_metadata(metadata)
  # The meshes the build skipped (unreadable, empty views) stay out.
  skipped = {entry["instance"] for entry in metadata.get("skipped", ())}
  instances = [i for i in instances if i.describe() not in skipped]
  maps = rotated_targets.canonical_maps(fresh_views.canonical_spheres(
      instances, metadata["sphere_size"], settings.num_workers), teacher)
  targets = rotated_targets.RotatedTargets(maps, layout)
  logging.info("Fresh views of %d train instances; their canonical teacher"
               " maps in %.0f s", len(instances), time.perf_counter() - start)
  views = fresh_views.FreshViews(
      instances, config.batch_size, metadata["image_size"], config.seed,
      num_workers=settings.num_workers or 1)
  return rotated_targets.fresh_view_dataset_fn(views, targets, layout)


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
  teacher, target_shapes = load_teacher_maps(settings.hub_module,
                                             settings.output_keys)
  layout = embedding_targets.TargetLayout(
      tuple((key, target_shapes[key]) for key in settings.output_keys))
  metadata = check_dataset(config.data_dir, teacher_export.INPUT_SHAPE[1])
  spec = model_spec(settings, config.data_dir, metadata, target_shapes)
  with strategy.scope():
    model = build_model(spec)
    # The legacy optimizer is TF1's AdamOptimizer (the original's; epsilon
    # is the paper's "epsilon hat"), and its update traces in seconds where
    # the new one XLA-compiles for ~10 s on a CPU (BUILD_NOTES.md).
    optimizer = tf.keras.optimizers.legacy.Adam(
        learning_rate=config.learning_rate(), beta_1=config.adam_beta1,
        epsilon=config.adam_epsilon)
  if settings.init_from and checkpoints.latest_checkpoint(
      os.path.join(config.model_dir, "checkpoints")) is None:
    warm_start(model, spec, settings.init_from)
  # Written once the network could be built and warm-started: a refused
  # --init_from leaves no run behind.
  _check_resume(config.model_dir, spec)
  logging.info("Embedding network %s: %d parameters, %d x %d image -> %s"
               " (teacher outputs); training views: %s (dataset built"
               " with anisotropic scale %s)", settings.embedding,
               model.count_params(), metadata["image_size"],
               metadata["image_size"],
               {key: list(shape) for key, shape in target_shapes.items()},
               settings.views, metadata.get("anisotropic_scale"))
  result = train_loop.train(
      strategy=strategy, model=model, optimizer=optimizer,
      loss_fn=make_loss_fn(teacher, settings.huber_delta, layout,
                           settings.pose_loss),
      dataset_fn=make_dataset_fn(config, settings, metadata, teacher,
                                 layout, strategy),
      num_steps=config.max_steps,
      metric_names=metric_names(settings.output_keys, settings.pose_loss),
      eval_fn=make_eval_fn(model, teacher, settings.output_keys,
                           config.data_dir, config.batch_size,
                           settings.huber_delta, settings.eval_examples,
                           settings.pose_loss),
      after_step=after_step, **config.train_arguments())
  steps = result.final_step - result.start_step
  if steps and result.seconds > 0:
    logging.info("Trained steps %d..%d in %.0f s: %.1f images/s (including"
                 " evaluation and checkpoints)", result.start_step,
                 result.final_step, result.seconds,
                 steps * config.batch_size / result.seconds)
  return model, result
