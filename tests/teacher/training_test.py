"""Tests of the teacher trainer: resume after an interruption, results,
refusal to resume a different network, and export of the trained run."""

import dataclasses
import json
import os

import tensorflow as tf

from sph_embed.data import input_pipeline
from sph_embed.teacher import model as teacher_model
from sph_embed.teacher import export as teacher_export
from sph_embed.teacher import training as teacher_training
from sph_embed.training import loop as train_loop
from sph_embed.data import views
from tests import mesh_test_util

_STEPS = 4


class _Interrupted(Exception):
  pass


class TeacherTrainingTest(tf.test.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.data_dir = mesh_test_util.class_temp_dir(cls)
    mesh_test_util.build_tiny_synthetic(
        cls.data_dir, config=views.ViewConfig(views_per_instance=2,
                                              image_size=32, seed=3))

  def _config(self, model_dir, **overrides):
    fields = dict(data_dir=self.data_dir, model_dir=model_dir, batch_size=2,
                  max_steps=_STEPS, lr_boundaries=(2,), lr_values=(1e-3, 1e-4),
                  checkpoint_every_steps=2, checkpoint_every_minutes=None,
                  log_every_steps=1, command="test")
    fields.update(overrides)
    return train_loop.LoopConfig(**fields)

  def _teacher(self, **overrides):
    return teacher_training.TeacherTraining(
        network=overrides.pop("network", teacher_model.TeacherConfig.tiny()),
        **overrides)

  def test_interrupted_run_resumes_from_its_last_checkpoint(self):
    tf.config.experimental.enable_op_determinism()
    model_dir = mesh_test_util.temp_dir(self)

    def interrupt(step):
      if step == 3:
        raise _Interrupted()

    with self.assertRaises(_Interrupted):
      teacher_training.train(self._config(model_dir), self._teacher(),
                             after_step=interrupt)
    self.assertFalse(os.path.exists(
        os.path.join(model_dir, teacher_training.RESULTS_FILE)))
    model, result, results = teacher_training.train(self._config(model_dir),
                                                   self._teacher())
    self.assertEqual((result.start_step, result.final_step), (2, _STEPS))
    self.assertEqual(results["steps"], _STEPS)
    self.assertBetween(results["test_accuracy"], 0.0, 1.0)
    self.assertEqual(results["test_examples"], 4)  # 2 categories x 1 x 2

    # The reference: the same run without the interruption.
    reference_dir = mesh_test_util.temp_dir(self)
    reference, _, _ = teacher_training.train(self._config(reference_dir),
                                             self._teacher())
    for resumed, expected in zip(model.variables, reference.variables):
      self.assertAllClose(resumed, expected, atol=1e-6, rtol=0)

    # The exporter's path: rebuild from the spec and the checkpoint.
    restored, spec = teacher_training.restore_model(model_dir)
    self.assertEqual(spec["categories"], ["chair", "car"])
    maps = tf.random.uniform((2, 64, 64, 1), seed=1)
    self.assertAllClose(restored(maps, training=False)["pose"],
                        model(maps, training=False)["pose"], atol=1e-6)
    export_dir = os.path.join(mesh_test_util.temp_dir(self), "module")
    teacher_export.export_teacher(restored, export_dir, {"note": "test"})
    layer = teacher_export.load_teacher_layer(export_dir, "synthesis")
    self.assertAllClose(layer(maps), model(maps, training=False)["synthesis"],
                        atol=1e-5, rtol=0)

  def test_resuming_with_another_network_is_refused(self):
    model_dir = mesh_test_util.temp_dir(self)
    teacher_training.train(self._config(model_dir, max_steps=1),
                           self._teacher())
    wider = dataclasses.replace(teacher_model.TeacherConfig.tiny(), head_filters=16)
    with self.assertRaisesRegex(ValueError, "different.*teacher"):
      teacher_training.train(self._config(model_dir),
                             self._teacher(network=wider))
    with open(os.path.join(model_dir, teacher_training.SPEC_FILE)) as f:
      self.assertEqual(json.load(f)["teacher"]["head_filters"], 8)

  def test_dataset_with_another_grid_is_refused(self):
    data_dir = mesh_test_util.temp_dir(self)
    mesh_test_util.build_tiny_synthetic(data_dir)  # 16 x 16 maps
    with self.assertRaisesRegex(ValueError, "16 x 16.*--sphere_size=64"):
      teacher_training.train(self._config(mesh_test_util.temp_dir(self),
                                          data_dir=data_dir), self._teacher())

  def test_evaluate_scores_by_category_name(self):
    # A model of other categories in another order (the dataset's labels
    # are 0 and 1) that always answers its class 1 is right on `last` only.
    first, last = input_pipeline.read_metadata(self.data_dir)["categories"]
    def always_second(spheres, training=False):
      del training
      return {"logits": tf.one_hot(tf.ones(tf.shape(spheres)[0], tf.int32),
                                   3)}
    evaluation = teacher_training.evaluate(
        always_second, self.data_dir, categories=["sofa", last, first])
    self.assertEqual(evaluation["per_category"], {last: 1.0, first: 0.0})
    self.assertEqual(evaluation["accuracy"], 0.5)
    self.assertEqual(evaluation["confusion"][2][1],
                     evaluation["examples"] // 2)
    with self.assertRaisesRegex(ValueError, rf"categories \['{first}'\]"
                                " that the teacher does not classify"):
      teacher_training.evaluate(always_second, self.data_dir,
                                categories=[last, "sofa"])

if __name__ == "__main__":
  tf.test.main()
