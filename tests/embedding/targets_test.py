"""Tests for the precomputed teacher targets (sph_embed.embedding.targets)."""

import dataclasses
import os
import shutil
import tempfile

import numpy as np
import tensorflow as tf

from sph_embed.data import input_pipeline
from sph_embed.embedding import targets as embedding_targets
from sph_embed.embedding import training as embedding_training
from sph_embed.training import loop as train_loop
from tests.embedding import training_test


class PrecomputedTargetsTest(tf.test.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.root = tempfile.mkdtemp(prefix="targets_test_")
    cls.data_dir = os.path.join(cls.root, "data")
    cls.hub_module = os.path.join(cls.root, "teacher")
    training_test.build_tiny_dataset(cls.data_dir)
    training_test.export_tiny_teacher(cls.hub_module)
    cls.teacher, cls.shape = embedding_training.load_teacher(cls.hub_module,
                                                             "pose")

  @classmethod
  def tearDownClass(cls):
    shutil.rmtree(cls.root, ignore_errors=True)
    super().tearDownClass()

  def _targets(self, cache_dir):
    return embedding_targets.cached_targets(
        self.data_dir, "train", self.teacher, self.hub_module, "pose",
        self.shape, cache_dir)

  def test_batches_are_unchanged_and_carry_the_teachers_maps(self):
    paths = self._targets(os.path.join(self.root, "cache_batches"))
    plain = input_pipeline.training_batches(self.data_dir, 4, 3, 2)
    with_targets = input_pipeline.training_batches(
        self.data_dir, 4, 3, 2, targets=paths, targets_shape=self.shape)
    for a, b in zip(plain.take(5), with_targets.take(5)):
      self.assertAllEqual(a["image"], b["image"])
      self.assertAllEqual(a["instance"], b["instance"])
      self.assertAllClose(b["targets"],
                          self.teacher(a["sphere"], training=False),
                          atol=1e-5)

  def test_reused_while_the_teacher_matches_and_remade_when_it_changes(self):
    cache_dir = os.path.join(self.root, "cache_reuse")
    first = self._targets(cache_dir)
    times = [os.stat(p).st_mtime_ns for p in first]
    self.assertEqual(
        [os.stat(p).st_mtime_ns for p in self._targets(cache_dir)], times)
    with open(first[0] + ".json", "r+", encoding="utf-8") as f:
      text = f.read().replace('"teacher_sha256": "', '"teacher_sha256": "0')
      f.seek(0)
      f.write(text)
    remade = [os.stat(p).st_mtime_ns for p in self._targets(cache_dir)]
    self.assertNotEqual(remade[0], times[0])
    self.assertEqual(remade[1:], times[1:])

  def test_training_with_and_without_them_gives_the_same_losses(self):
    losses = {}
    for precompute in (False, True):
      model_dir = os.path.join(self.root, f"run_{precompute}")
      config = train_loop.LoopConfig(
          data_dir=self.data_dir, model_dir=model_dir, batch_size=4,
          max_steps=6, log_every_steps=1,
          checkpoint_every_minutes=None)
      settings = embedding_training.EmbeddingTraining(
          hub_module=self.hub_module, embedding=training_test._TINY,
          precompute_targets=precompute)
      embedding_training.train(config, settings)
      losses[precompute] = training_test.read_scalars(
          os.path.join(model_dir, "train"))["loss"]
      self.assertEqual(
          os.path.isdir(os.path.join(model_dir, "teacher_targets")),
          precompute)
    self.assertLen(losses[True], 6)
    self.assertAllClose([losses[True][k] for k in sorted(losses[True])],
                        [losses[False][k] for k in sorted(losses[False])],
                        rtol=1e-4)


if __name__ == "__main__":
  tf.test.main()
