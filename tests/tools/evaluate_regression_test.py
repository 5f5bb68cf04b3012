"""Tests for tools/evaluate_regression.py and sph_embed.report.absolute_poses.

The regression CSV must score exactly the pairs tools/correlate.py scores
on an embeddings file of the same split (same views in the same order,
same pair-making code and seed), in the same columns, so that the report
shows the two side by side.
"""

import csv
import os

import numpy as np
import tensorflow as tf
from absl.testing import parameterized
from scipy.spatial import transform

from sph_embed.baselines import export as regression_export
from sph_embed.data import input_pipeline
from sph_embed.embedding import export as embedding_export
from sph_embed.embedding import inference as embedding_inference
from sph_embed.embedding import training as embedding_training
from sph_embed.pose import embeddings_io
from sph_embed.report import correlate_embeddings
from sph_embed.report import absolute_poses
from tests import mesh_test_util
from tests import untrained_runs

_PAIR_COLUMNS = ("index1", "index2", "category", "instance1", "instance2")
_TRUE_COLUMNS = tuple(f"true_r{i}{j}" for i in range(3) for j in range(3))
_EST_COLUMNS = tuple(f"est_r{i}{j}" for i in range(3) for j in range(3))


def run_tool(*args):
  return mesh_test_util.run_script("tools/evaluate_regression.py", *args)


def read_csv(path):
  with open(path, newline="", encoding="utf-8") as f:
    return list(csv.DictReader(f))


def columns(rows, names, dtype=str):
  return np.array([[dtype(row[n]) for n in names] for row in rows])


class EvaluateRegressionTest(tf.test.TestCase, parameterized.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.root = mesh_test_util.class_temp_dir(cls)
    cls.paths = untrained_runs.make_pose_runs(cls.root)
    # The embeddings file of the test split, as tools/save_embeddings.py
    # writes it, and correlate's CSVs of it.
    teacher, _ = embedding_training.load_teacher(cls.paths.teacher, "pose")
    arrays = embedding_inference.embed_split(
        embedding_export.load_embedding(cls.paths.embedding_module), teacher,
        cls.paths.data_dir, "test", 5)
    cls.embeddings = os.path.join(cls.root, "embeddings_test.npz")
    embeddings_io.save_embeddings(cls.embeddings, **arrays)
    for protocol in ("ib", "cb"):
      correlate_embeddings.run(
          cls.embeddings, protocol, pairs_per_instance=2, upsample=1,
          output=os.path.join(cls.root, f"pose_{protocol}_image.csv"),
          progress=False)
    test = [b for b in input_pipeline.make_dataset(
        cls.paths.data_dir, "test", 4, shuffle=False)]
    cls.images = np.concatenate([b["image"].numpy() for b in test])
    cls.rotations = np.concatenate([b["rotation"].numpy() for b in test])

  def lookup_predictor(self, offset, side):
    """A predictor that knows each view's true rotation R: R Q (right) or
    Q R (left) for the rotation `offset` Q."""

    def predict(images):
      distances = np.abs(images[:, None] - self.images[None]).sum(
          axis=(2, 3, 4))
      truth = self.rotations[np.argmin(distances, axis=1)].astype(np.float64)
      return truth @ offset if side == "right" else offset @ truth

    return absolute_poses.rotation_predictor(predict)

  @parameterized.parameters("ib", "cb")
  def test_pairs_are_those_of_correlate(self, protocol):
    output = os.path.join(self.root, f"pose_{protocol}_regression.csv")
    result = run_tool(f"--module={self.paths.regression_module}",
                      f"--data_dir={self.paths.data_dir}", "--split=test",
                      f"--protocol={protocol}", "--pairs=2",
                      f"--output={output}")
    self.assertEqual(result.returncode, 0, result.stderr[-3000:])
    self.assertIn(f"({'test'} split): protocol {protocol.upper()},"
                  " regression", result.stdout)
    self.assertRegex(result.stdout, r"\noverall +\d+ ")
    ours = read_csv(os.path.join(self.root, f"pose_{protocol}_image.csv"))
    regression = read_csv(output)
    self.assertEqual(list(regression[0]), list(ours[0]))  # Same columns.
    self.assertGreaterEqual(len(ours), 4)
    self.assertAllEqual(columns(regression, _PAIR_COLUMNS),
                        columns(ours, _PAIR_COLUMNS))
    self.assertAllClose(columns(regression, _TRUE_COLUMNS, float),
                        columns(ours, _TRUE_COLUMNS, float), atol=1e-6)

  def test_run_and_module_agree(self):
    outputs = {}
    for source in ("model_dir", "module"):
      predict, spec = regression_export.load_predictor(**{
          source: (self.paths.regression_dir if source == "model_dir"
                   else self.paths.regression_module)})
      outputs[source] = os.path.join(self.root, f"{source}.csv")
      rows, skipped, _ = absolute_poses.run(
          absolute_poses.rotation_predictor(predict), spec["image_size"],
          self.paths.data_dir, "test", "ib", 2,
          output=outputs[source], batch_size=5)
      self.assertEqual(skipped, [])
      self.assertEqual([r.name for r in rows], ["car", "chair", "overall"])
    model_dir, module = (read_csv(outputs[k]) for k in ("model_dir",
                                                        "module"))
    self.assertAllClose(columns(model_dir, _EST_COLUMNS, float),
                        columns(module, _EST_COLUMNS, float), atol=1e-4)

  @parameterized.parameters("ib", "cb")
  def test_a_perfect_predictor_scores_zero(self, protocol):
    offset = transform.Rotation.from_rotvec([0.4, -1.1, 2.3]).as_matrix()
    output = os.path.join(self.root, "perfect.csv")
    absolute = os.path.join(self.root, "absolute_perfect.csv")
    rows, _, _ = absolute_poses.run(
        self.lookup_predictor(offset, "right"), 32, self.paths.data_dir,
        protocol=protocol, pairs_per_instance=2, output=output,
        absolute_output=absolute)
    # Absolute poses see the offset: R Q is the angle of Q from R.
    views = read_csv(absolute)
    self.assertLen(views, len(self.images))
    self.assertAllClose(columns(views, ("error_deg",), float),
                        np.full((len(views), 1), np.degrees(np.linalg.norm(
                            [0.4, -1.1, 2.3]))), atol=0.05)
    self.assertEqual({row["log_likelihood"] for row in views}, {""})
    # Not exactly 0: the dataset's float32 rotations are orthonormal to
    # ~1e-7, which arccos turns into up to ~0.02 degrees.
    self.assertAllClose(columns(read_csv(output), ("error_deg",), float),
                        np.zeros((rows[-1].pairs, 1)), atol=0.05)
    self.assertEqual(rows[-1].accuracy, (100.0, 100.0))
    # An offset in the camera frame does not cancel: the score can fail.
    rows, _, _ = absolute_poses.run(
        self.lookup_predictor(offset, "left"), 32, self.paths.data_dir,
        protocol=protocol, pairs_per_instance=2)
    self.assertGreater(rows[-1].median, 10.0)

  def test_library_bad_inputs(self):
    predict = self.lookup_predictor(np.eye(3), "right")
    with self.assertRaisesRegex(input_pipeline.DataError, "views are 32 x"
                                " 32, the network takes 64 x 64"):
      absolute_poses.run(predict, 64, self.paths.data_dir)
    with self.assertRaisesRegex(ValueError, r"\(test split\):"
                                r" --symmetric_categories names \['plane'\]"):
      absolute_poses.run(predict, 32, self.paths.data_dir,
                           symmetric_categories=("plane",))

  def test_tool_bad_inputs_are_one_line(self):
    existing = os.path.join(self.root, "existing.csv")
    with open(existing, "w", encoding="utf-8") as f:
      f.write("keep\n")
    for args, message in (
        ([f"--model_dir={self.paths.regression_dir}",
          f"--module={self.paths.regression_module}"],
         "give exactly one of --model_dir (a training run) and --module"),
        ([f"--module={self.paths.embedding_module}"],
         f"{self.paths.embedding_module}: a pose_embedding module, not a"
         " pose_regression module"),
        ([f"--module={self.paths.regression_module}",
          f"--output={existing}"],
         f"--output={existing}: already exists; pass --overwrite")):
      result = run_tool(*args)
      self.assertEqual(result.returncode, 1, result.stderr[-2000:])
      last = result.stderr.strip().splitlines()[-1]
      self.assertTrue(last.startswith("evaluate_regression.py: error: "),
                      last)
      self.assertIn(message, last)
    with open(existing, encoding="utf-8") as f:
      self.assertEqual(f.read(), "keep\n")


if __name__ == "__main__":
  tf.test.main()
