"""Tests for sph_embed.data.input_pipeline (the tf.data pipeline)."""

import json
import os
import shutil

import numpy as np
import tensorflow as tf

from sph_embed.data import input_pipeline
from sph_embed.data import example_schema
from tests import mesh_test_util


def _all_batches(dataset):
  return [{k: v.numpy() for k, v in batch.items()} for batch in dataset]


def _concat(batches, key):
  return np.concatenate([b[key] for b in batches])


class DataInputTest(tf.test.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.data_dir = mesh_test_util.class_temp_dir(cls)
    cls.metadata = mesh_test_util.build_tiny_synthetic(
        cls.data_dir, categories=("car", "bed", "chair"))

  def test_batches(self):
    batches = _all_batches(input_pipeline.make_dataset(self.data_dir, "train", 5))
    # Without deterministic=True, parallel decoding may reorder batches.
    self.assertEqual(sorted(len(b["label"]) for b in batches), [2, 5, 5])
    full = max(batches, key=lambda b: len(b["label"]))
    self.assertEqual(full["image"].shape, (5, 32, 32, 1))
    self.assertEqual(full["image"].dtype, np.float32)
    self.assertEqual(full["sphere"].shape, (5, 16, 16, 1))
    self.assertEqual(full["rotation"].shape, (5, 3, 3))
    self.assertEqual(full["label"].dtype, np.int32)
    self.assertEqual(full["dof"].dtype, np.int32)
    images = _concat(batches, "image")
    self.assertAllInRange(images, 0.0, 1.0)
    # Values are uint8 levels / 255.
    self.assertAllClose(images * 255, np.round(images * 255), atol=1e-4)
    self.assertAllInRange(_concat(batches, "sphere"), 0.0, 1.0)
    labels = _concat(batches, "label")
    categories = [c.decode() for c in _concat(batches, "category")]
    self.assertEqual(
        [self.metadata["categories"][label] for label in labels], categories)
    self.assertAllEqual(_concat(batches, "dof"), np.full(12, 3))
    rotations = _concat(batches, "rotation")
    self.assertAllClose(rotations @ np.swapaxes(rotations, 1, 2),
                        np.broadcast_to(np.eye(3), (12, 3, 3)), atol=1e-5)

  def test_each_example_once_per_epoch(self):
    for split, count in (("train", 12), ("test", 6)):
      batches = _all_batches(input_pipeline.make_dataset(self.data_dir, split, 4))
      instances = _concat(batches, "instance")
      rotations = _concat(batches, "rotation")
      keys = {(i, r.tobytes()) for i, r in zip(instances, rotations)}
      self.assertLen(instances, count)
      self.assertLen(keys, count)

  def test_deterministic_order(self):
    def order(seed):
      dataset = input_pipeline.make_dataset(self.data_dir, "train", 4,
                                        deterministic=True, seed=seed)
      return _concat(_all_batches(dataset), "rotation")
    self.assertAllEqual(order(3), order(3))
    self.assertNotAllClose(order(3), order(4))
    unshuffled = [input_pipeline.make_dataset(self.data_dir, "train", 4,
                                          shuffle=False, deterministic=True)
                  for _ in range(2)]
    self.assertAllEqual(*[_concat(_all_batches(d), "rotation")
                          for d in unshuffled])

  def test_repeat(self):
    dataset = input_pipeline.make_dataset(self.data_dir, "test", 4, repeat=True,
                                      drop_remainder=True)
    self.assertEqual(dataset.element_spec["image"].shape, (4, 32, 32, 1))
    self.assertLen(list(dataset.take(5)), 5)  # 20 > 6 examples.

  def test_metadata_errors(self):
    with self.assertRaisesRegex(input_pipeline.DataError, "not a finished"):
      input_pipeline.read_metadata(os.path.join(self.data_dir, "absent"))
    with self.assertRaisesRegex(input_pipeline.DataError, "'val' has no examples"):
      input_pipeline.make_dataset(self.data_dir, "val", 2)
    copy = self._copy_dataset()
    os.remove(os.path.join(copy, self.metadata["splits"]["test"]["shards"][0]))
    with self.assertRaisesRegex(input_pipeline.DataError, "are missing"):
      input_pipeline.make_dataset(copy, "test", 2)

  def test_truncated_shard_is_rejected(self):
    copy = self._copy_dataset()
    shard = os.path.join(copy, self.metadata["splits"]["train"]["shards"][0])
    with open(shard, "rb") as f:
      data = f.read()
    with open(shard, "wb") as f:
      f.write(data[:len(data) - 100])
    # Refused when opened (its record holds its size), not half-read later.
    with self.assertRaisesRegex(input_pipeline.DataError,
                                f"{shard}: {len(data) - 100} bytes, but its"
                                " record says"):
      input_pipeline.make_dataset(copy, "train", 2, shuffle=False)

  def test_wrong_image_size_is_a_clear_error(self):
    copy = self._copy_dataset()
    self._rewrite_metadata(copy, image_size=16)
    with self.assertRaisesRegex(tf.errors.InvalidArgumentError,
                                "feature image: expected 16 x 16 uint8"):
      _all_batches(input_pipeline.make_dataset(copy, "train", 3))

  def test_wrong_sphere_size_is_a_clear_error(self):
    copy = self._copy_dataset()
    self._rewrite_metadata(copy, sphere_size=32)
    with self.assertRaisesRegex(tf.errors.InvalidArgumentError,
                                "feature sphere: expected 32 x 32 float32"):
      _all_batches(input_pipeline.make_dataset(copy, "train", 3))

  def test_wrong_rotation_size_is_a_clear_error(self):
    copy = self._copy_dataset()
    example = tf.train.Example.FromString(example_schema.serialize_example(
        np.zeros((32, 32)), np.zeros((16, 16)), np.eye(3), 0, "car", "x", 3))
    del example.features.feature["rotation"].float_list.value[4:]
    name = self.metadata["splits"]["train"]["shards"][0]
    shard = os.path.join(copy, name)
    with tf.io.TFRecordWriter(shard) as writer:
      writer.write(example.SerializeToString())
    # A shard that matches its record, so that decoding is what fails.
    with open(shard + ".json", encoding="utf-8") as f:
      record = json.load(f)
    record["bytes"] = os.path.getsize(shard)
    with open(shard + ".json", "w", encoding="utf-8") as f:
      json.dump(record, f)
    with self.assertRaisesRegex(tf.errors.InvalidArgumentError, "rotation"):
      _all_batches(input_pipeline.make_dataset(copy, "train", 3, shuffle=False))

  def _copy_dataset(self):
    copy = os.path.join(mesh_test_util.temp_dir(self), "copy")
    shutil.copytree(self.data_dir, copy)
    return copy

  def _rewrite_metadata(self, data_dir, **changes):
    path = os.path.join(data_dir, example_schema.METADATA_FILE)
    with open(path, encoding="utf-8") as f:
      metadata = json.load(f)
    metadata.update(changes)
    with open(path, "w", encoding="utf-8") as f:
      json.dump(metadata, f)


if __name__ == "__main__":
  tf.test.main()
