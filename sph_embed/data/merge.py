"""One dataset from several built ones, e.g. a teacher's synthetic + real data.

`merge` copies every example of every input split into new shards of
`output_dir`, relabelled by category name: the merged categories are the
first input's, then each further input's new ones, in order, so a category
shared by two inputs (a synthetic and a real `chair`) is one class.  The
inputs must agree on what an example is (image and sphere size, DOF); the
view settings that may differ (views per instance, anisotropic scale) are
kept per input in the metadata's `source`, and recorded at the top level
only when all inputs agree (None otherwise).

A merged dataset has no mesh source of its own: it trains and evaluates
from its shards (the teacher, the embedding network), but tools that
re-render a source's meshes (on-the-fly views, the report's alignment
figure) refuse it.  Written as tools/build_dataset.py writes a build: each
shard, then its record, then dataset.json last, every file atomically.
"""

import collections
import hashlib
import json
import os

import tensorflow as tf

from sph_embed.common import files
from sph_embed.common import outputs
from sph_embed.data import dataset
from sph_embed.data import input_pipeline
from sph_embed.data import sources

SOURCE_KIND = "merged"
# Keys every input must share: they define what an example is.
_SAME_KEYS = ("format_version", "image_size", "sphere_size", "dof")
# View settings kept per input, and at the top level when all agree.
_VIEW_KEYS = ("views_per_instance", "anisotropic_scale", "appearance", "seed")


class MergeError(ValueError):
  """The inputs cannot be merged; the message names the input."""


def merged_categories(metadatas):
  """Category names in label order: the first input's, then new ones."""
  categories = []
  for metadata in metadatas:
    categories += [c for c in metadata["categories"] if c not in categories]
  return categories


def _check_inputs(data_dirs, metadatas):
  if len(data_dirs) < 2:
    raise MergeError(f"give at least two datasets to merge, got {data_dirs}")
  if len({os.path.realpath(d) for d in data_dirs}) < len(data_dirs):
    raise MergeError(f"a dataset is given twice in {data_dirs}")
  for key in _SAME_KEYS:
    values = [m.get(key) for m in metadatas]
    if len(set(values)) > 1:
      listed = ", ".join(f"{d}: {v}" for d, v in zip(data_dirs, values))
      raise MergeError(f"the datasets differ in {key} ({listed}); only"
                       " datasets of the same examples can be merged")


def _relabelled(record, labels):
  """The serialized example `record` with the label of its category."""
  example = tf.train.Example.FromString(record)
  features = example.features.feature
  category = features["category"].bytes_list.value[0].decode("utf-8")
  features["label"].int64_list.value[:] = [labels[category]]
  return category, example.SerializeToString()


def _foreign_files(output_dir, fingerprint):
  """Dataset files in output_dir that are not this merge's shards."""
  foreign = []
  for name in sorted(os.listdir(output_dir)):
    if not dataset.is_dataset_file(name):
      continue
    record = name if name.endswith(".json") else name + ".json"
    if (name == dataset.METADATA_FILE or (dataset.read_record(
        os.path.join(output_dir, record)) or {}).get(
            "fingerprint") != fingerprint):
      foreign.append(name)
  return foreign


def _fingerprint(metadatas, categories):
  description = json.dumps({"inputs": [m["fingerprint"] for m in metadatas],
                            "categories": categories}, sort_keys=True)
  return hashlib.sha256(description.encode("utf-8")).hexdigest()


def _write_shard(path, records, fingerprint, instances):
  """Writes the shard's records, then its .json record (both atomically)."""
  counts = collections.Counter(category for category, _ in records)
  with files.atomic_path(path) as temp:
    with tf.io.TFRecordWriter(temp) as writer:
      for _, record in records:
        writer.write(record)
  files.write_json_atomic(path + ".json", {
      "fingerprint": fingerprint, "bytes": os.path.getsize(path),
      "examples": len(records), "examples_per_category": dict(counts),
      "instances": instances, "skipped": []})


def merge(data_dirs, output_dir, command_line="", overwrite=False):
  """Merges the datasets in `data_dirs` into `output_dir`; returns metadata.

  Each input shard becomes one output shard (`<split>-<i>-of-<n>`, inputs in
  the order given), so shard sizes and per-shard shuffling stay as built.

  Raises:
    MergeError naming the input that cannot be merged, or input_pipeline.
    DataError naming an unfinished or damaged input.
  """
  outputs.check_output_dir(output_dir, "output_dir")
  metadatas = [input_pipeline.read_metadata(d) for d in data_dirs]
  _check_inputs(data_dirs, metadatas)
  categories = merged_categories(metadatas)
  labels = {c: i for i, c in enumerate(categories)}
  fingerprint = _fingerprint(metadatas, categories)
  metadata_path = os.path.join(output_dir, dataset.METADATA_FILE)
  if os.path.isfile(metadata_path):
    try:
      previous = input_pipeline.read_metadata(output_dir)
    except input_pipeline.DataError:
      previous = {}  # Another build's: replaced only with overwrite.
    if previous.get("fingerprint") == fingerprint:
      return previous
  os.makedirs(output_dir, exist_ok=True)
  files.remove_temp_files(output_dir)  # Partial files of a killed merge.
  foreign = _foreign_files(output_dir, fingerprint)
  if foreign and not overwrite:
    raise MergeError(f"--output_dir={output_dir}: holds files of another"
                     f" dataset (e.g. {foreign[0]}); pass --overwrite to"
                     " replace them, or use a new directory")
  for name in foreign:
    os.remove(os.path.join(output_dir, name))

  splits = {}
  for split in sources.SPLITS:
    inputs = [(d, m, p) for d, m in zip(data_dirs, metadatas)
              if m["splits"].get(split, {}).get("examples")
              for p in input_pipeline.shard_paths(d, split, m)]
    if not inputs:
      continue
    info = splits[split] = {"shards": [], "examples": 0, "instances": 0,
                            "examples_per_category": collections.Counter()}
    for i, (data_dir, metadata, path) in enumerate(inputs):
      name = f"{split}-{i:05d}-of-{len(inputs):05d}.tfrecord"
      records = [_relabelled(r.numpy(), labels)
                 for r in tf.data.TFRecordDataset(path)]
      with open(path + ".json", encoding="utf-8") as f:
        instances = json.load(f)["instances"]
      _write_shard(os.path.join(output_dir, name), records, fingerprint,
                   instances)
      info["shards"].append(name)
      info["instances"] += instances
      info["examples_per_category"].update(c for c, _ in records)
    info["examples"] = sum(info["examples_per_category"].values())
    info["examples_per_category"] = dict(info["examples_per_category"])

  first = metadatas[0]
  metadata = {key: first[key] for key in _SAME_KEYS if key in first}
  metadata.update({
      "categories": categories,
      "splits": splits,
      "skipped": [s for m in metadatas for s in m.get("skipped", [])],
      "up_axis": "z",  # Every input's meshes were turned to +z up.
      "source": {"kind": SOURCE_KIND, "inputs": [
          {"data_dir": os.path.abspath(d),
           "fingerprint": m["fingerprint"], "source": m.get("source"),
           **{k: m.get(k) for k in _VIEW_KEYS + ("up_axis",)}}
          for d, m in zip(data_dirs, metadatas)]},
      "command_line": command_line,
      "fingerprint": fingerprint,
  })
  for key in _VIEW_KEYS:
    values = {json.dumps(m.get(key)) for m in metadatas}
    metadata[key] = first.get(key) if len(values) == 1 else None
  files.write_json_atomic(metadata_path, metadata)
  return metadata
