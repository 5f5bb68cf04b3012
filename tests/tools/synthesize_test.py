"""tools/synthesize.py on a tiny untrained module: outputs and bad inputs."""

import os

import numpy as np
from PIL import Image
import tensorflow as tf

from tests import mesh_test_util
from tests.synthesis import export_test

# Minutes of tool subprocesses: scheduled first (tests/conftest.py).
RUNS_LONG = True


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
    mesh_test_util.assert_tool_error(self, result, "synthesize.py", pattern)

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
    self.assertIn("in.png: the object isolated by the border colour, centred"
                  " and scaled to 64 x 64", result.stderr)
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
      self.assert_one_line_error(result, f"{path}: {message}")
      self.assertFalse(os.path.exists(self.path("out.png")))

  def input_cell(self, image, name):
    """The input view the tool made of `image` (first cell of its grid)."""
    image.save(self.path(name))
    grid = self.path(name + ".grid.png")
    result = self.run_tool(f"--image={self.path(name)}", "--turntable=1",
                           f"--output_png={grid}", "--zoom=1")
    self.assertEqual(result.returncode, 0, result.stderr)
    with Image.open(grid) as picture:
      return np.asarray(picture, np.int32)[:64, :64]

  def test_sixteen_bit_png_is_read_as_its_eight_bit_copy(self):
    # Issue 30: 16-bit values were clipped at 255 (an all-white object).
    deep = np.zeros((70, 90), np.uint16)
    deep[20:50, 10:80] = np.linspace(6000, 60000, 70).astype(np.uint16)
    shallow = np.round(deep / 257).astype(np.uint8)
    deep_cell = self.input_cell(Image.fromarray(deep), "deep.png")
    self.assertLessEqual(
        np.abs(deep_cell - self.input_cell(Image.fromarray(shallow),
                                           "shallow.png")).max(), 1)
    self.assertLess(np.median(deep_cell[deep_cell > 0]), 200)

  def test_animated_image_with_a_blank_first_frame_is_refused(self):
    frames = [Image.new("L", (40, 40)), Image.new("L", (40, 40), 200)]
    frames[1].paste(0, (0, 0, 20, 40))
    path = self.path("moving.gif")
    frames[0].save(path, save_all=True, append_images=frames[1:])
    result = self.run_tool(f"--image={path}", "--turntable=2",
                           f"--output_png={self.path('out.png')}")
    self.assert_one_line_error(result, f"{path}: no object found by the"
                               " border colour .only the first of its 2"
                               " frames is read.")

  def test_preparation_flags_are_checked(self):
    out = f"--output_png={self.path('out.png')}"
    image = f"--image={self.path('unused.png')}"
    for args, message in (
        ((image, "--box=1,2,3", "--turntable=1", out),
         "--box: box '1,2,3': expected four integers"),
        ((image, "--box=5,0,5,9", "--turntable=1", out),
         "--box: box '5,0,5,9': empty crop"),
        ((image, f"--mask={self.path('m.png')}", "--background=border",
          "--turntable=1", out), "give --mask or --background, not both"),
        ((f"--data_dir={self.data_dir}", "--box=0,0,9,9", "--turntable=1",
          out), "--box applies to --image only")):
      self.assert_one_line_error(self.run_tool(*args), message)

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
