"""Training on fresh views (views='fresh'): it trains, resumes exactly, and
refuses datasets whose views it cannot draw."""

import dataclasses
import json
import os
import shutil

import tensorflow as tf

from sph_embed.data import input_pipeline
from sph_embed.embedding import training as embedding_training
from tests.embedding import training_test


class FreshViewTrainingTest(training_test.TinyRunTestCase):

  def _config(self, name, **overrides):
    return self.config(os.path.join(self.root, name), views="fresh",
                       max_steps=6, eval_every_steps=None,
                       checkpoint_every_steps=2, **overrides)

  def test_interrupted_run_resumes_on_the_same_fresh_views(self):
    tf.config.experimental.enable_op_determinism()
    images = next(iter(input_pipeline.make_dataset(
        self.data_dir, "test", 4, shuffle=False)))["image"]
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

  def test_two_dof_datasets_are_refused(self):
    two_dof = os.path.join(self.root, "two_dof")
    shutil.copytree(self.data_dir, two_dof)
    path = os.path.join(two_dof, "dataset.json")
    with open(path, encoding="utf-8") as f:
      metadata = json.load(f)
    metadata["dof"] = 2
    with open(path, "w", encoding="utf-8") as f:
      json.dump(metadata, f)
    loop, settings = self._config("refused")
    loop = dataclasses.replace(loop, data_dir=two_dof)
    with self.assertRaisesRegex(input_pipeline.DataError,
                                "views='fresh' draws 3DOF poses"):
      embedding_training.train(loop, settings)


if __name__ == "__main__":
  tf.test.main()
