"""tools/demo.py on a fresh clone: the shipped modules, a small held-out set,
the report with every table finite (README's quick demo)."""

import os

import tensorflow as tf

from tests import mesh_test_util
from tests.report import report_fixture


class DemoTest(tf.test.TestCase):

  def test_shipped_modules_make_a_finite_report(self):
    work = os.path.join(mesh_test_util.temp_dir(self), "demo")
    result = mesh_test_util.run_script(
        "tools/demo.py", f"--work_dir={work}", "--categories=chair,car",
        "--test_instances=2", "--views_per_instance=3", "--pairs=2",
        timeout=900)
    self.assertEqual(result.returncode, 0, result.stderr[-3000:])
    with open(os.path.join(work, "report", "report.md"),
              encoding="utf-8") as f:
      markdown = f.read()
    tables = report_fixture.markdown_tables(markdown)
    # The overview, then ours (image, mesh, teacher bound) and the
    # regression baseline when a module is shipped, 3DOF and 2DOF; then its
    # absolute poses (overview, 3DOF, 2DOF).
    shipped = os.path.exists(os.path.join(
        mesh_test_util.REPO_ROOT, "hub_modules", "pose_regression_synthetic"))
    self.assertLen(tables, 1 + 2 * (7 if shipped else 5) + 3 * shipped)
    for header, rows in tables:
      self.assertEqual(report_fixture.table_problems(header, rows), [],
                       msg=header)
    if not shipped:
      self.assertIn("no regression module", result.stderr)
    self.assertIn("## Synthesized views", markdown)
    gifs = [n for n in os.listdir(os.path.join(work, "synthesis"))
            if n.endswith(".gif")]
    self.assertCountEqual([n.split("_")[0] for n in gifs], ["car", "chair"])

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
