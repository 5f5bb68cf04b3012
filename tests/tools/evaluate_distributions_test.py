"""Tests for tools/evaluate_distributions.py, correlate.py's distribution
flags (--modes, --distribution_plots) and
pair_distributions.evaluate_embeddings.

Tiny synthetic embeddings files: band-limited maps of a few instances under
random poses (exact, so the top mode is the truth), one category with an
exact 2-fold symmetry.  No TensorFlow.
"""

import csv
import os
import tempfile

import numpy as np
from absl.testing import absltest
from PIL import Image

from sph_embed.pose import pair_distributions
from sph_embed.pose import embeddings_io
from sph_embed.sphere import rotations as rotations_lib
from sph_embed.sphere import sht_numpy
from tests import mesh_test_util

_TOOLS = os.path.join(mesh_test_util.REPO_ROOT, "tools")


def write_views(path, n=8, channels=2, instances=4, views=3, noise=0.3,
                seed=0):
  """Embeddings file of categories "plane" (2-fold symmetric) and "box"."""
  rng = np.random.default_rng(seed)
  maps, targets, poses, category, instance = [], [], [], [], []
  for name in ("plane", "box"):
    for k in range(instances):
      cilm = rng.normal(size=(channels, 2, n // 2, n // 2))
      cilm *= np.tril(np.ones((n // 2, n // 2)))
      cilm[:, 1, :, 0] = 0
      if name == "plane":
        cilm[..., 1::2] = 0   # invariant under a half-turn about z
      base = np.moveaxis(sht_numpy.isht(cilm, n), 0, -1)
      for r in rotations_lib.random_rotations(views, seed=rng):
        exact = sht_numpy.rotate_maps(base, r, channels_last=True)
        targets.append(exact)
        maps.append(exact + noise * rng.normal(size=exact.shape))
        poses.append(r)
        category.append(name)
        instance.append(f"{name}{k}")
  embeddings_io.save_embeddings(path, np.array(maps), np.array(poses),
                                category, instance, targets=np.array(targets))


def run_tool(name, *args):
  return mesh_test_util.run_script(os.path.join(_TOOLS, name), *args,
                                   timeout=300)


def read_csv(path):
  with open(path, newline="") as f:
    return list(csv.DictReader(f))


class EvaluateEmbeddingsTest(absltest.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.directory = tempfile.mkdtemp()
    cls.path = os.path.join(cls.directory, "views.npz")
    write_views(cls.path)

  def test_teacher_maps_recover_the_pose_up_to_symmetry(self):
    bench = pair_distributions.evaluate_embeddings(
        self.path, upsample=1, mode="teacher", modes=2,
        keep_per_category=1)
    self.assertEqual([r.name for r in bench.rows], ["box", "plane", "overall"])
    self.assertEqual(bench.rows[-1].pairs, 16)   # 8 instances x 2 pairs
    categories = bench.data["category"][bench.pairs[:, 0]]
    # Exact maps: box poses are the top mode; plane poses one of the top 2.
    box = categories == "box"
    np.testing.assert_array_less(bench.errors[box, 0], 1.0)
    np.testing.assert_array_less(np.nanmin(bench.errors[~box], axis=1), 1.0)
    # Every pair is scored with the temperature of the other half.
    self.assertEqual(set(bench.fit.halves.tolist()), {0, 1})
    # One plot per category kept, the first pair of each.
    self.assertEqual(sorted(bench.modes.plotted), [0, 8])
    self.assertAlmostEqual(bench.modes.plotted[0].sum(), 1.0, places=10)

  def test_symmetric_categories_fold_the_errors(self):
    bench = pair_distributions.evaluate_embeddings(
        self.path, upsample=1, mode="teacher", modes=1,
        symmetric_categories=("plane",))
    np.testing.assert_array_less(bench.errors[:, 0], 1.0)

  def test_tool_writes_table_csv_and_plots(self):
    output = os.path.join(self.directory, "pairs.csv")
    plots = os.path.join(self.directory, "plots")
    result = run_tool("evaluate_distributions.py", f"--embeddings={self.path}",
                      "--upsample=1", "--modes=2", f"--output={output}",
                      f"--plots_dir={plots}", "--plot_pairs=1")
    self.assertEqual(result.returncode, 0, result.stderr)
    self.assertIn("temperature fitted on instance half 0", result.stdout)
    for name in ("box", "plane", "overall"):
      self.assertRegex(result.stdout, f"\\n{name} +16|\\n{name} +8")
    rows = read_csv(output)
    self.assertLen(rows, 16)
    self.assertIn("mode2_mass", rows[0])
    coverages = np.array([float(r["coverage"]) for r in rows])
    self.assertTrue(np.all((coverages >= 0) & (coverages <= 1)))
    pngs = sorted(os.listdir(plots))
    self.assertLen(pngs, 2)
    with Image.open(os.path.join(plots, pngs[0])) as image:
      self.assertEqual(image.size, (800, 440))
    # A bad output is reported before computing, as one line.
    result = run_tool("evaluate_distributions.py", f"--embeddings={self.path}",
                      f"--output={os.path.join(self.directory, 'x.txt')}")
    self.assertEqual(result.returncode, 1)
    self.assertRegex(result.stderr.strip().splitlines()[-1],
                     "^evaluate_distributions.py: error: --output.*csv")

  def test_correlate_writes_modes_and_plots(self):
    output = os.path.join(self.directory, "correlate.csv")
    plots = os.path.join(self.directory, "correlate_plots")
    result = run_tool("correlate.py", f"--embeddings={self.path}",
                      "--upsample=1", "--mode=teacher", "--modes=2",
                      "--temperature=0.2", f"--output={output}",
                      f"--distribution_plots={plots}", "--plot_pairs=3")
    self.assertEqual(result.returncode, 0, result.stderr)
    rows = read_csv(output)
    self.assertLen(rows, 16)
    for row in rows:
      estimate = np.array([float(row[f"est_r{i}{j}"]) for i in range(3)
                           for j in range(3)])
      mode1 = np.array([float(row[f"mode1_r{i}{j}"]) for i in range(3)
                        for j in range(3)])
      # The top mode is the refined argmax of correlate's own estimate.
      np.testing.assert_allclose(mode1, estimate, atol=1e-4)
      self.assertAlmostEqual(float(row["mode1_error_deg"]),
                             float(row["error_deg"]), delta=1e-2)
      masses = float(row["mode1_mass"]) + float(row["mode2_mass"])
      self.assertLessEqual(masses, 1.0 + 1e-6)
    self.assertLen(os.listdir(plots), 3)


if __name__ == "__main__":
  absltest.main()
