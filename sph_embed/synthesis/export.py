"""Export of the novel-view-synthesis networks as one SavedModel, and loading.

A synthesis module is a directory holding a TF2 SavedModel whose root
object has two `@tf.function`s, both in inference mode:

  embed(images)       float32 [b, S, S, 1] views in [0, 1] -> [b, T, T, C]:
                      the synthesis embedding network (a tools/
                      train_embedding.py --output_key=synthesis run);
  decode(embeddings)  float32 [b, T, T, C] -> [b, S, S, 1] in [0, 1]: the
                      synthesis network, fed embeddings that are already
                      band-limited or rotated (sph_embed.synthesis.rotate);

a `mean_image` variable [S, S, 1] (the mean view of the training split, the
benchmark's "mean_image" control), and a `manifest.json` (sizes, the
training data, each network's run, steps and command, the date, and the
measured PSNR/SSIM when given).  S = 64, T = 32 for the shipped module.

`export_synthesis` writes atomically (sph_embed.common.files.
atomic_directory), as the teacher's export; `load_synthesis` returns a
`SynthesisModule` whose methods take and return NumPy arrays.
"""

import dataclasses
import datetime
import json
import os

import numpy as np
import tensorflow as tf

from sph_embed.common import files
from sph_embed.data import input_pipeline
from sph_embed.synthesis import rotate
from sph_embed.teacher import export as teacher_export
from sph_embed.training import checkpoints

MANIFEST = "manifest.json"
MODULE_KIND = "synthesis"
ModuleError = teacher_export.ModuleError


class _SynthesisSavedModel(tf.Module):
  """SavedModel root: embed, decode and mean_image."""

  def __init__(self, embedding_model, synthesis_model, mean_image):
    super().__init__()
    # As for the teacher: the Keras models themselves are not tracked (each
    # layer would be saved as its own function); their variables are.
    self.embedding_variables = list(embedding_model.variables)
    self.synthesis_variables = list(synthesis_model.variables)
    self.mean_image = tf.Variable(mean_image, trainable=False,
                                  name="mean_image")
    self.embed = tf.function(
        lambda images: embedding_model(images, training=False),
        input_signature=[tf.TensorSpec(
            (None,) + tuple(embedding_model.input.shape[1:]), tf.float32,
            name="images")])
    self.decode = tf.function(
        lambda embeddings: synthesis_model(embeddings, training=False),
        input_signature=[tf.TensorSpec(
            (None,) + tuple(synthesis_model.input.shape[1:]), tf.float32,
            name="embeddings")])


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


def _shape(tensor):
  return [None if d is None else int(d) for d in tensor.shape]


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
  full_manifest = {
      "module": MODULE_KIND,
      "format": "TF2 SavedModel: embed(images), decode(embeddings),"
                " mean_image (inference mode)",
      "embed": {"input": _shape(embedding_model.input),
                "output": _shape(embedding_model.output),
                "meaning": "grayscale views in [0, 1] -> spherical"
                           " embeddings on the DH grid"},
      "decode": {"input": _shape(synthesis_model.input),
                 "output": _shape(synthesis_model.output),
                 "meaning": "band-limited (or rotated) embeddings -> views"
                            " in [0, 1]"},
      "mean_image": {"shape": list(image_shape),
                     "meaning": "mean view of the training split"},
      "date": datetime.date.today().isoformat(),
  }
  full_manifest.update(manifest)
  text = json.dumps(full_manifest, indent=2, sort_keys=True) + "\n"
  with files.atomic_directory(export_dir) as staging:
    tf.saved_model.save(_SynthesisSavedModel(embedding_model, synthesis_model,
                                             mean_image), staging)
    with open(os.path.join(staging, MANIFEST), "w", encoding="utf-8") as f:
      f.write(text)
  return full_manifest


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
    images = np.asarray(images, dtype=np.float32)
    expected = (self.image_size, self.image_size, 1)
    if images.ndim != 4 or images.shape[1:] != expected:
      raise ValueError(f"{self.path}: embed takes views [batch,"
                       f" {', '.join(map(str, expected))}], got shape"
                       f" {images.shape}")
    return self._loaded.embed(images).numpy()

  def decode(self, embeddings):
    """Band-limited or rotated embeddings [b, T, T, C] -> views [b, S, S, 1]."""
    embeddings = np.asarray(embeddings, dtype=np.float32)
    if embeddings.ndim != 4 or embeddings.shape[1:] != self.embedding_shape:
      raise ValueError(f"{self.path}: decode takes embeddings [batch,"
                       f" {', '.join(map(str, self.embedding_shape))}], got"
                       f" shape {embeddings.shape}")
    return self._loaded.decode(embeddings).numpy()

  def synthesize(self, embeddings, rotations=None):
    """decode(rotate(embeddings, R)), or the plain reconstruction (None)."""
    if rotations is None:
      return self.decode(rotate.band_limit(embeddings))
    return self.decode(rotate.rotate_embeddings(embeddings, rotations))


def read_manifest(path):
  """The manifest.json of the synthesis module at `path`, checked."""
  path = os.fspath(path)
  if not os.path.isdir(path):
    raise ModuleError(f"{path}: no such directory" if not
                      os.path.exists(path) else f"{path}: not a directory")
  manifest_path = os.path.join(path, MANIFEST)
  if (not tf.saved_model.contains_saved_model(path) or
      not os.path.isfile(manifest_path)):
    raise ModuleError(f"{path}: not a synthesis module (needs saved_model.pb"
                      f" and {MANIFEST}, as written by"
                      " tools/export_synthesis.py)")
  manifest = files.read_json_object(manifest_path, ModuleError)
  if manifest.get("module") != MODULE_KIND:
    raise ModuleError(f"{path}: a {manifest.get('module') or 'teacher'}"
                      " module, not a synthesis module (written by"
                      " tools/export_synthesis.py)")
  return manifest


def load_synthesis(path):
  """The SynthesisModule at `path`.

  Raises:
    ModuleError naming `path`: missing, not a SavedModel with a synthesis
    manifest, or without embed / decode / mean_image.
  """
  manifest = read_manifest(path)
  try:
    loaded = tf.saved_model.load(os.fspath(path))
  except Exception as e:  # TF raises many types for corrupt SavedModels.
    raise ModuleError(f"{path}: cannot load the SavedModel"
                      f" ({type(e).__name__}: {e})") from e
  missing = [name for name in ("embed", "decode", "mean_image")
             if not hasattr(loaded, name)]
  if missing:
    raise ModuleError(f"{path}: the SavedModel has no {', '.join(missing)}"
                      " (not written by tools/export_synthesis.py)")
  mean_image = loaded.mean_image.numpy()
  return SynthesisModule(
      path=os.fspath(path), manifest=manifest, mean_image=mean_image,
      image_size=int(mean_image.shape[0]),
      embedding_shape=tuple(manifest["decode"]["input"][1:]),
      _loaded=loaded)


def trained_steps(model_dir):
  """The step of the newest checkpoint of a training run (model_dir)."""
  checkpoint = checkpoints.latest_checkpoint(
      os.path.join(model_dir, "checkpoints"))
  if checkpoint is None:
    raise ValueError(f"{model_dir}/checkpoints: no checkpoint")
  return int(tf.train.load_checkpoint(checkpoint).get_tensor(
      "step/.ATTRIBUTES/VARIABLE_VALUE"))
