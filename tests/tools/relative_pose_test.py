"""tools/relative_pose.py: the shipped module on renders of a held-out
instance, Image2Sphere's absolute poses from a tiny module, and bad inputs.

The pictures are two renders of the held-out synthetic car of seed
1,000,000 (the shipped module was trained on seeds 0-299) in known poses,
made as the training views are; the shipped module's error on this pair is
about 2 degrees (its median over held-out pairs: 14), so the test's bound,
45 degrees, only fails when the estimate is wrong.
"""

import csv
import math
import os

from absl.testing import parameterized
import numpy as np
from PIL import Image
import tensorflow as tf

from sph_embed.data import render
from sph_embed.data import sources
from sph_embed.data import views
from sph_embed.report import correlate_embeddings
from sph_embed.sphere import rotations as rotations_lib
from tests import mesh_test_util
from tests.baselines import image2sphere_export_test

# Minutes of tool subprocesses: scheduled first (tests/conftest.py).
RUNS_LONG = True

# ZYZ Euler angles (degrees) of the two pictures' poses.
POSES = {"car_a": (-72.6, 51.9, -73.3), "car_b": (-94.5, 69.2, -53.6)}
_STRIP_SIZE = (3 * (2 * 64 + 2) - 2, 2 * 64)   # [a | synthesized | b], zoom 2.


def pose(name):
  return rotations_lib.matrix_from_zyz(*np.radians(POSES[name]))


def write_renders(directory, size=64):
  """Renders of the held-out car in POSES, as `<name>.png` in `directory`."""
  _, instances = sources.synthetic_instances(["car"], 0, 1)
  (mesh,), _ = views.example_meshes(instances[0], views.ViewConfig(
      views_per_instance=1, image_size=size))
  renders = render.render_views(mesh, np.stack([pose(n) for n in POSES]),
                                size)
  paths = {}
  for name, pixels in zip(POSES, renders):
    paths[name] = os.path.join(directory, name + ".png")
    Image.fromarray(pixels).save(paths[name])
  return paths


def read_csv(path):
  with open(path, newline="", encoding="utf-8") as f:
    return list(csv.DictReader(f))


def estimated(row):
  return np.array([float(row[f"est_r{i}{j}"]) for i in range(3)
                   for j in range(3)]).reshape(3, 3)


def assert_png(test, path, size=None):
  with Image.open(path) as image:
    test.assertEqual(image.format, "PNG")
    if size:
      test.assertEqual(image.size, size)


class RelativePoseToolTest(parameterized.TestCase, tf.test.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.root = mesh_test_util.class_temp_dir(cls)
    cls.pictures = write_renders(cls.root)
    _, _, cls.image2sphere = (
        image2sphere_export_test.make_image2sphere_module(cls.root))

  def setUp(self):
    super().setUp()
    self.dir = mesh_test_util.temp_dir(self)

  def path(self, name):
    return os.path.join(self.dir, name)

  def run_tool(self, *args):
    return mesh_test_util.run_script("tools/relative_pose.py", *args)

  def assert_one_line_error(self, result, pattern):
    mesh_test_util.assert_tool_error(self, result, "relative_pose.py",
                                     pattern)

  def test_shipped_module_on_a_held_out_pair(self):
    a, b = self.pictures["car_a"], self.pictures["car_b"]
    output, figures = self.path("poses.csv"), self.path("figures")
    # Consecutive pairs of a, b, a: a -> b, then b -> a; renders are read
    # as they are by default (image_input keeps a square picture on black).
    result = self.run_tool(f"--images={a},{b},{a}", f"--output={output}",
                           f"--figures_dir={figures}")
    self.assertEqual(result.returncode, 0, result.stderr[-3000:])
    self.assertIn(f"pair 1: {a} -> {b}: R = R_b R_a^T", result.stdout)
    self.assertIn(f"pair 2: {b} -> {a}", result.stdout)
    for reading in ("axis-angle: ", "ZYZ Euler (deg): alpha ", "mode 3: mass"):
      self.assertIn(reading, result.stdout)
    rows = read_csv(output)
    self.assertLen(rows, 2)
    self.assertEqual((rows[0]["image_a"], rows[0]["image_b"]), (a, b))
    truth = pose("car_b") @ pose("car_a").T
    self.assertLess(rotations_lib.geodesic_degrees(estimated(rows[0]), truth),
                    45.0)
    self.assertAllClose(estimated(rows[1]), estimated(rows[0]).T, atol=1e-4)
    # The rotation's columns are tools/correlate.py's.
    header = list(rows[0])
    correlate_rotation = [name for name in correlate_embeddings.CSV_FIELDS
                          if name.startswith("est_")]
    self.assertEqual(header[2:11], correlate_rotation)
    angles = [float(rows[0][k]) for k in ("alpha_deg", "beta_deg",
                                          "gamma_deg")]
    self.assertAllClose(rotations_lib.matrix_from_zyz(*np.radians(angles)),
                        estimated(rows[0]), atol=1e-4)
    self.assertAlmostEqual(float(rows[0]["angle_deg"]), math.degrees(
        math.acos((np.trace(estimated(rows[0])) - 1) / 2)), places=2)
    names = sorted(os.listdir(figures))
    self.assertEqual(names, ["pair1_car_a_car_b_so3.png",
                             "pair1_car_a_car_b_synthesis.png",
                             "pair2_car_b_car_a_so3.png",
                             "pair2_car_b_car_a_synthesis.png"])
    assert_png(self, os.path.join(figures, names[0]), (800, 440))
    assert_png(self, os.path.join(figures, names[1]), _STRIP_SIZE)

  def test_absolute_pose_with_an_image2sphere_module(self):
    output, figures = self.path("absolute.csv"), self.path("figures")
    result = self.run_tool(
        f"--images={self.pictures['car_a']}", "--absolute",
        f"--image2sphere_module={self.image2sphere}", "--grid_size=12",
        "--modes=2", f"--output={output}", f"--figures_dir={figures}")
    self.assertEqual(result.returncode, 0, result.stderr[-3000:])
    self.assertIn("absolute pose R", result.stdout)
    rows = read_csv(output)
    self.assertLen(rows, 1)
    self.assertEqual(list(rows[0])[:10],
                     ["image"] + [f"est_r{i}{j}" for i in range(3)
                                  for j in range(3)])
    rotations_lib.validate_rotations(estimated(rows[0]))
    self.assertEqual(os.listdir(figures), ["1_car_a_so3.png"])
    assert_png(self, os.path.join(figures, "1_car_a_so3.png"))

  def test_absolute_pose_defaults_to_the_shipped_image2sphere_module(self):
    # The shipped module was trained on seeds 0-299; the car is held out.
    output = self.path("shipped_absolute.csv")
    result = self.run_tool(
        f"--images={self.pictures['car_a']},{self.pictures['car_b']}",
        "--absolute", f"--output={output}")
    self.assertEqual(result.returncode, 0, result.stderr[-3000:])
    for name, row in zip(("car_a", "car_b"), read_csv(output)):
      error = rotations_lib.geodesic_degrees(estimated(row), pose(name))
      self.assertLess(error, 45.0, msg=f"{name}: {error:.1f} deg")

  @parameterized.named_parameters(
      ("fewer_than_two", lambda t: [f"--images={t.pictures['car_a']}"],
       r"--images: 1 picture given; a relative pose needs two or more"),
      ("not_an_image", lambda t: [f"--images={t.pictures['car_a']},"
                                  f"{t.text_file()}"],
       r".*notes.txt: not a readable image"),
      ("no_object", lambda t: [f"--images={t.pictures['car_a']},"
                               f"{t.black_picture()}"],
       r".*black.png: no object found"),
      ("missing_module", lambda t: [t.both(), "--module=/no/such/module"],
       r"--module: /no/such/module: no such directory"),
      ("image2sphere_as_pose_module",
       lambda t: [t.both(), f"--module={t.image2sphere}"],
       r"--module: .*: a image2sphere module, not a pose_embedding module"),
      ("not_an_embedding_run", lambda t: [t.both(), f"--model_dir={t.dir}"],
       r"--model_dir: .*embedding_model.json: not found"),
      ("pose_module_as_image2sphere",
       lambda t: [f"--images={t.pictures['car_a']}", "--absolute",
                  "--image2sphere_module=hub_modules/pose_embedding_synthetic"],
       r"--image2sphere_module: .*: a pose_embedding module, not a"
       r" image2sphere module"),
      ("image2sphere_module_and_run",
       lambda t: [t.both(), "--absolute",
                  f"--image2sphere_module={t.image2sphere}",
                  f"--image2sphere_model_dir={t.dir}"],
       r"give --image2sphere_module or --image2sphere_model_dir, not both"),
      ("image2sphere_without_absolute",
       lambda t: [t.both(), f"--image2sphere_module={t.image2sphere}"],
       r"--image2sphere_module does not apply without --absolute"),
      ("masks_per_picture", lambda t: [t.both(), "--masks=m.png"],
       r"--masks: 1 given for 2 pictures"),
      ("bad_box", lambda t: [t.both(), "--boxes=1,2,3;0,0,9,9"],
       r"--boxes: box '1,2,3': expected four integers"),
      ("output_exists", lambda t: [t.both(), f"--output={t.existing()}"],
       r"--output=.*exists.csv: already exists; pass --overwrite"),
  )
  def test_bad_input_is_one_line(self, arguments, pattern):
    self.assert_one_line_error(self.run_tool(*arguments(self)), pattern)

  def both(self):
    return f"--images={self.pictures['car_a']},{self.pictures['car_b']}"

  def text_file(self):
    return mesh_test_util.write_file(self.dir, "notes.txt", "not a picture")

  def black_picture(self):
    path = self.path("black.png")
    Image.new("L", (64, 64)).save(path)
    return path

  def existing(self):
    return mesh_test_util.write_file(self.dir, "exists.csv", "kept\n")

  def test_existing_figure_is_kept_without_overwrite(self):
    figures = self.path("figures")
    os.makedirs(figures)
    kept = mesh_test_util.write_file(figures, "pair1_car_a_car_b_so3.png",
                                     "kept")
    self.assert_one_line_error(
        self.run_tool(self.both(), f"--figures_dir={figures}"),
        r"--figures_dir=.*pair1_car_a_car_b_so3.png: already exists")
    with open(kept, encoding="utf-8") as f:
      self.assertEqual(f.read(), "kept")


if __name__ == "__main__":
  tf.test.main()
