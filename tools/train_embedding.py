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

On a CPU: --preset=cpu and fewer steps, and one network for the pose and
the synthesis maps (--output_key=pose,synthesis: a decoder head each on one
encoder).  Rerunning the same command resumes from the newest checkpoint in
--model_dir.
"""

from absl import app
from absl import flags

from sph_embed.common import cli
from sph_embed.data import input_pipeline
from sph_embed.embedding import model as embedding_model
from sph_embed.embedding import pose_loss
from sph_embed.embedding import training as embedding_training
from sph_embed.training import flags as training_flags

_LOOP = training_flags.define_loop_flags(
    max_steps=200_000, lr_boundaries=(80_000, 180_000), eval_every_steps=5000,
    adam_epsilon=1e-8, keep_checkpoints=2)
flags.adopt_module_key_flags(training_flags)  # Listed by --help.
_HUB_MODULE = flags.DEFINE_string(
    "hub_module", None, "Teacher TF-Hub module directory (written by the "
    "teacher trainer, e.g. hub_modules/teacher_synthetic).", required=True)
_OUTPUT_KEY = flags.DEFINE_enum(
    "output_key", "pose",
    list(embedding_training.OUTPUT_KEYS) + [
        ",".join(embedding_training.OUTPUT_KEYS)],
    "Teacher output to learn: pose (16 x 16) or synthesis (32 x 32); "
    "pose,synthesis: both, one encoder and a decoder head each (the sum of "
    "the heads' losses; on a CPU 8-18 % more time than one head, not a "
    "second network's).")
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
_HUBER_DELTA = flags.DEFINE_float("huber_delta", 1.0,
                                  "Huber loss breakpoint.")
_VIEWS = flags.DEFINE_enum(
    "views", "dataset", list(embedding_training.VIEW_SOURCES),
    "dataset: the train split's views; on_the_fly: a new random pose (and "
    "anisotropic scaling) for every example, from the dataset's source, "
    "ray-cast and run through the teacher; fresh: a new random 3DOF pose "
    "for every example, only rendered (--num_workers processes, default 1),"
    " its targets the teacher's maps of the canonical pose rotated exactly "
    "in the harmonic domain (BUILD_NOTES 'Time to accuracy').")
_ANISOTROPIC_SCALE = flags.DEFINE_float(
    "anisotropic_scale", None, "--views=on_the_fly: per-axis mesh scale "
    "factors uniform in [1 - s, 1 + s] (default: the dataset's setting).")
_NUM_WORKERS = flags.DEFINE_integer(
    "num_workers", None, "--views=on_the_fly: rendering processes (default: "
    "one per core).")
_PRECOMPUTE_TARGETS = flags.DEFINE_bool(
    "precompute_targets", False, "--views=dataset: compute the teacher's"
    " maps of the train split once (cached in <model_dir>/teacher_targets,"
    " ~16 KB per example for pose maps, 32 KB more for synthesis maps)"
    " instead of at every step; the same targets and losses.  Faster where"
    " the teacher's forward pass is a large share of the step (tools/"
    "pipeline.py uses it; BUILD_NOTES.md, \"The main job in 90 minutes\").")
_POSE_LOSS_WEIGHT = flags.DEFINE_float(
    "pose_loss_weight", 0.0, "Weight of the pose-aware loss term (0: off):"
    " the cross-entropy, at the true rotation, of the softmax of the pose"
    " maps' correlation with the teacher's over a coarse SO(3) grid, which"
    " penalises half-turned solutions directly (sph_embed.embedding."
    "pose_loss; BUILD_NOTES 'Time to accuracy').")
_POSE_LOSS_GRID = flags.DEFINE_integer(
    "pose_loss_grid_rotations", pose_loss.PoseLossConfig.grid_rotations,
    "Pose loss: Haar-random grid rotations besides the identity.")
_POSE_LOSS_TEMPERATURE = flags.DEFINE_float(
    "pose_loss_temperature", pose_loss.PoseLossConfig.temperature,
    "Pose loss: softmax temperature of the normalised correlation.")
_POSE_LOSS_EXCLUSION = flags.DEFINE_float(
    "pose_loss_exclusion_degrees", pose_loss.PoseLossConfig.exclusion_degrees,
    "Pose loss: grid rotations this close to the truth are left out.")
_POSE_LOSS_HALF_TURNS = flags.DEFINE_integer(
    "pose_loss_half_turns", pose_loss.PoseLossConfig.half_turns,
    "Pose loss: half-turns about evenly spread axes added to the grid, so"
    " that a front-for-back prediction is always on it.")
_INIT_FROM = flags.DEFINE_string(
    "init_from", None, "Start a new run's encoder and pose head from this"
    " pose embedding module (e.g. hub_modules/pose_embedding_synthetic) or"
    " tools/train_embedding.py run, of the same widths: pre-training on"
    " synthetic shapes, then fine-tuning on your meshes.  A resumed run"
    " starts from its checkpoint instead.")
_EVAL_EXAMPLES = training_flags.define_eval_examples_flag()


def embedding_training_from_flags():
  """The EmbeddingTraining the flags describe; app.UsageError naming a flag."""
  try:
    embedding = embedding_model.preset(
        _PRESET.value, base_filters=_BASE_FILTERS.value,
        max_filters=_MAX_FILTERS.value, latent_size=_LATENT_SIZE.value,
        blocks_per_layer=_BLOCKS_PER_LAYER.value)
  except ValueError as e:
    raise app.UsageError(f"--preset / width flags: {e}") from None
  settings = embedding_training.EmbeddingTraining(
      hub_module=_HUB_MODULE.value, output_key=_OUTPUT_KEY.value,
      embedding=embedding, huber_delta=_HUBER_DELTA.value,
      views=_VIEWS.value, anisotropic_scale=_ANISOTROPIC_SCALE.value,
      num_workers=_NUM_WORKERS.value,
      eval_examples=_EVAL_EXAMPLES.value or None,
      precompute_targets=_PRECOMPUTE_TARGETS.value,
      pose_loss=pose_loss.PoseLossConfig(
          weight=_POSE_LOSS_WEIGHT.value,
          grid_rotations=_POSE_LOSS_GRID.value,
          temperature=_POSE_LOSS_TEMPERATURE.value,
          exclusion_degrees=_POSE_LOSS_EXCLUSION.value,
          half_turns=_POSE_LOSS_HALF_TURNS.value),
      init_from=_INIT_FROM.value)
  return training_flags.validated(settings)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  config = training_flags.loop_config(_LOOP)
  settings = embedding_training_from_flags()
  with input_pipeline.naming_damaged_shards(config.data_dir):
    _, result = embedding_training.train(config, settings)
  training_flags.print_training_summary(result, config.model_dir)


if __name__ == "__main__":
  cli.run(main)
