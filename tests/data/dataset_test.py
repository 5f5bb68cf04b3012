"""Tests for sph_embed.data.dataset and tools/build_dataset.py."""

import dataclasses
import glob
import os
import subprocess
import sys
from unittest import mock

import numpy as np
import tensorflow as tf
import trimesh

from sph_embed.common import files
from sph_embed.data import input_pipeline
from sph_embed.data import dataset
from sph_embed.data import meshes
from sph_embed.data import raycast
from sph_embed.data import render
from sph_embed.sphere import rotations
from sph_embed.data import sources
from sph_embed.data import synthetic
from sph_embed.data import views
from tests import mesh_test_util


def _raw_examples(output_dir, split):
  """All examples of a split as dicts of NumPy values, in file order."""
  metadata = input_pipeline.read_metadata(output_dir)
  out = []
  for name in metadata["splits"][split]["shards"]:
    for record in tf.data.TFRecordDataset(os.path.join(output_dir, name)):
      feature = tf.train.Example.FromString(record.numpy()).features.feature
      size, n = metadata["image_size"], metadata["sphere_size"]
      out.append({
          "image": np.frombuffer(feature["image"].bytes_list.value[0],
                                 np.uint8).reshape(size, size),
          "sphere": np.frombuffer(feature["sphere"].bytes_list.value[0],
                                  "<f4").reshape(n, n),
          "rotation": np.array(feature["rotation"].float_list.value,
                               np.float64).reshape(3, 3),
          "label": feature["label"].int64_list.value[0],
          "category": feature["category"].bytes_list.value[0].decode(),
          "instance": feature["instance"].bytes_list.value[0].decode(),
          "dof": feature["dof"].int64_list.value[0],
      })
  return out


def _shard_bytes(output_dir):
  return {os.path.basename(p): open(p, "rb").read()
          for p in sorted(glob.glob(os.path.join(output_dir, "*.tfrecord")))}


class _CountingMaker:
  """Stands in for views.make_examples_or_error; can fail after k calls."""

  def __init__(self, fail_after=None):
    self.calls = 0
    self._fail_after = fail_after
    self._make = views.make_examples_or_error

  def __call__(self, task):
    if self.calls == self._fail_after:
      raise KeyboardInterrupt("simulated interruption")
    self.calls += 1
    return self._make(task)


def _temp_files(directory):
  return [n for n in os.listdir(directory) if files.is_temp_file(n)]


class BuildTest(tf.test.TestCase):

  def test_examples_match_their_meshes(self):
    output = mesh_test_util.temp_dir(self)
    metadata = mesh_test_util.build_tiny_synthetic(output)
    self.assertEqual(metadata["categories"], ["chair", "car"])
    self.assertEqual(metadata["splits"]["train"]["examples"], 8)
    self.assertEqual(metadata["splits"]["test"]["examples"], 4)
    self.assertEqual(metadata["splits"]["train"]["examples_per_category"],
                     {"chair": 4, "car": 4})
    self.assertEqual((metadata["image_size"], metadata["sphere_size"]),
                     (32, 16))
    self.assertEmpty(metadata["skipped"])
    self.assertEmpty(_temp_files(output))
    self.assertLen(metadata["splits"]["train"]["shards"], 4)
    self.assertEqual(metadata["splits"]["test"]["shards"],
                     ["test-00000-of-00002.tfrecord",
                      "test-00001-of-00002.tfrecord"])
    for split in ("train", "test"):
      for example in _raw_examples(output, split):
        category, seed = example["instance"].rsplit("_", 1)
        self.assertEqual(category, example["category"])
        self.assertEqual(example["label"],
                         metadata["categories"].index(category))
        self.assertEqual(example["dof"], 3)
        self.assertEqual(int(seed) >= sources.TEST_SEED_START,
                         split == "test")
        rotation = rotations.validate_rotations(example["rotation"])
        mesh = meshes.normalize_mesh(
            synthetic.make_instance(category, int(seed)))
        self.assertGreater(np.mean(np.abs(
            raycast.raycast(mesh, 16, rotation) - example["sphere"]) < 1e-4),
                           0.99)
        self.assertGreater(np.mean(
            render.render_view(mesh, rotation, 32) == example["image"]), 0.99)

  def test_worker_processes_match_in_process_build(self):
    # This process imported TensorFlow: its spawned workers render safely.
    self.assertIn("tensorflow", sys.modules)
    in_process = mesh_test_util.temp_dir(self)
    parallel = mesh_test_util.temp_dir(self)
    mesh_test_util.build_tiny_synthetic(in_process)
    mesh_test_util.build_tiny_synthetic(parallel, num_workers=2)
    self.assertEqual(_shard_bytes(parallel), _shard_bytes(in_process))

  def test_resumes_after_interruption(self):
    reference = mesh_test_util.temp_dir(self)
    mesh_test_util.build_tiny_synthetic(reference)
    output = mesh_test_util.temp_dir(self)
    interrupted = _CountingMaker(fail_after=3)
    with mock.patch.object(views, "make_examples_or_error", interrupted):
      with self.assertRaises(KeyboardInterrupt):
        mesh_test_util.build_tiny_synthetic(output)
    # Three one-instance shards are done; the fourth's partial file went
    # with the interruption, and no reader accepts the directory (there is
    # no dataset.json yet).
    self.assertLen(glob.glob(os.path.join(output, "*.tfrecord")), 3)
    self.assertEmpty(_temp_files(output))
    with self.assertRaisesRegex(input_pipeline.DataError, "not a finished"):
      input_pipeline.read_metadata(output)
    # What a SIGKILL leaves behind: the resumed build deletes it.
    mesh_test_util.write_file(
        output, ".train-00003-of-00004.tfrecord.tmp-0123456789ab", "partial")
    resumed = _CountingMaker()
    with mock.patch.object(views, "make_examples_or_error", resumed):
      metadata = mesh_test_util.build_tiny_synthetic(output)
    self.assertEqual(resumed.calls, 6 - 3)
    self.assertEqual(_shard_bytes(output), _shard_bytes(reference))
    self.assertEmpty(_temp_files(output))
    self.assertEqual(metadata["splits"]["train"]["examples"], 8)
    # A finished build is not redone.
    again = _CountingMaker()
    with mock.patch.object(views, "make_examples_or_error", again):
      mesh_test_util.build_tiny_synthetic(output)
    self.assertEqual(again.calls, 0)

  def test_refuses_to_mix_builds(self):
    output = mesh_test_util.temp_dir(self)
    mesh_test_util.build_tiny_synthetic(output)
    other = dataclasses.replace(mesh_test_util.TINY_CONFIG, seed=99)
    with self.assertRaisesRegex(dataset.BuildError, "different build"):
      mesh_test_util.build_tiny_synthetic(output, config=other)
    metadata = mesh_test_util.build_tiny_synthetic(output, config=other,
                                                   overwrite=True)
    self.assertEqual(metadata["seed"], 99)
    self.assertLen(glob.glob(os.path.join(output, "*.tfrecord")), 6)

  def test_up_axis_is_recorded_and_part_of_the_build(self):
    output = mesh_test_util.temp_dir(self)
    metadata = mesh_test_util.build_tiny_synthetic(output, ("chair",), 1, 0)
    self.assertEqual(metadata["up_axis"], "z")
    categories, y_up = sources.synthetic_instances(["chair"], 1, 0, "y")
    with self.assertRaisesRegex(dataset.BuildError, "different build"):
      dataset.build(y_up, categories, output, mesh_test_util.TINY_CONFIG, {},
                    num_workers=0, progress=False)
    mixed = y_up + [dataclasses.replace(y_up[0], name="z_up", up_axis="z")]
    with self.assertRaisesRegex(dataset.BuildError,
                                r"different up axes \['y', 'z'\]"):
      dataset.build(mixed, categories, output, mesh_test_util.TINY_CONFIG,
                    {}, num_workers=0, progress=False)

  def test_bad_files_are_skipped_and_listed(self):
    directory = mesh_test_util.temp_dir(self)
    trimesh.creation.box((1.0, 0.5, 0.3)).export(
        os.path.join(directory, "box.off"))
    mesh_test_util.write_file(directory, "empty.off", "")
    mesh_test_util.write_file(
        directory, "nan.off", "OFF\n3 1 0\n0 0 nan\n1 0 0\n0 1 0\n3 0 1 2\n")
    list_file = mesh_test_util.write_file(
        directory, "list.txt", "box.off box\nempty.off box\nnan.off box\n")
    categories, instances = sources.list_instances(list_file,
                                                   test_fraction=0.0)
    output = os.path.join(directory, "out")
    metadata = dataset.build(instances, categories, output,
                             mesh_test_util.TINY_CONFIG, {"kind": "list"},
                             num_workers=0, progress=False)
    self.assertEqual(metadata["splits"]["train"]["examples"], 2)
    reasons = sorted(s["reason"] for s in metadata["skipped"])
    self.assertEqual(reasons, [
        f"{os.path.join(directory, 'empty.off')}: empty file",
        f"{os.path.join(directory, 'nan.off')}: 1 of 3 vertices have NaN or"
        " infinite coordinates"])

  def test_nothing_usable(self):
    directory = mesh_test_util.temp_dir(self)
    mesh_test_util.write_file(directory, "empty.off", "")
    list_file = mesh_test_util.write_file(directory, "list.txt",
                                          "empty.off box\n")
    categories, instances = sources.list_instances(list_file)
    with self.assertRaisesRegex(dataset.BuildError, "empty.off: empty file"):
      dataset.build(instances, categories, os.path.join(directory, "out"),
                    mesh_test_util.TINY_CONFIG, {}, num_workers=0,
                    progress=False)
    with self.assertRaisesRegex(dataset.BuildError, "no instances"):
      dataset.build([], categories, os.path.join(directory, "out"),
                    mesh_test_util.TINY_CONFIG, {}, progress=False)

  def test_real_modelnet_style_meshes(self):
    root = mesh_test_util.temp_dir(self)
    for name, split in (("chair_0001", "train"), ("bed_0001", "test")):
      path = os.path.join(root, name.split("_")[0], split, name + ".off")
      os.makedirs(os.path.dirname(path))
      os.symlink(mesh_test_util.off_sample(name), path)
    categories, instances = sources.modelnet_instances(root)
    metadata = dataset.build(instances, categories,
                             os.path.join(root, "out"),
                             mesh_test_util.TINY_CONFIG, {}, num_workers=0,
                             progress=False)
    self.assertEqual(metadata["splits"]["train"]["examples_per_category"],
                     {"chair": 2})
    self.assertEqual(metadata["splits"]["test"]["examples_per_category"],
                     {"bed": 2})


class BuildToolTest(tf.test.TestCase):

  def _run(self, *flags):
    env = dict(os.environ, PYTHONPATH=mesh_test_util.REPO_ROOT,
               TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.run(
        [sys.executable,
         os.path.join(mesh_test_util.REPO_ROOT, "tools", "build_dataset.py"),
         "--num_workers=0", "--views_per_instance=1", "--image_size=16",
         "--sphere_size=8", *flags], capture_output=True, text=True, env=env,
        timeout=300, check=False)

  def test_strict_fails_on_skipped_files(self):
    directory = mesh_test_util.temp_dir(self)
    trimesh.creation.box().export(os.path.join(directory, "box.off"))
    bad = mesh_test_util.write_file(directory, "bad.off", "")
    list_file = mesh_test_util.write_file(directory, "list.txt",
                                          "box.off box\nbad.off box\n")
    flags = ["--source=list", f"--input={list_file}", "--test_fraction=0",
             f"--output_dir={os.path.join(directory, 'out')}"]
    strict = self._run(*flags, "--strict")
    self.assertEqual(strict.returncode, 1, strict.stderr[-2000:])
    self.assertIn("skipped 1 instances", strict.stdout)
    self.assertIn(f"{bad}: empty file", strict.stdout)
    self.assertIn("train: 1 examples of 1 instances", strict.stdout)
    # Without --strict the same (resumed, already finished) build succeeds.
    lenient = self._run(*flags)
    self.assertEqual(lenient.returncode, 0, lenient.stderr[-2000:])
    self.assertIn("skipped 1 instances", lenient.stdout)

  def test_y_up_mesh_matches_the_same_mesh_turned_z_up(self):
    # One asymmetric mesh saved y up, and its vertices turned z up by hand
    # (an exact rotation: a signed permutation of the coordinates).
    mesh = trimesh.util.concatenate([mesh_test_util.offset_ellipsoid(),
                                     trimesh.creation.box((0.2, 0.9, 0.3))])
    root = mesh_test_util.temp_dir(self)
    outputs = {}
    for up_axis, vertices in (
        ("y", mesh.vertices),
        ("z", mesh.vertices @ meshes.up_axis_rotation("y").T)):
      directory = os.path.join(root, up_axis)
      os.makedirs(os.path.join(directory, "thing"))
      trimesh.Trimesh(vertices, mesh.faces, process=False).export(
          os.path.join(directory, "thing", "a.off"))
      list_file = mesh_test_util.write_file(directory, "list.txt",
                                            "thing/a.off thing\n")
      outputs[up_axis] = os.path.join(directory, "out")
      result = self._run(
          "--source=list", f"--input={list_file}", "--test_fraction=0",
          f"--up_axis={up_axis}", "--dof=2", "--views_per_instance=3",
          "--image_size=32", "--sphere_size=16",
          f"--output_dir={outputs[up_axis]}")
      self.assertEqual(result.returncode, 0, result.stderr[-2000:])
    for up_axis, output in outputs.items():
      self.assertEqual(input_pipeline.read_metadata(output)["up_axis"],
                       up_axis)
    y_up, z_up = (_raw_examples(outputs[a], "train") for a in ("y", "z"))
    self.assertLen(y_up, 3)
    for converted, reference in zip(y_up, z_up):
      self.assertAllEqual(converted["rotation"], reference["rotation"])
      self.assertAllEqual(converted["image"], reference["image"])
      self.assertAllClose(converted["sphere"], reference["sphere"],
                          atol=1e-6)


if __name__ == "__main__":
  tf.test.main()
