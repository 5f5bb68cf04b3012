"""Exports the novel-view-synthesis networks as one SavedModel + manifest.

  python3 tools/export_synthesis.py \
      --embedding_model_dir=runs/embedding_synthesis \
      --synthesis_model_dir=runs/synthesis --data_dir=data/synthetic \
      --benchmark=runs/synthesis/benchmark.json \
      --export_dir=hub_modules/synthesis_synthetic

Writes <export_dir>/ (SavedModel with embed, decode and mean_image, plus
manifest.json; sph_embed.synthesis.export) atomically, replacing an existing
module only with --overwrite and only once the new one is complete.  The
mean image is the mean view of --data_dir's train split.  The manifest
records the dataset, each network's run (spec, steps, the training command
rebuilt from its run spec), the export command, the date and, with
--benchmark (the JSON written by benchmarks/synthesis_bench.py), the
measured PSNR/SSIM.  Load it with
  sph_embed.synthesis.export.load_synthesis(path)
"""

import shlex
import sys

from absl import app
from absl import flags

from sph_embed.common import cli
from sph_embed.common import files
from sph_embed.common import outputs
from sph_embed.data import input_pipeline
from sph_embed.embedding import export as embedding_export
from sph_embed.embedding import training as embedding_training
from sph_embed.synthesis import export as synthesis_export
from sph_embed.synthesis import training as synthesis_training
from sph_embed.training import export as module_export

_EMBEDDING_MODEL_DIR = flags.DEFINE_string(
    "embedding_model_dir", None, "Synthesis embedding network run "
    "(tools/train_embedding.py --output_key=synthesis).", required=True)
_SYNTHESIS_MODEL_DIR = flags.DEFINE_string(
    "synthesis_model_dir", None, "Synthesis network run "
    "(tools/train_synthesis.py).", required=True)
_DATA_DIR = flags.DEFINE_string(
    "data_dir", None, "Dataset the networks were trained on: the mean "
    "training image and the manifest's data summary.", required=True)
_EXPORT_DIR = flags.DEFINE_string(
    "export_dir", "hub_modules/synthesis_synthetic", "Module directory.")
_BENCHMARK = flags.DEFINE_string(
    "benchmark", None, "JSON written by benchmarks/synthesis_bench.py "
    "--output=...json: its PSNR/SSIM go into the manifest.")
_DESCRIPTION = flags.DEFINE_string(
    "description", "Novel view synthesis (Esteves et al. 2019, section 3.2.4"
    " and appendix A.3): synthesis embedding network + synthesis network.",
    "Manifest text.")
_OVERWRITE = outputs.define_overwrite_flag("an existing --export_dir module")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  # The export replaces --export_dir as a whole: never a run or a dataset.
  export_dir = module_export.check_export_dir(_EXPORT_DIR.value, "export_dir",
                                              _OVERWRITE.value)
  try:
    metadata = input_pipeline.read_metadata(_DATA_DIR.value)
  except input_pipeline.DataError as e:
    raise app.UsageError(f"--data_dir: {e}") from None
  benchmark = (files.read_json_object(_BENCHMARK.value)
               if _BENCHMARK.value else None)
  try:
    embedding, embedding_spec = embedding_training.restore_model(
        _EMBEDDING_MODEL_DIR.value, output_key="synthesis")
    embedding_steps = synthesis_export.trained_steps(
        _EMBEDDING_MODEL_DIR.value)
  except (ValueError, OSError) as e:
    raise app.UsageError(f"--embedding_model_dir: {e}") from None
  try:
    synthesis, synthesis_spec = synthesis_training.restore_model(
        _SYNTHESIS_MODEL_DIR.value)
    synthesis_steps = synthesis_export.trained_steps(
        _SYNTHESIS_MODEL_DIR.value)
  except (ValueError, OSError) as e:
    raise app.UsageError(f"--synthesis_model_dir: {e}") from None
  if metadata["image_size"] != embedding_spec["image_size"]:
    raise app.UsageError(
        f"--data_dir: views are {metadata['image_size']} x"
        f" {metadata['image_size']}, the embedding network takes"
        f" {embedding_spec['image_size']} x {embedding_spec['image_size']}")
  manifest = {
      "description": _DESCRIPTION.value,
      "categories": metadata["categories"],
      "training_data": module_export.data_summary(_DATA_DIR.value,
                                                  metadata),
      "embedding_network": embedding_export.training_run(
          _EMBEDDING_MODEL_DIR.value, embedding_spec, embedding_steps),
      "synthesis_network": synthesis_export.training_run(
          _SYNTHESIS_MODEL_DIR.value, synthesis_spec, synthesis_steps,
          _EMBEDDING_MODEL_DIR.value),
      "export_command": shlex.join(["python3"] + sys.argv),
  }
  if benchmark is not None:
    manifest["benchmark"] = benchmark
  try:
    manifest = synthesis_export.export_synthesis(
        embedding, synthesis,
        synthesis_export.mean_training_image(_DATA_DIR.value), export_dir,
        manifest)
  except ValueError as e:
    raise app.UsageError(f"--embedding_model_dir / --synthesis_model_dir:"
                         f" {e}") from None
  print(f"wrote {_EXPORT_DIR.value}: embed {manifest['embed']['input']} ->"
        f" {manifest['embed']['output']}, decode -> "
        f"{manifest['decode']['output']}; steps {embedding_steps} (embedding)"
        f" and {synthesis_steps} (synthesis)")


if __name__ == "__main__":
  cli.run(main)
