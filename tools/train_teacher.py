"""Trains the spherical CNN teacher (or its planar control) on ray-cast maps.

On the embedded synthetic dataset, building it first if --data_dir holds
none (the shipped module, see hub_modules/README.md):
  python3 tools/train_teacher.py --data_dir=runs/teacher_data --build_data \
      --model_dir=runs/teacher

As the paper on ModelNet40 (a dataset built by tools/build_dataset.py
--source=modelnet --anisotropic_scale=0.2; 15 epochs, batch 16, Adam,
lr 1e-3 -> 2e-4 -> 4e-5 at steps 5000 and 8500):
  python3 tools/train_teacher.py --data_dir=data/modelnet40 \
      --model_dir=runs/teacher_mn40 --lr_boundaries=5000,8500 \
      --lr_values=1e-3,2e-4,4e-5 --stage_filters=64,128 --strategy=mirrored

Rerunning the same command resumes from the newest checkpoint in
--model_dir.  At the end the model is evaluated on the test split
(held-out instances in the dataset's random SO(3) poses) and the result
written to <model_dir>/results.json; export the module with
tools/export_teacher.py.
"""

import os
import shlex
import sys

from absl import app
from absl import flags
from absl import logging

from sph_embed.data import input_pipeline
from sph_embed.data import dataset
from sph_embed.data import sources
from sph_embed.teacher import model as teacher_model
from sph_embed.teacher import training as teacher_training
from sph_embed.training import loop as train_loop
from sph_embed.data import views

_DATA_DIR = flags.DEFINE_string(
    "data_dir", None, "Dataset directory (tools/build_dataset.py): train "
    "split for training, test split for evaluation.", required=True)
_MODEL_DIR = flags.DEFINE_string(
    "model_dir", None, "Checkpoints, TensorBoard scalars, teacher_spec.json, "
    "results.json; an existing run there is resumed.", required=True)
_BUILD_DATA = flags.DEFINE_bool(
    "build_data", False, "If --data_dir holds no finished dataset, build a "
    "synthetic one there first (3DOF poses; the flags below).")
_TRAIN_INSTANCES = flags.DEFINE_integer(
    "train_instances", 150, "--build_data: train instances per category.")
_TEST_INSTANCES = flags.DEFINE_integer(
    "test_instances", 20, "--build_data: held-out instances per category.")
_VIEWS = flags.DEFINE_integer("views_per_instance", 6,
                              "--build_data: poses per instance.")
_ANISOTROPIC_SCALE = flags.DEFINE_float(
    "anisotropic_scale", 0.2, "--build_data: augmentation, per-axis mesh "
    "scale factors uniform in [1 - s, 1 + s] for every example; 0 = off.")
_BUILD_WORKERS = flags.DEFINE_integer(
    "build_workers", None, "--build_data: worker processes (default: one "
    "per core).")
_ARCHITECTURE = flags.DEFINE_enum(
    "architecture", "spherical", list(teacher_training.ARCHITECTURES),
    "spherical: the teacher; planar: the non-equivariant control.")
_DEFAULTS = teacher_model.TeacherConfig()
_STEM_FILTERS = flags.DEFINE_integer("stem_filters", _DEFAULTS.stem_filters,
                                     "Channels of the 64 x 64 conv.")
_STAGE_FILTERS = flags.DEFINE_list(
    "stage_filters", [str(f) for f in _DEFAULTS.stage_filters],
    "Block widths at 32 x 32 and 16 x 16 (bottlenecks are 4x narrower).")
_BLOCKS_PER_STAGE = flags.DEFINE_integer(
    "blocks_per_stage", _DEFAULTS.blocks_per_stage, "Residual blocks per "
    "stage.")
_HEAD_FILTERS = flags.DEFINE_integer("head_filters", _DEFAULTS.head_filters,
                                     "Channels of the 8 x 8 conv.")
_NUM_ANCHORS = flags.DEFINE_integer("num_anchors", _DEFAULTS.num_anchors,
                                    "Anchor degrees per spectral filter.")
_POOLING = flags.DEFINE_enum(
    "pooling", _DEFAULTS.pooling, list(teacher_model.POOLINGS),
    "centered: 2 x 2-cell areas centred on the coarse samples; grid: 2 x 2 "
    "blocks of samples (layers.SphericalPool).")
_BATCH_SIZE = flags.DEFINE_integer("batch_size", 16, "Global batch size.")
_EPOCHS = flags.DEFINE_integer(
    "epochs", 5, "Epochs over the train split (the paper: 15 over"
    " ModelNet40; 5 over the default synthetic build is ~3100 steps, ~15"
    " minutes on 2 CPU cores).")
_MAX_STEPS = flags.DEFINE_integer(
    "max_steps", None, "Total steps (overrides --epochs).")
_LR_BOUNDARIES = flags.DEFINE_list(
    "lr_boundaries", ["1700", "2850"],
    "Steps at which the learning rate changes.  The default puts the drops "
    "at the paper's fractions of training (5000 and 8500 of ~9200 steps) of "
    "the default run.")
_LR_VALUES = flags.DEFINE_list(
    "lr_values", ["1e-3", "2e-4", "4e-5"],
    "Learning rates, one more than --lr_boundaries.")
_STRATEGY = flags.DEFINE_enum("strategy", "default",
                              list(train_loop.STRATEGIES),
                              "tf.distribute strategy.")
_SEED = flags.DEFINE_integer("seed", 0, "Initialisation and shuffle seed.")
_CHECKPOINT_EVERY_STEPS = flags.DEFINE_integer(
    "checkpoint_every_steps", None, "Save a checkpoint every N steps.")
_CHECKPOINT_EVERY_MINUTES = flags.DEFINE_float(
    "checkpoint_every_minutes", 5.0, "Save a checkpoint every N minutes.")
_LOG_EVERY_STEPS = flags.DEFINE_integer(
    "log_every_steps", 100, "Progress log and TensorBoard period.")
_EVAL_EVERY_STEPS = flags.DEFINE_integer(
    "eval_every_steps", None, "Test-split evaluation period (always at the "
    "end).")


def _build_synthetic(data_dir):
  categories, instances = sources.synthetic_instances(
      None, _TRAIN_INSTANCES.value, _TEST_INSTANCES.value)
  config = views.ViewConfig(views_per_instance=_VIEWS.value, dof=3,
                            anisotropic_scale=_ANISOTROPIC_SCALE.value)
  logging.info("Building a synthetic dataset in %s", data_dir)
  dataset.build(instances, categories, data_dir, config,
                {"kind": "synthetic", "train_instances": _TRAIN_INSTANCES.value,
                 "test_instances": _TEST_INSTANCES.value},
                command_line=shlex.join(sys.argv),
                num_workers=_BUILD_WORKERS.value)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  try:
    stage_filters = train_loop.parse_list_flag(_STAGE_FILTERS, int)
    lr_boundaries = train_loop.parse_list_flag(_LR_BOUNDARIES, int)
    lr_values = train_loop.parse_list_flag(_LR_VALUES, float)
    try:
      train_loop.learning_rate_schedule(lr_boundaries, lr_values)
    except ValueError as e:
      raise app.UsageError(f"--lr_boundaries/--lr_values: {e}") from None
    metadata_path = os.path.join(_DATA_DIR.value, dataset.METADATA_FILE)
    if _BUILD_DATA.value and not os.path.isfile(metadata_path):
      _build_synthetic(_DATA_DIR.value)
    config = teacher_training.TrainConfig(
        data_dir=_DATA_DIR.value, model_dir=_MODEL_DIR.value,
        architecture=_ARCHITECTURE.value,
        network=teacher_model.TeacherConfig(
            stem_filters=_STEM_FILTERS.value, stage_filters=stage_filters,
            blocks_per_stage=_BLOCKS_PER_STAGE.value,
            head_filters=_HEAD_FILTERS.value,
            num_anchors=_NUM_ANCHORS.value, pooling=_POOLING.value),
        batch_size=_BATCH_SIZE.value, epochs=_EPOCHS.value,
        max_steps=_MAX_STEPS.value, lr_boundaries=lr_boundaries,
        lr_values=lr_values, strategy=_STRATEGY.value, seed=_SEED.value,
        checkpoint_every_steps=_CHECKPOINT_EVERY_STEPS.value,
        checkpoint_every_minutes=_CHECKPOINT_EVERY_MINUTES.value,
        log_every_steps=_LOG_EVERY_STEPS.value,
        eval_every_steps=_EVAL_EVERY_STEPS.value,
        command=shlex.join(["python3"] + sys.argv))
    _, result, results = teacher_training.train(config)
  except (input_pipeline.DataError, dataset.BuildError, sources.SourceError,
          ValueError) as e:
    logging.error("%s", e)
    return 2
  print(f"steps {result.start_step} -> {result.final_step} in"
        f" {result.seconds:.0f} s (total {results['train_seconds']:.0f} s)")
  print(f"test accuracy {results['test_accuracy']:.4f} on"
        f" {results['test_examples']} examples of held-out instances")
  return 0


if __name__ == "__main__":
  app.run(main)
