"""How far rotated canonical targets are from the teacher's, and their cost.

For synthetic meshes in Haar-random poses: the relative L2 error of
views='fresh' targets (the teacher's maps of the canonical pose rotated in
the harmonic domain, sph_embed.embedding.rotated_targets) against the
teacher run on the ray-cast map of the rotated mesh, per head, beside the
error of the truth's own band-limit (what a grid of that size cannot
rotate), of the same mesh half-turned and of the mean map; and the time per
example of each way of making targets.

  python3 benchmarks/rotated_targets_bench.py \
      [--hub_module=hub_modules/teacher_synthetic] [--instances=4]
"""

import time

from absl import app
from absl import flags
import numpy as np
import tensorflow as tf

from sph_embed.common import cli
from sph_embed.data import fresh_views
from sph_embed.data import raycast
from sph_embed.data import sources
from sph_embed.data import synthetic
from sph_embed.embedding import rotated_targets
from sph_embed.embedding import targets as targets_lib
from sph_embed.embedding import training as embedding_training
from sph_embed.sphere import rotations
from sph_embed.sphere import sht_numpy

_HUB_MODULE = flags.DEFINE_string("hub_module",
                                  "hub_modules/teacher_synthetic",
                                  "Teacher module.")
_INSTANCES = flags.DEFINE_integer("instances", 4,
                                  "Synthetic instances per category.",
                                  lower_bound=1)
_SEED = flags.DEFINE_integer("seed", 0, "Seed of the poses.")


def relative_errors(maps, reference):
  """Per example |maps - reference| / |reference| (L2 over the map)."""
  maps, reference = np.asarray(maps), np.asarray(reference)
  flat = lambda a: a.reshape(len(a), -1)
  return (np.linalg.norm(flat(maps - reference), axis=1) /
          np.linalg.norm(flat(reference), axis=1))


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  _, instances = sources.synthetic_instances(synthetic.POSE_CATEGORIES,
                                             _INSTANCES.value, 0)
  meshes = fresh_views.load_meshes(instances)
  keys = ("pose", "synthesis")
  teacher, shapes = embedding_training.load_teacher_maps(_HUB_MODULE.value,
                                                         keys)
  layout = targets_lib.TargetLayout(tuple((k, shapes[k]) for k in keys))
  targets = rotated_targets.RotatedTargets(
      rotated_targets.canonical_maps(
          np.stack([raycast.raycast(m, 64) for m in meshes]), teacher), layout)
  poses = rotations.random_rotations(len(meshes), 3, seed=_SEED.value)
  indices = np.arange(len(meshes))
  rotate = tf.function(targets.__call__)
  rotated = layout.split(rotate(indices, targets.wigner(poses)))
  start = time.perf_counter()
  rotated = layout.split(rotate(indices, targets.wigner(poses)))
  rotate_seconds = (time.perf_counter() - start) / len(meshes)
  half_turns = np.stack([p @ rotations.matrix_from_zyz(0.0, np.pi, 0.0)
                         for p in poses])
  half_turned = layout.split(targets(indices, targets.wigner(half_turns)))
  compute = tf.function(teacher)
  spheres = np.stack([raycast.raycast(m, 64, p)
                      for m, p in zip(meshes, poses)])[..., None]
  compute(tf.constant(spheres, tf.float32))
  start = time.perf_counter()
  spheres = np.stack([raycast.raycast(m, 64, p)
                      for m, p in zip(meshes, poses)])[..., None]
  truth = compute(tf.constant(spheres, tf.float32))
  teacher_seconds = (time.perf_counter() - start) / len(meshes)
  print(f"{len(meshes)} synthetic meshes ({_INSTANCES.value} per category),"
        " Haar-random poses; relative L2 error against the teacher's maps"
        " of the rotated mesh, mean (max):")
  print("| head | rotated canonical | band-limit of the truth |"
        " half-turned | mean map |")
  print("| --- | --- | --- | --- | --- |")
  for key in keys:
    truth_maps = truth[key].numpy()
    band = sht_numpy.rotate_maps(truth_maps, np.eye(3), channels_last=True)
    mean = np.broadcast_to(truth_maps.mean(0), truth_maps.shape)
    cells = [relative_errors(maps, truth_maps) for maps in
             (rotated[key], band, half_turned[key], mean)]
    print(f"| {key} {list(shapes[key])} | " + " | ".join(
        f"{c.mean():.3f} ({c.max():.3f})" for c in cells) + " |")
  print(f"time per example: rotated targets {1e3 * rotate_seconds:.2f} ms,"
        f" ray cast + teacher {1e3 * teacher_seconds:.2f} ms")


if __name__ == "__main__":
  cli.run(main)
