"""Exports a trained teacher as a TF-Hub module with its manifest.

  python3 tools/export_teacher.py --model_dir=runs/teacher \
      --evaluation=runs/teacher/evaluation.json \
      --export_dir=hub_modules/teacher_synthetic

Writes <export_dir>/ (SavedModel + manifest.json) atomically, replacing an
existing module only once the new one is complete.  The manifest records
the grid, bandwidth, output shapes, architecture and widths, categories,
the training data, the test accuracy (from <model_dir>/results.json, written
at the end of training), the equivariance and real-mesh predictions of
tools/evaluate_teacher.py (--evaluation, optional), the commands that built
the data, trained and exported, and the date.  Load it with
  sph_embed.teacher.export.load_teacher_layer(path, "pose")
or hub.KerasLayer(path, trainable=False, output_key="pose").
"""

import os
import shlex
import sys

from absl import app
from absl import flags

from sph_embed.common import cli
from sph_embed.common import files
from sph_embed.common import outputs
from sph_embed.teacher import export as teacher_export
from sph_embed.teacher import training as teacher_training

_MODEL_DIR = flags.DEFINE_string("model_dir", None, "Teacher training run.",
                                 required=True)
_EXPORT_DIR = flags.DEFINE_string("export_dir", None, "Module directory.",
                                  required=True)
_EVALUATION = flags.DEFINE_string(
    "evaluation", None, "JSON written by tools/evaluate_teacher.py.")
_DESCRIPTION = flags.DEFINE_string(
    "description", "Spherical CNN teacher (Esteves et al. 2019, appendix "
    "A.1) trained on the embedded synthetic dataset.", "Manifest text.")


def _manifest(spec, results, evaluation):
  manifest = {
      "description": _DESCRIPTION.value,
      "architecture": spec["architecture"],
      "teacher_config": spec["teacher"],
      "categories": spec["categories"],
      "training_data": {
          **results["dataset"],
          "examples": results["dataset_examples"],
      },
      "training": {
          "steps": results["steps"], "batch_size": results["batch_size"],
          "optimizer": "Adam",
          "lr_boundaries": results["lr_boundaries"],
          "lr_values": results["lr_values"],
          "train_seconds": results["train_seconds"],
          "commands": [run["command"] for run in results["runs"]],
      },
      "accuracy": {
          "test_accuracy": results["test_accuracy"],
          "test_examples": results["test_examples"],
          "per_category": results["per_category_accuracy"],
          "protocol": "held-out instances of the dataset's test split, each"
                      " in random SO(3) rotations",
      },
      "export_command": shlex.join(["python3"] + sys.argv),
  }
  if evaluation is not None:
    manifest["equivariance"] = {
        "method": evaluation["method"],
        "command": evaluation.get("command"),
        "meshes": [os.path.basename(p) for p in evaluation["meshes"]],
        "rotations_per_mesh": evaluation["rotations_per_mesh"],
        "results": {
            model: {key: {k: v for k, v in values.items() if k != "per_mesh"}
                    for key, values in by_key.items()}
            for model, by_key in evaluation["equivariance"].items()},
    }
    manifest["real_mesh_predictions"] = evaluation["predictions"]
  return manifest


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  # The export replaces --export_dir as a whole: never a run or a dataset.
  outputs.check_replaced_dir(_EXPORT_DIR.value, "export_dir",
                             (teacher_export.MANIFEST, "saved_model.pb"))
  model, spec = teacher_training.restore_model(_MODEL_DIR.value)
  if spec["architecture"] != "spherical":
    raise ValueError(f"--model_dir: {_MODEL_DIR.value} holds a"
                     f" {spec['architecture']} run, not a teacher")
  results_path = os.path.join(_MODEL_DIR.value, teacher_training.RESULTS_FILE)
  results = files.read_json_object(
      results_path, missing_hint="training has not finished (rerun"
      " tools/train_teacher.py)")
  evaluation = (files.read_json_object(_EVALUATION.value)
                if _EVALUATION.value else None)
  manifest = teacher_export.export_teacher(
      model, _EXPORT_DIR.value, _manifest(spec, results, evaluation))
  print(f"wrote {_EXPORT_DIR.value}: outputs {manifest['output_shapes']},"
        f" test accuracy {manifest['accuracy']['test_accuracy']:.4f}")


if __name__ == "__main__":
  cli.run(main)
