"""The teacher's targets of a dataset split, computed once and cached.

A built dataset's ray-cast maps are fixed (input_pipeline does no
augmentation), so the teacher's map of each example is the same at every
epoch: computing it once takes the teacher's forward pass (~29 % of a `cpu`
preset step, BUILD_NOTES.md) out of the training step.  Per shard of the
split the cache holds

  <cache_dir>/<shard name>.<output_key>.targets       TFRecord: one record
      per example, in the shard's order, the float32 [T, T, C] map as raw
      bytes (input_pipeline.make_dataset(targets=...) zips it with the shard)
  <cache_dir>/<shard name>.<output_key>.targets.json  what it was made from:
      the teacher's digest, the shard's bytes and examples, the map shape

and a shard's targets are reused only while that record matches; each file
is written to a temporary name and renamed.
"""

import hashlib
import json
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


def _record_of(shard, examples, digest, output_key, shape):
  return {"shard": os.path.basename(shard),
          "shard_bytes": os.path.getsize(shard), "examples": examples,
          "teacher_sha256": digest, "output_key": output_key,
          "shape": list(shape)}


def _read_json(path):
  try:
    with open(path, encoding="utf-8") as f:
      return json.load(f)
  except (OSError, ValueError):
    return None


def cached_targets(data_dir, split, teacher, hub_module, output_key,
                   target_shape, cache_dir, batch_size=64):
  """Paths of the split's target files, one per shard, made where missing.

  Args:
    data_dir: dataset directory (tools/build_dataset.py).
    split: "train" or "test".
    teacher: the teacher layer (embedding.training.load_teacher).
    hub_module: its module directory (the cache key's digest).
    output_key: the teacher output `teacher` computes.
    target_shape: its map shape (T, T, C).
    cache_dir: where the files are (created if needed).
    batch_size: examples per teacher call.

  Returns:
    list of paths, parallel to input_pipeline.shard_paths(data_dir, split).
  """
  metadata = input_pipeline.read_metadata(data_dir)
  shards = input_pipeline.shard_paths(data_dir, split, metadata)
  os.makedirs(cache_dir, exist_ok=True)
  digest = teacher_digest(hub_module)
  compute = tf.function(lambda spheres: teacher(spheres, training=False),
                        reduce_retracing=True)
  paths = []
  for shard in shards:
    path = os.path.join(cache_dir,
                        f"{os.path.basename(shard)}.{output_key}.targets")
    examples = sum(_read_json(shard + ".json")
                   ["examples_per_category"].values())
    record = _record_of(shard, examples, digest, output_key, target_shape)
    if _read_json(path + ".json") != record or not os.path.isfile(path):
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
