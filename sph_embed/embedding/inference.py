"""Runs a trained embedding network (and its teacher) over a dataset split.

`map_errors` summarises how close the predicted maps are to the targets.

`embed_split` returns, for every example of the split in the dataset's
fixed order, the predicted spherical maps of the view, the teacher's maps of
the same rotated mesh (the targets, for image-to-mesh alignment), the pose,
category, instance and optionally the view as uint8: the arrays of an
embeddings file (sph_embed.pose.embeddings_io, README "Embeddings file (.npz)").
"""

import numpy as np
import tensorflow as tf

from sph_embed.data import input_pipeline
from sph_embed.sphere import dh_grid


def check_compatible(spec, metadata, data_dir, target_shape, hub_module):
  """Raises ValueError if the model, dataset and teacher do not fit."""
  if metadata["image_size"] != spec["image_size"]:
    raise ValueError(
        f"{data_dir}/dataset.json: views are {metadata['image_size']} x"
        f" {metadata['image_size']}, the model takes {spec['image_size']} x"
        f" {spec['image_size']}")
  expected = (spec["target_size"], spec["target_size"], spec["channels"])
  if tuple(target_shape) != expected:
    raise ValueError(
        f"{hub_module}: teacher output {spec['output_key']!r} has shape"
        f" {list(target_shape)}, the model predicts {list(expected)}")


def embed_split(model, teacher, data_dir, split, batch_size,
                max_examples=None, with_images=True):
  """Embeddings and targets of a split.

  Args:
    model: the embedding network (image -> [T, T, C]).
    teacher: callable sphere map -> [T, T, C] (the teacher layer).
    data_dir: dataset directory.
    split: "train" or "test".
    batch_size: examples per forward pass.
    max_examples: stop after this many examples (None: all).
    with_images: also return the views as uint8 [N, h, w].

  Returns:
    dict with `embeddings`, `targets` float32 [N, T, T, C], `rotations`
    float32 [N, 3, 3], `category`, `instance` str [N] and `images` (uint8
    [N, h, w] or None).
  """

  @tf.function(reduce_retracing=True)
  def compute(images, spheres):
    return (model(images, training=False),
            teacher(spheres, training=False))

  dataset = input_pipeline.make_dataset(data_dir, split, batch_size,
                                    shuffle=False, deterministic=True)
  if max_examples:
    dataset = dataset.unbatch().take(max_examples).batch(batch_size)
  out = {k: [] for k in ("embeddings", "targets", "rotations", "category",
                         "instance", "images")}
  for batch in dataset:
    embeddings, targets = compute(batch["image"], batch["sphere"])
    out["embeddings"].append(embeddings.numpy())
    out["targets"].append(targets.numpy())
    out["rotations"].append(batch["rotation"].numpy())
    out["category"] += [c.decode("utf-8") for c in batch["category"].numpy()]
    out["instance"] += [i.decode("utf-8") for i in batch["instance"].numpy()]
    if with_images:
      out["images"].append(np.round(
          batch["image"].numpy()[..., 0] * 255.0).astype(np.uint8))
  if not out["embeddings"]:
    raise ValueError(f"{data_dir}: split {split!r} gave no examples")
  arrays = {k: np.concatenate(out[k]) for k in ("embeddings", "targets",
                                                "rotations")}
  arrays["category"] = np.array(out["category"])
  arrays["instance"] = np.array(out["instance"])
  arrays["images"] = np.concatenate(out["images"]) if with_images else None
  return arrays


def map_errors(embeddings, targets):
  """How well predicted maps match the teacher's, averaged over examples.

  Args:
    embeddings, targets: float [N, n, n, C] DH maps.

  Returns:
    dict: `relative_error`, the training metric mean(|p - t| / (|p| + |t| +
    1e-8)); `relative_l2`, |p - t| / |t| with the area-weighted L2 norm on
    the sphere; `relative_l2_mean_map`, the same for the constant
    prediction "mean target map of the split" (what a network that ignores
    its input can reach); `relative_l2_centered`, `relative_l2` after
    removing each map's per-channel mean (the pattern alone).
  """
  p = np.asarray(embeddings, np.float64)
  t = np.asarray(targets, np.float64)
  if p.shape != t.shape or p.ndim != 4:
    raise ValueError(f"map_errors: embeddings {p.shape} and targets"
                     f" {t.shape} must be equal [N, n, n, C] shapes")
  weights = dh_grid.area_weights(p.shape[1])[None, :, :, None]

  def norm(x):
    return np.sqrt(np.sum(weights * x ** 2, axis=(1, 2, 3)))

  def centered(x):
    return x - np.sum(weights * x, axis=(1, 2), keepdims=True)

  target_norm = np.maximum(norm(t), 1e-12)
  return {
      "relative_error": float(np.mean(
          np.abs(p - t) / (np.abs(p) + np.abs(t) + 1e-8))),
      "relative_l2": float(np.mean(norm(p - t) / target_norm)),
      "relative_l2_mean_map": float(np.mean(
          norm(t.mean(axis=0, keepdims=True) - t) / target_norm)),
      "relative_l2_centered": float(np.mean(
          norm(centered(p) - centered(t)) /
          np.maximum(norm(centered(t)), 1e-12))),
  }
