"""The teacher's targets of a dataset split, computed once and cached.

A built dataset's ray-cast maps are fixed (input_pipeline does no
augmentation), so the teacher's map of each example is the same at every
epoch: computing it once takes the teacher's forward pass (~29 % of a `cpu`
preset step, BUILD_NOTES.md) out of the training step
(tools/train_embedding.py --precompute_targets; measured in BUILD_NOTES.md,
"The main job in 90 minutes").  A network with several heads gets all of
its targets from one teacher pass, in one record per example (a
TargetLayout: the heads' maps flattened and concatenated).  Per shard of
the split the cache holds

  <cache_dir>/<shard name>.<output_keys>.targets       TFRecord: one record
      per example, in the shard's order, the float32 maps as raw bytes
      (input_pipeline.make_dataset(targets=...) zips it with the shard)
  <cache_dir>/<shard name>.<output_keys>.targets.json  what it was made
      from: the teacher's digest, the shard's bytes and examples, the heads

and a shard's targets are reused only while that record matches; each file
is written to a temporary name and renamed.
"""

import dataclasses
import hashlib
import math
import os

import tensorflow as tf

from sph_embed.common import files
from sph_embed.data import example_schema
from sph_embed.data import input_pipeline


def teacher_digest(hub_module):
  """SHA-256 of the module's graph and variables (what its maps depend on)."""
  digest = hashlib.sha256()
  for root, _, names in sorted(os.walk(hub_module)):
    for name in sorted(names):
      if name == "saved_model.pb" or root.endswith("variables"):
        with open(os.path.join(root, name), "rb") as f:
          digest.update(f.read())
  return digest.hexdigest()


@dataclasses.dataclass(frozen=True)
class TargetLayout:
  """Where each head's maps lie in a flat target record.

  Attributes:
    heads: ((output_key, (T, T, C)), ...) in record order.
  """
  heads: tuple

  @property
  def keys(self):
    return tuple(key for key, _ in self.heads)

  @property
  def sizes(self):
    return [math.prod(shape) for _, shape in self.heads]

  @property
  def size(self):
    """Floats per example."""
    return sum(self.sizes)

  def flatten(self, maps):
    """{key: [B, T, T, C]} -> [B, size]."""
    return tf.concat([tf.reshape(maps[key], [-1, size])
                      for key, size in zip(self.keys, self.sizes)], axis=1)

  def split(self, flat):
    """[B, size] -> {key: [B, T, T, C]}."""
    return {key: tf.reshape(part, [-1] + list(shape))
            for (key, shape), part in zip(
                self.heads, tf.split(flat, self.sizes, axis=1))}


def _record_of(shard, examples, digest, layout):
  return {"shard": os.path.basename(shard),
          "shard_bytes": os.path.getsize(shard), "examples": examples,
          "teacher_sha256": digest, "output_key": ",".join(layout.keys),
          "shape": [list(shape) for _, shape in layout.heads]}


def _cache_record(path):
  """The cache record at `path`; None when missing or unreadable (remake)."""
  try:
    return files.read_json_object(path)
  except ValueError:
    return None


def cached_targets(data_dir, split, teacher, hub_module, layout, cache_dir,
                   batch_size=64):
  """Paths of the split's target files, one per shard, made where missing.

  Args:
    data_dir: dataset directory (tools/build_dataset.py).
    split: "train" or "test".
    teacher: spheres -> {key: maps} (embedding.training.load_teacher_maps).
    hub_module: its module directory (the cache key's digest).
    layout: TargetLayout of the records (the teacher outputs, in order).
    cache_dir: where the files are (created if needed).
    batch_size: examples per teacher call.

  Returns:
    list of paths, parallel to input_pipeline.shard_paths(data_dir, split).
  """
  metadata = input_pipeline.read_metadata(data_dir)
  shards = input_pipeline.shard_paths(data_dir, split, metadata)
  os.makedirs(cache_dir, exist_ok=True)
  digest = teacher_digest(hub_module)
  compute = tf.function(lambda spheres: layout.flatten(teacher(spheres)),
                        reduce_retracing=True)
  paths = []
  for shard in shards:
    path = os.path.join(
        cache_dir,
        f"{os.path.basename(shard)}.{'+'.join(layout.keys)}.targets")
    examples = sum(files.read_json_object(
        shard + ".json", input_pipeline.DataError)
                   ["examples_per_category"].values())
    record = _record_of(shard, examples, digest, layout)
    if _cache_record(path + ".json") != record or not os.path.isfile(path):
      batches = tf.data.TFRecordDataset(shard).batch(batch_size).map(
          lambda s: example_schema.decode_batch(
              s, metadata["image_size"], metadata["sphere_size"]))
      written = 0
      with files.atomic_path(path) as temporary:
        with tf.io.TFRecordWriter(temporary) as writer:
          for batch in batches:
            for target in compute(batch["sphere"]).numpy():
              writer.write(target.astype("float32").tobytes())
              written += 1
        if written != examples:
          raise input_pipeline.DataError(
              f"{shard}: {written} examples, but its record says"
              f" {examples}")
      files.write_json_atomic(path + ".json", record)
    paths.append(path)
  return paths
