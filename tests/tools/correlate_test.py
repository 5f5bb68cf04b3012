"""Tests for tools/correlate.py and sph_embed.pose.evaluation.

The end-to-end convention check ray-casts real meshes (vendored in
tests/testdata/meshes) under poses R1, R2 and checks that the CLI recovers
R2 R1^T.  Everything runs without TensorFlow.
"""

import csv
import os
import tempfile

import numpy as np
from absl.testing import absltest
from absl.testing import parameterized

from sph_embed.data import meshes
from sph_embed.data import raycast
from sph_embed.pose import embeddings_io
from sph_embed.pose import evaluation as pose_evaluation
from sph_embed.sphere import rotations as rotations_lib
from sph_embed.sphere import sht_numpy
from sph_embed.report import correlate_embeddings
from tests import mesh_test_util

_TOOL = os.path.join(mesh_test_util.REPO_ROOT, "tools", "correlate.py")


def run_tool(*args):
  return mesh_test_util.run_script(_TOOL, *args, timeout=300)


def read_csv(path):
  with open(path, newline="") as f:
    return list(csv.DictReader(f))


def csv_matrix(row, prefix):
  return np.array([[float(row[f"{prefix}_r{i}{j}"]) for j in range(3)]
                   for i in range(3)])


def synthetic_views(instances, views, n=16, channels=2, seed=0):
  """Band-limited maps of (category, instance) objects under random poses."""
  rng = np.random.default_rng(seed)
  maps, poses, category, instance = [], [], [], []
  for cat, inst in instances:
    cilm = rng.normal(size=(channels, 2, n // 2, n // 2))
    cilm *= np.tril(np.ones((n // 2, n // 2)))
    cilm[:, 1, :, 0] = 0
    base = np.moveaxis(sht_numpy.isht(cilm, n), 0, -1)
    for r in rotations_lib.random_rotations(views, seed=rng):
      maps.append(sht_numpy.rotate_maps(base, r, channels_last=True))
      poses.append(r)
      category.append(cat)
      instance.append(inst)
  return (np.array(maps, np.float32), np.array(poses, np.float32),
          category, instance)


class PairsTest(absltest.TestCase):

  def setUp(self):
    super().setUp()
    self.category = ["car", "chair", "car", "chair", "car", "car", "sofa"]
    self.instance = ["c1", "h1", "c1", "h2", "c2", "c1", "s1"]

  def test_instance_based(self):
    pairs, skipped = pose_evaluation.make_pairs(self.category, self.instance,
                                                "ib", pairs=3)
    self.assertCountEqual(map(tuple, pairs), [(0, 2), (0, 5)])
    self.assertLen(skipped, 4)          # h1, h2, c2, s1 have one view each
    self.assertTrue(all("1 view" in s for s in skipped))

  def test_at_most_pairs_per_instance(self):
    pairs, _ = pose_evaluation.make_pairs(["a"] * 6, ["x"] * 6, "ib", pairs=3)
    self.assertLen(pairs, 3)
    self.assertTrue(np.all(pairs[:, 0] == 0))
    self.assertLen(set(pairs[:, 1]), 3)

  def test_category_based(self):
    pairs, skipped = pose_evaluation.make_pairs(self.category, self.instance,
                                                "cb", pairs=3, seed=1)
    for i, j in pairs:
      self.assertEqual(self.category[i], self.category[j])
      self.assertNotEqual(self.instance[i], self.instance[j])
    firsts = sorted(set(pairs[:, 0]))
    self.assertEqual(firsts, [0, 1, 3, 4])   # first views of c1, h1, h2, c2
    self.assertTrue(any("'sofa' has 1 instance" in s for s in skipped))

  def test_bad_protocol(self):
    with self.assertRaisesRegex(ValueError, "protocol"):
      pose_evaluation.make_pairs(["a"], ["x"], "xx")

  def test_metrics_and_table(self):
    errors = np.array([1.0, 20.0, 40.0, 10.0])
    rows = pose_evaluation.summarize(["b", "b", "b", "a"], errors)
    self.assertEqual([r.name for r in rows], ["a", "b", "overall"])
    self.assertEqual(rows[1].pairs, 3)
    self.assertAlmostEqual(rows[1].median, 20.0)
    np.testing.assert_allclose(rows[1].accuracy, [100 / 3, 200 / 3])
    np.testing.assert_allclose(rows[2].accuracy, [50.0, 75.0])
    table = pose_evaluation.format_table(rows)
    self.assertIn("median err (deg)", table)
    self.assertIn("acc@15 (%)", table)

  def test_symmetric_errors(self):
    truth = np.eye(3)[None]
    flipped = rotations_lib.matrix_from_zyz(0.0, 0.0, np.radians(170.0))
    plain = pose_evaluation.pose_errors(flipped[None], truth)
    symmetric = pose_evaluation.pose_errors(flipped[None], truth,
                                            ["airplane"], ["airplane"])
    np.testing.assert_allclose(plain, [170.0])
    np.testing.assert_allclose(symmetric, [10.0])


class CorrelateToolTest(parameterized.TestCase):

  def setUp(self):
    super().setUp()
    tmp = tempfile.TemporaryDirectory()
    self.addCleanup(tmp.cleanup)
    self.dir = tmp.name

  def path(self, name):
    return os.path.join(self.dir, name)

  def test_mesh_end_to_end_recovers_r2_r1t(self):
    files = [("chair", "chair_0001"), ("bed", "bed_0001")]
    n, views = 64, 4
    poses = rotations_lib.random_rotations(views * len(files), seed=3)
    maps, category, instance = [], [], []
    for k, (cat, name) in enumerate(files):
      mesh = meshes.normalize_mesh(meshes.load_mesh(
          mesh_test_util.off_sample(name)))
      for r in poses[k * views:(k + 1) * views]:
        maps.append(raycast.raycast(mesh, n, r)[..., None])
        category.append(cat)
        instance.append(name)
    embeddings_io.save_embeddings(self.path("mesh.npz"), np.array(maps),
                                  poses, category, instance)
    result = run_tool("--embeddings", self.path("mesh.npz"), "--protocol",
                      "ib", "--upsample", "1", "--norefine", "--output",
                      self.path("mesh.csv"))
    self.assertEqual(result.returncode, 0, result.stderr)
    rows = read_csv(self.path("mesh.csv"))
    self.assertLen(rows, 6)
    poses32 = poses.astype(np.float32).astype(np.float64)
    errors = []
    for row in rows:
      i, j = int(row["index1"]), int(row["index2"])
      np.testing.assert_allclose(csv_matrix(row, "true"),
                                 poses32[j] @ poses32[i].T, atol=1e-6)
      estimate = csv_matrix(row, "est")
      errors.append(rotations_lib.geodesic_degrees(estimate,
                                                   poses32[j] @ poses32[i].T))
      self.assertAlmostEqual(errors[-1], float(row["error_deg"]), places=2)
    self.assertLess(np.median(errors), 360.0 / n)   # the grid step
    self.assertIn("overall", result.stdout)
    self.assertIn("chair", result.stdout)

  def test_mesh_mode_uses_targets(self):
    maps, poses, category, instance = synthetic_views(
        [("car", "a"), ("car", "b")], views=3, seed=4)
    noise = np.random.default_rng(5).normal(size=maps.shape).astype(
        np.float32)
    # Second views' image embeddings are noise; their targets are exact.
    embeddings = np.where(
        np.isin(np.arange(len(maps)), [0, 3])[:, None, None, None], maps,
        noise)
    embeddings_io.save_embeddings(self.path("m.npz"), embeddings, poses,
                                  category, instance, targets=maps)
    results = {}
    for mode in ("image", "mesh"):
      out = self.path(f"{mode}.csv")
      correlate_embeddings.run(self.path("m.npz"), upsample=1, mode=mode, output=out,
                        progress=False)
      results[mode] = np.array([float(r["error_deg"]) for r in read_csv(out)])
    self.assertLess(results["mesh"].max(), 0.5)
    self.assertGreater(np.median(results["image"]), 10.0)

  def test_teacher_mode_uses_targets_on_both_sides(self):
    maps, poses, category, instance = synthetic_views(
        [("car", "a"), ("car", "b")], views=3, seed=4)
    noise = np.random.default_rng(6).normal(size=maps.shape).astype(
        np.float32)
    embeddings_io.save_embeddings(self.path("t.npz"), noise, poses, category,
                                  instance, targets=maps)
    results = {}
    for mode in ("mesh", "teacher"):
      out = self.path(f"{mode}.csv")
      correlate_embeddings.run(self.path("t.npz"), upsample=1, mode=mode, output=out,
                        progress=False)
      results[mode] = np.array([float(r["error_deg"]) for r in read_csv(out)])
    self.assertLess(results["teacher"].max(), 0.5)
    self.assertGreater(np.median(results["mesh"]), 10.0)

  def test_category_based_reports_skips(self):
    maps, poses, category, instance = synthetic_views(
        [("car", "a"), ("car", "b"), ("car", "c"), ("sofa", "s")], views=2,
        seed=6)
    embeddings_io.save_embeddings(self.path("cb.npz"), maps, poses, category,
                                  instance)
    result = run_tool("--embeddings", self.path("cb.npz"), "--protocol", "cb",
                      "--pairs", "2", "--upsample", "2", "--output",
                      self.path("cb.csv"))
    self.assertEqual(result.returncode, 0, result.stderr)
    self.assertIn("skipped: CB: category 'sofa' has 1 instance", result.stdout)
    rows = read_csv(self.path("cb.csv"))
    self.assertLen(rows, 6)
    self.assertTrue(all(r["category"] == "car" for r in rows))
    self.assertTrue(all(r["instance1"] != r["instance2"] for r in rows))

  def test_symmetric_categories_fold_only_the_named_ones(self):
    maps, poses, category, instance = synthetic_views(
        [("airplane", "a"), ("car", "c")], views=3, seed=8)
    # Views after each instance's first are labelled 170 degrees off, so
    # every IB pair's error is 170 (10 up to symmetry).
    labels = poses.astype(np.float64)
    later = np.array([1, 2, 4, 5])
    labels[later] = rotations_lib.matrix_from_zyz(
        0.0, 0.0, np.radians(170.0)) @ labels[later]
    embeddings_io.save_embeddings(self.path("s.npz"), maps, labels,
                                  category, instance)
    result = run_tool("--embeddings", self.path("s.npz"), "--upsample", "1",
                      "--symmetric_categories=airplane", "--output",
                      self.path("s.csv"))
    self.assertEqual(result.returncode, 0, result.stderr)
    errors = {}
    for row in read_csv(self.path("s.csv")):
      errors.setdefault(row["category"], []).append(float(row["error_deg"]))
    np.testing.assert_allclose(errors["airplane"], [10.0, 10.0], atol=1.0)
    np.testing.assert_allclose(errors["car"], [170.0, 170.0], atol=1.0)
    self.assertIn("symmetric: airplane", result.stdout)
    table = {line.split()[0]: line.split()[-1]
             for line in result.stdout.splitlines()
             if line.split() and line.split()[0] in ("airplane", "car",
                                                     "overall")}
    self.assertEqual(table, {"airplane": "yes", "car": "no",
                             "overall": "mixed"})
    with self.assertRaisesRegex(ValueError, r"names \['airplan'\], not"):
      correlate_embeddings.run(self.path("s.npz"), symmetric_categories=["airplan"],
                        progress=False)
    old_flag = run_tool("--embeddings", self.path("s.npz"), "--symmetric")
    self.assertNotEqual(old_flag.returncode, 0)
    self.assertIn("--symmetric (which folded every category) is replaced by"
                  " --symmetric_categories", old_flag.stderr)

  def test_bad_input_exits_with_a_clear_message(self):
    maps, poses, category, _ = synthetic_views([("sofa", "s")], views=2,
                                               seed=7)
    np.savez(self.path("bad.npz"), embeddings=maps, rotations=poses,
             category=np.array(category))
    result = run_tool("--embeddings", self.path("bad.npz"), "--output",
                      self.path("bad.csv"))
    self.assertEqual(result.returncode, 1)
    self.assertIn("bad.npz: missing key 'instance'", result.stderr)
    self.assertNotIn("Traceback", result.stderr)
    self.assertFalse(os.path.exists(self.path("bad.csv")))

  def test_bad_input(self):
    run = correlate_embeddings.run
    maps, poses, category, instance = synthetic_views([("sofa", "s")],
                                                      views=2, seed=7)
    embeddings_io.save_embeddings(self.path("one.npz"), maps, poses, category,
                                  instance)
    with self.assertRaisesRegex(
        ValueError, "one.npz: no pairs.*'sofa' has 1 instance"):
      run(self.path("one.npz"), protocol="cb", progress=False)
    with self.assertRaisesRegex(ValueError,
                                "one.npz: --mode=mesh needs key 'targets'"):
      run(self.path("one.npz"), mode="mesh", progress=False)
    maps[1, 3, 3, 0] = np.nan
    np.savez(self.path("nan.npz"), embeddings=maps, rotations=poses,
             category=np.array(category), instance=np.array(instance))
    with self.assertRaisesRegex(ValueError,
                                "nan.npz: key 'embeddings': contains NaN"):
      run(self.path("nan.npz"), output=self.path("nan.csv"), progress=False)
    self.assertFalse(os.path.exists(self.path("nan.csv")))
    maps[1, 3, 3, 0] = 0
    with self.assertRaisesRegex(ValueError, "grid_size"):
      embeddings_io.save_embeddings(self.path("ok.npz"), maps, poses,
                                    category, instance)
      run(self.path("ok.npz"), upsample=1, grid_size=15, progress=False)

if __name__ == "__main__":
  absltest.main()
