"""Builds sharded TFRecord datasets of (view, ray-cast map, pose) examples.

Files in the output directory:
  <split>-<i>-of-<n>.tfrecord       one shard of tf.train.Examples
                                    (e.g. train-00003-of-00008.tfrecord)
  <split>-<i>-of-<n>.tfrecord.json  record of a finished shard: build
                                    fingerprint, size in bytes, example
                                    counts, skipped files, stamp (sizes and
                                    times) of its mesh files
  dataset.json                      metadata (see `build`), written last
  .<name>.tmp-<random>              partial file of a killed build

Each shard is written to a temporary file (sph_embed.common.files), its
record is written, and only then is the shard renamed into place; a rerun
skips shards that are in place with a record of the same build and deletes
temporary leftovers, so an interrupted build resumes and readers never see
a truncated shard.  A shard whose size differs from its record (truncated,
damaged) or whose mesh files changed since is rebuilt.  Instances (all views
of one instance stay in one shard) are shuffled before sharding so that every
shard mixes categories.

The features of an example are described in sph_embed.data.example_schema.

Views and ray-cast maps are made in worker processes started with the
'spawn' method: they never inherit this (TensorFlow-importing) process, so
rendering is safe there (see sph_embed.data.render).
"""

import collections
import contextlib
import dataclasses
import hashlib
import json
import math
import multiprocessing
import os
import re

from absl import logging
import numpy as np
import tensorflow as tf
import tqdm

from sph_embed.common import files
from sph_embed.common import outputs
from sph_embed.data import example_schema
from sph_embed.data import input_pipeline
from sph_embed.data import sources
from sph_embed.data import views

METADATA_FILE = example_schema.METADATA_FILE
_SHARD_PATTERN = re.compile(
    r"(train|test)-\d{5}-of-\d{5}\.tfrecord(\.json)?")
_RECORD_SUFFIX = ".json"


class BuildError(RuntimeError):
  """The dataset cannot be built (empty source, conflicting output)."""


@dataclasses.dataclass(frozen=True)
class _Shard:
  split: str
  index: int
  count: int
  instances: tuple

  @property
  def name(self):
    return f"{self.split}-{self.index:05d}-of-{self.count:05d}.tfrecord"


def _read_json(path):
  with open(path, encoding="utf-8") as f:
    return json.load(f)


def is_dataset_file(name):
  """Whether `name` is a shard, a shard's record or the metadata file."""
  return bool(_SHARD_PATTERN.fullmatch(name)) or name == METADATA_FILE


def read_record(path):
  """A shard's record, or None when it is missing or unreadable."""
  try:
    record = _read_json(path)
  except (OSError, ValueError):
    return None
  return record if isinstance(record, dict) else None


def _sources_stamp(instances):
  """Size and modification time of the instances' mesh files (None: none).

  Stored in each shard's record: a mesh file fixed (or replaced) after a
  build changes it, so the shard holding that mesh is rebuilt, and its
  record of skipped files with it.
  """
  stats = []
  for instance in instances:
    if instance.path is None:
      continue
    try:
      stat = os.stat(instance.path)
      stats.append([instance.path, stat.st_size, stat.st_mtime_ns])
    except OSError:
      stats.append([instance.path, None, None])
  if not stats:
    return None
  return hashlib.sha256(json.dumps(stats).encode("utf-8")).hexdigest()


def _config_description(config):
  """The view config as the fingerprint holds it: without `appearance` when
  plain, so that datasets built before that option keep their fingerprint."""
  description = dataclasses.asdict(config)
  if config.appearance == "plain":
    del description["appearance"]
  return description


def _fingerprint(instances, categories, config, examples_per_shard):
  """Identifies the build: same fingerprint = same bytes in every shard."""
  description = json.dumps({
      "format_version": example_schema.FORMAT_VERSION,
      "config": _config_description(config),
      "categories": list(categories),
      "examples_per_shard": examples_per_shard,
      # Each instance's tuple holds its up axis (sources.Instance).
      "instances": [dataclasses.astuple(i) for i in instances],
  }, sort_keys=True)
  return hashlib.sha256(description.encode("utf-8")).hexdigest()


def _plan(instances, config, examples_per_shard):
  """Shards per split: instances shuffled (by the seed), then chunked."""
  shards = []
  for split_index, split in enumerate(sources.SPLITS):
    members = [i for i in instances if i.split == split]
    if not members:
      continue
    order = np.random.default_rng([config.seed, split_index]).permutation(
        len(members))
    per_shard = max(1, examples_per_shard // config.views_per_instance)
    count = math.ceil(len(members) / per_shard)
    for index in range(count):
      chunk = order[index * per_shard:(index + 1) * per_shard]
      shards.append(_Shard(split, index, count,
                           tuple(members[j] for j in chunk)))
  return shards


def _prepare_output(output_dir, shards, fingerprint, overwrite):
  """Deletes leftovers; returns the shards still to build.

  Raises:
    BuildError: the directory holds files of a different build and
      `overwrite` is false.
  """
  os.makedirs(output_dir, exist_ok=True)
  files.remove_temp_files(output_dir)  # Partial files of a killed build.
  planned = {s.name for s in shards}
  planned |= {n + _RECORD_SUFFIX for n in planned}
  ours = [n for n in os.listdir(output_dir)
          if is_dataset_file(n)]
  foreign = []
  for name in ours:
    path = os.path.join(output_dir, name)
    if name not in planned and name != METADATA_FILE:
      foreign.append(name)
    elif name.endswith(_RECORD_SUFFIX) and (
        (read_record(path) or {}).get("fingerprint", fingerprint)
        != fingerprint):
      foreign.append(name)  # An unreadable record: rebuilt, not foreign.
  if foreign:
    if not overwrite:
      raise BuildError(
          f"{output_dir} holds files of a different build (e.g."
          f" {sorted(foreign)[0]}); pass overwrite (--overwrite) to replace"
          " them, or choose another output directory")
    for name in ours:
      with contextlib.suppress(FileNotFoundError):
        os.remove(os.path.join(output_dir, name))
  # The metadata is rewritten at the end; a stale copy must not describe
  # a half-rebuilt directory meanwhile.
  with contextlib.suppress(FileNotFoundError):
    os.remove(os.path.join(output_dir, METADATA_FILE))
  return [s for s in shards if not _is_complete(output_dir, s, fingerprint)]


def _is_complete(output_dir, shard, fingerprint):
  """Whether the shard is in place, of this build, sources and size."""
  path = os.path.join(output_dir, shard.name)
  if not os.path.isfile(path):
    return False
  record = read_record(path + _RECORD_SUFFIX)
  if record is None or record.get("fingerprint") != fingerprint:
    problem = "its record is missing or unreadable"
  elif record.get("sources") != _sources_stamp(shard.instances):
    problem = "its mesh files changed since it was built"
  else:
    problem = input_pipeline.shard_problem(path, record)
  if problem:
    logging.warning("%s: %s; rebuilding it", path, problem)
  return problem is None


@contextlib.contextmanager
def _results(tasks, num_workers):
  """Iterator over views.make_examples_or_error(task), in task order."""
  if num_workers == 0:
    yield map(views.make_examples_or_error, tasks)
    return
  # 'spawn': workers start fresh, without this process's TensorFlow.
  context = multiprocessing.get_context("spawn")
  with context.Pool(num_workers) as pool:
    yield pool.imap(views.make_examples_or_error, tasks, chunksize=1)


def _write_shards(pending, output_dir, config, labels, fingerprint,
                  num_workers, progress):
  tasks = [(instance, config) for s in pending for instance in s.instances]
  with _results(tasks, num_workers) as results, tqdm.tqdm(
      total=len(tasks), unit="instance", disable=not progress,
      desc="building") as bar:
    for shard in pending:
      path = os.path.join(output_dir, shard.name)
      counts = collections.Counter()
      skipped = []
      with files.atomic_path(path) as temp:
        with tf.io.TFRecordWriter(temp) as writer:
          for instance in shard.instances:
            examples, error = next(results)
            bar.update()
            if error is not None:
              logging.warning("skipped %s", error)
              skipped.append({"instance": instance.describe(),
                              "reason": error})
              continue
            for image, sphere, rotation in zip(
                examples["image"], examples["sphere"], examples["rotation"]):
              writer.write(example_schema.serialize_example(
                  image, sphere, rotation, labels[instance.category],
                  instance.category, instance.name, config.dof))
            counts[instance.category] += len(examples["image"])
        # The record first: a shard in place always has one.  Its size and
        # count let a resumed build and every reader notice a damaged shard.
        files.write_json_atomic(path + _RECORD_SUFFIX, {
            "fingerprint": fingerprint,
            "sources": _sources_stamp(shard.instances),
            "bytes": os.path.getsize(temp),
            "examples": sum(counts.values()),
            "instances": len(shard.instances) - len(skipped),
            "examples_per_category": dict(counts),
            "skipped": skipped,
        })


def build(instances, categories, output_dir, config, source,
          command_line="", examples_per_shard=1000, num_workers=None,
          overwrite=False, progress=True):
  """Builds (or finishes building) a dataset; returns its metadata.

  Args:
    instances: sources.Instance list.
    categories: category names in label order.
    output_dir: directory for the shards and dataset.json.
    config: views.ViewConfig.
    source: JSON-serialisable description of the source (for the metadata).
    command_line: recorded in the metadata.
    examples_per_shard: approximate number of examples per shard.
    num_workers: worker processes (default: one per core); 0 = in process.
    overwrite: replace the files of a different build in output_dir.
    progress: show a progress bar.

  Returns:
    The metadata written to dataset.json: `categories`, `splits`
    ({split: {shards, examples, instances, examples_per_category}}),
    `skipped` (instance, reason) list, sizes, view settings (`appearance`
    among them: views.APPEARANCES), `up_axis` (the
    source's up axis, turned to +z on load), `source`, `command_line`,
    `fingerprint`.

  Raises:
    BuildError: no instances, unknown or duplicate instances, instances
      with different up axes, conflicting output, or no example could be
      made.
  """
  outputs.check_output_dir(output_dir, "output_dir")
  if not instances:
    raise BuildError("no instances to build a dataset from")
  labels = {c: i for i, c in enumerate(categories)}
  unknown = sorted({i.category for i in instances} - set(labels))
  if unknown:
    raise BuildError(f"instances of categories {unknown} not in {categories}")
  names = collections.Counter((i.split, i.name) for i in instances)
  duplicates = [n for n, k in names.items() if k > 1]
  if duplicates:
    raise BuildError(f"duplicate instances, e.g. {duplicates[0]}")
  up_axes = sorted({i.up_axis for i in instances})
  if len(up_axes) > 1:
    raise BuildError(f"instances with different up axes {up_axes}: a dataset"
                     " has one up axis")
  if examples_per_shard < 1:
    raise BuildError(f"examples_per_shard must be >= 1, got"
                     f" {examples_per_shard}")
  if num_workers is None:
    num_workers = os.cpu_count()
  shards = _plan(instances, config, examples_per_shard)
  fingerprint = _fingerprint(instances, categories, config,
                             examples_per_shard)
  pending = _prepare_output(output_dir, shards, fingerprint, overwrite)
  logging.info("%d of %d shards to build in %s", len(pending), len(shards),
               output_dir)
  _write_shards(pending, output_dir, config, labels, fingerprint, num_workers,
                progress)

  splits = {}
  skipped = []
  for shard in shards:
    record = _read_json(os.path.join(output_dir, shard.name + _RECORD_SUFFIX))
    split = splits.setdefault(shard.split, {
        "shards": [], "examples": 0, "instances": 0,
        "examples_per_category": collections.Counter()})
    split["shards"].append(shard.name)
    split["instances"] += record["instances"]
    split["examples_per_category"].update(record["examples_per_category"])
    skipped += record["skipped"]
  for split in splits.values():
    split["examples"] = sum(split["examples_per_category"].values())
    split["examples_per_category"] = dict(split["examples_per_category"])
  if not any(s["examples"] for s in splits.values()):
    raise BuildError(f"no example could be made: all {len(instances)}"
                     f" instances were skipped, e.g. {skipped[0]['reason']}")
  metadata = {
      "format_version": example_schema.FORMAT_VERSION,
      "categories": list(categories),
      "splits": splits,
      "skipped": skipped,
      "image_size": config.image_size,
      "sphere_size": config.sphere_size,
      "views_per_instance": config.views_per_instance,
      "dof": config.dof,
      "up_axis": up_axes[0],
      "anisotropic_scale": config.anisotropic_scale,
      "appearance": config.appearance,
      "seed": config.seed,
      "source": source,
      "command_line": command_line,
      "fingerprint": fingerprint,
  }
  files.write_json_atomic(os.path.join(output_dir, METADATA_FILE), metadata)
  return metadata
