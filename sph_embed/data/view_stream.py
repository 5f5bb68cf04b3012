"""Training views made on the fly: a fresh pose and mesh scaling every time.

The original rendered each training example anew: a random pose, a random
anisotropic scaling of the mesh (the paper's augmentation), the view and
the ray-cast map of the rotated mesh.  `ViewStream` does the same for a
list of instances: every example of batch s draws an instance and a view
seed from (seed, s) alone, so a resumed run sees the same batches as an
uninterrupted one.  Examples are made by `views.make_examples_or_error` in
worker processes started with 'spawn' (they never import TensorFlow, so
rendering is safe there, see sph_embed.data.render), a few batches ahead.

An instance that cannot be made (bad mesh, empty view) is replaced by
another draw, with a warning naming it.
"""

import collections
import dataclasses
import multiprocessing
import signal

from absl import logging
import numpy as np
import tensorflow as tf

from sph_embed.data import sources
from sph_embed.data import views

# Replacement draws tried for one example before giving up.
_MAX_ATTEMPTS = 20


class StreamError(RuntimeError):
  """No usable example could be made."""


def instances_from_metadata(metadata, split="train"):
  """The `split` instances of the source a dataset was built from.

  Args:
    metadata: a dataset.json dict (sph_embed.data.input_pipeline.read_metadata).
    split: "train" or "test".

  Returns:
    (categories, instances): the dataset's categories (label order) and the
    source's instances of that split, with the dataset's up axis.
  """
  source = metadata.get("source") or {}
  kind = source.get("kind")
  categories = metadata["categories"]
  # Datasets built before the up axis was recorded loaded every mesh as is.
  up_axis = metadata.get("up_axis", "z")
  if kind == "synthetic":
    _, instances = sources.synthetic_instances(
        categories, source["train_instances"], source["test_instances"],
        up_axis)
  elif kind == "modelnet":
    _, instances = sources.modelnet_instances(source["input"], categories,
                                              up_axis)
  elif kind == "shapenet":
    _, instances = sources.shapenet_instances(
        source["input"], categories, source["test_fraction"], up_axis)
  elif kind == "list":
    _, instances = sources.list_instances(source["input"], categories,
                                          source["test_fraction"], up_axis)
  else:
    raise sources.SourceError(f"dataset source {source!r}: unknown kind,"
                              " cannot make views on the fly")
  if source.get("validation_instances"):
    instances = sources.carve_validation(instances,
                                         source["validation_instances"])
  instances = [i for i in instances if i.split == split]
  if not instances:
    raise sources.SourceError(f"dataset source {source!r}: no {split}"
                              " instances")
  return categories, instances


class ViewStream:
  """Batches of freshly made examples (see the module docstring)."""

  def __init__(self, instances, categories, config, batch_size, seed=0,
               num_workers=None, prefetch_batches=4):
    """Args.

    Args:
      instances: sources.Instance list to draw from.
      categories: category names in label order.
      config: views.ViewConfig (dof, anisotropic_scale, sizes); its
        views_per_instance and seed are not used.
      batch_size: examples per batch.
      seed: stream seed.
      num_workers: worker processes (default: one per core), >= 1.
      prefetch_batches: batches being made ahead of the consumer.
    """
    if not instances:
      raise ValueError("ViewStream: no instances")
    if batch_size < 1:
      raise ValueError(f"ViewStream: batch_size must be >= 1, got"
                       f" {batch_size}")
    labels = {c: i for i, c in enumerate(categories)}
    unknown = sorted({i.category for i in instances} - set(labels))
    if unknown:
      raise ValueError(f"ViewStream: instances of categories {unknown} not"
                       f" in {categories}")
    self._instances = list(instances)
    self._labels = labels
    self._config = config
    self._batch_size = int(batch_size)
    self._seed = int(seed)
    self._num_workers = num_workers or multiprocessing.cpu_count()
    self._prefetch = max(1, int(prefetch_batches))

  def _task(self, step, slot, attempt):
    rng = np.random.default_rng([self._seed, step, slot, attempt])
    instance = self._instances[rng.integers(len(self._instances))]
    config = dataclasses.replace(self._config, views_per_instance=1,
                                 seed=int(rng.integers(2**62)))
    return instance, config

  def _submit(self, pool, step):
    """Starts the examples of batch `step`: [(task, AsyncResult)]."""
    tasks = [self._task(step, slot, 0) for slot in range(self._batch_size)]
    return [(task, pool.apply_async(views.make_examples_or_error, (task,)))
            for task in tasks]

  def _collect(self, pool, step, pending):
    """Waits for batch `step`, replacing failed examples by new draws."""
    examples = []
    for slot, (task, result) in enumerate(pending):
      made, error = result.get()
      attempt = 0
      while error is not None:
        logging.warning("on-the-fly views: skipped %s", error)
        attempt += 1
        if attempt >= _MAX_ATTEMPTS:
          raise StreamError(f"no usable example after {attempt} draws at"
                            f" step {step}; last: {error}")
        task = self._task(step, slot, attempt)
        made, error = pool.apply(views.make_examples_or_error, (task,))
      examples.append((task[0], made))
    return self._batch(examples)

  def _batch(self, examples):
    dof = self._config.dof
    return {
        "image": np.stack([m["image"][0] for _, m in examples]
                          )[..., None].astype(np.float32) / 255.0,
        "sphere": np.stack([m["sphere"][0] for _, m in examples]
                           )[..., None].astype(np.float32),
        "rotation": np.stack([m["rotation"][0] for _, m in examples]),
        "label": np.array([self._labels[i.category] for i, _ in examples],
                          np.int32),
        "category": np.array([i.category for i, _ in examples], object),
        "instance": np.array([i.name for i, _ in examples], object),
        "dof": np.full(len(examples), dof, np.int32),
    }

  def batches(self, start_step=0):
    """Generator of numpy batches for steps start_step, start_step + 1, ..."""
    context = multiprocessing.get_context("spawn")
    # Ctrl-C signals the whole process group: the workers ignore it, so that
    # only this process handles it (the training loop saves and exits, which
    # terminates the pool) instead of every worker printing a traceback.
    with context.Pool(self._num_workers, initializer=signal.signal,
                      initargs=(signal.SIGINT, signal.SIG_IGN)) as pool:
      queue = collections.deque()
      step = int(start_step)
      while True:
        while len(queue) < self._prefetch:
          queue.append(self._submit(pool, step + len(queue)))
        yield self._collect(pool, step, queue.popleft())
        step += 1

  def dataset(self, start_step=0):
    """tf.data.Dataset of the batches from `start_step` on (endless).

    Elements are dicts as sph_embed.data.input_pipeline.make_dataset's.
    """
    image, grid, batch = (self._config.image_size, self._config.sphere_size,
                          self._batch_size)
    signature = {
        "image": tf.TensorSpec((batch, image, image, 1), tf.float32),
        "sphere": tf.TensorSpec((batch, grid, grid, 1), tf.float32),
        "rotation": tf.TensorSpec((batch, 3, 3), tf.float32),
        "label": tf.TensorSpec((batch,), tf.int32),
        "category": tf.TensorSpec((batch,), tf.string),
        "instance": tf.TensorSpec((batch,), tf.string),
        "dof": tf.TensorSpec((batch,), tf.int32),
    }
    return tf.data.Dataset.from_generator(
        lambda: self.batches(start_step), output_signature=signature)
