"""tools/make_report.py: the report of a run directory, and its errors as
one line naming --work_dir."""

import os
import subprocess
import sys

import tensorflow as tf

from tests import mesh_test_util
from tests.report import report_fixture

_TOOL = os.path.join(mesh_test_util.REPO_ROOT, "tools", "make_report.py")


def _run(*args):
  return subprocess.run(
      [sys.executable, _TOOL, *args], cwd=mesh_test_util.REPO_ROOT,
      capture_output=True, text=True, timeout=600, check=False,
      env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))


class MakeReportTest(tf.test.TestCase):

  def test_writes_the_report_and_keeps_an_existing_one(self):
    work = report_fixture.make_work_dir(
        os.path.join(mesh_test_util.temp_dir(self), "run"), extras=False)
    done = _run(f"--work_dir={work}")
    self.assertEqual(done.returncode, 0, msg=done.stderr[-3000:])
    report = os.path.join(work, "report")
    self.assertIn(f"wrote {report}/index.html", done.stdout)
    self.assertTrue(os.path.isfile(os.path.join(report, "index.html")))
    self.assertTrue(os.path.isfile(os.path.join(report, "report.md")))
    stamp = os.stat(os.path.join(report, "index.html")).st_mtime_ns

    again = _run(f"--work_dir={work}")
    self.assertEqual(again.returncode, 1)
    self.assertEqual(again.stderr.strip().splitlines()[-1],
                     f"make_report.py: error: --work_dir={work}: {report}"
                     " already exists; pass --overwrite to replace it")
    self.assertEqual(os.stat(os.path.join(report, "index.html")).st_mtime_ns,
                     stamp)

  def test_bad_work_dir_is_one_line(self):
    missing = os.path.join(mesh_test_util.temp_dir(self), "missing")
    done = _run(f"--work_dir={missing}")
    self.assertEqual(done.returncode, 1)
    self.assertEqual(done.stderr.strip().splitlines()[-1],
                     f"make_report.py: error: --work_dir={missing}: does not"
                     " exist; give the --work_dir of a run of"
                     " tools/pipeline.py")


if __name__ == "__main__":
  tf.test.main()
