"""What every export of a trained network as a module shares.

A module is a directory holding a TF2 SavedModel whose root has one
`@tf.function` per entry point (inference mode, float32 batches in) and a
`manifest.json`: what the module is (`module`: its kind, e.g. "synthesis",
"pose_embedding", "pose_regression"), its entry points' shapes, the date,
and the facts its exporter adds (training data, runs, commands, measured
results).  The exporters (sph_embed.synthesis.export,
sph_embed.embedding.export, sph_embed.baselines.export; the teacher's
sph_embed.teacher.export shares the writing) use:

  root = InferenceModule(model.variables,
                         {"embed": (fn, tf.TensorSpec(...))})
  write_module(root, export_dir, manifest(KIND, FORMAT, entries, facts))
  manifest, loaded = load_module(path, KIND, TOOL, ("embed",))

`write_module` is atomic (sph_embed.common.files.atomic_directory);
`read_manifest` and `load_module` raise `ModuleError` (a ValueError, one
line naming the path) for a missing directory, a directory without a
SavedModel and manifest, a module of another kind, or a SavedModel without
the entry points; `check_export_dir` is the tools' check of an export
directory and `--overwrite`.  The run summaries (`run_summary`,
`width_flags`, `preset_flags`, `data_summary`, `training_data`,
`trained_steps`) describe the training runs a module was exported from.
"""

import dataclasses
import datetime
import json
import os
import shlex

import numpy as np
import tensorflow as tf

from sph_embed.common import files
from sph_embed.common import outputs
from sph_embed.data import input_pipeline
from sph_embed.training import checkpoints

MANIFEST = "manifest.json"
SAVED_MODEL = "saved_model.pb"


class ModuleError(ValueError):
  """A directory is not a usable module (of the kind asked for)."""


def tensor_shape(tensor):
  """A Keras tensor's shape as a JSON list (None for unknown sizes)."""
  return [None if d is None else int(d) for d in tensor.shape]


def input_spec(model, name):
  """A float32 TensorSpec of any batch of `model`'s single input."""
  return tf.TensorSpec((None,) + tuple(model.input.shape[1:]), tf.float32,
                       name=name)


class InferenceModule(tf.Module):
  """SavedModel root: the networks' variables and one function per entry.

  The Keras models themselves are not tracked (as for the teacher: each
  layer would be saved as its own function); their variables are.
  """

  def __init__(self, variables, functions, constants=None):
    """
    Args:
      variables: every variable the functions read.
      functions: {name: (fn, tf.TensorSpec)}: fn(batch) in inference mode.
      constants: {name: array} saved as non-trainable variables.
    """
    super().__init__()
    self.network_variables = list(variables)
    for name, (fn, spec) in functions.items():
      setattr(self, name, tf.function(fn, input_signature=[spec]))
    for name, value in (constants or {}).items():
      setattr(self, name, tf.Variable(value, trainable=False, name=name))


def manifest(kind, format_text, entries, facts):
  """A module's manifest: kind, format, entry points, date, then `facts`.

  Args:
    kind: the module kind (`read_manifest` checks it).
    format_text: what the SavedModel holds, in words.
    entries: {entry point: {"input": shape, "output": shape, "meaning":
      text}, ...} and other fixed descriptions.
    facts: the exporter's facts (JSON-serialisable); they win over the
      defaults, e.g. a given "date".
  """
  full = {"module": kind, "format": format_text, **entries,
          "date": datetime.date.today().isoformat()}
  full.update(facts)
  return full


def write_module(root, export_dir, full_manifest):
  """Saves `root` and its manifest as `export_dir`, atomically.

  An existing directory is replaced only when the new module is complete
  (sph_embed.common.files.atomic_directory); its parent is created.

  Returns:
    The manifest as written.
  """
  export_dir = os.path.abspath(os.fspath(export_dir))
  if os.path.lexists(export_dir) and not os.path.isdir(export_dir):
    raise ModuleError(f"{export_dir}: exists and is not a directory; refusing"
                      " to replace it")
  text = json.dumps(full_manifest, indent=2, sort_keys=True) + "\n"
  os.makedirs(os.path.dirname(export_dir), exist_ok=True)
  with files.atomic_directory(export_dir) as staging:
    tf.saved_model.save(root, staging)
    with open(os.path.join(staging, MANIFEST), "w", encoding="utf-8") as f:
      f.write(text)
  return full_manifest


def check_directory(path):
  """ModuleError unless `path` is an existing directory."""
  if not os.path.exists(path):
    raise ModuleError(f"{path}: no such directory")
  if not os.path.isdir(path):
    raise ModuleError(f"{path}: not a directory")


def read_manifest(path, kind, tool):
  """The manifest.json of the `kind` module at `path`, checked.

  Args:
    path: the module directory.
    kind: the module kind expected.
    tool: what writes such modules (named in the messages).
  """
  path = os.fspath(path)
  check_directory(path)
  manifest_path = os.path.join(path, MANIFEST)
  if (not tf.saved_model.contains_saved_model(path) or
      not os.path.isfile(manifest_path)):
    raise ModuleError(f"{path}: not a {kind} module (needs {SAVED_MODEL}"
                      f" and {MANIFEST}, as written by {tool})")
  found = files.read_json_object(manifest_path, ModuleError)
  if found.get("module") != kind:
    # The teacher's manifest has no kind: it was the only module at first.
    raise ModuleError(f"{path}: a {found.get('module') or 'teacher'} module,"
                      f" not a {kind} module (written by {tool})")
  return found


def load_module(path, kind, tool, entry_points):
  """(manifest, loaded SavedModel) of the `kind` module at `path`.

  Raises:
    ModuleError naming `path`: as `read_manifest`, a SavedModel that does
    not load, or one without all of `entry_points`.
  """
  found = read_manifest(path, kind, tool)
  try:
    loaded = tf.saved_model.load(os.fspath(path))
  except Exception as e:  # TF raises many types for corrupt SavedModels.
    raise ModuleError(f"{path}: cannot load the SavedModel"
                      f" ({type(e).__name__}: {e})") from e
  missing = [name for name in entry_points if not hasattr(loaded, name)]
  if missing:
    raise ModuleError(f"{path}: the SavedModel has no {', '.join(missing)}"
                      f" (not written by {tool})")
  return found, loaded


def checked_batch(path, function, array, expected_shape, what):
  """`array` as float32, or ValueError if it is not [batch, *expected]."""
  array = np.asarray(array, dtype=np.float32)
  expected_shape = tuple(expected_shape)
  if array.ndim != len(expected_shape) + 1 or array.shape[1:] != (
      expected_shape):
    raise ValueError(f"{path}: {function} takes {what} [batch,"
                     f" {', '.join(map(str, expected_shape))}], got shape"
                     f" {array.shape}")
  return array


def check_export_dir(path, flag, overwrite):
  """The absolute export directory, checked before anything is computed.

  Raises:
    outputs.OutputError naming the flag: a path that is not a new, empty or
    module directory (a run or a dataset is never replaced), or an existing
    module without `overwrite`.
  """
  absolute = outputs.check_replaced_dir(path, flag, (MANIFEST, SAVED_MODEL))
  if os.path.isdir(absolute) and os.listdir(absolute) and not overwrite:
    raise outputs.OutputError(f"--{flag}={path}: already holds a module;"
                              " pass --overwrite to replace it")
  return absolute


def trained_steps(model_dir):
  """The step of the newest checkpoint of a training run (model_dir)."""
  checkpoint = checkpoints.latest_checkpoint(
      os.path.join(model_dir, "checkpoints"))
  if checkpoint is None:
    raise ValueError(f"{model_dir}/checkpoints: no checkpoint")
  return int(tf.train.load_checkpoint(checkpoint).get_tensor(
      "step/.ATTRIBUTES/VARIABLE_VALUE"))


def preset_flags(config, presets, **overrides):
  """["--preset=NAME"] when `config` is a preset (with `overrides`
  replaced), else None."""
  for name, preset in sorted(presets.items()):
    if dataclasses.replace(preset, **overrides) == config:
      return [f"--preset={name}"]
  return None


def width_flags(config, presets):
  """--preset=NAME when `config` is a preset, else one flag per field (the
  embedding and synthesis trainers have a flag for each width)."""
  return preset_flags(config, presets) or [
      f"--{key}={value}" for key, value in sorted(vars(config).items())]


def run_summary(model_dir, spec, steps, command):
  """A training run as a manifest records it: directory, steps, its run
  spec and the training command rebuilt from the spec (None when the spec
  cannot be expressed as the trainer's flags)."""
  return {"model_dir": os.path.abspath(model_dir), "steps": steps,
          "spec": spec,
          "command": None if command is None else shlex.join(command),
          "command_note": "rebuilt from the run spec; loop flags other than"
                          " --max_steps (learning rates, batch) are not"
                          " recorded there"}


def data_summary(data_dir, metadata):
  """A dataset (its dataset.json) as a manifest records it."""
  keys = ("categories", "image_size", "sphere_size", "views_per_instance",
          "dof", "up_axis", "anisotropic_scale", "appearance", "seed",
          "source", "command_line", "fingerprint")
  summary = {k: metadata[k] for k in keys if k in metadata}
  summary["data_dir"] = os.path.abspath(data_dir)
  summary["examples"] = {split: values["examples"]
                         for split, values in metadata["splits"].items()}
  return summary


def training_data(data_dir, fingerprint=None):
  """`data_summary` of a run's dataset, read from its dataset.json.

  Raises:
    input_pipeline.DataError naming the dataset: missing, or rebuilt since
    the run was trained (its fingerprint is not the run's `fingerprint`).
  """
  metadata = input_pipeline.read_metadata(data_dir)
  found = metadata.get("fingerprint")
  if fingerprint and found and found != fingerprint:
    raise input_pipeline.DataError(
        f"{data_dir}: rebuilt since the run was trained (fingerprint"
        f" {found}, the run's {fingerprint}); the manifest would describe"
        " other data")
  return data_summary(data_dir, metadata)
