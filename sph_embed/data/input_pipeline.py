"""tf.data input pipeline over datasets built by sph_embed.data.dataset.

  metadata = data_input.read_metadata(data_dir)
  for batch in data_input.make_dataset(data_dir, "train", 16):
    batch["image"]   # float32 [B, 64, 64, 1] in [0, 1]
    batch["sphere"]  # float32 [B, n, n, 1]
    batch["rotation"], batch["label"], batch["category"], ...

Shards are read in parallel and interleaved, examples shuffled, batched,
decoded (in parallel, checked against the schema of
sph_embed.data.example_schema) and prefetched.  Only the shards listed in
dataset.json are read: a build in progress has none, and its partial files
are never read.
"""

import contextlib
import json
import os
import re

import tensorflow as tf

from sph_embed.data import example_schema

_METADATA_KEYS = ("categories", "splits", "image_size", "sphere_size")
# Shards read at once: enough to mix categories and overlap I/O.
_CYCLE_LENGTH = 8


class DataError(ValueError):
  """A dataset directory or split is missing, incomplete or malformed."""


def read_metadata(data_dir):
  """The dataset.json of a finished build, as a dict.

  Raises:
    DataError: no (or an unreadable, or a different-version) dataset.json.
  """
  path = os.path.join(data_dir, example_schema.METADATA_FILE)
  if not os.path.isfile(path):
    raise DataError(f"{path}: not found; {data_dir} is not a finished dataset"
                    " (build one with tools/build_dataset.py)")
  try:
    with open(path, encoding="utf-8") as f:
      metadata = json.load(f)
  except (OSError, ValueError) as e:
    raise DataError(f"{path}: cannot read dataset metadata ({e})") from e
  version = metadata.get("format_version")
  if version != example_schema.FORMAT_VERSION:
    raise DataError(f"{path}: format version {version}, this code reads"
                    f" version {example_schema.FORMAT_VERSION}")
  missing = [k for k in _METADATA_KEYS if k not in metadata]
  if missing:
    raise DataError(f"{path}: missing keys {missing}")
  return metadata


def shard_problem(path, record):
  """Why the shard `path` does not match its record (None: it matches).

  The builder records each shard's size in bytes (a cheap check that
  catches a truncated or damaged file) and its example count; records of
  older builds, without the size, are checked by counting the examples.
  """
  try:
    size = os.path.getsize(path)
  except OSError as e:
    return f"cannot read it ({e.strerror})"
  if "bytes" in record:
    if size != record["bytes"]:
      return (f"{size} bytes, but its record says {record['bytes']}"
              " (truncated or damaged)")
    return None
  expected = sum(record.get("examples_per_category", {}).values())
  count, problem = _read_through(path)
  if problem or count == expected:
    return problem
  return f"{count} examples, but its record says {expected} (truncated)"


def _read_through(path):
  """(records in the shard, None), or (None, why it cannot be read).

  Every record's checksums are checked on the way.
  """
  try:
    return int(tf.data.TFRecordDataset(path).reduce(
        tf.constant(0, tf.int64), lambda n, _: n + 1)), None
  except tf.errors.OpError as e:
    # The message's first line without TF's "{{function_node ...}}" and
    # "[Op:...]" decorations: e.g. "corrupted record at 2240".
    text = re.sub(r"\{\{.*?\}\}\s*|\s*\[Op:.*", "",
                  e.message.splitlines()[0])
    return None, f"unreadable ({type(e).__name__}: {text})"


def _damaged_shard_error(data_dir):
  """DataError naming the first shard of `data_dir` that cannot be read
  through, or None (every shard reads)."""
  metadata = read_metadata(data_dir)
  for info in metadata["splits"].values():
    for name in info["shards"]:
      path = os.path.join(data_dir, name)
      _, problem = _read_through(path)
      if problem:
        return DataError(f"{path}: {problem}; delete it and rerun"
                         " tools/build_dataset.py with the same flags to"
                         " rebuild it")
  return None


@contextlib.contextmanager
def naming_damaged_shards(data_dir):
  """Turns a DataLossError raised while reading `data_dir` into a DataError
  naming the damaged shard.

  A byte changed inside a shard keeps its size, which `shard_paths` checks;
  TensorFlow then finds a bad checksum mid-read, without naming the file
  (and a resumed build keeps the shard, hence "delete it").  A DataLossError
  of another file (e.g. a checkpoint) passes unchanged.
  """
  try:
    yield
  except tf.errors.DataLossError:
    error = _damaged_shard_error(data_dir)
    if error is None:
      raise
    raise error from None


def shard_paths(data_dir, split, metadata=None):
  """Paths of the shards of `split`, checked against their records.

  Raises:
    DataError naming the first missing, truncated or damaged shard.
  """
  metadata = metadata or read_metadata(data_dir)
  info = metadata["splits"].get(split)
  if not info or not info["examples"]:
    counts = {s: i["examples"] for s, i in metadata["splits"].items()}
    raise DataError(f"{data_dir}: split {split!r} has no examples (examples"
                    f" per split: {counts})")
  paths = [os.path.join(data_dir, name) for name in info["shards"]]
  missing = [p for p in paths if not os.path.isfile(p)]
  if missing:
    raise DataError(f"{data_dir}: {len(missing)} shards listed in"
                    f" {example_schema.METADATA_FILE} are missing, e.g."
                    f" {missing[0]}")
  for path in paths:
    try:
      with open(path + ".json", encoding="utf-8") as f:
        record = json.load(f)
    except (OSError, ValueError) as e:
      raise DataError(f"{path}.json: cannot read the shard's record ({e});"
                      " rerun tools/build_dataset.py with the same flags to"
                      " rebuild it") from None
    problem = shard_problem(path, record)
    if problem:
      raise DataError(f"{path}: {problem}; rerun tools/build_dataset.py with"
                      " the same flags to rebuild it")
  return paths


def training_batches(data_dir, batch_size, seed, start_step=0, targets=None,
                     targets_shape=None):
  """The train split's batches from `start_step` on, for a resumable run.

  Seeded, deterministic, repeated and with full batches: tf.data's seeded
  shuffle draws the same sequence of epoch orders every time, so skipping
  `start_step` batches gives exactly the batches an uninterrupted run would
  see next.  `targets`, `targets_shape`: as for make_dataset.
  """
  return make_dataset(data_dir, "train", batch_size, shuffle=True,
                      deterministic=True, repeat=True, seed=seed,
                      drop_remainder=True, skip_batches=start_step,
                      targets=targets, targets_shape=targets_shape)


def make_dataset(data_dir, split, batch_size, shuffle=True,
                 deterministic=False, repeat=False, seed=None,
                 shuffle_buffer=2048, drop_remainder=False, skip_batches=0,
                 targets=None, targets_shape=None):
  """Batched examples of one split (see the module docstring).

  Args:
    data_dir: directory written by tools/build_dataset.py.
    split: "train" or "test".
    batch_size: examples per batch.
    shuffle: shuffle shard order and examples.
    deterministic: keep a fixed element order despite parallel reads and
      decoding; with shuffle, also pass a seed for a reproducible order.
    repeat: repeat forever (reshuffling every epoch).
    seed: shuffle seed.
    shuffle_buffer: examples in the shuffle buffer.
    drop_remainder: drop a last, smaller batch (static batch size).
    skip_batches: leave out this many first batches, skipped as serialized
      records before decoding (a late resume reads but never decodes them).
    targets: optional per-shard files of precomputed teacher targets,
      parallel to the split's shards (sph_embed.embedding.targets); each
      example is read with its own target, in the same order as without.
    targets_shape: the targets' map shape (T, T, C).

  Returns:
    tf.data.Dataset of dicts: `image` float32 [B, S, S, 1] in [0, 1],
    `sphere` float32 [B, n, n, 1], `rotation` float32 [B, 3, 3], `label`
    int32 [B] (index into the metadata's `categories`), `category` and
    `instance` string [B], `dof` int32 [B]; with `targets` also `targets`
    float32 [B, T, T, C].
  """
  if batch_size < 1:
    raise ValueError(f"batch_size must be >= 1, got {batch_size}")
  metadata = read_metadata(data_dir)
  paths = shard_paths(data_dir, split, metadata)
  image_size, sphere_size = metadata["image_size"], metadata["sphere_size"]
  if targets is not None and len(targets) != len(paths):
    raise ValueError(f"{len(targets)} target files for the {len(paths)}"
                     f" shards of {data_dir} split {split!r}")
  # Targets ride along with their shard's records, so the shuffles (seeded
  # by position, not by content) give the same order as without them.
  files = tf.data.Dataset.from_tensor_slices(
      paths if targets is None else (paths, list(targets)))
  if shuffle:
    files = files.shuffle(len(paths), seed=seed)
  read = (tf.data.TFRecordDataset if targets is None else
          lambda path, target_path: tf.data.Dataset.zip(
              (tf.data.TFRecordDataset(path),
               tf.data.TFRecordDataset(target_path))))
  examples = files.interleave(
      read, cycle_length=min(len(paths), _CYCLE_LENGTH),
      num_parallel_calls=tf.data.AUTOTUNE, deterministic=deterministic)
  if shuffle:
    examples = examples.shuffle(shuffle_buffer, seed=seed)
  if repeat:
    examples = examples.repeat()
  batches = examples.batch(batch_size, drop_remainder=drop_remainder)

  def decode(serialized, serialized_targets=None):
    batch = example_schema.decode_batch(serialized, image_size, sphere_size)
    if serialized_targets is not None:
      batch["targets"] = tf.reshape(
          tf.io.decode_raw(serialized_targets, tf.float32),
          [-1] + list(targets_shape))
    return batch

  batches = batches.skip(skip_batches).map(
      decode, num_parallel_calls=tf.data.AUTOTUNE,
      deterministic=deterministic)
  return batches.prefetch(tf.data.AUTOTUNE)
