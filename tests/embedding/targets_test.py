"""Tests for the precomputed teacher targets (sph_embed.embedding.targets)."""

import os

from absl.testing import parameterized
import tensorflow as tf

from sph_embed.data import input_pipeline
from sph_embed.embedding import targets as embedding_targets
from sph_embed.embedding import training as embedding_training
from sph_embed.training import loop as train_loop
from tests.embedding import training_test


class PrecomputedTargetsTest(training_test.TinyRunTestCase,
                             parameterized.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    teacher, shapes = embedding_training.load_teacher_maps(
        cls.hub_module, ("pose", "synthesis"))
    cls.teacher = staticmethod(teacher)  # A plain function, not a method.
    cls.layout = embedding_targets.TargetLayout(
        (("pose", shapes["pose"]), ("synthesis", shapes["synthesis"])))

  def _targets(self, cache_dir):
    return embedding_targets.cached_targets(
        self.data_dir, "train", self.teacher, self.hub_module, self.layout,
        cache_dir)

  def test_batches_are_unchanged_and_carry_the_teachers_maps(self):
    # Both heads' maps in one record per example, split back by the layout.
    paths = self._targets(os.path.join(self.root, "cache_batches"))
    plain = input_pipeline.training_batches(self.data_dir, 4, 3, 2)
    with_targets = input_pipeline.training_batches(
        self.data_dir, 4, 3, 2, targets=paths,
        targets_shape=(self.layout.size,))
    for a, b in zip(plain.take(5), with_targets.take(5)):
      self.assertAllEqual(a["image"], b["image"])
      self.assertAllEqual(a["instance"], b["instance"])
      maps = self.teacher(a["sphere"])
      split = self.layout.split(b["targets"])
      self.assertEqual(list(split), ["pose", "synthesis"])
      for key in split:
        self.assertAllClose(split[key], maps[key], atol=1e-5)

  def test_layout_round_trip(self):
    maps = {"pose": tf.random.normal((3, 4, 4, 2)),
            "synthesis": tf.random.normal((3, 8, 8, 1))}
    layout = embedding_targets.TargetLayout(
        (("pose", (4, 4, 2)), ("synthesis", (8, 8, 1))))
    flat = layout.flatten(maps)
    self.assertEqual(flat.shape, (3, 4 * 4 * 2 + 8 * 8))
    for key, value in layout.split(flat).items():
      self.assertAllEqual(value, maps[key])

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

  @parameterized.parameters("pose", "pose,synthesis")
  def test_training_with_and_without_them_gives_the_same_losses(
      self, output_key):
    losses = {}
    for precompute in (False, True):
      model_dir = os.path.join(self.root, f"run_{output_key}_{precompute}")
      config = train_loop.LoopConfig(
          data_dir=self.data_dir, model_dir=model_dir, batch_size=4,
          max_steps=6, log_every_steps=1,
          checkpoint_every_minutes=None)
      settings = embedding_training.EmbeddingTraining(
          hub_module=self.hub_module, embedding=training_test._TINY,
          output_key=output_key, precompute_targets=precompute)
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
