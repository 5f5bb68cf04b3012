"""Tests for tools/evaluate_image2sphere.py (sph_embed.report.absolute_poses
with an Image2Sphere predictor), on an untrained tiny network.

The network's quality is not tested; what is: the relative poses are
R_hat_j R_hat_i^T of the per-view argmaxes written beside them, the
log-likelihoods are those of the pose layer's score of `predict`'s
distributions in the split's order, and the plots and bad inputs.
"""

import csv
import os

import numpy as np
from PIL import Image
import tensorflow as tf

from sph_embed.baselines import image2sphere
from sph_embed.baselines import image2sphere_training
from sph_embed.data import input_pipeline
from sph_embed.data import views
from sph_embed.pose import absolute_distributions
from sph_embed.report import absolute_poses
from tests import mesh_test_util
from tests import untrained_runs
from tests.baselines.image2sphere_test import TINY

_GRID = 12
_VIEWS = views.ViewConfig(views_per_instance=3, image_size=32,
                          sphere_size=16, seed=5)


def read_csv(path):
  with open(path, newline="", encoding="utf-8") as f:
    return list(csv.DictReader(f))


def matrices(rows, prefix):
  return np.array([[float(row[f"{prefix}_r{i}{j}"]) for i in range(3)
                    for j in range(3)] for row in rows]).reshape(-1, 3, 3)


class EvaluateImage2SphereTest(tf.test.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.root = mesh_test_util.class_temp_dir(cls)
    cls.data_dir = os.path.join(cls.root, "data")
    mesh_test_util.build_tiny_synthetic(cls.data_dir, train=1, test=2,
                                        config=_VIEWS)
    cls.model_dir = untrained_runs.image2sphere_run(
        os.path.join(cls.root, "image2sphere"), cls.data_dir, 4, TINY)

  def run_tool(self, *args):
    return mesh_test_util.run_script(
        "tools/evaluate_image2sphere.py", f"--model_dir={self.model_dir}",
        f"--grid_size={_GRID}", *args)

  def test_csvs_agree_and_plots_are_written(self):
    relative = os.path.join(self.root, "pose_ib_image2sphere.csv")
    absolute = os.path.join(self.root, "absolute_image2sphere.csv")
    plots = os.path.join(self.root, "plots")
    result = self.run_tool("--pairs=2", f"--output={relative}",
                           f"--absolute_output={absolute}",
                           f"--distribution_plots={plots}")
    self.assertEqual(result.returncode, 0, result.stderr[-3000:])
    self.assertIn(f"protocol IB, Image2Sphere (grid {_GRID})", result.stdout)
    self.assertRegex(result.stdout, r"category +views +median err \(deg\)"
                     r" +acc@15 \(%\) +acc@30 \(%\) +log-likelihood")
    views_rows = read_csv(absolute)
    self.assertLen(views_rows, 2 * 2 * 3)  # categories x instances x views
    self.assertTrue(np.isfinite([float(r["log_likelihood"])
                                 for r in views_rows]).all())
    estimated = matrices(views_rows, "est")
    pairs = read_csv(relative)
    self.assertGreaterEqual(len(pairs), 4)
    for row in pairs:
      i, j = int(row["index1"]), int(row["index2"])
      self.assertEqual(views_rows[i]["instance"], row["instance1"])
      self.assertAllClose(matrices([row], "est")[0],
                          estimated[j] @ estimated[i].T, atol=1e-5)
      self.assertAllClose(matrices([row], "true")[0],
                          matrices([views_rows[j]], "true")[0]
                          @ matrices([views_rows[i]], "true")[0].T,
                          atol=1e-5)
    # One plot per category, of its first view.
    first = {}
    for i, row in enumerate(views_rows):
      first.setdefault(row["category"], f"{row['category']}_{i:04d}.png")
    self.assertCountEqual(os.listdir(plots), first.values())
    with Image.open(os.path.join(plots, first["chair"])) as image:
      self.assertEqual(image.size, (800, 440))

  def test_library_scores_are_the_pose_layers_in_split_order(self):
    model, spec = image2sphere_training.restore_model(self.model_dir)
    predictor = image2sphere.Predictor(model, _GRID)
    _, _, table = absolute_poses.run(
        absolute_poses.image2sphere_predictor(predictor), spec["image_size"],
        self.data_dir, "test", "cb", 2, batch_size=5)
    # The split's fixed order (parallel reads otherwise may reorder it).
    batches = list(input_pipeline.make_dataset(
        self.data_dir, "test", 64, shuffle=False, deterministic=True))
    images = np.concatenate([b["image"].numpy() for b in batches])
    truth = np.concatenate([b["rotation"].numpy() for b in batches])
    # The same batches: an untrained network's density is nearly flat, so
    # its argmax can move with the batch's float rounding.
    predictions = image2sphere.predict(model, images, _GRID, batch_size=5)
    self.assertAllClose(table["predicted"], predictions.rotations)
    self.assertAllClose(
        table["log_likelihood"],
        absolute_distributions.log_likelihoods(
            predictions.probabilities, truth, _GRID), atol=1e-4)

  def test_bad_inputs_are_one_line(self):
    same = os.path.join(self.root, "same.csv")
    for args, message in (
        (["--grid_size=13"], "--grid_size=13: must be even"),
        (["--plot_views=1,x"], "--plot_views=1,x: not integers"),
        ([f"--output={same}", f"--absolute_output={same}"],
         "--output and --absolute_output are the same file"),
        ([f"--model_dir={self.data_dir}"], "image2sphere_model.json")):
      result = self.run_tool(*args)
      self.assertEqual(result.returncode, 1, result.stderr[-2000:])
      last = result.stderr.strip().splitlines()[-1]
      self.assertTrue(last.startswith("evaluate_image2sphere.py: error: "),
                      last)
      self.assertIn(message, last)
    self.assertFalse(os.path.exists(same))


if __name__ == "__main__":
  tf.test.main()
