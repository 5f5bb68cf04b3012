"""Export of a trained pose embedding network as a module, and loading it.

A pose embedding module is a directory holding a TF2 SavedModel whose root
has one `@tf.function`, in inference mode:

  embed(images)   float32 [b, S, S, 1] views in [0, 1] -> [b, T, T, C]: the
                  network's prediction of the teacher's `pose` maps (DH
                  grid; tools/correlate.py aligns two of them);

and a `manifest.json` (sph_embed.training.export): kind "pose_embedding",
the shapes, `output_key`, the teacher it was trained against, the training
data (directory, categories, fingerprint: its dataset.json), the run
(`embedding_network`: directory, steps, run spec, the training command
rebuilt from the spec), the export command, the date and, when given, the
measured results (`results`).  S = 64, T = 16 for the `pose` maps of the
shipped teacher.

`export_run(model_dir, export_dir)` exports a tools/train_embedding.py
--output_key=pose run (tools/export_model.py --kind=pose_embedding);
`load_embedding(path)` returns a `PoseEmbeddingModule` (NumPy in and out;
also callable like the Keras network, so that sph_embed.embedding.
inference.embed_split runs it); `load_embedder` gives tools/save_embeddings.py
the network and run spec of either a run or a module.
"""

import dataclasses
import os

from absl import logging

from sph_embed.common import files
from sph_embed.embedding import model as embedding_model
from sph_embed.embedding import training as embedding_training
from sph_embed.teacher import export as teacher_export
from sph_embed.training import export as module_export

MODULE_KIND = "pose_embedding"
ENTRY_POINT = "embed"
RUN_KEY = "embedding_network"  # The manifest's record of the training run.
TOOL = "tools/export_model.py --kind=pose_embedding"
OUTPUT_KEY = "pose"
DESCRIPTION = ("Pose embedding network (Esteves et al. 2019, section 3.2):"
               " one view -> the teacher's spherical `pose` maps of the"
               " object; relative pose by SO(3) correlation of two views'"
               " maps (tools/correlate.py).")


def export_embedding(model, export_dir, facts):
  """Writes the embedding network as a pose embedding module, atomically.

  Args:
    model: the network, image [b, S, S, 1] -> maps [b, T, T, C].
    export_dir: module directory; replaced if it exists.
    facts: dict (JSON-serialisable) of facts about the module (data, run,
      commands, measurements); the kind, shapes and (unless given) the
      date are added.

  Returns:
    The manifest as written.
  """
  full_manifest = module_export.manifest(
      MODULE_KIND, "TF2 SavedModel: embed(images) (inference mode)",
      {"embed": {"input": module_export.tensor_shape(model.input),
                 "output": module_export.tensor_shape(model.output),
                 "meaning": "grayscale views in [0, 1] -> the teacher's"
                            " `pose` maps on the DH grid"}},
      facts)
  root = module_export.InferenceModule(
      model.variables,
      {"embed": (lambda images: model(images, training=False),
                 module_export.input_spec(model, "images"))})
  return module_export.write_module(root, export_dir, full_manifest)


def _pose_loss_flags(spec):
  """The --pose_loss_* flags of a run whose spec records the term (each
  flag is the field's name after "pose_loss_")."""
  return [f"--pose_loss_{field}={value}"
          for field, value in spec.get("pose_loss", {}).items()]


def training_run(model_dir, spec, steps):
  """An embedding network's run (tools/train_embedding.py) as a manifest
  records it, with its training command."""
  config = embedding_model.EmbeddingConfig(**spec["embedding"])
  command = ["python3", "tools/train_embedding.py",
             f"--hub_module={spec['hub_module']}",
             f"--data_dir={spec['data_dir']}", f"--model_dir={model_dir}",
             "--output_key=" + ",".join(
                 key for key, _, _ in embedding_training.spec_heads(spec)),
             *module_export.width_flags(config, embedding_model.PRESETS),
             *_pose_loss_flags(spec),
             *([f"--init_from={spec['init_from']}"] if "init_from" in spec
               else []),
             f"--max_steps={steps}"]
  return module_export.run_summary(model_dir, spec, steps, command)


def teacher_summary(hub_module):
  """The teacher module a run was trained against: its path and, while it
  can be read, its description and date."""
  summary = {"hub_module": hub_module}
  try:
    manifest = teacher_export.read_manifest(hub_module)
  except teacher_export.ModuleError as e:
    logging.warning("The run's teacher cannot be described: %s", e)
    return summary
  summary.update({k: manifest[k] for k in ("description", "date")
                  if k in manifest})
  return summary


def export_run(model_dir, export_dir, description=DESCRIPTION,
               results_file=None, command=None):
  """Exports the newest checkpoint of a pose embedding run as a module.

  Args:
    model_dir: a tools/train_embedding.py --output_key=pose run.
    export_dir: module directory; replaced if it exists (check it first:
      module_export.check_export_dir).
    description: the manifest's text.
    results_file: a JSON object file of measured results, recorded as the
      manifest's `results`.
    command: the export command, recorded as `export_command`.

  Returns:
    The manifest as written.

  Raises:
    ValueError naming the run, its dataset or the results file.
  """
  results = files.read_json_object(results_file) if results_file else None
  try:  # A pose run, or the pose head of a pose,synthesis run.
    model, spec = embedding_training.restore_model(model_dir,
                                                   output_key=OUTPUT_KEY)
  except ValueError as e:
    raise ValueError(f"{e}; a synthesis embedding network goes into a"
                     " synthesis module: tools/export_synthesis.py") from None
  steps = module_export.trained_steps(model_dir)
  facts = {
      "description": description,
      "output_key": spec["output_key"],
      "teacher": teacher_summary(spec["hub_module"]),
      "categories": spec["categories"],
      "training_data": module_export.training_data(spec["data_dir"]),
      RUN_KEY: training_run(model_dir, spec, steps),
      "export_command": command,
  }
  if results is not None:
    facts["results"] = results
  return export_embedding(model, export_dir, facts)


@dataclasses.dataclass(frozen=True)
class PoseEmbeddingModule:
  """A loaded pose embedding module."""
  path: str
  manifest: dict
  image_size: int               # S
  embedding_shape: tuple        # (T, T, C)
  _loaded: object

  @property
  def variables(self):
    """The network's weights, in the Keras network's order."""
    return self._loaded.network_variables

  @property
  def spec(self):
    """The run spec of the exported network (its embedding_model.json)."""
    return self.manifest[RUN_KEY]["spec"]

  def embed(self, images):
    """Views [b, S, S, 1] in [0, 1] -> maps [b, T, T, C] (float32, NumPy)."""
    images = module_export.checked_batch(
        self.path, "embed", images, (self.image_size, self.image_size, 1),
        "views")
    return self._loaded.embed(images).numpy()

  def __call__(self, images, training=False):
    """embed on tensors, as the Keras network is called (inference only)."""
    if training:
      raise ValueError(f"{self.path}: a module runs in inference mode only")
    return self._loaded.embed(images)


def read_manifest(path):
  """The manifest.json of the pose embedding module at `path`, checked."""
  return module_export.read_manifest(path, MODULE_KIND, TOOL)


def load_embedding(path):
  """The PoseEmbeddingModule at `path`.

  Raises:
    module_export.ModuleError naming `path`: missing, not a SavedModel with
    a pose embedding manifest, or without `embed`.
  """
  manifest, loaded = module_export.load_module(path, MODULE_KIND, TOOL,
                                               ("embed",))
  return PoseEmbeddingModule(
      path=os.fspath(path), manifest=manifest,
      image_size=int(manifest["embed"]["input"][1]),
      embedding_shape=tuple(manifest["embed"]["output"][1:]), _loaded=loaded)


# Modules shipped with this repository (found when a run names another
# checkout's copy).
SHIPPED_MODULES = os.path.join(os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__)))), "hub_modules")


def recorded_teacher(spec):
  """The teacher module the run spec `spec` names, as found on this machine.

  A run records its teacher's absolute path.  When that path is gone but
  named a shipped module (`.../hub_modules/<name>`, e.g. the shipped pose
  module's teacher, recorded in the checkout that trained it), this
  repository's `hub_modules/<name>` is used.

  Raises:
    ValueError naming the recorded path and --hub_module when neither exists.
  """
  path = spec["hub_module"]
  if os.path.isdir(path):
    return path
  parent, name = os.path.split(os.path.normpath(path))
  shipped = os.path.join(SHIPPED_MODULES, name)
  if os.path.basename(parent) == "hub_modules" and os.path.isdir(shipped):
    logging.info("teacher %s is not here; using the shipped %s", path,
                 shipped)
    return shipped
  raise ValueError(f"the teacher the network was trained with, {path}, is"
                   " not on this machine; give its module with --hub_module")


def load_embedder(model_dir=None, module=None, checkpoint=None):
  """(network, run spec) of a training run or of a pose embedding module.

  The network is called as network(images, training=False); the run spec
  (embedding_model.json, kept in the module's manifest) names the data,
  teacher and map shape either way.

  Args:
    model_dir: a tools/train_embedding.py run, or None.
    module: a pose embedding module directory, or None (exactly one of the
      two is given).
    checkpoint: a checkpoint of `model_dir` (default: the newest).
  """
  if (model_dir is None) == (module is None):
    raise ValueError("load_embedder: give exactly one of model_dir and"
                     " module")
  if module is not None and checkpoint is not None:
    raise ValueError("load_embedder: a checkpoint applies to model_dir only")
  if model_dir is not None:
    return embedding_training.restore_model(model_dir, checkpoint)
  loaded = load_embedding(module)
  return loaded, loaded.spec
