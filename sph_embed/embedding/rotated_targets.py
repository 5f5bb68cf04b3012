"""The teacher's maps of a mesh in any pose, from its canonical-pose maps.

The teacher is SO(3)-equivariant: its maps of the mesh rotated by R are
(up to its pooling and nonlinearities on the grid) its maps of the mesh,
rotated: teacher(sph(R mesh)) ~ Lambda_R teacher(sph(mesh)).  So the
targets of fresh training poses (sph_embed.data.fresh_views) need the
teacher once per mesh, not once per example: each head's canonical maps are
expanded in spherical harmonics up to the grid's degree (T/2 - 1) once, and
a pose's targets are D(R) applied per degree (`sht_numpy.wigner_matrices`,
exact) and transformed back (`sht_tf`).  What this leaves out is the maps'
content above that degree, which the grid cannot rotate exactly, and the
teacher's own departure from equivariance; both are measured against the
teacher run on the rotated mesh (tests/embedding/rotated_targets_test.py,
BUILD_NOTES 'Time to accuracy').
"""

import numpy as np
import tensorflow as tf

from sph_embed.sphere import sht_numpy
from sph_embed.sphere import sht_tf


def canonical_maps(spheres, teacher, batch_size=64):
  """{key: float32 [I, T, T, C]}: the teacher's maps of ray-cast maps
  `spheres` [I, n, n] (data.fresh_views.canonical_spheres: each mesh in
  its canonical pose).  `teacher`: spheres -> {key: maps}."""
  compute = tf.function(teacher, reduce_retracing=True)
  parts = {}
  for start in range(0, len(spheres), batch_size):
    batch = np.asarray(spheres[start:start + batch_size])[..., None]
    for key, value in compute(tf.constant(batch, tf.float32)).items():
      parts.setdefault(key, []).append(value.numpy())
  return {key: np.concatenate(values) for key, values in parts.items()}


class RotatedTargets:
  """Targets of poses of the canonical maps' meshes, in a TargetLayout."""

  def __init__(self, maps, layout):
    """`maps`: canonical_maps' {key: [I, T, T, C]}; `layout`: the
    embedding.targets.TargetLayout of the heads learned."""
    self._layout = layout
    self._degrees = {}
    self._coefficients = {}
    for key, shape in layout.heads:
      lmax = sht_numpy.max_degree(shape[0])
      self._degrees[key] = lmax
      self._coefficients[key] = tf.constant(
          sht_tf.forward(tf.constant(maps[key], tf.float32), lmax))

  def wigner(self, poses):
    """{key: float32 [B, L+1, 2L+1, 2L+1]}: each head's real Wigner
    matrices of `poses` [B, 3, 3] (NumPy; the data pipeline's part)."""
    return {key: sht_numpy.wigner_matrices(poses, lmax).astype(np.float32)
            for key, lmax in self._degrees.items()}

  def __call__(self, indices, wigner):
    """Flat targets [B, layout.size] of the meshes `indices` [B] in the
    poses whose Wigner matrices are `wigner` (from `wigner`)."""
    maps = {}
    for key, shape in self._layout.heads:
      coefficients = tf.gather(self._coefficients[key], indices)
      rotated = tf.einsum("blmk,bklc->bmlc", wigner[key], coefficients)
      maps[key] = sht_tf.inverse(rotated, shape[0])
    return self._layout.flatten(maps)


def fresh_view_dataset_fn(views, targets, layout):
  """start_step -> tf.data batches {image [B, S, S, 1] in [0, 1], targets
  [B, layout.size]} of `views` (data.fresh_views.FreshViews), their
  targets made by `targets` (RotatedTargets) in the pipeline."""
  # Static shapes: the decoder's spherical padding needs them.
  batch, size = views.batch_size, views.image_size
  probe = targets.wigner(np.eye(3)[None])
  signature = {
      "image": tf.TensorSpec((batch, size, size), tf.uint8),
      "index": tf.TensorSpec((batch,), tf.int32),
      "wigner": {key: tf.TensorSpec((batch,) + value.shape[1:], tf.float32)
                 for key, value in probe.items()}}

  def dataset_fn(start_step):
    def generate():
      for batch in views.batches(start_step):
        yield {"image": batch["image"], "index": batch["index"],
               "wigner": targets.wigner(batch["rotation"])}

    def to_training_batch(batch):
      return {"image": tf.cast(batch["image"][..., None], tf.float32) / 255.0,
              "targets": targets(batch["index"], batch["wigner"])}

    return tf.data.Dataset.from_generator(
        generate, output_signature=signature).map(
            to_training_batch, num_parallel_calls=2).prefetch(2)

  return dataset_fn
