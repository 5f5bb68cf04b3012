"""Acceptance tests of the pretrained teachers shipped in hub_modules/."""

import glob
import os

import numpy as np
import tensorflow as tf
import tensorflow_hub as hub

from sph_embed.data import meshes
from sph_embed.data import raycast
from sph_embed.sphere import rotations as rotations_lib
from sph_embed.data import sources
from sph_embed.data import synthetic
from sph_embed.teacher import model as teacher_model
from sph_embed.teacher import evaluation as teacher_evaluation
from sph_embed.teacher import export as teacher_export
from tests import mesh_test_util

_SHIPPED = os.path.join(mesh_test_util.REPO_ROOT, "hub_modules")
# Seeds of neither split of the training data (train: 0.., test: 1e6..).
_FRESH_SEED = 2 * sources.TEST_SEED_START


def _teacher_config(manifest):
  return teacher_model.TeacherConfig.from_dict(manifest["teacher_config"])


class ShippedTeacherTest(tf.test.TestCase):
  """hub_modules/teacher_synthetic (subclasses: the other shipped teachers)."""
  module = os.path.join(_SHIPPED, "teacher_synthetic")

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.manifest = teacher_export.read_manifest(cls.module)
    cls.categories = cls.manifest["categories"]
    rng = np.random.default_rng(0)
    shapes = [meshes.normalize_mesh(synthetic.make_instance(c, _FRESH_SEED
                                                            + i))
              for i in range(2) for c in cls.categories]
    cls.labels = np.array([cls.categories.index(c) for _ in range(2)
                           for c in cls.categories])
    poses = rotations_lib.random_rotations(len(shapes), seed=rng)
    cls.maps = np.stack([raycast.raycast(m, 64, r)
                         for m, r in zip(shapes, poses)])[..., None]

  def test_keras_layer_shapes_and_equality_with_the_in_process_model(self):
    model = teacher_model.build_teacher(_teacher_config(self.manifest),
                                  len(self.categories))
    loaded = {v.name: v for v in tf.saved_model.load(self.module).variables}
    self.assertCountEqual(loaded, [v.name for v in model.variables])
    for variable in model.variables:
      variable.assign(loaded[variable.name])
    reference = model(self.maps, training=False)
    for key in teacher_model.OUTPUT_KEYS:
      inputs = tf.keras.Input((64, 64, 1))
      layer = hub.KerasLayer(self.module, trainable=False, output_key=key)
      wrapped = tf.keras.Model(inputs, layer(inputs))
      documented = tuple(self.manifest["output_shapes"][key][1:])
      self.assertEqual(wrapped.output_shape[1:], documented)
      outputs = wrapped(self.maps)
      self.assertEqual(outputs.shape[1:], documented)
      self.assertAllClose(outputs, reference[key], atol=1e-5, rtol=0)
    self.assertEqual(self.manifest["output_shapes"]["pose"][1:3], [16, 16])
    self.assertEqual(self.manifest["output_shapes"]["synthesis"][1:3],
                     [32, 32])

  def test_classifies_fresh_instances_in_random_rotations(self):
    layer = teacher_export.load_teacher_layer(self.module, "logits")
    predicted = np.argmax(layer(self.maps).numpy(), axis=-1)
    accuracy = np.mean(predicted == self.labels)
    self.assertGreaterEqual(accuracy, 0.8, msg=f"accuracy {accuracy}")

  def test_manifest_records_the_measurements(self):
    accuracy = self.manifest["accuracy"]
    self.assertGreater(accuracy["test_examples"], 0)
    self.assertBetween(accuracy["test_accuracy"], 0.0, 1.0)
    self.assertIn("tools/train_teacher.py",
                  " ".join(self.manifest["training"]["commands"]))
    self.assertIn("tools/export_teacher.py",
                  self.manifest["export_command"])
    # The data were built by tools/build_dataset.py or by the trainer's
    # --build_data, or merged from such builds.
    self.assertRegex(self.manifest["training_data"]["command_line"],
                     r"tools/(build_dataset|train_teacher|merge_datasets)\.py")
    self.assertIn("tools/evaluate_teacher.py",
                  self.manifest["equivariance"]["command"])
    self.assertIn("pose", self.manifest["equivariance"]["results"]["teacher"])
    self.assertTrue(self.manifest["real_mesh_predictions"])
    self.assertEqual(self.manifest["grid"]["bandwidth"], 32)
    size = sum(os.path.getsize(p) for p in glob.glob(
        os.path.join(self.module, "**"), recursive=True) if os.path.isfile(p))
    self.assertLess(size, 5 * 2**20)

  def test_equivariance_on_real_meshes_beats_the_planar_control(self):
    upright, rotated, rots = teacher_evaluation.mesh_maps(
        mesh_test_util.real_mesh_paths(), 3, seed=1)
    loaded = tf.saved_model.load(self.module)
    errors = teacher_evaluation.equivariance_errors(
        lambda x: {k: v.numpy() for k, v in loaded(x).items()},
        upright, rotated, rots)
    tf.keras.utils.set_random_seed(0)
    control = teacher_model.build_planar_control(_teacher_config(self.manifest),
                                           len(self.categories))
    control_errors = teacher_evaluation.equivariance_errors(
        lambda x: {k: v.numpy() for k, v in
                   control(x, training=False).items()},
        upright, rotated, rots)
    for key in teacher_evaluation.MAP_KEYS:
      ours, theirs = errors[key], control_errors[key]
      # The degree-0 part (channel means) is rotation invariant for any
      # network and dominates the plain error of a random control, so the
      # margin is wide on the centred error and narrower on the plain one.
      self.assertLess(ours["relative_l2"], 0.5 * theirs["relative_l2"],
                      msg=key)
      self.assertLess(ours["relative_l2_centered"],
                      0.25 * theirs["relative_l2_centered"], msg=key)


class ShippedFurnitureTeacherTest(ShippedTeacherTest):
  """The teacher trained on the synthetic shapes and the real furniture."""
  module = os.path.join(_SHIPPED, "teacher_synthetic_furniture")

  def test_trained_on_the_synthetic_and_the_furniture_builds(self):
    inputs = self.manifest["training_data"]["source"]["inputs"]
    self.assertEqual([i["source"]["kind"] for i in inputs],
                     ["synthetic", "list"])
    self.assertTrue(inputs[1]["source"]["input"].endswith(
        os.path.join("furniture", "list.txt")))
    self.assertEqual(inputs[1]["up_axis"], "y")


if __name__ == "__main__":
  tf.test.main()
