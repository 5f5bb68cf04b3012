"""Tests for the TF-Hub export of the teacher and loading it back."""

import json
import os
import shutil
import tempfile
from unittest import mock

import numpy as np
import tensorflow as tf
import tensorflow_hub as hub

from sph_embed.teacher import model as teacher_model
from sph_embed.teacher import export as teacher_export


def _tempdir(test):
  path = tempfile.mkdtemp()
  test.addCleanup(shutil.rmtree, path, ignore_errors=True)
  return path


class ExportTest(tf.test.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    tf.keras.utils.set_random_seed(3)
    cls.model = teacher_model.build_teacher(teacher_model.TeacherConfig.tiny(), 4)
    # Non-trivial batch-norm statistics, so inference mode matters.
    cls.model(tf.random.uniform((8, 64, 64, 1)), training=True)
    for v in cls.model.variables:
      if "moving" in v.name:
        v.assign(tf.random.uniform(v.shape, 0.5, 1.5))
    cls.root = tempfile.mkdtemp()
    cls.module = os.path.join(cls.root, "teacher")
    cls.manifest = teacher_export.export_teacher(
        cls.model, cls.module, {"training_data": "unit test"})
    cls.inputs = np.random.default_rng(0).uniform(
        size=(3, 64, 64, 1)).astype(np.float32)

  @classmethod
  def tearDownClass(cls):
    shutil.rmtree(cls.root, ignore_errors=True)
    super().tearDownClass()

  def test_manifest(self):
    manifest = teacher_export.read_manifest(self.module)
    self.assertEqual(manifest, json.loads(json.dumps(self.manifest)))
    self.assertEqual(manifest["training_data"], "unit test")
    self.assertEqual(manifest["grid"]["bandwidth"], 32)
    self.assertEqual(manifest["output_shapes"],
                     {"logits": [None, 4], "pose": [None, 16, 16, 2],
                      "synthesis": [None, 32, 32, 2]})

  def test_hub_keras_layer_matches_the_model(self):
    reference = self.model(self.inputs, training=False)
    for key in teacher_model.OUTPUT_KEYS:
      layer = hub.KerasLayer(self.module, trainable=False, output_key=key)
      inputs = tf.keras.Input((64, 64, 1))
      functional = tf.keras.Model(inputs, layer(inputs))
      self.assertEqual(functional.output_shape[1:],
                       tuple(self.manifest["output_shapes"][key][1:]))
      self.assertAllClose(functional(self.inputs), reference[key], atol=1e-5)
    sequential = tf.keras.Sequential([
        tf.keras.Input((64, 64, 1)),
        teacher_export.load_teacher_layer(self.module, "logits"),
        tf.keras.layers.Softmax()])
    self.assertAllClose(sequential(self.inputs),
                        tf.nn.softmax(reference["logits"]), atol=1e-5)

  def test_frozen_and_trainable_layers(self):
    frozen = teacher_export.load_teacher_layer(self.module, "pose")
    frozen(self.inputs)
    self.assertEmpty(frozen.trainable_weights)
    self.assertLen(frozen.weights, len(self.model.variables))
    tuned = teacher_export.load_teacher_layer(self.module, "pose",
                                              trainable=True)
    with tf.GradientTape() as tape:
      loss = tf.reduce_sum(tuned(self.inputs, training=True))
    grads = tape.gradient(loss, tuned.trainable_weights)
    self.assertLen(grads, len(self.model.trainable_variables))
    self.assertTrue(all(g is not None for g in grads))

  def test_export_replaces_an_existing_module(self):
    target = os.path.join(_tempdir(self), "module")
    teacher_export.export_teacher(self.model, target, {"version": 1})
    teacher_export.export_teacher(self.model, target, {"version": 2})
    self.assertEqual(teacher_export.read_manifest(target)["version"], 2)
    self.assertEqual(os.listdir(os.path.dirname(target)), ["module"])

  def test_failed_export_keeps_the_old_module(self):
    target = os.path.join(_tempdir(self), "module")
    teacher_export.export_teacher(self.model, target, {"version": 1})
    real_save = tf.saved_model.save

    def save_then_crash(obj, export_dir, **kwargs):
      real_save(obj, export_dir, **kwargs)  # Half of the job done...
      raise OSError("disk full")

    with mock.patch.object(tf.saved_model, "save", save_then_crash):
      with self.assertRaisesRegex(OSError, "disk full"):
        teacher_export.export_teacher(self.model, target, {"version": 2})
    self.assertEqual(os.listdir(os.path.dirname(target)), ["module"])
    self.assertEqual(teacher_export.read_manifest(target)["version"], 1)
    layer = teacher_export.load_teacher_layer(target, "pose")
    self.assertAllClose(layer(self.inputs),
                        self.model(self.inputs, training=False)["pose"],
                        atol=1e-5)

  def test_model_without_the_outputs_is_refused(self):
    inputs = tf.keras.Input((64, 64, 1))
    plain = tf.keras.Model(inputs, {"logits": tf.keras.layers.Flatten()(
        inputs)})
    with self.assertRaisesRegex(ValueError, r"no outputs \['pose',"
                                r" 'synthesis'\]"):
      teacher_export.export_teacher(plain, os.path.join(_tempdir(self), "m"),
                                    {})


class LoadErrorsTest(tf.test.TestCase):

  def test_missing_directory(self):
    path = os.path.join(_tempdir(self), "absent")
    with self.assertRaisesRegex(teacher_export.ModuleError,
                                f"{path}: no such directory"):
      teacher_export.load_teacher_layer(path, "pose")
    with self.assertRaisesRegex(teacher_export.ModuleError,
                                "no such directory"):
      teacher_export.read_manifest(path)

  def test_not_a_saved_model(self):
    path = _tempdir(self)
    with open(os.path.join(path, "manifest.json"), "w") as f:
      f.write("{}")
    with self.assertRaisesRegex(teacher_export.ModuleError,
                                f"{path}: not a SavedModel"):
      teacher_export.load_teacher_layer(path, "pose")
    file_path = os.path.join(path, "manifest.json")
    with self.assertRaisesRegex(teacher_export.ModuleError,
                                "not a directory"):
      teacher_export.load_teacher_layer(file_path, "pose")

  def test_module_of_another_kind_is_named_by_its_manifest(self):
    # Issue 30: "the SavedModel has no @tf.function __call__".
    path = _tempdir(self)
    tf.saved_model.save(tf.Module(), path)
    with open(os.path.join(path, "manifest.json"), "w") as f:
      f.write('{"module": "pose_embedding"}')
    with self.assertRaisesRegex(teacher_export.ModuleError,
                                f"^{path}: a pose_embedding module, not a"
                                " teacher module"):
      teacher_export.load_teacher_layer(path, "pose")

  def test_incompatible_saved_models(self):
    root = _tempdir(self)
    no_call = tf.Module()
    no_call.v = tf.Variable(1.0)
    tf.saved_model.save(no_call, os.path.join(root, "no_call"))
    with self.assertRaisesRegex(teacher_export.ModuleError,
                                "no @tf.function __call__"):
      teacher_export.load_teacher_layer(os.path.join(root, "no_call"),
                                        "pose")

    def module(shape, output):
      obj = tf.Module()
      obj.__call__ = tf.function(output,
                                 input_signature=[tf.TensorSpec(shape)])
      return obj

    tf.saved_model.save(module([None, 32, 32, 1], lambda x: {"pose": x}),
                        os.path.join(root, "small_grid"))
    with self.assertRaisesRegex(teacher_export.ModuleError,
                                r"takes float32 \[None, 32, 32, 1\]"):
      teacher_export.load_teacher_layer(os.path.join(root, "small_grid"),
                                        "pose")
    tf.saved_model.save(module([None, 64, 64, 1], lambda x: x),
                        os.path.join(root, "tensor_output"))
    with self.assertRaisesRegex(teacher_export.ModuleError, "not a dict"):
      teacher_export.load_teacher_layer(os.path.join(root, "tensor_output"),
                                        "pose")
    tf.saved_model.save(module([None, 64, 64, 1], lambda x: {"logits": x}),
                        os.path.join(root, "no_pose"))
    with self.assertRaisesRegex(teacher_export.ModuleError,
                                r"no output 'pose' \(outputs: \['logits'\]"):
      teacher_export.load_teacher_layer(os.path.join(root, "no_pose"),
                                        "pose")
    with self.assertRaisesRegex(teacher_export.ModuleError,
                                "no manifest.json"):
      teacher_export.read_manifest(os.path.join(root, "no_pose"))

  def test_wrong_input_shape_at_call(self):
    root = _tempdir(self)
    model = teacher_model.build_teacher(teacher_model.TeacherConfig.tiny(), 3)
    teacher_export.export_teacher(model, os.path.join(root, "m"), {})
    layer = teacher_export.load_teacher_layer(os.path.join(root, "m"),
                                              "pose")
    with self.assertRaisesRegex(ValueError, r"expects inputs of shape \[None,"
                                r" 64, 64, 1\].*\(2, 32, 32, 1\)"):
      layer(tf.zeros((2, 32, 32, 1)))

  def test_corrupt_manifest(self):
    root = _tempdir(self)
    model = teacher_model.build_teacher(teacher_model.TeacherConfig.tiny(), 3)
    path = os.path.join(root, "m")
    teacher_export.export_teacher(model, path, {})
    with open(os.path.join(path, "manifest.json"), "w") as f:
      f.write("{not json")
    with self.assertRaisesRegex(teacher_export.ModuleError,
                                "manifest.json: cannot read"):
      teacher_export.read_manifest(path)


if __name__ == "__main__":
  tf.test.main()
