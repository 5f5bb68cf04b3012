"""Tests for sph_embed.data.sources (instance listings of the four source kinds)."""

import os

import tensorflow as tf
import trimesh

from sph_embed.data import meshes
from sph_embed.data import sources
from sph_embed.data import synthetic
from tests import mesh_test_util


def _link(source, *destination):
  """Symlinks a vendored mesh into a test tree."""
  path = os.path.join(*destination)
  os.makedirs(os.path.dirname(path), exist_ok=True)
  os.symlink(source, path)
  return path


class SyntheticSourceTest(tf.test.TestCase):

  def test_test_instances_are_held_out(self):
    categories, instances = sources.synthetic_instances(["car", "bed"], 3, 2)
    self.assertEqual(categories, ["car", "bed"])
    train = {(i.category, i.seed) for i in instances if i.split == "train"}
    test = {(i.category, i.seed) for i in instances if i.split == "test"}
    self.assertLen(train, 6)
    self.assertLen(test, 4)
    self.assertEmpty({s for _, s in train} & {s for _, s in test})
    self.assertLen({i.name for i in instances}, 10)

  def test_default_categories_in_module_order(self):
    categories, _ = sources.synthetic_instances(None, 1, 0)
    self.assertEqual(tuple(categories), synthetic.CATEGORIES)

  def test_errors(self):
    with self.assertRaisesRegex(sources.SourceError, "unknown categories"):
      sources.synthetic_instances(["car", "spaceship"], 1, 1)
    with self.assertRaisesRegex(sources.SourceError, "no mesh instances"):
      sources.synthetic_instances(["car"], 0, 0)


class CarveValidationTest(tf.test.TestCase):

  def test_last_train_instances_become_the_test_split(self):
    _, instances = sources.synthetic_instances(["car", "bed"], 4, 2)
    carved = sources.carve_validation(instances, 1)
    by_split = {split: sorted((i.category, i.seed) for i in carved
                              if i.split == split)
                for split in ("train", "test")}
    self.assertEqual(by_split["test"], [("bed", 3), ("car", 3)])
    self.assertEqual(by_split["train"],
                     sorted((c, s) for c in ("car", "bed") for s in range(3)))
    # The source's own held-out instances are not used for choosing.
    self.assertLen(carved, 8)

  def test_too_few_train_instances_is_an_error(self):
    _, instances = sources.synthetic_instances(["car"], 2, 1)
    with self.assertRaisesRegex(sources.SourceError,
                                "'car' has 2 train instances"):
      sources.carve_validation(instances, 2)


class ModelNetSourceTest(tf.test.TestCase):

  def setUp(self):
    super().setUp()
    self.root = mesh_test_util.temp_dir(self)
    for name, split in (("bed_0001", "train"), ("chair_0001", "train"),
                        ("sofa_0001", "test")):
      _link(mesh_test_util.off_sample(name), self.root, name.split("_")[0],
            split, name + ".off")

  def test_categories_and_splits_from_folders(self):
    categories, instances = sources.modelnet_instances(self.root)
    self.assertEqual(categories, ["bed", "chair", "sofa"])
    self.assertEqual(
        sorted((i.category, i.name, i.split) for i in instances),
        [("bed", "bed_0001", "train"), ("chair", "chair_0001", "train"),
         ("sofa", "sofa_0001", "test")])
    self.assertLen(instances[0].load().faces, 2499)  # ATTRIBUTION.md

  def test_selected_categories_keep_their_order(self):
    categories, instances = sources.modelnet_instances(self.root,
                                                       ["chair", "bed"])
    self.assertEqual(categories, ["chair", "bed"])
    self.assertLen(instances, 2)

  def test_errors(self):
    with self.assertRaisesRegex(sources.SourceError,
                                r"unknown categories \['toilet'\]"):
      sources.modelnet_instances(self.root, ["toilet"])
    os.makedirs(os.path.join(self.root, "misc", "meshes"))
    with self.assertRaisesRegex(sources.SourceError,
                                "misc: not a ModelNet category folder"):
      sources.modelnet_instances(self.root)
    with self.assertRaisesRegex(sources.SourceError, "not a directory"):
      sources.modelnet_instances(os.path.join(self.root, "absent"))

  def test_empty_tree(self):
    empty = mesh_test_util.temp_dir(self)
    with self.assertRaisesRegex(sources.SourceError, "no categories"):
      sources.modelnet_instances(empty)
    os.makedirs(os.path.join(empty, "bed", "train"))
    with self.assertRaisesRegex(sources.SourceError, "no mesh instances"):
      sources.modelnet_instances(empty)


class ShapeNetSourceTest(tf.test.TestCase):

  def test_v1_and_v2_layouts(self):
    obj = mesh_test_util.OBJ_SAMPLE
    root = mesh_test_util.temp_dir(self)
    _link(obj, root, "03001627", "21bfb150", "model.obj")
    _link(obj, root, "03001627", "aaaa0000", "models", "model_normalized.obj")
    _link(obj, root, "99999999", "bbbb1111", "model.obj")
    categories, instances = sources.shapenet_instances(root)
    self.assertEqual(categories, ["99999999", "chair"])
    self.assertEqual(sorted(i.name for i in instances),
                     ["21bfb150", "aaaa0000", "bbbb1111"])
    self.assertGreater(len(instances[-1].load().faces), 1000)
    categories, instances = sources.shapenet_instances(root, ["03001627"])
    self.assertEqual(categories, ["chair"])
    self.assertLen(instances, 2)
    # Split by a hash of the model id: all train at 0, all test at 1.
    _, instances = sources.shapenet_instances(root, test_fraction=0.0)
    self.assertEqual({i.split for i in instances}, {"train"})
    _, instances = sources.shapenet_instances(root, test_fraction=1.0)
    self.assertEqual({i.split for i in instances}, {"test"})

  def test_non_synset_folder(self):
    root = mesh_test_util.temp_dir(self)
    os.makedirs(os.path.join(root, "chairs"))
    with self.assertRaisesRegex(sources.SourceError,
                                "chairs: not a ShapeNet synset folder"):
      sources.shapenet_instances(root)


class ListSourceTest(tf.test.TestCase):

  def test_list_file(self):
    directory = mesh_test_util.temp_dir(self)
    os.makedirs(os.path.join(directory, "cars"))
    list_file = mesh_test_util.write_file(
        directory, "meshes.txt",
        "# comment\n\nchair.off chair\ncars/a.off\n/abs/b.off car\n")
    categories, instances = sources.list_instances(list_file,
                                                   test_fraction=0.0)
    self.assertEqual(categories, ["car", "cars", "chair"])
    self.assertEqual(
        [(i.category, i.name, i.path) for i in instances],
        [("chair", "chair.off", os.path.join(directory, "chair.off")),
         ("cars", "cars/a.off", os.path.join(directory, "cars", "a.off")),
         ("car", "/abs/b.off", "/abs/b.off")])

  def test_tab_separates_a_path_with_spaces(self):
    directory = mesh_test_util.temp_dir(self)
    list_file = mesh_test_util.write_file(
        directory, "meshes.txt", "my chair.off\tchair\nold beds/a b.off\t\n")
    _, instances = sources.list_instances(list_file, test_fraction=0.0)
    self.assertEqual(
        [(i.category, i.path) for i in instances],
        [("chair", os.path.join(directory, "my chair.off")),
         ("old beds", os.path.join(directory, "old beds", "a b.off"))])

  def test_path_cut_at_a_space_is_a_line_numbered_error(self):
    # Issue 30: "my chair.off" was read as path "my", category "chair.off".
    directory = mesh_test_util.temp_dir(self)
    trimesh.creation.box().export(os.path.join(directory, "my chair.off"))
    list_file = mesh_test_util.write_file(directory, "meshes.txt",
                                          "# one mesh\nmy chair.off\n")
    with self.assertRaisesRegex(
        sources.SourceError, "meshes.txt:2: 'my' does not exist but 'my"
        " chair.off' does: a path with spaces needs a tab"):
      sources.list_instances(list_file)

  def test_errors(self):
    directory = mesh_test_util.temp_dir(self)
    bad = mesh_test_util.write_file(directory, "bad.txt", "a.off car extra\n")
    with self.assertRaisesRegex(sources.SourceError, "bad.txt:1: expected"):
      sources.list_instances(bad)
    empty = mesh_test_util.write_file(directory, "empty.txt", "# nothing\n")
    with self.assertRaisesRegex(sources.SourceError, "no mesh instances"):
      sources.list_instances(empty)
    with self.assertRaisesRegex(sources.SourceError, "cannot read"):
      sources.list_instances(os.path.join(directory, "absent.txt"))


class UpAxisTest(tf.test.TestCase):

  def _list_file(self, directory):
    trimesh.creation.box((0.2, 2.0, 0.4)).export(
        os.path.join(directory, "tall.off"))
    return mesh_test_util.write_file(directory, "meshes.txt", "tall.off box\n")

  def test_defaults_per_source(self):
    self.assertEqual(sources.DEFAULT_UP_AXES, {
        "synthetic": "z", "modelnet": "z", "shapenet": "y", "list": "z"})
    _, instances = sources.synthetic_instances(["car"], 1, 0)
    self.assertEqual(instances[0].up_axis, "z")
    directory = mesh_test_util.temp_dir(self)
    _, instances = sources.list_instances(self._list_file(directory))
    self.assertEqual(instances[0].up_axis, "z")
    _link(instances[0].path, directory, "shapenet", "02958343", "m1",
          "model.obj")
    _, instances = sources.shapenet_instances(
        os.path.join(directory, "shapenet"))
    self.assertEqual(instances[0].up_axis, "y")

  def test_load_turns_the_up_axis_to_z(self):
    directory = mesh_test_util.temp_dir(self)
    list_file = self._list_file(directory)
    _, (as_is,) = sources.list_instances(list_file)
    _, (y_up,) = sources.list_instances(list_file, up_axis="y")
    self.assertAllClose(as_is.load().extents, [0.2, 2.0, 0.4])
    self.assertAllClose(y_up.load().extents, [0.2, 0.4, 2.0])
    _, (car,) = sources.synthetic_instances(["car"], 1, 0, up_axis="x")
    canonical = synthetic.make_instance("car", car.seed)
    self.assertAllClose(car.load().vertices,
                        canonical.vertices @ meshes.up_axis_rotation("x").T)

  def test_bad_up_axis(self):
    with self.assertRaisesRegex(sources.SourceError,
                                "car_0000000: up axis must be one of"):
      sources.synthetic_instances(["car"], 1, 0, up_axis="up")


if __name__ == "__main__":
  tf.test.main()
