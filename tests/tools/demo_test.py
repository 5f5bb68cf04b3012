"""tools/demo.py on a fresh clone: the shipped modules, a small held-out set,
the report with every table finite (README's quick demo)."""

import os

import tensorflow as tf

from sph_embed.data import views
from sph_embed.embedding import export as embedding_export
from sph_embed.embedding import view_averaging
from sph_embed.pose import embeddings_io
from tests import mesh_test_util
from tests.baselines import image2sphere_export_test
from tests.report import report_fixture


class DemoTest(tf.test.TestCase):

  def test_shipped_modules_make_a_finite_report(self):
    root = mesh_test_util.temp_dir(self)
    work = os.path.join(root, "demo")
    args = [f"--work_dir={work}", "--categories=chair,car",
            "--test_instances=2", "--views_per_instance=3", "--pairs=2"]
    # The Image2Sphere rows and plots, from the shipped module or, while
    # none is shipped, an untrained tiny one taking the demo's 64 x 64 views.
    if not os.path.exists(os.path.join(
        mesh_test_util.REPO_ROOT, "hub_modules", "image2sphere_synthetic")):
      _, _, module = image2sphere_export_test.make_image2sphere_module(
          os.path.join(root, "tiny"), views.ViewConfig(
              views_per_instance=2, image_size=64, sphere_size=16, seed=5))
      args.append(f"--image2sphere={module}")
    result = mesh_test_util.run_script("tools/demo.py", *args, timeout=900)
    self.assertEqual(result.returncode, 0, result.stderr[-3000:])
    with open(os.path.join(work, "report", "report.md"),
              encoding="utf-8") as f:
      markdown = f.read()
    tables = report_fixture.markdown_tables(markdown)
    # The overview, then for 3DOF and 2DOF ours (image, mesh, teacher
    # bound) and the baselines' IB and CB rows (regression when a module is
    # shipped, Image2Sphere); then their absolute poses (an overview, then
    # 3DOF and 2DOF per baseline).
    regression = os.path.exists(os.path.join(
        mesh_test_util.REPO_ROOT, "hub_modules", "pose_regression_synthetic"))
    baselines = 1 + regression
    self.assertLen(tables, 1 + 2 * (5 + 2 * baselines) + 1 + 2 * baselines)
    for header, rows in tables:
      self.assertEqual(report_fixture.table_problems(header, rows), [],
                       msg=header)
    if not regression:
      self.assertIn("no regression module", result.stderr)
    for protocol in ("ib", "cb"):
      for suffix in ("", "_2dof"):
        self.assertTrue(os.path.exists(os.path.join(
            work, f"pose_{protocol}_image2sphere{suffix}.csv")))
    plots = os.listdir(os.path.join(work, "distributions_image2sphere"))
    self.assertCountEqual([n.split("_")[0] for n in plots], ["car", "chair"])
    self.assertIn("Image2Sphere", markdown)
    self.assertIn("## Synthesized views", markdown)
    gifs = [n for n in os.listdir(os.path.join(work, "synthesis"))
            if n.endswith(".gif")]
    self.assertCountEqual([n.split("_")[0] for n in gifs], ["car", "chair"])
    # Each view's maps are averaged with its mirror image's (the default).
    data = embeddings_io.load_embeddings(os.path.join(work,
                                                      "embeddings_test.npz"))
    module = embedding_export.load_embedding(os.path.join(
        mesh_test_util.REPO_ROOT, "hub_modules", "pose_embedding_synthetic"))
    averaged = view_averaging.averaged_over_views(module, mirror=True)
    self.assertAllClose(data["embeddings"], averaged(tf.constant(
        data["images"][..., None] / 255.0, tf.float32)), atol=1e-4)

  def test_a_used_work_dir_and_a_missing_module_are_named(self):
    root = mesh_test_util.temp_dir(self)
    used = os.path.join(root, "used")
    os.makedirs(used)
    mesh_test_util.write_file(used, "keep.txt", "mine")
    result = mesh_test_util.run_script("tools/demo.py", f"--work_dir={used}")
    self.assertEqual(result.returncode, 1)
    self.assertRegex(result.stderr.strip().splitlines()[-1],
                     f"^demo.py: error: {used}: exists and is not empty")
    missing = os.path.join(root, "no_module")
    result = mesh_test_util.run_script(
        "tools/demo.py", f"--work_dir={os.path.join(root, 'new')}",
        f"--pose_regression={missing}")
    self.assertEqual(result.returncode, 1)
    self.assertRegex(result.stderr.strip().splitlines()[-1],
                     f"^demo.py: error: .*{missing}")
    self.assertFalse(os.path.exists(os.path.join(root, "new")))

  def test_another_kind_of_module_as_teacher_names_the_flag(self):
    # Issue 30: "the SavedModel has no @tf.function __call__".
    root = mesh_test_util.temp_dir(self)
    pose_module = os.path.join(mesh_test_util.REPO_ROOT, "hub_modules",
                               "pose_embedding_synthetic")
    result = mesh_test_util.run_script(
        "tools/demo.py", f"--work_dir={os.path.join(root, 'new')}",
        f"--teacher={pose_module}")
    self.assertEqual(result.returncode, 1)
    self.assertRegex(result.stderr.strip().splitlines()[-1],
                     f"^demo.py: error: --teacher: {pose_module}: a"
                     " pose_embedding module, not a teacher module")
    self.assertFalse(os.path.exists(os.path.join(root, "new")))


if __name__ == "__main__":
  tf.test.main()
