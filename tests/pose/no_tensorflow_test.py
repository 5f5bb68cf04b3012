"""The pose layer and tools/correlate.py work without TensorFlow.

Each check runs in a fresh Python process (this one may have imported
TensorFlow through other tests): importing every module of sph_embed.pose,
sph_embed.common and sph_embed.experiments (the runner of tools/reproduce.py
starts the tools as subprocesses) must leave `tensorflow` out of sys.modules, and
`tools/correlate.py --help` must run with `import tensorflow` made to fail.
"""

import json
import os
import subprocess
import sys
import tempfile

from absl.testing import absltest

_REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
_TF_FREE_PACKAGES = ("sph_embed.pose", "sph_embed.common",
                     "sph_embed.experiments")

# Imports every module of the packages in argv, one by one, and prints which
# were imported and the first one after whose import tensorflow was loaded.
# (walk_packages imports a subpackage right after yielding it, so each name
# is imported and checked before the walk goes on.)
_IMPORT_ALL = """
import importlib, json, pkgutil, sys
imported, culprit = [], None
def check(module):
  global culprit
  importlib.import_module(module)
  imported.append(module)
  if culprit is None and "tensorflow" in sys.modules:
    culprit = module
for name in sys.argv[1:]:
  check(name)
  for info in pkgutil.walk_packages(sys.modules[name].__path__, name + "."):
    check(info.name)
print(json.dumps({"imported": imported, "culprit": culprit}))
"""


def _run(args, env=None):
  return subprocess.run([sys.executable] + args, cwd=_REPO_ROOT, env=env,
                        capture_output=True, text=True, timeout=300,
                        check=False)


def _env(*paths):
  """This process's environment with `paths` first on PYTHONPATH."""
  env = dict(os.environ)
  env["PYTHONPATH"] = os.pathsep.join(
      list(paths) + [_REPO_ROOT] + [p for p in [env.get("PYTHONPATH")] if p])
  return env


class NoTensorflowTest(absltest.TestCase):

  def test_pose_common_and_experiments_do_not_import_tensorflow(self):
    result = _run(["-c", _IMPORT_ALL, *_TF_FREE_PACKAGES], _env())
    self.assertEqual(result.returncode, 0, result.stderr)
    report = json.loads(result.stdout.splitlines()[-1])
    # The walk found the submodules (an empty walk would prove nothing).
    self.assertIn("sph_embed.pose.correlation.alignment", report["imported"])
    self.assertIn("sph_embed.pose.embeddings_io", report["imported"])
    self.assertIn("sph_embed.experiments.runner", report["imported"])
    self.assertIsNone(report["culprit"],
                      f"importing {report['culprit']} imported tensorflow")

  def test_correlate_tool_runs_with_tensorflow_unimportable(self):
    # A `tensorflow` package that fails to import, first on the path.
    blocker = self.enter_context(tempfile.TemporaryDirectory())
    os.makedirs(os.path.join(blocker, "tensorflow"))
    with open(os.path.join(blocker, "tensorflow", "__init__.py"), "w") as f:
      f.write("raise ImportError('tensorflow is blocked by this test')\n")
    tool = os.path.join("tools", "correlate.py")
    blocked = _run([tool, "--help"], _env(blocker))
    self.assertNotIn("Traceback", blocked.stderr)
    for flag in ("--embeddings", "--protocol", "--upsample", "--output"):
      self.assertIn(flag, blocked.stdout)
    # The block changes nothing: same status (absl's --help exits 1) and
    # the same help text as with TensorFlow importable.
    free = _run([tool, "--help"], _env())
    self.assertEqual(blocked.returncode, free.returncode, blocked.stderr)
    self.assertEqual(blocked.stdout, free.stdout)


if __name__ == "__main__":
  absltest.main()
