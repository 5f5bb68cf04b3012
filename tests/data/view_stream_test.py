"""Tests for on-the-fly training views (rendered in spawned workers)."""

import multiprocessing
import os
import signal
import subprocess
import sys
import time

import numpy as np
import tensorflow as tf

from sph_embed.sphere import rotations as rotations_lib
from sph_embed.data import sources
from sph_embed.data import view_stream
from sph_embed.data import views

_METADATA = {
    "categories": ["airplane", "car"],
    "source": {"kind": "synthetic", "train_instances": 2,
               "test_instances": 1},
}


_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


def consume_until_sigint(workers_file):
  """Subprocess body: reads a stream through tf.data as training does, until
  SIGINT; then exits (status 130) without closing the stream.

  Writes the pool's process ids to `workers_file` once batches come.
  """
  stopped = []
  signal.signal(signal.SIGINT, lambda *_: stopped.append(True))
  categories, instances = view_stream.instances_from_metadata(_METADATA)
  stream = view_stream.ViewStream(
      instances, categories, views.ViewConfig(image_size=32, sphere_size=16),
      batch_size=2, num_workers=2)
  for _ in stream.dataset():
    if not os.path.exists(workers_file):
      pids = [str(p.pid) for p in multiprocessing.active_children()]
      with open(workers_file + ".tmp", "w", encoding="utf-8") as f:
        f.write(" ".join(pids))
      os.replace(workers_file + ".tmp", workers_file)
    if stopped:
      print("stopped at SIGINT", file=sys.stderr)
      sys.exit(130)


def _running(pid):
  """Whether process `pid` exists and is not a zombie (Linux /proc)."""
  try:
    with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
      return f.read().rsplit(")", 1)[1].split()[0] != "Z"
  except FileNotFoundError:
    return False


def _kill_group(pgid):
  try:
    os.killpg(pgid, signal.SIGKILL)
  except ProcessLookupError:
    pass


class ViewStreamTest(tf.test.TestCase):

  def test_instances_from_metadata(self):
    categories, instances = view_stream.instances_from_metadata(_METADATA)
    self.assertEqual(categories, ["airplane", "car"])
    self.assertLen(instances, 4)
    self.assertTrue(all(i.split == "train" for i in instances))
    _, test = view_stream.instances_from_metadata(_METADATA, "test")
    self.assertLen(test, 2)
    with self.assertRaisesRegex(sources.SourceError, "unknown kind"):
      view_stream.instances_from_metadata(
          {"categories": ["car"], "source": {"kind": "scanner"}})

  def test_instances_of_a_carved_validation_split(self):
    metadata = dict(_METADATA, source=dict(_METADATA["source"],
                                           validation_instances=1))
    _, train = view_stream.instances_from_metadata(metadata)
    _, validation = view_stream.instances_from_metadata(metadata, "test")
    self.assertEqual(sorted(i.name for i in train),
                     ["airplane_0000000", "car_0000000"])
    self.assertEqual(sorted(i.name for i in validation),
                     ["airplane_0000001", "car_0000001"])

  def test_instances_from_metadata_keep_the_datasets_up_axis(self):
    _, instances = view_stream.instances_from_metadata(
        dict(_METADATA, up_axis="y"))
    self.assertEqual({i.up_axis for i in instances}, {"y"})
    # Datasets from before the up axis was recorded loaded meshes as is.
    _, instances = view_stream.instances_from_metadata(_METADATA)
    self.assertEqual({i.up_axis for i in instances}, {"z"})

  def test_batches_are_fresh_and_reproducible_from_any_step(self):
    categories, instances = view_stream.instances_from_metadata(_METADATA)
    stream = view_stream.ViewStream(
        instances, categories,
        views.ViewConfig(anisotropic_scale=0.2, image_size=32,
                         sphere_size=16),
        batch_size=3, seed=5, num_workers=1, prefetch_batches=2)
    from_start = stream.batches(0)
    first, second = next(from_start), next(from_start)
    from_start.close()
    # A run resumed at step 1 sees the batch an uninterrupted run saw.
    resumed = next(iter(stream.dataset(1)))
    for key in ("image", "sphere", "rotation", "label"):
      self.assertAllEqual(resumed[key], second[key])
    self.assertAllEqual(resumed["instance"].numpy().astype(str),
                        second["instance"].astype(str))
    self.assertEqual(resumed["image"].shape, (3, 32, 32, 1))
    self.assertEqual(resumed["sphere"].shape, (3, 16, 16, 1))
    self.assertEqual(resumed["image"].dtype, tf.float32)
    self.assertBetween(float(tf.reduce_max(resumed["image"])), 0.01, 1.0)
    rotations_lib.validate_rotations(first["rotation"], "rotation")
    # New poses every step.
    self.assertGreater(np.abs(first["rotation"] - second["rotation"]).max(),
                       0.01)

  def test_ctrl_c_is_handled_by_the_main_process_only(self):
    workers_file = os.path.join(self.get_temp_dir(), "workers")
    code = ("from tests.data import view_stream_test as t;"
            f" t.consume_until_sigint({workers_file!r})")
    # A session of its own: Ctrl-C on a terminal signals the process group.
    process = subprocess.Popen(
        [sys.executable, "-c", code], cwd=_ROOT, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    self.addCleanup(_kill_group, process.pid)  # Whatever a failure leaves.
    deadline = time.monotonic() + 120
    while (not os.path.exists(workers_file) and process.poll() is None and
           time.monotonic() < deadline):
      time.sleep(0.05)
    os.killpg(process.pid, signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    self.assertEqual(process.returncode, 130, stderr[-3000:])
    self.assertIn("stopped at SIGINT", stderr)
    self.assertNotIn("KeyboardInterrupt", stderr)
    self.assertNotIn("Traceback", stderr)
    workers = open(workers_file, encoding="utf-8").read().split()
    self.assertLen(workers, 2)
    self.assertEqual([w for w in workers if _running(w)], [])

  def test_bad_arguments(self):
    _, instances = view_stream.instances_from_metadata(_METADATA)
    with self.assertRaisesRegex(ValueError, "categories \\['car'\\] not in"):
      view_stream.ViewStream(instances, ["airplane"], views.ViewConfig(), 2)
    with self.assertRaisesRegex(ValueError, "batch_size must be >= 1"):
      view_stream.ViewStream(instances, ["airplane", "car"],
                             views.ViewConfig(), 0)


if __name__ == "__main__":
  tf.test.main()
