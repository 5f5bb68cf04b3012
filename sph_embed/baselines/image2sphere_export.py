"""Export of a trained Image2Sphere network as a module, and loading it.

An Image2Sphere module is a directory holding a TF2 SavedModel whose root
has one `@tf.function`, in inference mode:

  fourier(images)   float32 [b, S, S, 1] views in [0, 1] -> [b, F]: the
                    SO(3) Fourier coefficients of each view's log density
                    over its canonical rotation (sph_embed.baselines.
                    image2sphere: real Wigner-D layout, degrees <= lmax,
                    F = sph_embed.sphere.so3.flat_size(lmax));

and a `manifest.json` (sph_embed.training.export): kind "image2sphere", the
shapes, `lmax`, the evaluation grid of the run (`eval_grid_size`), the
training data (directory, categories, fingerprint), the run
(`image2sphere_network`: directory, steps, run spec, the training command
rebuilt from the spec), the export command, the date and, when given, the
measured results (`results`).  The distribution on any Euler grid is then
`image2sphere.Predictor(module, grid_size)`, as for a restored network.

`export_run(model_dir, export_dir)` exports a tools/train_image2sphere.py
run (tools/export_model.py --kind=image2sphere); `load_image2sphere(path)`
returns an `Image2SphereModule` (called like the Keras network);
`load_predictor` gives the Predictor of either a run or a module.
"""

import dataclasses
import os

from sph_embed.baselines import image2sphere
from sph_embed.baselines import image2sphere_training
from sph_embed.common import files
from sph_embed.training import export as module_export

MODULE_KIND = "image2sphere"
ENTRY_POINT = "fourier"
RUN_KEY = "image2sphere_network"  # The manifest's record of the run.
TOOL = "tools/export_model.py --kind=image2sphere"
DESCRIPTION = ("Image2Sphere (Klee et al. 2023): one view -> a distribution"
               " over its canonical rotation, as the SO(3) Fourier"
               " coefficients of its log density.")


def export_image2sphere(model, export_dir, facts):
  """Writes the Image2Sphere network as a module, atomically.

  Args:
    model: the network, image [b, S, S, 1] -> Fourier coefficients [b, F].
    export_dir: module directory; replaced if it exists.
    facts: dict (JSON-serialisable) of facts about the module; the kind,
      shapes and (unless given) the date are added.

  Returns:
    The manifest as written.
  """
  full_manifest = module_export.manifest(
      MODULE_KIND, "TF2 SavedModel: fourier(images) (inference mode)",
      {"fourier": {"input": module_export.tensor_shape(model.input),
                   "output": module_export.tensor_shape(model.output),
                   "meaning": "grayscale views in [0, 1] -> SO(3) Fourier"
                              " coefficients of the log density over each"
                              " view's canonical rotation"}},
      facts)
  root = module_export.InferenceModule(
      model.variables,
      {"fourier": (lambda images: model(images, training=False),
                   module_export.input_spec(model, "images"))})
  return module_export.write_module(root, export_dir, full_manifest)


def training_run(model_dir, spec, steps):
  """An Image2Sphere run as a manifest records it; its command is None when
  its widths are not one of the trainer's presets."""
  preset = module_export.preset_flags(image2sphere_training.config_of(spec),
                                      image2sphere.PRESETS)
  command = None if preset is None else [
      "python3", "tools/train_image2sphere.py",
      f"--data_dir={spec['data_dir']}", f"--model_dir={model_dir}", *preset,
      f"--max_steps={steps}"]
  return module_export.run_summary(model_dir, spec, steps, command)


def export_run(model_dir, export_dir, description=DESCRIPTION,
               results_file=None, command=None):
  """Exports the newest checkpoint of an Image2Sphere run as a module.

  Args:
    model_dir: a tools/train_image2sphere.py run.
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
  model, spec = image2sphere_training.restore_model(model_dir)
  steps = module_export.trained_steps(model_dir)
  config = image2sphere_training.config_of(spec)
  facts = {
      "description": description,
      "lmax": config.lmax,
      "eval_grid_size": config.eval_grid_size,
      "categories": spec["categories"],
      "training_data": module_export.training_data(
          spec["data_dir"], spec.get("dataset_fingerprint")),
      RUN_KEY: training_run(model_dir, spec, steps),
      "export_command": command,
  }
  if results is not None:
    facts["results"] = results
  return export_image2sphere(model, export_dir, facts)


@dataclasses.dataclass(frozen=True)
class Image2SphereModule:
  """A loaded Image2Sphere module, called like the Keras network."""
  path: str
  manifest: dict
  image_size: int               # S
  _loaded: object

  @property
  def spec(self):
    """The run spec of the exported network (its image2sphere_model.json)."""
    return self.manifest[RUN_KEY]["spec"]

  @property
  def output_shape(self):
    """(None, F), as the Keras network's (image2sphere.Predictor reads F)."""
    return tuple(self.manifest["fourier"]["output"])

  def __call__(self, images, training=False):
    """Views [b, S, S, 1] in [0, 1] -> coefficients [b, F] (tensors), as
    the Keras network is called (inference only)."""
    if training:
      raise ValueError(f"{self.path}: a module runs in inference mode only")
    return self._loaded.fourier(images)


def read_manifest(path):
  """The manifest.json of the Image2Sphere module at `path`, checked."""
  return module_export.read_manifest(path, MODULE_KIND, TOOL)


def load_image2sphere(path):
  """The Image2SphereModule at `path`.

  Raises:
    module_export.ModuleError naming `path`: missing, not a SavedModel with
    an Image2Sphere manifest, or without `fourier`.
  """
  manifest, loaded = module_export.load_module(path, MODULE_KIND, TOOL,
                                               ("fourier",))
  return Image2SphereModule(
      path=os.fspath(path), manifest=manifest,
      image_size=int(manifest["fourier"]["input"][1]), _loaded=loaded)


def load_predictor(model_dir=None, module=None, grid_size=None):
  """(image2sphere.Predictor, run spec) of a run or an Image2Sphere module.

  Args:
    model_dir: a tools/train_image2sphere.py run (its newest checkpoint), or
      None.
    module: an Image2Sphere module directory, or None (exactly one of the
      two is given).
    grid_size: the Euler grid of the distributions (default: the run's
      evaluation grid).
  """
  if (model_dir is None) == (module is None):
    raise ValueError("load_predictor: give exactly one of model_dir and"
                     " module")
  if model_dir is not None:
    network, spec = image2sphere_training.restore_model(model_dir)
  else:
    network = load_image2sphere(module)
    spec = network.spec
  size = grid_size or image2sphere_training.config_of(spec).eval_grid_size
  return image2sphere.Predictor(network, size), spec
