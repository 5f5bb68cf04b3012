"""Merges built datasets into one, relabelled by category name.

E.g. a teacher trained on the synthetic shapes and the real furniture:
  python3 tools/build_dataset.py --output_dir=/tmp/synthetic --source=synthetic
  python3 tools/build_dataset.py --output_dir=/tmp/furniture --source=list \
      --input=../shared/meshes/furniture/list.txt --up_axis=y
  python3 tools/merge_datasets.py --inputs=/tmp/synthetic,/tmp/furniture \
      --output_dir=/tmp/synthetic_furniture
  python3 tools/train_teacher.py --data_dir=/tmp/synthetic_furniture ...

The categories are the first input's, then each further input's new ones; a
category in several inputs is one class.  Inputs must have the same image
and sphere size and DOF.  Each split keeps its instances, so the merged test
split is the union of the inputs' held-out instances.  Rerunning the same
command on a finished merge does nothing (see sph_embed/data/merge.py).
"""

import shlex
import sys

from absl import app
from absl import flags

from sph_embed.common import cli
from sph_embed.common import outputs
from sph_embed.data import merge

_INPUTS = flags.DEFINE_list("inputs", None, "Dataset directories (two or"
                            " more) built by tools/build_dataset.py.",
                            required=True)
_OUTPUT_DIR = flags.DEFINE_string("output_dir", None, "Output directory.",
                                  required=True)
_OVERWRITE = outputs.define_overwrite_flag(
    "a different dataset in --output_dir")
flags.adopt_module_key_flags(outputs)  # Listed by --help.


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  metadata = merge.merge(_INPUTS.value, _OUTPUT_DIR.value,
                         command_line=shlex.join(sys.argv),
                         overwrite=_OVERWRITE.value)
  print(f"categories: {', '.join(metadata['categories'])}")
  for split, info in metadata["splits"].items():
    print(f"{split}: {info['examples']} examples of {info['instances']}"
          f" instances in {len(info['shards'])} shards")
  print(f"wrote {_OUTPUT_DIR.value}")


if __name__ == "__main__":
  cli.run(main)  # merge.MergeError is a ValueError: reported in one line.
