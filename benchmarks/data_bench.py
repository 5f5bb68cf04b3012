"""Data pipeline throughput: building (render + ray cast) and reading.

  python3 benchmarks/data_bench.py                     # quick (~1k examples)
  python3 benchmarks/data_bench.py --train_instances=100 --test_instances=14 \
      --views_per_instance=8                           # the 10k-example build

Prints, for synthetic shapes: the cost of each stage of an example in one
process (shape generation, render, ray cast), the wall time and examples/s
of a full parallel build (worker start-up included), and the examples/s of
reading the result through input_pipeline.make_dataset.
"""

import os
import platform
import shutil
import tempfile
import time

from absl import app
from absl import flags
import numpy as np

from sph_embed.data import input_pipeline
from sph_embed.data import dataset
from sph_embed.data import meshes
from sph_embed.data import raycast
from sph_embed.data import render
from sph_embed.sphere import rotations
from sph_embed.data import sources
from sph_embed.data import synthetic
from sph_embed.data import views

_TRAIN = flags.DEFINE_integer("train_instances", 10,
                              "Train instances per category.")
_TEST = flags.DEFINE_integer("test_instances", 2,
                             "Test instances per category.")
_VIEWS = flags.DEFINE_integer("views_per_instance", 8, "Views per instance.")
_NUM_WORKERS = flags.DEFINE_integer("num_workers", None,
                                    "Builder processes (default: cores).")
_BATCH = flags.DEFINE_integer("batch_size", 16, "Read batch size.")
_READ_EPOCHS = flags.DEFINE_integer("read_epochs", 3,
                                    "Passes over the train split.")
_OUTPUT_DIR = flags.DEFINE_string(
    "output_dir", None, "Where to build (default: a temporary directory, "
    "deleted afterwards).")


def _stage_costs(count=20):
  """Mean seconds per example of each stage, in this process."""
  poses = rotations.random_rotations(count, seed=0)
  categories = synthetic.CATEGORIES
  start = time.perf_counter()
  shapes = [meshes.normalize_mesh(
      synthetic.make_instance(categories[i % len(categories)], i))
            for i in range(count)]
  generate = (time.perf_counter() - start) / count
  render.render_view(shapes[0], poses[0])  # Creates the GL context.
  start = time.perf_counter()
  for mesh, pose in zip(shapes, poses):
    render.render_view(mesh, pose)
  render_time = (time.perf_counter() - start) / count
  start = time.perf_counter()
  for mesh, pose in zip(shapes, poses):
    raycast.raycast(mesh, 64, pose)
  raycast_time = (time.perf_counter() - start) / count
  return generate, render_time, raycast_time


def main(argv):
  del argv  # Unused.
  print(f"machine: {platform.machine()}, {os.cpu_count()} cores,"
        f" {platform.platform()}")
  generate, render_time, raycast_time = _stage_costs()
  print(f"per example, one process: generate+normalise {generate * 1e3:.1f}"
        f" ms (per instance), render 64x64 {render_time * 1e3:.1f} ms, ray"
        f" cast 64x64 {raycast_time * 1e3:.1f} ms")

  output = _OUTPUT_DIR.value or tempfile.mkdtemp(prefix="data_bench_")
  try:
    categories, instances = sources.synthetic_instances(
        None, _TRAIN.value, _TEST.value)
    config = views.ViewConfig(views_per_instance=_VIEWS.value)
    start = time.perf_counter()
    metadata = dataset.build(instances, categories, output, config,
                             {"kind": "synthetic"},
                             num_workers=_NUM_WORKERS.value, overwrite=True)
    seconds = time.perf_counter() - start
    total = sum(s["examples"] for s in metadata["splits"].values())
    print(f"build: {total} examples ({len(instances)} instances) in"
          f" {seconds:.1f} s = {total / seconds:.1f} examples/s with"
          f" {_NUM_WORKERS.value or os.cpu_count()} workers")

    examples = input_pipeline.make_dataset(output, "train", _BATCH.value,
                                       repeat=True)
    train = metadata["splits"]["train"]["examples"]
    batches = max(1, _READ_EPOCHS.value * train // _BATCH.value)
    iterator = iter(examples)
    next(iterator)  # Pipeline start-up.
    start = time.perf_counter()
    for _ in range(batches):
      batch = next(iterator)
    np.asarray(batch["image"])
    seconds = time.perf_counter() - start
    print(f"read: {batches * _BATCH.value / seconds:.0f} examples/s (batch"
          f" {_BATCH.value}, {batches} batches)")
  finally:
    if not _OUTPUT_DIR.value:
      shutil.rmtree(output, ignore_errors=True)


if __name__ == "__main__":
  app.run(main)
