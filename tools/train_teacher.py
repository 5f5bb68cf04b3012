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
      --lr_values=1e-3,2e-4,4e-5 --preset=paper --strategy=mirrored

The default --lr_boundaries put the drops at the paper's fractions of
training (5000 and 8500 of ~9200 steps) of the default run.

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

from sph_embed.common import cli
from sph_embed.data import dataset
from sph_embed.data import flags as data_flags
from sph_embed.data import input_pipeline
from sph_embed.data import sources
from sph_embed.data import views
from sph_embed.teacher import model as teacher_model
from sph_embed.teacher import training as teacher_training
from sph_embed.training import flags as training_flags

_LOOP = training_flags.define_loop_flags(
    max_steps=None, lr_boundaries=(1700, 2850), eval_every_steps=0,
    checkpoint_every_minutes=5.0)
flags.adopt_module_key_flags(training_flags)  # Listed by --help.
_BUILD_DATA = flags.DEFINE_bool(
    "build_data", False, "If --data_dir holds no finished dataset, build a "
    "synthetic one there first (3DOF poses; the flags below).")
_VIEW_SET = data_flags.define_view_set_flags(150, 20, 6, 0.2,
                                              "--build_data: ")
flags.adopt_module_key_flags(data_flags)  # Listed by --help.
_BUILD_WORKERS = flags.DEFINE_integer(
    "build_workers", None, "--build_data: worker processes (default: one "
    "per core).")
_ARCHITECTURE = flags.DEFINE_enum(
    "architecture", "spherical", list(teacher_training.ARCHITECTURES),
    "spherical: the teacher; planar: the non-equivariant control.")
_PRESET = flags.DEFINE_enum(
    "preset", "cpu", sorted(teacher_model.PRESETS),
    "Network widths: cpu (the shipped synthetic teacher's) or paper (the"
    " ModelNet40 teacher's); the width flags below override it.")
_STEM_FILTERS = flags.DEFINE_integer(
    "stem_filters", None, "Channels of the 64 x 64 conv (default: preset's).")
_STAGE_FILTERS = flags.DEFINE_list(
    "stage_filters", None, "Block widths at 32 x 32 and 16 x 16 (bottlenecks"
    " are 4x narrower; default: preset's).")
_BLOCKS_PER_STAGE = flags.DEFINE_integer(
    "blocks_per_stage", None, "Residual blocks per stage (default: "
    "preset's).")
_HEAD_FILTERS = flags.DEFINE_integer(
    "head_filters", None, "Channels of the 8 x 8 conv (default: preset's).")
_NUM_ANCHORS = flags.DEFINE_integer(
    "num_anchors", None, "Anchor degrees per spectral filter (default: "
    "preset's).")
_POOLING = flags.DEFINE_enum(
    "pooling", "centered", list(teacher_model.POOLINGS),
    "centered: 2 x 2-cell areas centred on the coarse samples; grid: 2 x 2 "
    "blocks of samples (layers.SphericalPool).")
_EPOCHS = flags.DEFINE_integer(
    "epochs", 5, "Epochs over the train split, unless --max_steps is set"
    " (the paper: 15 over ModelNet40; 5 over the default synthetic build is"
    " ~3100 steps, ~15 minutes on 2 CPU cores).")


def _build_synthetic(data_dir):
  view_set = _VIEW_SET
  categories, instances = sources.synthetic_instances(
      None, view_set.train_instances.value, view_set.test_instances.value)
  config = views.ViewConfig(
      views_per_instance=view_set.views_per_instance.value, dof=3,
      anisotropic_scale=view_set.anisotropic_scale.value)
  logging.info("Building a synthetic dataset in %s", data_dir)
  dataset.build(instances, categories, data_dir, config,
                {"kind": "synthetic",
                 "train_instances": view_set.train_instances.value,
                 "test_instances": view_set.test_instances.value},
                command_line=shlex.join(sys.argv),
                num_workers=_BUILD_WORKERS.value)


def _teacher_training():
  """The TeacherTraining the flags describe; app.UsageError naming a flag."""
  stage_filters = (training_flags.parse_list_flag(_STAGE_FILTERS, int)
                   if _STAGE_FILTERS.value else None)
  try:
    network = teacher_model.preset(
        _PRESET.value, stem_filters=_STEM_FILTERS.value,
        stage_filters=stage_filters, blocks_per_stage=_BLOCKS_PER_STAGE.value,
        head_filters=_HEAD_FILTERS.value, num_anchors=_NUM_ANCHORS.value,
        pooling=_POOLING.value)
  except ValueError as e:
    raise app.UsageError(f"--preset / width flags: {e}") from None
  settings = teacher_training.TeacherTraining(
      architecture=_ARCHITECTURE.value, network=network, epochs=_EPOCHS.value)
  return training_flags.validated(settings)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  config = training_flags.loop_config(_LOOP)
  settings = _teacher_training()
  metadata_path = os.path.join(config.data_dir, dataset.METADATA_FILE)
  if _BUILD_DATA.value and not os.path.isfile(metadata_path):
    _build_synthetic(config.data_dir)
  with input_pipeline.naming_damaged_shards(config.data_dir):
    _, result, results = teacher_training.train(config, settings)
  print(f"steps {result.start_step} -> {result.final_step} in"
        f" {result.seconds:.0f} s (total {results['train_seconds']:.0f} s)")
  print(f"test accuracy {results['test_accuracy']:.4f} on"
        f" {results['test_examples']} examples of held-out instances")


if __name__ == "__main__":
  cli.run(main, errors=(dataset.BuildError,))
