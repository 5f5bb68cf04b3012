"""Trains the image -> spherical embedding network against a TF-Hub teacher.

The teacher module maps the ray-cast map of each rotated mesh to its
`--output_key` feature maps (the targets); the network learns them from the
rendered view of the same rotated mesh (sph_embed.embedding.training).

On a GPU, as the paper (200k steps, batch 16, lr drops at 80k and 180k):
  python3 tools/train_embedding.py --hub_module=hub_modules/teacher_synthetic \
      --data_dir=data/synthetic --model_dir=runs/embedding_pose \
      --output_key=pose --preset=paper --strategy=mirrored

Fresh views every step (random pose and anisotropic scaling, rendered in
worker processes) instead of the dataset's fixed ones:
  ... --views=on_the_fly --anisotropic_scale=0.2

On a CPU: --preset=cpu and fewer steps.  Rerunning the same command resumes
from the newest checkpoint in --model_dir.
"""

from absl import app
from absl import flags
from absl import logging

from sph_embed.data import input_pipeline
from sph_embed.embedding import model as embedding_model
from sph_embed.embedding import training as embedding_training
from sph_embed.data import sources
from sph_embed.teacher import export as teacher_export
from sph_embed.training import loop as train_loop

_HUB_MODULE = flags.DEFINE_string(
    "hub_module", None, "Teacher TF-Hub module directory (written by the "
    "teacher trainer, e.g. hub_modules/teacher_synthetic).", required=True)
_OUTPUT_KEY = flags.DEFINE_enum(
    "output_key", "pose", list(embedding_training.OUTPUT_KEYS),
    "Teacher output to learn: pose (16 x 16) or synthesis (32 x 32).")
_DATA_DIR = flags.DEFINE_string(
    "data_dir", None, "Dataset directory (tools/build_dataset.py): the train "
    "split for training, the test split for evaluation.", required=True)
_MODEL_DIR = flags.DEFINE_string(
    "model_dir", None, "Checkpoints, TensorBoard scalars, model spec; an "
    "existing run there is resumed.", required=True)
_PRESET = flags.DEFINE_enum(
    "preset", "paper", sorted(embedding_model.PRESETS),
    "Network widths: paper (64 -> 256 channels, 1024 latent) or cpu.")
_BASE_FILTERS = flags.DEFINE_integer(
    "base_filters", None, "Filters of encoder stage 0 (default: preset's).")
_MAX_FILTERS = flags.DEFINE_integer(
    "max_filters", None, "Cap on filters per conv (default: preset's).")
_LATENT_SIZE = flags.DEFINE_integer(
    "latent_size", None, "Bottleneck channels (default: preset's).")
_BLOCKS_PER_LAYER = flags.DEFINE_integer(
    "blocks_per_layer", None, "Building blocks per block layer (default: "
    "preset's).")
_BATCH_SIZE = flags.DEFINE_integer("batch_size", 16, "Global batch size.")
_MAX_STEPS = flags.DEFINE_integer("max_steps", 200_000,
                                  "Total training steps.")
_LR_BOUNDARIES = flags.DEFINE_list(
    "lr_boundaries", ["80000", "180000"],
    "Steps at which the learning rate changes.")
_LR_VALUES = flags.DEFINE_list(
    "lr_values", ["1e-3", "2e-4", "4e-5"],
    "Learning rates, one more than --lr_boundaries.")
_MOMENTUM = flags.DEFINE_float("momentum", 0.9, "Adam beta_1.")
_ADAM_EPSILON = flags.DEFINE_float("adam_epsilon", 1e-8, "Adam epsilon.")
_HUBER_DELTA = flags.DEFINE_float("huber_delta", 1.0,
                                  "Huber loss breakpoint.")
_VIEWS = flags.DEFINE_enum(
    "views", "dataset", list(embedding_training.VIEW_SOURCES),
    "dataset: the train split's views; on_the_fly: a new random pose (and "
    "anisotropic scaling) for every example, from the dataset's source.")
_ANISOTROPIC_SCALE = flags.DEFINE_float(
    "anisotropic_scale", None, "--views=on_the_fly: per-axis mesh scale "
    "factors uniform in [1 - s, 1 + s] (default: the dataset's setting).")
_NUM_WORKERS = flags.DEFINE_integer(
    "num_workers", None, "--views=on_the_fly: rendering processes (default: "
    "one per core).")
_STRATEGY = flags.DEFINE_enum("strategy", "default",
                              list(train_loop.STRATEGIES),
                              "tf.distribute strategy.")
_CHECKPOINT_MINUTES = flags.DEFINE_float(
    "checkpoint_every_minutes", 10.0, "Checkpoint period in minutes.")
_CHECKPOINT_STEPS = flags.DEFINE_integer(
    "checkpoint_every_steps", None, "Also checkpoint every this many steps.")
_KEEP_CHECKPOINTS = flags.DEFINE_integer("keep_checkpoints", 2,
                                         "Checkpoints kept.")
_LOG_EVERY = flags.DEFINE_integer(
    "log_every_steps", 100, "Progress log and TensorBoard period (steps).")
_EVAL_EVERY = flags.DEFINE_integer(
    "eval_every_steps", 5000, "Held-out evaluation period (steps); 0 = only "
    "at the end.")
_EVAL_EXAMPLES = flags.DEFINE_integer(
    "eval_examples", 0, "Held-out examples per evaluation; 0 = the whole "
    "test split.")
_SEED = flags.DEFINE_integer("seed", 0, "Initialisation and data seed.")


def config_from_flags():
  """The TrainConfig the flags describe; app.UsageError naming a bad flag."""
  try:
    embedding = embedding_model.preset(
        _PRESET.value, base_filters=_BASE_FILTERS.value,
        max_filters=_MAX_FILTERS.value, latent_size=_LATENT_SIZE.value,
        blocks_per_layer=_BLOCKS_PER_LAYER.value)
  except ValueError as e:
    raise app.UsageError(f"--preset / width flags: {e}") from None
  boundaries = train_loop.parse_list_flag(_LR_BOUNDARIES, int)
  values = train_loop.parse_list_flag(_LR_VALUES, float)
  try:
    train_loop.learning_rate_schedule(boundaries, values)
  except ValueError as e:
    raise app.UsageError(f"--lr_boundaries / --lr_values: {e}") from None
  config = embedding_training.TrainConfig(
      hub_module=_HUB_MODULE.value, data_dir=_DATA_DIR.value,
      model_dir=_MODEL_DIR.value, output_key=_OUTPUT_KEY.value,
      embedding=embedding, batch_size=_BATCH_SIZE.value,
      max_steps=_MAX_STEPS.value, lr_boundaries=boundaries,
      lr_values=values, momentum=_MOMENTUM.value,
      adam_epsilon=_ADAM_EPSILON.value, huber_delta=_HUBER_DELTA.value,
      views=_VIEWS.value, anisotropic_scale=_ANISOTROPIC_SCALE.value,
      num_workers=_NUM_WORKERS.value, strategy=_STRATEGY.value,
      checkpoint_every_minutes=_CHECKPOINT_MINUTES.value,
      checkpoint_every_steps=_CHECKPOINT_STEPS.value,
      keep_checkpoints=_KEEP_CHECKPOINTS.value,
      log_every_steps=_LOG_EVERY.value,
      eval_every_steps=_EVAL_EVERY.value or None,
      eval_examples=_EVAL_EXAMPLES.value or None, seed=_SEED.value)
  try:
    return config.validate()
  except ValueError as e:
    # TrainConfig's messages start with the field, which is the flag's name.
    raise app.UsageError(f"--{e}") from None


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  config = config_from_flags()
  try:
    _, result = embedding_training.train(config)
  except (teacher_export.ModuleError, input_pipeline.DataError,
          sources.SourceError, ValueError) as e:
    logging.error("%s", e)
    return 2
  print(f"trained steps {result.start_step}..{result.final_step} in"
        f" {result.seconds:.0f} s; last metrics:")
  for name, value in sorted(result.last_metrics.items()):
    print(f"  {name} = {float(value):.6g}")
  print(f"model: {config.model_dir}")
  return 0


if __name__ == "__main__":
  app.run(main)
