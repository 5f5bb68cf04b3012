"""Equivariance and real-mesh predictions of a trained teacher.

  python3 tools/evaluate_teacher.py --model_dir=runs/teacher \
      --control_model_dir=runs/control --output=runs/teacher/evaluation.json

Ray-casts each mesh upright and in --rotations random SO(3) rotations and
reports, as JSON (--output) and on stdout:
- the equivariance error of the `pose` and `synthesis` maps (definition in
  sph_embed/teacher/evaluation.py) of the teacher, of the planar control
  with random weights (same widths, --seed) and, with --control_model_dir,
  of a trained planar control; and of the input maps themselves (the
  floor set by ray-cast sampling);
- the teacher's predicted categories for each mesh, averaged over the
  rotations.
With --data_dir, also its classification accuracy on that dataset's
--split (per category; the dataset's categories are matched to the
teacher's by name, so a teacher is scored on data it was not trained on):
  python3 tools/evaluate_teacher.py --module=hub_modules/teacher_synthetic \
      --data_dir=runs/furniture_3dof/data --output=/tmp/on_furniture.json
The teacher comes from a training run (--model_dir) or an exported module
(--module).
"""

import glob
import os
import shlex
import sys

from absl import app
from absl import flags
import numpy as np
import tensorflow as tf

from sph_embed.common import cli
from sph_embed.common import files
from sph_embed.common import outputs as output_paths
from sph_embed.teacher import model as teacher_model
from sph_embed.teacher import evaluation as teacher_evaluation
from sph_embed.teacher import export as teacher_export
from sph_embed.teacher import training as teacher_training

_MODEL_DIR = flags.DEFINE_string("model_dir", None,
                                 "Teacher training run (tools/train_teacher).")
_MODULE = flags.DEFINE_string("module", None,
                              "Exported teacher module (instead of "
                              "--model_dir).")
_CONTROL_MODEL_DIR = flags.DEFINE_string(
    "control_model_dir", None, "Trained planar control run "
    "(tools/train_teacher.py --architecture=planar), optional.")
_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_MESHES = flags.DEFINE_list(
    "meshes", [os.path.join(os.path.dirname(_REPO), "shared", "meshes",
                            "modelnet40", "*.off")],
    "Mesh files or glob patterns (default: the real ModelNet40 samples "
    "kept next to the repository, ../shared/meshes).")
_ROTATIONS = flags.DEFINE_integer("rotations", 8, "Rotations per mesh.",
                                  lower_bound=1)
_SEED = flags.DEFINE_integer("seed", 0, "Rotation and control-init seed.")
_OUTPUT = flags.DEFINE_string("output", None, "JSON file to write.")
_DATA_DIR = flags.DEFINE_string(
    "data_dir", None, "Also classify this dataset's --split (a directory"
    " written by tools/build_dataset.py).")
_SPLIT = flags.DEFINE_enum("split", "test", ["train", "test"],
                           "--data_dir: the split to classify.")
_OVERWRITE = output_paths.define_overwrite_flag()
flags.adopt_module_key_flags(output_paths)  # Listed by --help.

_BATCH = 32


def _keras_apply(model):
  def apply(maps):
    outputs = [model(maps[i:i + _BATCH], training=False)
               for i in range(0, len(maps), _BATCH)]
    return {k: np.concatenate([o[k].numpy() for o in outputs])
            for k in outputs[0]}
  return apply


def _teacher():
  """(apply_fn, TeacherConfig, categories, description, model).

  apply_fn maps NumPy maps to NumPy outputs; model(maps, training=False)
  is the TensorFlow callable.
  """
  if bool(_MODEL_DIR.value) == bool(_MODULE.value):
    raise app.UsageError("give exactly one of --model_dir and --module")
  if _MODEL_DIR.value:
    model, spec = teacher_training.restore_model(_MODEL_DIR.value)
    if spec["architecture"] != "spherical":
      raise ValueError(f"{_MODEL_DIR.value}: a {spec['architecture']} run,"
                       " not a spherical teacher")
    config = teacher_model.TeacherConfig.from_dict(spec["teacher"])
    return (_keras_apply(model), config, spec["categories"],
            os.path.abspath(_MODEL_DIR.value), model)
  manifest = teacher_export.read_manifest(_MODULE.value)
  config = teacher_model.TeacherConfig.from_dict(manifest["teacher_config"])
  loaded = tf.saved_model.load(_MODULE.value)

  def apply(maps):
    outputs = [loaded(tf.constant(maps[i:i + _BATCH]))
               for i in range(0, len(maps), _BATCH)]
    return {k: np.concatenate([o[k].numpy() for o in outputs])
            for k in outputs[0]}
  return (apply, config, manifest["categories"],
          os.path.abspath(_MODULE.value),
          lambda maps, training=False: loaded(maps))


def _mesh_paths():
  paths = []
  for pattern in _MESHES.value:
    found = sorted(glob.glob(pattern))
    if not found:
      raise ValueError(f"--meshes: {pattern} matches no file")
    paths += found
  return paths


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  if _OUTPUT.value:  # Before computing.
    output_paths.check_output_file(_OUTPUT.value, "output", (".json",),
                                   overwrite=_OVERWRITE.value)
  apply_teacher, config, categories, source, model = _teacher()
  paths = _mesh_paths()
  upright, rotated, rotations = teacher_evaluation.mesh_maps(
      paths, _ROTATIONS.value, seed=_SEED.value)
  measure = lambda fn, keys=teacher_evaluation.MAP_KEYS: (
      teacher_evaluation.equivariance_errors(fn, upright, rotated, rotations,
                                             keys))
  tf.keras.utils.set_random_seed(_SEED.value)
  control = teacher_model.build_planar_control(config, len(categories))
  equivariance = {
      "teacher": measure(apply_teacher),
      "control_untrained": measure(_keras_apply(control)),
      "input_maps": measure(lambda x: {"input": x}, ("input",)),
  }
  if _CONTROL_MODEL_DIR.value:
    trained, _ = teacher_training.restore_model(_CONTROL_MODEL_DIR.value)
    equivariance["control_trained"] = measure(_keras_apply(trained))
  predictions = {}
  for path, up, turned in zip(paths, upright, rotated):
    top, agreement = teacher_evaluation.predictions(
        apply_teacher, np.concatenate([up[None], turned]), categories)
    predictions[os.path.basename(path)] = {
        "top": [{"category": c, "probability": round(p, 4)}
                for c, p in top],
        "top1_agreement": round(agreement, 4)}
  report = {
      "command": shlex.join(["python3"] + sys.argv),
      "teacher": source,
      "control_model_dir": (os.path.abspath(_CONTROL_MODEL_DIR.value)
                            if _CONTROL_MODEL_DIR.value else None),
      "meshes": paths,
      "rotations_per_mesh": _ROTATIONS.value,
      "seed": _SEED.value,
      "method": teacher_evaluation.__doc__.split("\n\n")[1].strip(),
      "equivariance": equivariance,
      "predictions": predictions,
  }
  if _DATA_DIR.value:
    accuracy = teacher_training.evaluate(model, _DATA_DIR.value, _SPLIT.value,
                                         categories=categories)
    report["dataset_accuracy"] = {
        "data_dir": os.path.abspath(_DATA_DIR.value), "split": _SPLIT.value,
        **accuracy}
  for model_name, by_key in equivariance.items():
    for key, values in by_key.items():
      print(f"{model_name:18s} {key:9s} relative L2"
            f" {values['relative_l2']:.4f} (centered"
            f" {values['relative_l2_centered']:.4f})")
  for name, entry in predictions.items():
    print(f"{name}: " + ", ".join(f"{t['category']} {t['probability']:.2f}"
                                  for t in entry["top"]))
  if _DATA_DIR.value:
    accuracy = report["dataset_accuracy"]
    print(f"{_DATA_DIR.value} {_SPLIT.value}: accuracy"
          f" {accuracy['accuracy']:.4f} of {accuracy['examples']}; "
          + ", ".join(f"{c} {a:.3f}"
                      for c, a in accuracy["per_category"].items()))
  if _OUTPUT.value:
    files.write_json_atomic(_OUTPUT.value, report)
    print(f"wrote {_OUTPUT.value}")


if __name__ == "__main__":
  cli.run(main)
