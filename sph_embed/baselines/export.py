"""Export of a trained pose regression network as a module, and loading it.

A pose regression module is a directory holding a TF2 SavedModel whose root
has one `@tf.function`, in inference mode:

  predict(images)   float32 [b, S, S, 1] views in [0, 1] -> [b, 3, 3]: the
                    estimate R_hat of each view's canonical rotation (the
                    rotation the object was rendered in, DESIGN §1); the
                    relative pose of views i, j is R_hat_j R_hat_i^T
                    (sph_embed.pose.relative_from_absolute);

and a `manifest.json` (sph_embed.training.export): kind "pose_regression",
the shapes, the training data (directory, categories, fingerprint), the run
(`regression_network`: directory, steps, run spec, the training command
rebuilt from the spec), the export command, the date and, when given, the
measured results (`results`).

`export_run(model_dir, export_dir)` exports a tools/train_regression.py run
(tools/export_model.py --kind=pose_regression); `load_regression(path)`
returns a `PoseRegressionModule` (NumPy in and out); `load_predictor` gives
tools/evaluate_regression.py the rotation predictor of a run or a module.
"""

import dataclasses
import functools
import os

from sph_embed.baselines import regression
from sph_embed.baselines import training as regression_training
from sph_embed.common import files
from sph_embed.training import export as module_export

MODULE_KIND = "pose_regression"
ENTRY_POINT = "predict"
RUN_KEY = "regression_network"  # The manifest's record of the training run.
TOOL = "tools/export_model.py --kind=pose_regression"
DESCRIPTION = ("Pose regression baseline (Esteves et al. 2019, appendix B.1;"
               " Mahendran et al. 2017): one view -> its canonical rotation"
               " R_hat; relative pose R_hat_j R_hat_i^T.")


def export_regression(model, export_dir, facts):
  """Writes the regression network as a pose regression module, atomically.

  Args:
    model: the network, image [b, S, S, 1] -> axis-angle vector [b, 3]
      (sph_embed.baselines.regression).
    export_dir: module directory; replaced if it exists.
    facts: dict (JSON-serialisable) of facts about the module (data, run,
      commands, measurements); the kind, shapes and (unless given) the
      date are added.

  Returns:
    The manifest as written.
  """
  full_manifest = module_export.manifest(
      MODULE_KIND, "TF2 SavedModel: predict(images) (inference mode)",
      {"predict": {"input": module_export.tensor_shape(model.input),
                   "output": [None, 3, 3],
                   "meaning": "grayscale views in [0, 1] -> the estimated"
                              " canonical rotation R_hat of each view"
                              " (matrices acting on column vectors)"}},
      facts)
  root = module_export.InferenceModule(
      model.variables,
      {"predict": (lambda images: regression.rotation_matrices(
          model(images, training=False)),
                   module_export.input_spec(model, "images"))})
  return module_export.write_module(root, export_dir, full_manifest)


def training_run(model_dir, spec, steps):
  """A regression run (tools/train_regression.py) as a manifest records it;
  its command is None when its widths are not one of the tool's presets."""
  config = regression.RegressionConfig.from_dict(spec["regression"])
  preset = module_export.preset_flags(
      config, regression.PRESETS,
      loss_switch_fraction=config.loss_switch_fraction)
  command = None if preset is None else [
      "python3", "tools/train_regression.py",
      f"--data_dir={spec['data_dir']}", f"--model_dir={model_dir}", *preset,
      f"--loss_switch_fraction={config.loss_switch_fraction}",
      f"--max_steps={steps}"]
  return module_export.run_summary(model_dir, spec, steps, command)


def export_run(model_dir, export_dir, description=DESCRIPTION,
               results_file=None, command=None):
  """Exports the newest checkpoint of a regression run as a module.

  Args:
    model_dir: a tools/train_regression.py run.
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
  model, spec = regression_training.restore_model(model_dir)
  steps = module_export.trained_steps(model_dir)
  facts = {
      "description": description,
      "categories": spec["categories"],
      "training_data": module_export.training_data(
          spec["data_dir"], spec.get("dataset_fingerprint")),
      RUN_KEY: training_run(model_dir, spec, steps),
      "export_command": command,
  }
  if results is not None:
    facts["results"] = results
  return export_regression(model, export_dir, facts)


@dataclasses.dataclass(frozen=True)
class PoseRegressionModule:
  """A loaded pose regression module; NumPy in, NumPy out."""
  path: str
  manifest: dict
  image_size: int               # S
  _loaded: object

  @property
  def spec(self):
    """The run spec of the exported network (its regression_model.json)."""
    return self.manifest[RUN_KEY]["spec"]

  def predict(self, images):
    """Views [b, S, S, 1] in [0, 1] -> rotations R_hat [b, 3, 3] (float32)."""
    images = module_export.checked_batch(
        self.path, "predict", images, (self.image_size, self.image_size, 1),
        "views")
    return self._loaded.predict(images).numpy()


def read_manifest(path):
  """The manifest.json of the pose regression module at `path`, checked."""
  return module_export.read_manifest(path, MODULE_KIND, TOOL)


def load_regression(path):
  """The PoseRegressionModule at `path`.

  Raises:
    module_export.ModuleError naming `path`: missing, not a SavedModel with
    a pose regression manifest, or without `predict`.
  """
  manifest, loaded = module_export.load_module(path, MODULE_KIND, TOOL,
                                               ("predict",))
  return PoseRegressionModule(
      path=os.fspath(path), manifest=manifest,
      image_size=int(manifest["predict"]["input"][1]), _loaded=loaded)


def load_predictor(model_dir=None, module=None):
  """(predict, run spec) of a regression run or a pose regression module.

  predict(images [b, S, S, 1]) -> rotations [b, 3, 3]; the run spec
  (regression_model.json, kept in the module's manifest) names the
  training data and the image size.  Exactly one of `model_dir` and
  `module` is given.
  """
  if (model_dir is None) == (module is None):
    raise ValueError("load_predictor: give exactly one of model_dir and"
                     " module")
  if model_dir is not None:
    model, spec = regression_training.restore_model(model_dir)
    return functools.partial(regression.predict_rotations, model), spec
  loaded = load_regression(module)
  return loaded.predict, loaded.spec
