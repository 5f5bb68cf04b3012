"""Tests for sph_embed.common.cli: the tools' exit convention."""

import os
import subprocess
import sys
import tempfile
import textwrap
import unittest

_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))

# A tool whose --fail flag picks what main does.
_TOOL = textwrap.dedent("""
    from absl import app
    from absl import flags
    from sph_embed.common import cli

    _FAIL = flags.DEFINE_string("fail", "", "What to raise.")

    def main(argv):
      del argv
      if _FAIL.value == "tool":
        raise cli.ToolError("--input: give exactly one of --a and --b")
      if _FAIL.value == "usage":
        raise app.UsageError("--pairs must be >= 1")
      if _FAIL.value == "value":
        raise ValueError("data.npz: missing key 'instance'\\n(more)")
      if _FAIL.value == "os":
        open("/nonexistent_dir/out.csv", "w")
      if _FAIL.value == "bug":
        raise KeyError("a bug")
      if _FAIL.value == "status":
        return 3
      print("done")

    if __name__ == "__main__":
      cli.run(main)
    """)


class ExitConventionTest(unittest.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.dir = tempfile.TemporaryDirectory()
    cls.tool = os.path.join(cls.dir.name, "tool.py")
    with open(cls.tool, "w", encoding="utf-8") as f:
      f.write(_TOOL)

  @classmethod
  def tearDownClass(cls):
    cls.dir.cleanup()
    super().tearDownClass()

  def _run(self, *args):
    env = dict(os.environ, PYTHONPATH=_ROOT)
    return subprocess.run([sys.executable, self.tool, *args],
                          capture_output=True, text=True, env=env,
                          check=False, timeout=120)

  def test_success(self):
    result = self._run()
    self.assertEqual((result.returncode, result.stdout), (0, "done\n"))

  def test_input_errors_are_one_line_and_status_1(self):
    for fail, message in (
        ("tool", "--input: give exactly one of --a and --b"),
        ("usage", "--pairs must be >= 1"),
        ("value", "data.npz: missing key 'instance' (more)"),
        ("os", "/nonexistent_dir/out.csv: No such file or directory")):
      with self.subTest(fail):
        result = self._run(f"--fail={fail}")
        self.assertEqual(result.returncode, 1)
        self.assertEqual(result.stderr.strip().splitlines(),
                         [f"tool.py: error: {message}"])

  def test_bug_keeps_its_traceback(self):
    result = self._run("--fail=bug")
    self.assertNotEqual(result.returncode, 0)
    self.assertIn("Traceback", result.stderr)
    self.assertIn("KeyError: 'a bug'", result.stderr)

  def test_status_of_main_is_passed_on(self):
    self.assertEqual(self._run("--fail=status").returncode, 3)

  def test_traceback_of_a_reported_error_with_verbosity(self):
    result = self._run("--fail=value", "--verbosity=1")
    self.assertEqual(result.returncode, 1)
    self.assertIn("Traceback", result.stderr)


if __name__ == "__main__":
  unittest.main()
