"""Tests for the teacher network and its planar control."""

import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from sph_embed.sphere import centered_pooling
from sph_embed.sphere import layers
from sph_embed.data import meshes
from sph_embed.data import raycast
from sph_embed.sphere import rotations as rotations_lib
from sph_embed.data import synthetic
from sph_embed.teacher import model as teacher_model
from sph_embed.teacher import evaluation as teacher_evaluation


class ArchitectureTest(tf.test.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.model = teacher_model.build_teacher(teacher_model.TeacherConfig(), num_classes=11)

  def test_default_architecture(self):
    config = teacher_model.TeacherConfig()
    model = self.model
    convs = [l for l in model.layers if isinstance(l, layers.SphericalConv)]
    self.assertLen(convs, 10)
    self.assertEqual(config.num_spectral_convs, 10)
    grids = [l.input.shape[1] for l in model.layers if isinstance(
        l, centered_pooling.CenteredSphericalPool)]
    self.assertEqual(grids, [64, 32, 16])
    grid_pooled = teacher_model.build_teacher(
        teacher_model.TeacherConfig(pooling="grid"), 11)
    self.assertLen([l for l in grid_pooled.layers
                    if isinstance(l, layers.SphericalPool)], 3)
    self.assertEqual(model.get_layer("global_pool").input.shape[1], 8)
    shapes = {k: tuple(v.shape[1:]) for k, v in model.output.items()}
    self.assertEqual(shapes, config.output_shapes(11))
    self.assertEqual(shapes["pose"][:2], (16, 16))
    self.assertEqual(shapes["synthesis"][:2], (32, 32))

  def test_targets_are_inside_the_bottlenecks(self):
    config = teacher_model.TeacherConfig()
    model = self.model
    for key, stage in (("synthesis", 0), ("pose", 1)):
      last = config.blocks_per_stage - 1
      source = model.get_layer(key).input
      self.assertIs(source, model.get_layer(
          f"stage{stage}_block{last}_reduce_relu").output)
      block_output = model.get_layer(f"stage{stage}_block{last}_out").output
      self.assertEqual(block_output.shape[-1],
                       config.bottleneck_ratio * source.shape[-1])

  def test_tiny_forward_and_gradients(self):
    model = teacher_model.build_teacher(teacher_model.TeacherConfig.tiny(), 3)
    x = tf.random.uniform((2, 64, 64, 1))
    with tf.GradientTape() as tape:
      out = model(x, training=True)
      loss = tf.reduce_mean(out["logits"] ** 2)
    self.assertEqual(out["pose"].shape, (2, 16, 16, 2))
    self.assertEqual(out["synthesis"].shape, (2, 32, 32, 2))
    grads = tape.gradient(loss, model.trainable_variables)
    self.assertTrue(all(g is not None for g in grads))

  def test_planar_control_has_the_same_interface(self):
    config = teacher_model.TeacherConfig()
    control = teacher_model.build_planar_control(config, 11)
    self.assertFalse(any(isinstance(l, layers.SphericalConv)
                         for l in control.layers))
    self.assertEqual({k: tuple(v.shape[1:]) for k, v in
                      control.output.items()}, config.output_shapes(11))
    self.assertBetween(control.count_params() / self.model.count_params(),
                       0.5, 2.0)


class ConfigTest(tf.test.TestCase, parameterized.TestCase):

  @parameterized.parameters(
      (dict(stage_filters=(30, 64)), "multiples of bottleneck_ratio"),
      (dict(stage_filters=(32,)), "must hold 2 widths"),
      (dict(stem_filters=0), "stem_filters must be a positive integer"),
      (dict(blocks_per_stage=0), "blocks_per_stage"),
      (dict(head_filters=2.5), "head_filters"),
      (dict(pooling="max"), "pooling must be one of"))
  def test_bad_config(self, fields, message):
    with self.assertRaisesRegex(ValueError, message):
      teacher_model.build_teacher(teacher_model.TeacherConfig(**fields), 4)

  def test_presets(self):
    # cpu: the shipped synthetic teacher's widths.
    self.assertEqual(teacher_model.preset("cpu"), teacher_model.TeacherConfig())
    paper = teacher_model.preset("paper")
    self.assertEqual(paper.num_spectral_convs, 10)  # Appendix A.1.
    self.assertEqual(paper.output_shapes(40),
                     {"logits": (40,), "pose": (16, 16, 32),
                      "synthesis": (32, 32, 16)})
    self.assertEqual(teacher_model.preset("paper", stage_filters=[8, 16],
                                          head_filters=None).stage_filters,
                     (8, 16))
    with self.assertRaisesRegex(ValueError, "unknown teacher preset"):
      teacher_model.preset("gpu")
    with self.assertRaisesRegex(ValueError, "multiples of bottleneck_ratio"):
      teacher_model.preset("cpu", stage_filters=[6, 8])

  def test_bad_num_classes(self):
    with self.assertRaisesRegex(ValueError, "num_classes"):
      teacher_model.build_teacher(teacher_model.TeacherConfig.tiny(), 1)


class EquivarianceTest(tf.test.TestCase):

  def test_teacher_is_far_more_equivariant_than_the_control(self):
    """Random weights, synthetic meshes: the architecture's equivariance."""
    shapes = [meshes.normalize_mesh(synthetic.make_instance(c, 5))
              for c in ("chair", "airplane")]
    rots = rotations_lib.random_rotations(6, seed=1).reshape(2, 3, 3, 3)
    upright = np.stack([raycast.raycast(m) for m in shapes])
    rotated = np.stack([[raycast.raycast(m, 64, r) for r in mesh_rots]
                        for m, mesh_rots in zip(shapes, rots)])
    errors = {}
    for build in (teacher_model.build_teacher, teacher_model.build_planar_control):
      tf.keras.utils.set_random_seed(0)
      model = build(teacher_model.TeacherConfig.tiny(), 3)
      apply = lambda x, m=model: {k: v.numpy() for k, v in
                                  m(x, training=False).items()}
      errors[build.__name__] = teacher_evaluation.equivariance_errors(
          apply, upright, rotated, rots)
    for key in teacher_evaluation.MAP_KEYS:
      for measure in ("relative_l2", "relative_l2_centered"):
        spherical = errors["build_teacher"][key][measure]
        planar = errors["build_planar_control"][key][measure]
        self.assertLess(spherical, 0.4 * planar, msg=(key, measure))
      self.assertGreater(
          errors["build_planar_control"][key]["relative_l2_centered"], 0.5)


if __name__ == "__main__":
  tf.test.main()
