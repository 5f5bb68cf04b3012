"""Damaged shards and changed mesh files are noticed, late resumes are cheap.

Each shard's record (<shard>.json) holds its size and example count: a
reader refuses a shard that does not match, naming it, and a resumed build
rebuilds it.  A mesh file changed after the build (a broken mesh fixed)
makes its shard stale.  Resuming training at a late step skips serialized
records without decoding them.
"""

import glob
import json
import os
import struct
from unittest import mock

import tensorflow as tf
import trimesh

from sph_embed.data import dataset
from sph_embed.data import example_schema
from sph_embed.data import input_pipeline
from sph_embed.data import sources
from tests import mesh_test_util


def _train_shards(data_dir):
  return sorted(glob.glob(os.path.join(data_dir, "train-*.tfrecord")))


def _read(path):
  with open(path, "rb") as f:
    return f.read()


def _write(path, content):
  with open(path, "wb") as f:
    f.write(content)


def _first_record_length(path):
  """Bytes of a TFRecord file's first record (length, CRCs and data)."""
  (length,) = struct.unpack("<Q", _read(path)[:8])
  return 8 + 4 + length + 4


class DamagedShardTest(tf.test.TestCase):

  def setUp(self):
    super().setUp()
    self.data_dir = mesh_test_util.temp_dir(self)
    mesh_test_util.build_tiny_synthetic(self.data_dir)
    self.shard = _train_shards(self.data_dir)[0]
    self.original = _read(self.shard)

  def test_truncated_shard_is_an_error_naming_it_when_opened(self):
    _write(self.shard, self.original[:len(self.original) // 2])
    with self.assertRaisesRegex(
        input_pipeline.DataError,
        f"{self.shard}: {len(self.original) // 2} bytes, but its record says"
        f" {len(self.original)} .*rerun tools/build_dataset.py"):
      input_pipeline.make_dataset(self.data_dir, "train", 2)

  def test_shard_short_of_examples_is_an_error_without_a_recorded_size(self):
    # Records written before sizes were recorded: the examples are counted.
    record_path = self.shard + ".json"
    with open(record_path, encoding="utf-8") as f:
      record = json.load(f)
    del record["bytes"]
    with open(record_path, "w", encoding="utf-8") as f:
      json.dump(record, f)
    _write(self.shard, self.original[:_first_record_length(self.shard)])
    with self.assertRaisesRegex(input_pipeline.DataError,
                                f"{self.shard}: 1 examples, but its record"
                                " says 2"):
      input_pipeline.make_dataset(self.data_dir, "train", 2)

  def test_resumed_build_rebuilds_a_truncated_shard(self):
    _write(self.shard, self.original[:len(self.original) // 2])
    with self.assertLogs(level="WARNING") as logs:
      mesh_test_util.build_tiny_synthetic(self.data_dir)
    self.assertEqual(_read(self.shard), self.original)
    self.assertTrue(any(f"{self.shard}:" in line and "rebuilding it" in line
                        for line in logs.output), logs.output)
    input_pipeline.make_dataset(self.data_dir, "train", 2)

  def test_resumed_build_rebuilds_a_shard_with_an_unreadable_record(self):
    _write(self.shard + ".json", b"\x00\xff garbage")
    mesh_test_util.build_tiny_synthetic(self.data_dir)
    with open(self.shard + ".json", encoding="utf-8") as f:
      self.assertEqual(json.load(f)["bytes"], len(self.original))


class ChangedMeshTest(tf.test.TestCase):

  def test_fixed_mesh_is_rebuilt_and_no_longer_listed_as_skipped(self):
    directory = mesh_test_util.temp_dir(self)
    trimesh.creation.box((1.0, 0.5, 0.3)).export(
        os.path.join(directory, "box.off"))
    broken = mesh_test_util.write_file(directory, "fixed_later.off", "")
    list_file = mesh_test_util.write_file(
        directory, "list.txt", "box.off box\nfixed_later.off box\n")
    categories, instances = sources.list_instances(list_file,
                                                   test_fraction=0.0)
    output = os.path.join(directory, "out")

    def build():
      return dataset.build(instances, categories, output,
                           mesh_test_util.TINY_CONFIG, {"kind": "list"},
                           num_workers=0, progress=False)

    metadata = build()
    self.assertEqual([s["instance"] for s in metadata["skipped"]], [broken])
    self.assertEqual(metadata["splits"]["train"]["examples"], 2)
    trimesh.creation.icosphere(subdivisions=2).export(broken)
    metadata = build()
    self.assertEqual(metadata["skipped"], [])
    self.assertEqual(metadata["splits"]["train"]["examples"], 4)


class LateResumeTest(tf.test.TestCase):

  def test_late_resume_decodes_only_the_batches_it_returns(self):
    data_dir = mesh_test_util.temp_dir(self)
    mesh_test_util.build_tiny_synthetic(data_dir)  # 8 training examples.
    batch_size, start_step = 2, 60
    reference = list(input_pipeline.training_batches(
        data_dir, batch_size, seed=1).take(start_step + 1))[-1]

    decoded = []
    decode_batch = example_schema.decode_batch

    def counting_decode(serialized, *args):
      count = tf.py_function(lambda n: decoded.append(int(n)) or 0,
                             [tf.shape(serialized)[0]], tf.int64)
      with tf.control_dependencies([count]):
        return decode_batch(tf.identity(serialized), *args)

    with mock.patch.object(example_schema, "decode_batch", counting_decode):
      resumed = next(iter(input_pipeline.training_batches(
          data_dir, batch_size, seed=1, start_step=start_step)))
    for key in ("image", "sphere", "rotation", "instance"):
      self.assertAllEqual(resumed[key], reference[key])
    # Decoding all skipped batches would be 120 examples; prefetching may
    # decode a few batches ahead.
    self.assertLess(sum(decoded), 10 * batch_size)
    self.assertGreaterEqual(sum(decoded), batch_size)


if __name__ == "__main__":
  tf.test.main()
