"""Tests for starting a run from a trained pose network (--init_from):
synthetic pre-training, then fine-tuning on other meshes."""

import dataclasses
import os
from unittest import mock

import tensorflow as tf

from sph_embed.embedding import export as embedding_export
from sph_embed.embedding import training as embedding_training
from tests.embedding import training_test


class WarmStartTest(training_test.TinyRunTestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.images = cls.held_out_images()
    # The source: a two-head run (as the shipped module's), and its pose
    # head exported as a module.
    cls.source_dir = os.path.join(cls.root, "source")
    cls.source, _ = embedding_training.train(*cls.config(
        cls.source_dir, output_key="pose,synthesis", max_steps=3,
        eval_every_steps=None))
    cls.module = os.path.join(cls.root, "module")
    embedding_export.export_run(cls.source_dir, cls.module)
    cls.expected = embedding_export.load_embedding(cls.module).embed(
        cls.images)

  def _new_network(self, output_key, **widths):
    """(model, spec) of an untrained network of the run's data and
    teacher."""
    source_spec = embedding_training.read_model_spec(self.source_dir)
    spec = dict(source_spec, embedding=dict(source_spec["embedding"],
                                            **widths))
    if output_key == "pose":
      spec.pop("heads")
    return embedding_training.build_model(spec), spec

  def _pose_maps(self, model, spec):
    head, _ = embedding_training.head_of(model, spec, "pose")
    return head(self.images, training=False).numpy()

  def test_a_one_head_network_starts_from_a_module(self):
    model, spec = self._new_network("pose")
    self.assertNotAllClose(self._pose_maps(model, spec), self.expected)
    embedding_training.warm_start(model, spec, self.module)
    self.assertAllClose(self._pose_maps(model, spec), self.expected,
                        atol=1e-5)

  def test_a_two_head_network_starts_from_a_run(self):
    model, spec = self._new_network("pose,synthesis")
    synthesis_decoder = [v.numpy() for v in embedding_training.head_of(
        model, spec, "synthesis")[0].variables[-4:]]
    embedding_training.warm_start(model, spec, self.source_dir)
    self.assertAllClose(self._pose_maps(model, spec), self.expected,
                        atol=1e-5)
    # The head the source has no counterpart for keeps its initialisation.
    for before, after in zip(synthesis_decoder, embedding_training.head_of(
        model, spec, "synthesis")[0].variables[-4:]):
      self.assertAllEqual(before, after.numpy())

  def test_other_networks_and_directories_are_refused(self):
    model, spec = self._new_network("pose", base_filters=6)
    with self.assertRaisesRegex(ValueError, "--init_from=.*module: its pose"
                                " network is not this run's \\(weight 0 of"
                                " shape .* give the module's --preset"):
      embedding_training.warm_start(model, spec, self.module)
    # Refused by the trainer before the run directory holds anything.
    model_dir = os.path.join(self.root, "other_widths")
    loop, settings = self.config(model_dir, init_from=self.module)
    settings = dataclasses.replace(settings, embedding=dataclasses.replace(
        settings.embedding, base_filters=6))
    with self.assertRaisesRegex(ValueError, "its pose network is not"):
      embedding_training.train(loop, settings)
    self.assertFalse(os.path.exists(os.path.join(
        model_dir, embedding_training.MODEL_SPEC)))
    with self.assertRaisesRegex(ValueError, "--init_from=.*data: not a pose"
                                " embedding module or run"):
      embedding_training.warm_start(model, spec, self.data_dir)
    loop, settings = self.config(os.path.join(self.root, "refused"),
                                 init_from=os.path.join(self.root, "none"))
    with self.assertRaisesRegex(ValueError, "init_from: .*none is not a"
                                " directory"):
      embedding_training.train(loop, settings)

  def test_a_new_run_starts_from_it_and_a_resumed_one_from_its_checkpoint(
      self):
    model_dir = os.path.join(self.root, "fine_tuned")
    with mock.patch.object(embedding_training, "warm_start",
                           wraps=embedding_training.warm_start) as warm:
      embedding_training.train(*self.config(
          model_dir, init_from=self.module, max_steps=1,
          eval_every_steps=None))
      self.assertEqual(warm.call_count, 1)
      embedding_training.train(*self.config(
          model_dir, init_from=self.module, max_steps=2,
          eval_every_steps=None))
      self.assertEqual(warm.call_count, 1)
    spec = embedding_training.read_model_spec(model_dir)
    self.assertEqual(spec["init_from"], os.path.abspath(self.module))
    command = embedding_export.training_run(model_dir, spec, 2)["command"]
    self.assertIn(f"--init_from={os.path.abspath(self.module)}", command)


if __name__ == "__main__":
  tf.test.main()
