"""Training on fresh views (views='fresh'): it trains, resumes exactly, and
refuses datasets whose views it cannot draw; views made on the fly keep the
dataset's appearance."""

import dataclasses
import json
import os
import shutil
from unittest import mock

from absl.testing import parameterized
import tensorflow as tf

from sph_embed.data import input_pipeline
from sph_embed.data import view_stream
from sph_embed.embedding import training as embedding_training
from tests.embedding import training_test


class FreshViewTrainingTest(training_test.TinyRunTestCase,
                            parameterized.TestCase):

  def _config(self, name, **overrides):
    return self.config(os.path.join(self.root, name), views="fresh",
                       max_steps=6, eval_every_steps=None,
                       checkpoint_every_steps=2, **overrides)

  def test_interrupted_run_resumes_on_the_same_fresh_views(self):
    tf.config.experimental.enable_op_determinism()
    images = self.held_out_images()
    reference, result = embedding_training.train(*self._config("whole"))
    self.assertEqual(result.final_step, 6)

    def interrupt(step):
      if step == 3:
        raise training_test.Interrupted()

    config = self._config("resumed")
    with self.assertRaises(training_test.Interrupted):
      embedding_training.train(*config, after_step=interrupt)
    resumed, result = embedding_training.train(*config)
    self.assertEqual((result.start_step, result.final_step), (2, 6))
    self.assertAllClose(resumed(images, training=False),
                        reference(images, training=False),
                        atol=1e-5, rtol=1e-4)

  def _changed_copy(self, name, **changes):
    """A copy of the tiny dataset with `changes` in its dataset.json."""
    copy = os.path.join(self.root, name)
    shutil.copytree(self.data_dir, copy)
    path = os.path.join(copy, "dataset.json")
    with open(path, encoding="utf-8") as f:
      metadata = json.load(f)
    metadata.update(changes)
    with open(path, "w", encoding="utf-8") as f:
      json.dump(metadata, f)
    return copy

  @parameterized.parameters((dict(dof=2), "2DOF"),
                            (dict(appearance="photo"), "photo appearance"))
  def test_datasets_it_cannot_draw_are_refused(self, changes, named):
    data_dir = self._changed_copy(f"refused_{named.split()[0]}", **changes)
    loop, settings = self._config(f"refused_run_{named.split()[0]}")
    loop = dataclasses.replace(loop, data_dir=data_dir)
    with self.assertRaisesRegex(input_pipeline.DataError,
                                f"views='fresh' draws 3DOF poses.*{named}"):
      embedding_training.train(loop, settings)

  def test_views_made_on_the_fly_keep_the_datasets_appearance(self):
    data_dir = self._changed_copy("photo", appearance="photo")
    loop, settings = self.config(os.path.join(self.root, "on_the_fly"),
                                 views="on_the_fly")
    loop = dataclasses.replace(loop, data_dir=data_dir)
    with mock.patch.object(view_stream, "ViewStream") as stream:
      embedding_training.make_dataset_fn(
          loop, settings, input_pipeline.read_metadata(data_dir))
    self.assertEqual(stream.call_args.args[2].appearance, "photo")


if __name__ == "__main__":
  tf.test.main()
