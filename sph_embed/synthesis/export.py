"""Export of the novel-view-synthesis networks as one SavedModel, and loading.

A synthesis module is a directory holding a TF2 SavedModel whose root
object has two `@tf.function`s, both in inference mode:

  embed(images)       float32 [b, S, S, 1] views in [0, 1] -> [b, T, T, C]:
                      the synthesis embedding network (a tools/
                      train_embedding.py --output_key=synthesis run, or the
                      synthesis head of a pose,synthesis run);
  decode(embeddings)  float32 [b, T, T, C] -> [b, S, S, 1] in [0, 1]: the
                      synthesis network, fed embeddings that are already
                      band-limited or rotated (sph_embed.synthesis.rotate);

a `mean_image` variable [S, S, 1] (the mean view of the training split, the
benchmark's "mean_image" control), and a `manifest.json` (sizes, the
training data, each network's run, steps and command, the date, and the
measured PSNR/SSIM when given).  S = 64, T = 32 for the shipped module.

`export_synthesis` writes atomically and `load_synthesis` checks the module
as every module export does (sph_embed.training.export); it returns a
`SynthesisModule` whose methods take and return NumPy arrays.
`training_run` is the synthesis network's run as the manifest records it.
"""

import dataclasses
import os

import numpy as np

from sph_embed.data import input_pipeline
from sph_embed.synthesis import model as synthesis_networks
from sph_embed.synthesis import rotate
from sph_embed.training import export as module_export

MANIFEST = module_export.MANIFEST
MODULE_KIND = "synthesis"
TOOL = "tools/export_synthesis.py"
ModuleError = module_export.ModuleError
trained_steps = module_export.trained_steps


def mean_training_image(data_dir, batch_size=256):
  """Mean of the train split's views: float32 [S, S, 1] in [0, 1]."""
  total, count = None, 0
  for batch in input_pipeline.make_dataset(data_dir, "train", batch_size,
                                           shuffle=False):
    images = batch["image"].numpy().astype(np.float64)
    total = images.sum(axis=0) if total is None else total + images.sum(0)
    count += images.shape[0]
  if not count:
    raise input_pipeline.DataError(f"{data_dir}: the train split has no"
                                   " examples")
  return (total / count).astype(np.float32)


def export_synthesis(embedding_model, synthesis_model, mean_image, export_dir,
                     manifest):
  """Writes both networks and the mean image as one SavedModel, atomically.

  Args:
    embedding_model: image [b, S, S, 1] -> embedding [b, T, T, C].
    synthesis_model: embedding [b, T, T, C] -> image [b, S, S, 1].
    mean_image: [S, S, 1] mean training view.
    export_dir: module directory; replaced if it exists.
    manifest: dict (JSON-serialisable) of facts about the module (data,
      runs, commands, measurements); the kind, shapes and (unless given)
      the date are added.

  Returns:
    The manifest as written.
  """
  image_shape = tuple(embedding_model.input.shape[1:])
  embedding_shape = tuple(embedding_model.output.shape[1:])
  if tuple(synthesis_model.input.shape[1:]) != embedding_shape:
    raise ValueError(f"export_synthesis: the synthesis network decodes"
                     f" {list(synthesis_model.input.shape[1:])} embeddings,"
                     f" the embedding network makes {list(embedding_shape)}")
  if tuple(synthesis_model.output.shape[1:]) != image_shape:
    raise ValueError(f"export_synthesis: the synthesis network makes"
                     f" {list(synthesis_model.output.shape[1:])} images, the"
                     f" embedding network takes {list(image_shape)}")
  mean_image = np.asarray(mean_image, dtype=np.float32)
  if mean_image.shape != image_shape:
    raise ValueError(f"export_synthesis: mean_image has shape"
                     f" {list(mean_image.shape)}, expected {list(image_shape)}")
  shape = module_export.tensor_shape
  full_manifest = module_export.manifest(
      MODULE_KIND, "TF2 SavedModel: embed(images), decode(embeddings),"
      " mean_image (inference mode)",
      {"embed": {"input": shape(embedding_model.input),
                 "output": shape(embedding_model.output),
                 "meaning": "grayscale views in [0, 1] -> spherical"
                            " embeddings on the DH grid"},
       "decode": {"input": shape(synthesis_model.input),
                  "output": shape(synthesis_model.output),
                  "meaning": "band-limited (or rotated) embeddings -> views"
                             " in [0, 1]"},
       "mean_image": {"shape": list(image_shape),
                      "meaning": "mean view of the training split"}},
      manifest)
  root = module_export.InferenceModule(
      list(embedding_model.variables) + list(synthesis_model.variables),
      {"embed": (lambda images: embedding_model(images, training=False),
                 module_export.input_spec(embedding_model, "images")),
       "decode": (lambda embeddings: synthesis_model(embeddings,
                                                     training=False),
                  module_export.input_spec(synthesis_model, "embeddings"))},
      {"mean_image": mean_image})
  return module_export.write_module(root, export_dir, full_manifest)


@dataclasses.dataclass(frozen=True)
class SynthesisModule:
  """A loaded synthesis module; NumPy in, NumPy out."""
  path: str
  manifest: dict
  mean_image: np.ndarray        # [S, S, 1]
  image_size: int               # S
  embedding_shape: tuple        # (T, T, C)
  _loaded: object

  def embed(self, images):
    """Views [b, S, S, 1] in [0, 1] -> embeddings [b, T, T, C] (float32)."""
    images = module_export.checked_batch(
        self.path, "embed", images, (self.image_size, self.image_size, 1),
        "views")
    return self._loaded.embed(images).numpy()

  def decode(self, embeddings):
    """Band-limited or rotated embeddings [b, T, T, C] -> views [b, S, S, 1]."""
    embeddings = module_export.checked_batch(
        self.path, "decode", embeddings, self.embedding_shape, "embeddings")
    return self._loaded.decode(embeddings).numpy()

  def synthesize(self, embeddings, rotations=None):
    """decode(rotate(embeddings, R)), or the plain reconstruction (None)."""
    if rotations is None:
      return self.decode(rotate.band_limit(embeddings))
    return self.decode(rotate.rotate_embeddings(embeddings, rotations))


def read_manifest(path):
  """The manifest.json of the synthesis module at `path`, checked."""
  return module_export.read_manifest(path, MODULE_KIND, TOOL)


def load_synthesis(path):
  """The SynthesisModule at `path`.

  Raises:
    ModuleError naming `path`: missing, not a SavedModel with a synthesis
    manifest, or without embed / decode / mean_image.
  """
  manifest, loaded = module_export.load_module(
      path, MODULE_KIND, TOOL, ("embed", "decode", "mean_image"))
  mean_image = loaded.mean_image.numpy()
  return SynthesisModule(
      path=os.fspath(path), manifest=manifest, mean_image=mean_image,
      image_size=int(mean_image.shape[0]),
      embedding_shape=tuple(manifest["decode"]["input"][1:]),
      _loaded=loaded)


def training_run(model_dir, spec, steps, embedding_model_dir):
  """The synthesis network's run (tools/train_synthesis.py) as the
  manifest records it, with its training command."""
  config = synthesis_networks.SynthesisConfig(**spec["synthesis"])
  source = spec["embedding_source"]
  command = ["python3", "tools/train_synthesis.py",
             f"--data_dir={spec['data_dir']}", f"--model_dir={model_dir}",
             f"--embedding_source={source}"]
  command.append(f"--embedding_model_dir={embedding_model_dir}"
                 if source == "predicted"
                 else f"--hub_module={spec['hub_module']}")
  command += [*module_export.width_flags(config, synthesis_networks.PRESETS),
              f"--pixel_loss={spec['pixel_loss']}", f"--max_steps={steps}"]
  return module_export.run_summary(model_dir, spec, steps, command)
