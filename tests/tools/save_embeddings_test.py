"""Tests for tools/save_embeddings.py --module (a pose embedding module).

The file written from a module must be the file written from the run it
was exported from: same keys, dtypes, shapes and values.  (The tool with
--model_dir is tested in tests/embedding/training_test.py.)
"""

import os

import numpy as np
import tensorflow as tf

from tests import mesh_test_util
from tests import untrained_runs


def run_tool(*args):
  return mesh_test_util.run_script("tools/save_embeddings.py", *args)


class SaveEmbeddingsFromModuleTest(tf.test.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.root = mesh_test_util.class_temp_dir(cls)
    cls.paths = untrained_runs.make_pose_runs(cls.root)

  def assert_one_line_error(self, result, message):
    self.assertEqual(result.returncode, 1, result.stderr[-2000:])
    last = result.stderr.strip().splitlines()[-1]
    self.assertTrue(last.startswith("save_embeddings.py: error: "), last)
    self.assertIn(message, last)

  def test_module_writes_the_runs_file(self):
    files = {}
    for flag, path in (("model_dir", self.paths.embedding_dir),
                       ("module", self.paths.embedding_module)):
      files[flag] = os.path.join(self.root, f"{flag}.npz")
      result = run_tool(f"--{flag}={path}", "--split=test",
                        f"--output={files[flag]}")
      self.assertEqual(result.returncode, 0, result.stderr[-3000:])
      self.assertIn("wrote", result.stdout)
    with np.load(files["model_dir"]) as run, np.load(files["module"]) as module:
      self.assertEqual(sorted(run.files), sorted(module.files))
      self.assertEqual(sorted(run.files), ["category", "embeddings", "images",
                                           "instance", "rotations",
                                           "targets"])
      for key in run.files:
        self.assertEqual((module[key].dtype, module[key].shape),
                         (run[key].dtype, run[key].shape), key)
        if key == "embeddings":
          self.assertAllClose(module[key], run[key], atol=1e-5)
        else:
          self.assertAllEqual(module[key], run[key])
      self.assertEqual(run["embeddings"].shape,
                       (12,) + self.paths.target_shape)

  def test_bad_inputs_are_one_line(self):
    output = os.path.join(self.root, "never.npz")
    self.assert_one_line_error(
        run_tool(f"--model_dir={self.paths.embedding_dir}",
                 f"--module={self.paths.embedding_module}",
                 f"--output={output}"),
        "give exactly one of --model_dir (a training run) and --module")
    self.assert_one_line_error(
        run_tool(f"--module={self.paths.regression_module}",
                 f"--output={output}"),
        f"{self.paths.regression_module}: a pose_regression module, not a"
        " pose_embedding module")
    self.assert_one_line_error(
        run_tool(f"--module={self.paths.embedding_module}", "--view_turns=3",
                 f"--output={output}"),
        "--view_turns must be one of [1, 2, 4] (evenly spaced quarter turns"
        " of the view), got 3")
    self.assertFalse(os.path.exists(output))

  def test_another_kind_of_module_as_teacher_names_the_flag(self):
    # Issue 30: "the SavedModel has no @tf.function __call__".
    self.assert_one_line_error(
        run_tool(f"--module={self.paths.embedding_module}",
                 f"--hub_module={self.paths.embedding_module}",
                 f"--output={os.path.join(self.root, 'never.npz')}"),
        f"--hub_module: {self.paths.embedding_module}: a pose_embedding"
        " module, not a teacher module (written by tools/export_teacher.py)")

  def test_damaged_shard_is_named_with_what_to_do(self):
    # Issue 30: a raw DataLossError traceback.
    data_dir = os.path.join(self.root, "damaged_data")
    shard = mesh_test_util.damaged_copy(self.paths.data_dir, data_dir, "test")
    self.assert_one_line_error(
        run_tool(f"--module={self.paths.embedding_module}",
                 f"--data_dir={data_dir}",
                 f"--output={os.path.join(self.root, 'never.npz')}"),
        f"{shard}: unreadable (DataLossError: corrupted record at")
    self.assertFalse(os.path.exists(os.path.join(self.root, "never.npz")))


if __name__ == "__main__":
  tf.test.main()
