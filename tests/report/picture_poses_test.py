"""Tests for sph_embed.report.picture_poses (the library side of
tools/relative_pose.py) and the README's runnable snippets of its API."""

import os
import re
import subprocess
import sys

from absl.testing import parameterized
import numpy as np
import tensorflow as tf

from sph_embed.pose import pair_distributions
from sph_embed.report import picture_poses
from sph_embed.sphere import rotations as rotations_lib
from tests import mesh_test_util
from tests.baselines import image2sphere_export_test
from tests.tools import relative_pose_test

_SECTION = "## Pose from your own pictures"
# The README's Image2Sphere snippet names a module users export themselves.
_README_IMAGE2SPHERE = "runs/image2sphere_module"


def readme_snippets():
  """The ```python blocks of the README section _SECTION."""
  with open(os.path.join(mesh_test_util.REPO_ROOT, "README.md"),
            encoding="utf-8") as f:
    text = f.read()
  start = text.index(_SECTION)
  end = text.find("\n## ", start + len(_SECTION))
  return re.findall(r"```python\n(.*?)```", text[start:end], re.DOTALL)


def run_python(code, cwd):
  env = dict(os.environ, PYTHONPATH=mesh_test_util.REPO_ROOT)
  return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env,
                        capture_output=True, text=True, timeout=600,
                        check=False)


class PicturePosesTest(parameterized.TestCase):

  @parameterized.parameters(
      ("consecutive", 4, [(0, 1), (1, 2), (2, 3)]),
      ("all", 3, [(0, 1), (0, 2), (1, 2)]),
      ("consecutive", 1, []))
  def test_pair_indices(self, order, count, expected):
    self.assertEqual(picture_poses.pair_indices(count, order), expected)

  def test_mode_columns_are_correlates(self):
    fields = picture_poses.mode_fields(2)
    correlate = pair_distributions.mode_csv_fields(2)
    self.assertEqual([f for f in fields if not f.endswith("log_density")],
                     [f for f in correlate
                      if not f.endswith(("_value", "_error_deg"))])
    self.assertEqual(fields[10], "mode1_log_density")

  def test_figure_paths(self):
    pictures = ["x/a.png", "y/b.jpg", "c.png"]
    self.assertEqual(
        picture_poses.figure_paths("f", pictures, [(0, 2)]),
        {(0, 2): {"so3": "f/pair1_a_c_so3.png",
                  "synthesis": "f/pair1_a_c_synthesis.png"}})
    self.assertEqual(picture_poses.figure_paths("f", pictures, [(1, 2)],
                                                synthesis=False),
                     {(1, 2): {"so3": "f/pair1_b_c_so3.png"}})
    self.assertEqual(picture_poses.figure_paths("f", pictures[:1]),
                     {0: {"so3": "f/1_a_so3.png"}})

  def test_prepare_views_takes_one_mask_and_box_per_picture(self):
    with self.assertRaisesRegex(ValueError, "2 pictures, but 1 masks"):
      picture_poses.prepare_views(["a.png", "b.png"], 64, masks=["m.png"])


class ReadmeSnippetsTest(tf.test.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.root = mesh_test_util.class_temp_dir(cls)
    pictures = relative_pose_test.write_renders(cls.root)
    os.rename(pictures["car_a"], os.path.join(cls.root, "a.png"))
    os.rename(pictures["car_b"], os.path.join(cls.root, "b.png"))
    _, _, cls.image2sphere = (
        image2sphere_export_test.make_image2sphere_module(cls.root))

  def test_relative_pose_snippet_runs(self):
    relative, _ = readme_snippets()
    result = run_python(relative, self.root)
    self.assertEqual(result.returncode, 0, result.stderr[-3000:])
    # It prints R, then its Euler angles and axis-angle, then the modes.
    numbers = [float(v) for v in re.findall(r"-?\d+\.\d+(?:e-?\d+)?",
                                            result.stdout)]
    rotation = np.array(numbers[:9]).reshape(3, 3)
    truth = (relative_pose_test.pose("car_b")
             @ relative_pose_test.pose("car_a").T)
    self.assertLess(rotations_lib.geodesic_degrees(rotation, truth), 45.0)

  def test_image2sphere_snippet_runs(self):
    _, absolute = readme_snippets()
    self.assertIn(_README_IMAGE2SPHERE, absolute)
    result = run_python(absolute.replace(_README_IMAGE2SPHERE,
                                         self.image2sphere), self.root)
    self.assertEqual(result.returncode, 0, result.stderr[-3000:])
    self.assertIn("mass", result.stdout)


if __name__ == "__main__":
  tf.test.main()
