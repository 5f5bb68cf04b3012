"""Training views rendered in a fresh random pose for every example.

The paper drew a new pose for every training example; the dataset's fixed
views (16 per instance) let a network memorise them.  `FreshViews` renders
views of the train meshes in Haar-random 3DOF poses as training goes,
without the cost of the paper's pipeline per example: each worker process
loads and normalises every mesh once, and only renders (a few ms per 64 x
64 view; no ray casting).  The targets of those poses come from the
teacher's maps of each mesh in its canonical pose, rotated exactly in the
harmonic domain (sph_embed.embedding.rotated_targets), so the teacher does
not run either: it ran once per mesh, on `canonical_spheres`.

Batch s draws its instances and poses from (seed, s) alone, so a resumed run
sees the batches an uninterrupted one would.  Workers are started with
'spawn' and never import TensorFlow (sph_embed.data.render); they ignore
SIGINT, which the training loop handles.
"""

import collections
import multiprocessing
import signal

import numpy as np

from sph_embed.data import meshes
from sph_embed.data import raycast
from sph_embed.data import render
from sph_embed.sphere import rotations

_worker_meshes = None  # The normalised meshes, in each worker process.


def load_mesh(instance):
  """The instance's mesh, normalised (centred, in the unit ball).

  Raises:
    meshes.MeshError naming the instance when it cannot be loaded.
  """
  try:
    return meshes.normalize_mesh(instance.load())
  except meshes.MeshError as e:
    raise meshes.MeshError(f"{instance.describe()}: {e}") from None


def load_meshes(instances):
  """The instances' meshes (`load_mesh`), in order."""
  return [load_mesh(instance) for instance in instances]


def _canonical_sphere(task):
  instance, sphere_size = task
  return raycast.raycast(load_mesh(instance), sphere_size)


def canonical_spheres(instances, sphere_size, num_workers=None):
  """float32 [I, n, n]: the ray-cast map of each instance's mesh in its
  canonical pose.

  Made in 'spawn' worker processes, each holding one mesh at a time: every
  ray-cast mesh keeps an Embree scene, and a process holding those of
  thousands of meshes beside TensorFlow crashed (segmentation fault in
  Embree's scene set-up, 1,740 synthetic meshes).
  """
  context = multiprocessing.get_context("spawn")
  with context.Pool(num_workers, initializer=signal.signal,
                    initargs=(signal.SIGINT, signal.SIG_IGN)) as pool:
    return np.stack(pool.map(_canonical_sphere,
                             [(i, sphere_size) for i in instances],
                             chunksize=8))


def _start_worker(instances):
  signal.signal(signal.SIGINT, signal.SIG_IGN)
  global _worker_meshes
  _worker_meshes = load_meshes(instances)


def draw_batch(seed, step, batch_size, num_instances):
  """(instance indices [B], poses [B, 3, 3]) of batch `step`."""
  rng = np.random.default_rng([seed, step])
  indices = rng.integers(num_instances, size=batch_size)
  return indices, rotations.random_rotations(batch_size, 3, seed=rng)


def render_batch(mesh_list, indices, poses, image_size):
  """uint8 [B, S, S]: mesh_list[indices[k]] rendered in poses[k]."""
  return np.stack([render.render_view(mesh_list[i], pose, image_size)
                   for i, pose in zip(indices, poses)])


def _make_batch(task):
  seed, step, batch_size, image_size = task
  indices, poses = draw_batch(seed, step, batch_size, len(_worker_meshes))
  return {"image": render_batch(_worker_meshes, indices, poses, image_size),
          "index": indices.astype(np.int32),
          "rotation": poses.astype(np.float32)}


class FreshViews:
  """Endless batches {image uint8 [B, S, S], index int32 [B] (into the
  instance list), rotation float32 [B, 3, 3]} of fresh 3DOF views."""

  def __init__(self, instances, batch_size, image_size=64, seed=0,
               num_workers=1, prefetch_batches=8):
    if not instances:
      raise ValueError("FreshViews: no instances")
    if batch_size < 1 or num_workers < 1:
      raise ValueError(f"FreshViews: batch_size and num_workers must be >="
                       f" 1, got {batch_size} and {num_workers}")
    self._instances = list(instances)
    self.batch_size = int(batch_size)
    self.image_size = int(image_size)
    self._seed = int(seed)
    self._num_workers = int(num_workers)
    self._prefetch = max(1, int(prefetch_batches))

  def batches(self, start_step=0):
    """Generator of the batches of steps start_step, start_step + 1, ..."""
    context = multiprocessing.get_context("spawn")
    with context.Pool(self._num_workers, initializer=_start_worker,
                      initargs=(self._instances,)) as pool:
      pending = collections.deque()
      step = int(start_step)
      while True:
        while len(pending) < self._prefetch:
          task = (self._seed, step + len(pending), self.batch_size,
                  self.image_size)
          pending.append(pool.apply_async(_make_batch, (task,)))
        yield pending.popleft().get()
        step += 1
