"""Tests for sph_embed.data.merge and tools/merge_datasets.py."""

import dataclasses
import os
import shutil
import subprocess
import sys
import tempfile

import tensorflow as tf

from sph_embed.data import input_pipeline
from sph_embed.data import merge
from tests import mesh_test_util
from tests.data import dataset_test

_REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


class MergeTest(tf.test.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.root = root = tempfile.mkdtemp(prefix="merge_test_")
    cls.addClassCleanup(shutil.rmtree, root)
    cls.first = os.path.join(root, "first")
    cls.second = os.path.join(root, "second")
    mesh_test_util.build_tiny_synthetic(cls.first, ("chair", "car"))
    # Another category order and a category of its own; other views.
    mesh_test_util.build_tiny_synthetic(
        cls.second, ("sofa", "chair"), train=1, test=1,
        config=dataclasses.replace(mesh_test_util.TINY_CONFIG,
                                   views_per_instance=3, seed=7))

  def test_every_example_is_copied_and_labelled_by_its_category(self):
    out = tempfile.mkdtemp(dir=self.root)
    metadata = merge.merge([self.first, self.second], out)
    self.assertEqual(metadata["categories"], ["chair", "car", "sofa"])
    for split in ("train", "test"):
      merged = dataset_test._raw_examples(out, split)
      inputs = (dataset_test._raw_examples(self.first, split)
                + dataset_test._raw_examples(self.second, split))
      self.assertLen(merged, len(inputs))
      for got, want in zip(merged, inputs):
        for key in ("image", "sphere", "rotation"):
          self.assertAllEqual(got[key], want[key])
        self.assertEqual(got["instance"], want["instance"])
        self.assertEqual(got["label"],
                         metadata["categories"].index(want["category"]))
      self.assertEqual(metadata["splits"][split]["examples"], len(inputs))
    # The second input's chairs had label 1 there; here they are class 0.
    second_chairs = [e for e in dataset_test._raw_examples(self.second,
                                                           "train")
                     if e["category"] == "chair"]
    self.assertNotEmpty(second_chairs)
    self.assertEqual(second_chairs[0]["label"], 1)
    # The merged dataset reads like a built one (shard records checked).
    batch = next(iter(input_pipeline.make_dataset(out, "train", 64)))
    self.assertEqual(batch["image"].shape[0],
                     metadata["splits"]["train"]["examples"])
    self.assertIsNone(metadata["views_per_instance"])  # 2 vs 3: differ.
    self.assertEqual(metadata["dof"], 3)
    self.assertEqual(metadata["source"]["kind"], merge.SOURCE_KIND)
    self.assertEqual([i["views_per_instance"]
                      for i in metadata["source"]["inputs"]], [2, 3])

  def test_rerun_keeps_a_finished_merge_and_refuses_another(self):
    out = tempfile.mkdtemp(dir=self.root)
    first = merge.merge([self.first, self.second], out)
    stamp = os.path.getmtime(os.path.join(out, "dataset.json"))
    self.assertEqual(merge.merge([self.first, self.second], out), first)
    self.assertEqual(os.path.getmtime(os.path.join(out, "dataset.json")),
                     stamp)
    with self.assertRaisesRegex(merge.MergeError, "another dataset"):
      merge.merge([self.second, self.first], out)
    other = merge.merge([self.second, self.first], out, overwrite=True)
    self.assertEqual(other["categories"], ["sofa", "chair", "car"])
    self.assertNotEqual(other["fingerprint"], first["fingerprint"])

  def test_resumes_after_a_killed_merge(self):
    out = tempfile.mkdtemp(dir=self.root)
    metadata = merge.merge([self.first, self.second], out)
    os.remove(os.path.join(out, "dataset.json"))  # Killed before the end.
    shard = metadata["splits"]["train"]["shards"][0]
    with open(os.path.join(out, shard), "ab") as f:
      f.write(b"half")  # A damaged shard is rewritten, not trusted.
    self.assertEqual(merge.merge([self.first, self.second], out)["splits"],
                     metadata["splits"])
    input_pipeline.shard_paths(out, "train")

  def test_inputs_that_cannot_be_merged_are_named(self):
    other = tempfile.mkdtemp(dir=self.root)
    mesh_test_util.build_tiny_synthetic(
        other, ("sofa",), train=1, test=1,
        config=dataclasses.replace(mesh_test_util.TINY_CONFIG, dof=2))
    out = os.path.join(tempfile.mkdtemp(dir=self.root), "out")
    with self.assertRaisesRegex(merge.MergeError,
                                f"differ in dof .*{other}: 2"):
      merge.merge([self.first, other], out)
    with self.assertRaisesRegex(merge.MergeError, "given twice"):
      merge.merge([self.first, self.first], out)
    with self.assertRaisesRegex(merge.MergeError, "at least two"):
      merge.merge([self.first], out)
    with self.assertRaisesRegex(input_pipeline.DataError, "not found"):
      merge.merge([self.first, out], out)
    self.assertFalse(os.path.exists(out))

  def test_tool(self):
    out = os.path.join(tempfile.mkdtemp(dir=self.root), "merged")
    command = [sys.executable, os.path.join(_REPO, "tools",
                                            "merge_datasets.py"),
               f"--inputs={self.first},{self.second}", f"--output_dir={out}"]
    result = subprocess.run(command, capture_output=True, text=True,
                            check=False)
    self.assertEqual(result.returncode, 0, result.stderr)
    self.assertIn("categories: chair, car, sofa", result.stdout)
    result = subprocess.run(command[:2] + [f"--inputs={self.first}",
                                           f"--output_dir={out}"],
                            capture_output=True, text=True, check=False)
    self.assertEqual(result.returncode, 1)
    self.assertIn("merge_datasets.py: error: give at least two",
                  result.stderr)


if __name__ == "__main__":
  tf.test.main()
