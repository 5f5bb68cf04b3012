"""Builds a sharded TFRecord dataset of views and ray-cast maps.

Synthetic shapes (no download), 3DOF poses, 8 views per instance:
  python3 tools/build_dataset.py --output_dir=/tmp/data --source=synthetic \
      --train_instances=100 --test_instances=20 --views_per_instance=8

ModelNet40 / ShapeNet trees, or a list file (see sph_embed/data/sources.py):
  python3 tools/build_dataset.py --output_dir=/tmp/mn --source=modelnet \
      --input=/data/ModelNet40 --categories=airplane,car,chair

Meshes are turned into the canonical z-up frame on load.  --up_axis names
the source's up axis (default: synthetic and ModelNet z, ShapeNet y, list
files z); it is recorded in dataset.json.  The shared furniture list is y up:
  python3 tools/build_dataset.py --output_dir=/tmp/furniture --source=list \
      --input=../shared/meshes/furniture/list.txt --up_axis=y

--appearance=photo makes photo-like views (coloured parts or the meshes' own
materials, random lights and backgrounds, prepared as a user's photograph:
sph_embed/data/photo_render.py); "framed" the plain views prepared that way;
default "plain", the paper's grey renders.  It is recorded in dataset.json.
Held-out photo-like views test the domain gap
(benchmarks/domain_gap_bench.py); training on a photo-like dataset
(tools/train_embedding.py --data_dir=...) is the training-time appearance
randomisation.  Poses do not depend on it.

A rerun with the same flags resumes an interrupted build.  Files that cannot
be used are skipped with a warning naming the file and the problem, and
listed in dataset.json and the summary; with --strict the tool then exits
with status 1.
"""

import os
import shlex
import sys

from absl import app
from absl import flags

from sph_embed.common import cli
from sph_embed.common import outputs
from sph_embed.data import dataset
from sph_embed.data import flags as data_flags
from sph_embed.data import sources
from sph_embed.data import views

_OUTPUT_DIR = flags.DEFINE_string("output_dir", None, "Output directory.",
                                  required=True)
_SOURCE = flags.DEFINE_enum("source", "synthetic",
                            ["synthetic", "modelnet", "shapenet", "list"],
                            "Kind of source.")
_INPUT = flags.DEFINE_string(
    "input", None, "Root folder (modelnet, shapenet) or list file (list).")
_CATEGORIES = flags.DEFINE_list(
    "categories", None, "Categories to use, in label order (default: all, "
    "sorted; synthetic: sph_embed.data.synthetic.CATEGORIES).")
_TEST_FRACTION = flags.DEFINE_float(
    "test_fraction", 0.2, "ShapeNet and list: fraction of instances in the "
    "test split.")
_VIEW_SET = data_flags.define_view_set_flags(40, 10, 4, 0.0)
flags.adopt_module_key_flags(data_flags)  # Listed by --help.
_DOF = flags.DEFINE_enum("dof", "3", ["2", "3"], "Pose degrees of freedom.")
_UP_AXIS = flags.DEFINE_enum(
    "up_axis", None, ["x", "y", "z"], "The source meshes' up axis, turned to "
    "+z on load (default: synthetic and modelnet z, shapenet y, list z).")
_IMAGE_SIZE = flags.DEFINE_integer("image_size", 64, "View size in pixels.")
_APPEARANCE = flags.DEFINE_enum(
    "appearance", "plain", views.APPEARANCES, "How views look: plain grey"
    " renders; photo: photo-like renders prepared as a user's photograph;"
    " framed: plain renders prepared that way.")
_SPHERE_SIZE = flags.DEFINE_integer("sphere_size", 64,
                                    "Ray-cast map grid size n (n x n).")
_SEED = flags.DEFINE_integer("seed", 0, "Seed of poses, scales, sharding.")
_EXAMPLES_PER_SHARD = flags.DEFINE_integer("examples_per_shard", 1000,
                                           "Approximate shard size.")
_NUM_WORKERS = flags.DEFINE_integer(
    "num_workers", None, "Worker processes (default: one per core).")
_OVERWRITE = outputs.define_overwrite_flag(
    "a different dataset in --output_dir")
flags.adopt_module_key_flags(outputs)  # Listed by --help.
_VALIDATION_INSTANCES = flags.DEFINE_integer(
    "validation_instances", 0, "Carve a validation split from the train"
    " instances: the test split is this many train instances per category"
    " (the source's held-out test instances are left out), to choose a"
    " training recipe on (benchmarks/time_to_accuracy.py); 0: the source's"
    " own split.", lower_bound=0)
_STRICT = flags.DEFINE_bool("strict", False,
                            "Exit with status 1 if any file was skipped.")


def _source():
  """(categories, instances, description) from the flags."""
  kind = _SOURCE.value
  up_axis = _UP_AXIS.value or sources.DEFAULT_UP_AXES[kind]
  if kind == "synthetic":
    train, test = (_VIEW_SET.train_instances.value,
                   _VIEW_SET.test_instances.value)
    categories, instances = sources.synthetic_instances(
        _CATEGORIES.value, train, test, up_axis)
    return categories, instances, {
        "kind": kind, "train_instances": train, "test_instances": test}
  if not _INPUT.value:
    raise app.UsageError(f"--source={kind} needs --input")
  if kind == "modelnet":
    categories, instances = sources.modelnet_instances(
        _INPUT.value, _CATEGORIES.value, up_axis)
  elif kind == "shapenet":
    categories, instances = sources.shapenet_instances(
        _INPUT.value, _CATEGORIES.value, _TEST_FRACTION.value, up_axis)
  else:
    categories, instances = sources.list_instances(
        _INPUT.value, _CATEGORIES.value, _TEST_FRACTION.value, up_axis)
  return categories, instances, {"kind": kind,
                                 "input": os.path.abspath(_INPUT.value),
                                 "test_fraction": _TEST_FRACTION.value}


def _with_validation(categories, instances, description):
  """The source, its test split replaced by --validation_instances."""
  if not _VALIDATION_INSTANCES.value:
    return categories, instances, description
  try:
    carved = sources.carve_validation(instances, _VALIDATION_INSTANCES.value)
  except sources.SourceError as e:
    raise app.UsageError(f"--validation_instances: {e}") from None
  return categories, carved, dict(
      description, validation_instances=_VALIDATION_INSTANCES.value)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  categories, instances, description = _with_validation(*_source())
  config = views.ViewConfig(
      views_per_instance=_VIEW_SET.views_per_instance.value,
      dof=int(_DOF.value),
      anisotropic_scale=_VIEW_SET.anisotropic_scale.value,
      image_size=_IMAGE_SIZE.value, sphere_size=_SPHERE_SIZE.value,
      seed=_SEED.value, appearance=_APPEARANCE.value)
  metadata = dataset.build(
      instances, categories, _OUTPUT_DIR.value, config, description,
      command_line=shlex.join(sys.argv),
      examples_per_shard=_EXAMPLES_PER_SHARD.value,
      num_workers=_NUM_WORKERS.value, overwrite=_OVERWRITE.value)
  for split, info in metadata["splits"].items():
    print(f"{split}: {info['examples']} examples of {info['instances']}"
          f" instances in {len(info['shards'])} shards")
  skipped = metadata["skipped"]
  print(f"skipped {len(skipped)} instances")
  for entry in skipped:
    print(f"  {entry['reason']}")
  print(f"wrote {_OUTPUT_DIR.value}")
  return 1 if skipped and _STRICT.value else 0


if __name__ == "__main__":
  cli.run(main, errors=(dataset.BuildError,))
