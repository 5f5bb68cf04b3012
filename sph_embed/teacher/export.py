"""Export of the teacher as a TF-Hub SavedModel, and loading it back.

A teacher module is a directory holding a TF2 SavedModel whose root object
has a `@tf.function __call__(inputs)` (inference mode) taking float32
[batch, 64, 64, 1] ray-length maps and returning a dict of float32 tensors
(`logits`, `pose`, `synthesis`), plus the `variables`,
`trainable_variables` and `regularization_losses` attributes of TF-Hub's
reusable SavedModel interface, so that

  hub.KerasLayer(path, trainable=False, output_key="pose")

works inside tf_keras models; and a `manifest.json` describing it (grid,
bandwidth, output shapes, training data, accuracy, command, date).

`export_teacher` is atomic (sph_embed.common.files.atomic_directory): the
module is written to a temporary directory next to `export_dir` and renamed
into place only when complete; an existing module is moved aside first and
deleted after the rename, so `export_dir` never holds a half-written module
(it is briefly absent during the swap).
"""

import datetime
import os

import tensorflow as tf
import tensorflow_hub as hub

from sph_embed.common import files
from sph_embed.sphere import dh_grid
from sph_embed.teacher import model as teacher_model
from sph_embed.training import export as module_export

MANIFEST = module_export.MANIFEST
INPUT_SHAPE = (None, teacher_model.GRID_SIZE, teacher_model.GRID_SIZE, 1)
# One error type for every module (teacher, synthesis, pose modules).
ModuleError = module_export.ModuleError


class _TeacherModule(tf.train.Checkpoint):
  """SavedModel root: __call__ plus TF-Hub's reusable-model attributes."""

  def __init__(self, model):
    super().__init__()
    # The Keras model itself is not tracked: tf_keras would save a function
    # per layer, each with its own copy of the SHT tables.
    self.variables = list(model.variables)
    self.trainable_variables = list(model.trainable_variables)
    self.regularization_losses = [
        tf.function(lambda loss=loss: loss, input_signature=[])
        for loss in model.losses]
    # Inference mode only (batch norm uses its moving statistics): a frozen
    # teacher is what the embedding trainer needs, and every traced mode
    # stores its own copy of the SHT tables (~2 MB).  Fine-tuning with
    # trainable=True still updates all weights, with frozen statistics.
    self.__call__ = tf.function(
        lambda inputs: model(inputs, training=False),
        input_signature=[tf.TensorSpec(INPUT_SHAPE, tf.float32,
                                       name="sphere")])


def _model_output_shapes(model):
  return {key: [None if d is None else int(d) for d in tensor.shape]
          for key, tensor in model.output.items()}


def export_teacher(model, export_dir, manifest):
  """Writes `model` as a TF-Hub SavedModel + manifest.json, atomically.

  Args:
    model: the teacher, a tf.keras.Model [B, 64, 64, 1] -> dict with at
      least the keys of `teacher_model.OUTPUT_KEYS`.
    export_dir: module directory; replaced if it exists.
    manifest: dict (JSON-serialisable) of facts about the module (training
      data, accuracy, command, ...).  The input shape, grid, bandwidth,
      output shapes and (unless given) the date are added.

  Returns:
    The manifest as written.
  """
  if not isinstance(model.output, dict):
    raise ValueError("export_teacher: the model must return a dict, got"
                     f" {type(model.output).__name__}")
  missing = [k for k in teacher_model.OUTPUT_KEYS if k not in model.output]
  if missing:
    raise ValueError(f"export_teacher: the model has no outputs {missing}"
                     f" (has {sorted(model.output)})")
  if tuple(model.input.shape) != INPUT_SHAPE:
    raise ValueError(f"export_teacher: the model input must be {INPUT_SHAPE},"
                     f" got {tuple(model.input.shape)}")
  full_manifest = {
      "format": "TF2 SavedModel (TF-Hub reusable: __call__, variables,"
                " trainable_variables, regularization_losses)",
      "input": {"shape": list(INPUT_SHAPE), "dtype": "float32",
                "meaning": "ray lengths in [0, 1] on the DH grid"},
      "grid": {"type": "Driscoll-Healy", "size": teacher_model.GRID_SIZE,
               "bandwidth": dh_grid.bandwidth(teacher_model.GRID_SIZE),
               "layout": "[batch, colatitude, longitude, channels]"},
      "output_shapes": _model_output_shapes(model),
      "date": datetime.date.today().isoformat(),
  }
  full_manifest.update(manifest)
  return module_export.write_module(_TeacherModule(model), export_dir,
                                    full_manifest)


def read_manifest(path):
  """The manifest.json of the module at `path`, as a dict."""
  path = os.fspath(path)
  _check_module_dir(path)
  manifest_path = os.path.join(path, MANIFEST)
  if not os.path.isfile(manifest_path):
    raise ModuleError(f"{path}: no {MANIFEST} (not a teacher module written"
                      " by export_teacher)")
  return files.read_json_object(manifest_path, ModuleError)


def _check_module_dir(path):
  module_export.check_directory(path)
  if not tf.saved_model.contains_saved_model(path):
    raise ModuleError(f"{path}: not a SavedModel (no saved_model.pb)")


def _check_not_another_kind(path):
  """ModuleError when the manifest names another kind of module.

  The teacher's manifest has no kind (it was the only module at first);
  every other module's names it, which says more than the SavedModel's
  missing __call__ would.
  """
  manifest_path = os.path.join(path, MANIFEST)
  kind = (files.read_json_object(manifest_path, ModuleError).get("module")
          if os.path.isfile(manifest_path) else None)
  if kind:
    raise ModuleError(f"{path}: a {kind} module, not a teacher module"
                      " (written by tools/export_teacher.py)")


class TeacherLayer(hub.KerasLayer):
  """hub.KerasLayer that checks its input shape against the module's."""

  def __init__(self, handle, module_path, input_shape, **kwargs):
    super().__init__(handle, **kwargs)
    self._module_path = module_path
    self._module_input_shape = tuple(input_shape)

  def build(self, input_shape):
    shape = tf.TensorShape(input_shape)
    expected = tf.TensorShape(self._module_input_shape)
    if shape.rank != expected.rank or not expected.is_compatible_with(shape):
      raise ValueError(f"teacher module {self._module_path}: expects inputs"
                       f" of shape {list(self._module_input_shape)} (float32"
                       f" ray-length maps), got {shape}")
    super().build(input_shape)


def load_teacher_layer(path, output_key, trainable=False):
  """hub.KerasLayer of the teacher module at `path`, returning `output_key`.

  Args:
    path: module directory (as written by `export_teacher`).
    output_key: one of the module's output keys ("pose", "synthesis",
      "logits"), or a tuple of them: the layer then returns the module's
      dict of outputs (one forward pass for all).
    trainable: whether to fine-tune the module's variables.

  Raises:
    ModuleError: `path` is missing, is not a SavedModel, is a module of
      another kind (its manifest says), or its __call__ does not take one
      [batch, 64, 64, 1] tensor and return a dict with `output_key`.
  """
  path = os.fspath(path)
  _check_module_dir(path)
  _check_not_another_kind(path)
  try:
    loaded = hub.load(path)
  except Exception as e:  # TF raises many types for corrupt SavedModels.
    raise ModuleError(f"{path}: cannot load the SavedModel"
                      f" ({type(e).__name__}: {e})") from e
  call = getattr(loaded, "__call__", None)
  concrete = list(getattr(call, "concrete_functions", None) or [])
  if not concrete:
    raise ModuleError(f"{path}: the SavedModel has no @tf.function __call__"
                      " (not a reusable TF-Hub module)")
  args, _ = concrete[0].structured_input_signature
  outputs = concrete[0].structured_outputs
  if not args or not isinstance(args[0], tf.TensorSpec):
    raise ModuleError(f"{path}: __call__ does not take a single tensor"
                      f" (signature {args})")
  input_shape = tuple(args[0].shape.as_list())
  if (args[0].dtype != tf.float32 or len(input_shape) != 4 or
      input_shape[1:] != INPUT_SHAPE[1:]):
    raise ModuleError(f"{path}: __call__ takes {args[0].dtype.name}"
                      f" {list(input_shape)}, not a teacher's float32"
                      f" {list(INPUT_SHAPE)}")
  if not isinstance(outputs, dict):
    raise ModuleError(f"{path}: __call__ returns {type(outputs).__name__},"
                      " not a dict of outputs")
  wanted = output_key if isinstance(output_key, tuple) else (output_key,)
  for key in wanted:
    if key not in outputs:
      raise ModuleError(f"{path}: the module has no output {key!r}"
                        f" (outputs: {sorted(outputs)})")
  # float32 under any mixed-precision policy: the module takes float32.
  return TeacherLayer(
      loaded, path, input_shape, trainable=trainable,
      output_key=None if isinstance(output_key, tuple) else output_key,
      dtype="float32")
