"""tools/synthesize.py on a tiny untrained module: outputs and bad inputs."""

import os

import numpy as np
from PIL import Image
import tensorflow as tf

from tests import mesh_test_util
from tests.synthesis import export_test


def _run_tool(*args):
  return mesh_test_util.run_script("tools/synthesize.py", *args)


class SynthesizeToolTest(tf.test.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.root = mesh_test_util.class_temp_dir(cls)
    cls.data_dir, cls.module_dir, _, _ = export_test.build_tiny_module(
        cls.root)

  def setUp(self):
    super().setUp()
    self.dir = mesh_test_util.temp_dir(self)

  def path(self, name):
    return os.path.join(self.dir, name)

  def run_tool(self, *args):
    return _run_tool(f"--module={self.module_dir}", *args)

  def assert_one_line_error(self, result, pattern):
    self.assertEqual(result.returncode, 1, result.stdout)
    self.assertNotIn("Traceback", result.stderr)
    self.assertRegex(result.stderr.strip().splitlines()[-1],
                     r"^synthesize.py: error: " + pattern)

  def test_rgb_image_turntable_png_and_gif(self):
    pixels = np.zeros((80, 80, 3), np.uint8)
    pixels[20:60, 30:50] = (200, 120, 40)
    image = self.path("in.png")
    Image.fromarray(pixels).save(image)
    result = self.run_tool(f"--image={image}", "--turntable=6", "--axis=y",
                           f"--output_png={self.path('grid.png')}",
                           f"--output_gif={self.path('turn.gif')}",
                           "--zoom=1")
    self.assertEqual(result.returncode, 0, result.stderr)
    self.assertIn("80 x 80 image resized to 64 x 64", result.stderr)
    with Image.open(self.path("turn.gif")) as gif:
      self.assertEqual(gif.n_frames, 6)
    with Image.open(self.path("grid.png")) as grid:
      self.assertEqual(grid.size, (7 * 66 - 2, 64))   # One row.
    # Existing outputs are kept without --overwrite.
    result = self.run_tool(f"--image={image}", "--turntable=2",
                           f"--output_gif={self.path('turn.gif')}")
    self.assert_one_line_error(result, "--output_gif=.*turn.gif: already"
                               " exists; pass --overwrite")

  def test_dataset_example_has_a_row_of_true_views(self):
    result = self.run_tool(f"--data_dir={self.data_dir}", "--split=test",
                           "--index=1", "--euler=0,90,0;90,45,0",
                           f"--output_png={self.path('grid.png')}",
                           f"--output_gif={self.path('views.gif')}",
                           "--zoom=1")
    self.assertEqual(result.returncode, 0, result.stderr)
    with Image.open(self.path("grid.png")) as grid:
      self.assertEqual(grid.size, (3 * 66 - 2, 2 * 66 - 2))
      cells = np.asarray(grid)
    truth = cells[66:, 66:130]
    self.assertGreater(truth.max(), 50)   # A rendered object, not blank.
    with Image.open(self.path("views.gif")) as gif:
      self.assertEqual((gif.n_frames, gif.size), (2, (130, 69)))

  def test_per_category_samples_directory(self):
    output = self.path("samples")
    args = (f"--data_dir={self.data_dir}", "--per_category=1",
            "--turntable=3", f"--output_dir={output}", "--zoom=1")
    result = self.run_tool(*args)
    self.assertEqual(result.returncode, 0, result.stderr)
    self.assertIn("wrote 2 turntables (3 views each)", result.stdout)
    names = sorted(os.listdir(output))
    self.assertLen([n for n in names if n.endswith(".gif")], 2)
    self.assertIn("samples.json", names)
    # An existing directory is kept without --overwrite.
    self.assert_one_line_error(self.run_tool(*args),
                               "--output_dir=.*samples: exists; pass"
                               " --overwrite")
    self.assert_one_line_error(
        self.run_tool("--per_category=1", "--turntable=3",
                      f"--output_dir={self.path('other')}"),
        "--per_category takes its examples from --data_dir")

  def test_bad_images_are_named(self):
    text = mesh_test_util.write_file(self.dir, "text.png", "not an image")
    empty = mesh_test_util.write_file(self.dir, "empty.png", "")
    for path, message in ((self.path("missing.png"), "no such file"),
                          (text, "not a readable image"),
                          (empty, "empty file")):
      result = self.run_tool(f"--image={path}", "--turntable=2",
                             f"--output_png={self.path('out.png')}")
      self.assert_one_line_error(result, f"--image: {path}: {message}")
      self.assertFalse(os.path.exists(self.path("out.png")))

  def test_bad_euler_and_flag_combinations(self):
    out = f"--output_png={self.path('out.png')}"
    image = f"--image={self.path('unused.png')}"
    for args, message in (
        ((image, "--euler=10,20", out), "--euler='10,20': rotation 1"),
        ((image, out), "give exactly one of --euler and --turntable"),
        ((image, "--turntable=3"), "nothing to write"),
        (("--turntable=3", out), "give exactly one input"),
        ((f"--data_dir={self.data_dir}", "--index=9", "--turntable=2", out),
         "--index=9: the 'test' split .* has 4 examples")):
      self.assert_one_line_error(self.run_tool(*args), message)


if __name__ == "__main__":
  tf.test.main()
