"""Tests for tools/export_model.py (pose embedding and regression modules)."""

import json
import os

import tensorflow as tf

from sph_embed.baselines import export as regression_export
from sph_embed.data import input_pipeline
from sph_embed.embedding import export as embedding_export
from tests import mesh_test_util
from tests import untrained_runs


def run_tool(*args):
  return mesh_test_util.run_script("tools/export_model.py", *args)


class ExportModelTest(tf.test.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.root = mesh_test_util.class_temp_dir(cls)
    cls.paths = untrained_runs.make_pose_runs(cls.root)
    cls.images = next(iter(input_pipeline.make_dataset(
        cls.paths.data_dir, "test", 3, shuffle=False)))["image"].numpy()

  def assert_one_line_error(self, result, message):
    self.assertEqual(result.returncode, 1, result.stderr[-2000:])
    last = result.stderr.strip().splitlines()[-1]
    self.assertTrue(last.startswith("export_model.py: error: "), last)
    self.assertIn(message, last)

  def test_embedding_run_and_overwrite(self):
    export_dir = os.path.join(self.root, "pose_module")
    results = os.path.join(self.root, "results.json")
    with open(results, "w", encoding="utf-8") as f:
      json.dump({"ib": {"median_deg": 14.1}}, f)
    args = ["--kind=pose_embedding", f"--model_dir={self.paths.embedding_dir}",
            f"--export_dir={export_dir}", f"--results={results}"]
    result = run_tool(*args)
    self.assertEqual(result.returncode, 0, result.stderr[-3000:])
    self.assertIn("pose_embedding module, embed [None, 32, 32, 1] ->",
                  result.stdout)
    module = embedding_export.load_embedding(export_dir)
    self.assertEqual(module.manifest["results"], {"ib": {"median_deg": 14.1}})
    self.assertIn("tools/export_model.py --kind=pose_embedding",
                  module.manifest["export_command"])
    reference = embedding_export.load_embedding(self.paths.embedding_module)
    self.assertAllClose(module.embed(self.images),
                        reference.embed(self.images), atol=1e-6)

    # Again: refused without --overwrite, the module left as it was.
    before = sorted(os.listdir(export_dir))
    self.assert_one_line_error(
        run_tool(*args[:-1]), f"--export_dir={export_dir}: already holds a"
        " module; pass --overwrite to replace it")
    self.assertEqual(sorted(os.listdir(export_dir)), before)
    self.assertIn("results", embedding_export.read_manifest(export_dir))
    result = run_tool(*args[:-1], "--overwrite", "--description=second")
    self.assertEqual(result.returncode, 0, result.stderr[-3000:])
    manifest = embedding_export.read_manifest(export_dir)
    self.assertEqual(manifest["description"], "second")
    self.assertNotIn("results", manifest)

  def test_regression_run(self):
    export_dir = os.path.join(self.root, "tool_regression_module")
    result = run_tool("--kind=pose_regression",
                      f"--model_dir={self.paths.regression_dir}",
                      f"--export_dir={export_dir}")
    self.assertEqual(result.returncode, 0, result.stderr[-3000:])
    self.assertIn("pose_regression module, predict [None, 32, 32, 1] ->"
                  " [None, 3, 3], step 9", result.stdout)
    reference = regression_export.load_regression(
        self.paths.regression_module)
    self.assertAllClose(
        regression_export.load_regression(export_dir).predict(self.images),
        reference.predict(self.images), atol=1e-6)

  def test_bad_inputs_are_one_line(self):
    export_dir = os.path.join(self.root, "never")
    # An embedding run is no regression run.
    self.assert_one_line_error(
        run_tool("--kind=pose_regression",
                 f"--model_dir={self.paths.embedding_dir}",
                 f"--export_dir={export_dir}"),
        f"{self.paths.embedding_dir}/regression_model.json: not found")
    self.assertFalse(os.path.exists(export_dir))
    # A directory that is not a module is never replaced.
    self.assert_one_line_error(
        run_tool("--kind=pose_embedding",
                 f"--model_dir={self.paths.embedding_dir}",
                 f"--export_dir={self.paths.data_dir}", "--overwrite"),
        f"--export_dir={self.paths.data_dir}: exists and is not a previous"
        " output of this tool")
    self.assertTrue(os.path.exists(os.path.join(self.paths.data_dir,
                                                "dataset.json")))


if __name__ == "__main__":
  tf.test.main()
