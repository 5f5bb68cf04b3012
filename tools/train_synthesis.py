"""Trains the synthesis network: spherical embedding -> the view it came from.

The embeddings are predicted from each view by a trained synthesis
embedding network (--embedding_source=predicted, the paper's choice), or
are the teacher's `synthesis` maps of the same rotated mesh
(--embedding_source=teacher); sph_embed.synthesis.training.

With predicted embeddings (first train the embedding network on the
teacher's synthesis maps):
  python3 tools/train_embedding.py --hub_module=hub_modules/teacher_synthetic \
      --data_dir=data/synthetic --model_dir=runs/embedding_synthesis \
      --output_key=synthesis --preset=cpu --max_steps=...
  python3 tools/train_synthesis.py --data_dir=data/synthetic \
      --embedding_model_dir=runs/embedding_synthesis \
      --model_dir=runs/synthesis --preset=cpu --max_steps=...

With the teacher's maps:
  python3 tools/train_synthesis.py --data_dir=data/synthetic \
      --embedding_source=teacher --hub_module=hub_modules/teacher_synthetic \
      --model_dir=runs/synthesis_teacher

Rerunning the same command resumes from the newest checkpoint in
--model_dir.
"""

from absl import app
from absl import flags

from sph_embed.common import cli
from sph_embed.data import input_pipeline
from sph_embed.synthesis import model as synthesis_model
from sph_embed.synthesis import training as synthesis_training
from sph_embed.training import flags as training_flags

# The embedding network's schedule (DESIGN: 200k steps, drops at 80k and
# 180k) with the synthesis network's batch of 8.
_LOOP = training_flags.define_loop_flags(
    max_steps=200_000, lr_boundaries=(80_000, 180_000), eval_every_steps=5000,
    batch_size=8, adam_epsilon=1e-8, keep_checkpoints=2)
flags.adopt_module_key_flags(training_flags)  # Listed by --help.
_EMBEDDING_SOURCE = flags.DEFINE_enum(
    "embedding_source", "predicted",
    list(synthesis_training.EMBEDDING_SOURCES),
    "predicted: embeddings the synthesis embedding network predicts from "
    "each view (--embedding_model_dir); teacher: the teacher's synthesis "
    "maps of the ray-cast mesh (--hub_module).")
_EMBEDDING_MODEL_DIR = flags.DEFINE_string(
    "embedding_model_dir", None, "--embedding_source=predicted: run "
    "directory of tools/train_embedding.py --output_key=synthesis (or "
    "pose,synthesis: its synthesis head).")
_HUB_MODULE = flags.DEFINE_string(
    "hub_module", None, "--embedding_source=teacher: teacher TF-Hub module "
    "directory (e.g. hub_modules/teacher_synthetic).")
_PRESET = flags.DEFINE_enum(
    "preset", "paper", sorted(synthesis_model.PRESETS),
    "Network widths: paper (64 -> 256 channels, 1024 latent) or cpu.")
_PIXEL_LOSS = flags.DEFINE_enum(
    "pixel_loss", "l1", list(synthesis_training.PIXEL_LOSSES),
    "Per-pixel loss of the decoded view against the true one.")
_EVAL_EXAMPLES = training_flags.define_eval_examples_flag()


def synthesis_training_from_flags():
  """The SynthesisTraining the flags describe; app.UsageError naming a flag."""
  settings = synthesis_training.SynthesisTraining(
      embedding_source=_EMBEDDING_SOURCE.value,
      embedding_model_dir=_EMBEDDING_MODEL_DIR.value,
      hub_module=_HUB_MODULE.value,
      synthesis=synthesis_model.preset(_PRESET.value),
      pixel_loss=_PIXEL_LOSS.value,
      eval_examples=_EVAL_EXAMPLES.value or None)
  return training_flags.validated(settings)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  config = training_flags.loop_config(_LOOP)
  settings = synthesis_training_from_flags()
  try:
    input_pipeline.read_metadata(config.data_dir)
  except input_pipeline.DataError as e:
    raise app.UsageError(f"--data_dir: {e}") from None
  # A bad --embedding_model_dir or --hub_module: a ValueError starting with
  # the flag's name.
  with input_pipeline.naming_damaged_shards(config.data_dir):
    _, result = synthesis_training.train(config, settings)
  training_flags.print_training_summary(result, config.model_dir)


if __name__ == "__main__":
  cli.run(main)
