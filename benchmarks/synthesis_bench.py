"""Novel view synthesis vs three controls, per category (issue 13).

For each view of the test split: a random 3DOF R (seeded), the true view
of the mesh in pose R @ R0, and PSNR/SSIM (tf.image) of
decode(rotate(embed(view), R)) and of the controls: the unrotated decode,
the module's mean training image, the input view
(sph_embed.report.synthesis_benchmark).  Prints the per-category table;
exits with status 1 naming the categories where the rotated synthesis
does not beat all three controls on both metrics.

  python3 benchmarks/synthesis_bench.py --data_dir=data/synthetic \
      --module=hub_modules/synthesis_synthetic --output=/tmp/synthesis.md

--output: .md (table), .csv (table) or .json (everything; its PSNR/SSIM
go into the module's manifest with tools/export_synthesis.py --benchmark).
"""

import sys

from absl import app
from absl import flags

from sph_embed.common import cli
from sph_embed.common import outputs
from sph_embed.data import input_pipeline
from sph_embed.report import synthesis_benchmark
from sph_embed.synthesis import export as synthesis_export

_MODULE = flags.DEFINE_string(
    "module", "hub_modules/synthesis_synthetic",
    "Synthesis module (tools/export_synthesis.py).")
_DATA_DIR = flags.DEFINE_string("data_dir", None, "Dataset.", required=True)
_SPLIT = flags.DEFINE_enum("split", "test", ["train", "test"],
                           "Split to measure (test: held-out instances).")
_SEED = flags.DEFINE_integer("seed", 0, "Seed of the random rotations.")
_MAX_EXAMPLES = flags.DEFINE_integer(
    "max_examples", None, "Use only the split's first examples.",
    lower_bound=1)
_OUTPUT = flags.DEFINE_string("output", None,
                              "Also write the result (.md, .csv or .json).")
_OVERWRITE = outputs.define_overwrite_flag()


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  output = (outputs.check_output_file(
      _OUTPUT.value, "output", (".md", ".csv", ".json"),
      overwrite=_OVERWRITE.value) if _OUTPUT.value else None)
  try:
    input_pipeline.read_metadata(_DATA_DIR.value)
  except input_pipeline.DataError as e:
    raise app.UsageError(f"--data_dir: {e}") from None
  try:
    module = synthesis_export.load_synthesis(_MODULE.value)
  except ValueError as e:
    raise app.UsageError(f"--module: {e}") from None
  result = synthesis_benchmark.run(module, _DATA_DIR.value, _SPLIT.value,
                                   _SEED.value, _MAX_EXAMPLES.value)
  print(synthesis_benchmark.markdown(result), end="")
  if output:
    synthesis_benchmark.write(output, result)
    print(f"wrote {output}")
  if not result["passed"]:
    failing = sorted({category for category, _, _ in result["not_beaten"]})
    print(f"synthesis_bench.py: FAILED: the rotated synthesis does not beat"
          f" all three controls in categories {', '.join(failing)}",
          file=sys.stderr)
    return 1
  return 0


if __name__ == "__main__":
  cli.run(main)
