"""Tests for one embedding network with a pose and a synthesis head.

`--output_key=pose,synthesis`: one encoder, a decoder per teacher output,
the sum of the heads' losses; each head is restored, exported and used as
the one-head network of its output.
"""

import json
import os

import tensorflow as tf

from sph_embed.data import input_pipeline
from sph_embed.embedding import export as embedding_export
from sph_embed.embedding import losses
from sph_embed.embedding import model as embedding_model
from sph_embed.embedding import targets as embedding_targets
from sph_embed.embedding import training as embedding_training
from sph_embed.synthesis import training as synthesis_training
from tests.embedding import training_test

_KEYS = ("pose", "synthesis")


class MultiHeadModelTest(tf.test.TestCase):

  def test_heads_share_the_encoder(self):
    model = embedding_model.build_multi_head_model(
        training_test._TINY, (("pose", 16, 2), ("synthesis", 32, 3)))
    images = tf.random.uniform((2, 64, 64, 1), seed=1)
    maps = model(images)
    self.assertEqual(maps["pose"].shape, (2, 16, 16, 2))
    self.assertEqual(maps["synthesis"].shape, (2, 32, 32, 3))
    # The first head's decoder is named as a one-head network's.
    self.assertEqual([layer.name for layer in model.layers],
                     ["image", "encoder", "decoder", "decoder_synthesis"])
    head = embedding_model.head_model(model, "synthesis")
    self.assertAllEqual(head(images), maps["synthesis"])
    encoder = model.get_layer("encoder")
    self.assertTrue(any(v is encoder.trainable_variables[0]
                        for v in head.trainable_variables))

  def test_one_head_or_repeated_keys_are_refused(self):
    for heads in ((("pose", 16, 2),), (("pose", 16, 2), ("pose", 16, 2))):
      with self.assertRaisesRegex(ValueError, "two or more heads"):
        embedding_model.build_multi_head_model(training_test._TINY, heads)


class TwoHeadTrainingTest(training_test.TinyRunTestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.batch = next(iter(input_pipeline.make_dataset(
        cls.data_dir, "test", 4, shuffle=False)))
    cls.model_dir = os.path.join(cls.root, "joint")
    cls.model, cls.result = embedding_training.train(*cls.config(
        cls.model_dir, output_key="pose,synthesis", max_steps=4,
        eval_every_steps=4))

  def test_spec_lists_both_heads_and_both_are_logged(self):
    with open(os.path.join(self.model_dir, "embedding_model.json")) as f:
      spec = json.load(f)
    teacher, shapes = embedding_training.load_teacher_maps(self.hub_module,
                                                           _KEYS)
    del teacher
    self.assertEqual(spec["heads"],
                     [[key, shapes[key][0], shapes[key][2]] for key in _KEYS])
    self.assertEqual(spec["output_key"], "pose")
    train = training_test.read_scalars(os.path.join(self.model_dir, "train"))
    evaluation = training_test.read_scalars(
        os.path.join(self.model_dir, "eval"))
    for scalars in (train, evaluation):
      self.assertContainsSubset(
          ["loss", "relative_error", "relative_error_synthesis"], scalars)

  def test_each_head_restores_as_a_one_head_network(self):
    joint = self.model(self.batch["image"], training=False)
    for key in _KEYS:
      model, spec = embedding_training.restore_model(self.model_dir,
                                                     output_key=key)
      self.assertEqual(spec["output_key"], key)
      self.assertEqual(tuple(model.output.shape[1:]),
                       (spec["target_size"], spec["target_size"],
                        spec["channels"]))
      self.assertAllClose(model(self.batch["image"], training=False),
                          joint[key], atol=1e-6)
    # Default: the first head.
    _, spec = embedding_training.restore_model(self.model_dir)
    self.assertEqual(spec["output_key"], "pose")

  def test_the_loss_is_the_sum_of_the_heads_losses(self):
    teacher, shapes = embedding_training.load_teacher_maps(self.hub_module,
                                                           _KEYS)
    layout = embedding_targets.TargetLayout(
        tuple((key, shapes[key]) for key in _KEYS))
    loss, metrics = embedding_training.make_loss_fn(teacher, 1.0, layout)(
        self.model, self.batch)
    predictions = self.model(self.batch["image"], training=True)
    targets = teacher(self.batch["sphere"])
    each = {key: losses.area_weighted_huber(predictions[key], targets[key],
                                            1.0) for key in _KEYS}
    self.assertAllClose(loss, each["pose"] + each["synthesis"], rtol=1e-5)
    self.assertAllGreater(each["synthesis"], 0.0)
    self.assertAllClose(
        metrics["relative_error_synthesis"],
        losses.relative_error(predictions["synthesis"], targets["synthesis"]),
        rtol=1e-5)

  def test_a_missing_head_and_a_changed_network_are_refused(self):
    one_head = os.path.join(self.root, "pose_only")
    embedding_training.train(*self.config(one_head, max_steps=1,
                                          eval_every_steps=None))
    with self.assertRaisesRegex(
        ValueError, "pose_only learned the teacher's 'pose' maps, not"
        " 'synthesis'"):
      embedding_training.restore_model(one_head, output_key="synthesis")
    # Resuming the two-head run as a one-head run changes the network.
    with self.assertRaisesRegex(ValueError, "different heads"):
      embedding_training.train(*self.config(self.model_dir, max_steps=5))

  def test_synthesis_and_pose_consumers_take_their_head(self):
    embedder = synthesis_training.load_embedder(
        synthesis_training.SynthesisTraining(
            embedding_source="predicted", embedding_model_dir=self.model_dir))
    joint = self.model(self.batch["image"], training=False)
    self.assertEqual(embedder.shape, tuple(joint["synthesis"].shape[1:]))
    self.assertAllClose(embedder.network(self.batch["image"], training=False),
                        joint["synthesis"], atol=1e-6)
    export_dir = os.path.join(self.root, "pose_module")
    manifest = embedding_export.export_run(self.model_dir, export_dir)
    self.assertIn("--output_key=pose,synthesis",
                  manifest[embedding_export.RUN_KEY]["command"])
    module = embedding_export.load_embedding(export_dir)
    self.assertAllClose(module.embed(self.batch["image"]), joint["pose"],
                        atol=1e-5)


if __name__ == "__main__":
  tf.test.main()
