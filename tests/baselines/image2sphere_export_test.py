"""Tests for sph_embed.baselines.image2sphere_export and
tools/export_model.py --kind=image2sphere, on an untrained tiny run.

What is tested is the plumbing: the module computes what the run's network
computes, its distributions equal the run's on any grid, its manifest
describes it, and it is refused where another kind of module is expected.
"""

import os

import tensorflow as tf

from sph_embed.baselines import image2sphere_export
from sph_embed.baselines import image2sphere_training
from sph_embed.data import input_pipeline
from sph_embed.embedding import export as embedding_export
from sph_embed.sphere import so3
from sph_embed.training import export as module_export
from tests import mesh_test_util
from tests import untrained_runs
from tests.baselines.image2sphere_test import TINY
from tests.tools import evaluate_image2sphere_test

STEPS = 4


def make_image2sphere_module(root, views=evaluate_image2sphere_test._VIEWS):
  """(data_dir, run, module) of an untrained tiny Image2Sphere network
  taking the images of `views` (a ViewConfig)."""
  data_dir = os.path.join(root, "data")
  mesh_test_util.build_tiny_synthetic(data_dir, train=1, test=1,
                                      config=views)
  run = untrained_runs.image2sphere_run(os.path.join(root, "image2sphere"),
                                        data_dir, STEPS, TINY)
  module = os.path.join(root, "image2sphere_module")
  image2sphere_export.export_run(run, module)
  return data_dir, run, module


class Image2SphereExportTest(tf.test.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.root = mesh_test_util.class_temp_dir(cls)
    cls.data_dir, cls.run_dir, cls.module = make_image2sphere_module(
        cls.root)
    cls.images = next(iter(input_pipeline.make_dataset(
        cls.data_dir, "test", 4, shuffle=False)))["image"].numpy()

  def test_module_computes_the_runs_network(self):
    module = image2sphere_export.load_image2sphere(self.module)
    network, spec = image2sphere_training.restore_model(self.run_dir)
    self.assertEqual(module.image_size, spec["image_size"])
    self.assertEqual(module.output_shape,
                     (None, so3.flat_size(TINY.lmax)))
    self.assertAllClose(module(self.images),
                        network(self.images, training=False), atol=1e-5)
    with self.assertRaisesRegex(ValueError, "inference mode only"):
      module(self.images, training=True)

  def test_manifest_describes_the_module(self):
    manifest = image2sphere_export.read_manifest(self.module)
    self.assertEqual(manifest["module"], "image2sphere")
    self.assertEqual(manifest["lmax"], TINY.lmax)
    self.assertEqual(manifest["eval_grid_size"], TINY.eval_grid_size)
    run = manifest[image2sphere_export.RUN_KEY]
    self.assertEqual(run["steps"], STEPS)
    self.assertEqual(run["model_dir"], os.path.abspath(self.run_dir))
    self.assertIsNone(run["command"])   # TINY is not a preset.
    self.assertEqual(manifest["training_data"]["data_dir"],
                     os.path.abspath(self.data_dir))

  def test_predictors_of_module_and_run_agree(self):
    from_module, spec = image2sphere_export.load_predictor(module=self.module)
    from_run, _ = image2sphere_export.load_predictor(model_dir=self.run_dir,
                                                     grid_size=12)
    self.assertEqual(from_module.grid_size, TINY.eval_grid_size)
    self.assertEqual(spec,
                     image2sphere_training.read_model_spec(self.run_dir))
    on_twelve, _ = image2sphere_export.load_predictor(module=self.module,
                                                      grid_size=12)
    expected = from_run(self.images)
    found = on_twelve(self.images)
    self.assertAllClose(found.probabilities, expected.probabilities,
                        atol=1e-6)
    self.assertAllClose(found.rotations, expected.rotations)
    with self.assertRaisesRegex(ValueError, "exactly one"):
      image2sphere_export.load_predictor(model_dir=self.run_dir,
                                         module=self.module)

  def test_refused_where_another_kind_is_expected(self):
    with self.assertRaisesRegex(
        module_export.ModuleError, f"{self.module}: a image2sphere module,"
        " not a pose_embedding module"):
      embedding_export.load_embedding(self.module)
    with self.assertRaisesRegex(module_export.ModuleError,
                                "not a image2sphere module"):
      image2sphere_export.load_image2sphere(self.data_dir)

  def test_export_model_tool(self):
    export_dir = os.path.join(self.root, "tool_module")
    result = mesh_test_util.run_script(
        "tools/export_model.py", "--kind=image2sphere",
        f"--model_dir={self.run_dir}", f"--export_dir={export_dir}")
    self.assertEqual(result.returncode, 0, result.stderr[-3000:])
    self.assertIn("image2sphere module, fourier [None, 32, 32, 1] -> [None,"
                  f" {so3.flat_size(TINY.lmax)}], step {STEPS}",
                  result.stdout)
    self.assertAllClose(
        image2sphere_export.load_image2sphere(export_dir)(self.images),
        image2sphere_export.load_image2sphere(self.module)(self.images),
        atol=1e-6)


if __name__ == "__main__":
  tf.test.main()
