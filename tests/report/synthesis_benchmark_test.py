"""Tests for the synthesis benchmark's plumbing on a tiny untrained module
(the metric code and the verdict, not the quality)."""

import dataclasses
import json
import os

import numpy as np
import tensorflow as tf

from sph_embed.report import synthesis_benchmark
from sph_embed.report import synthesize_views
from sph_embed.sphere import rotations
from sph_embed.synthesis import export as synthesis_export
from tests import mesh_test_util
from tests.synthesis import export_test


@dataclasses.dataclass(frozen=True)
class _MeanImageModule:
  """A module that always decodes its mean image (ignores the embedding)."""
  path: str
  mean_image: np.ndarray
  image_size: int = 64

  def embed(self, images):
    return np.zeros((len(images), 32, 32, 1), np.float32)

  def decode(self, embeddings):
    return np.repeat(self.mean_image[None], len(embeddings), axis=0)


class SynthesisBenchmarkTest(tf.test.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.root = mesh_test_util.class_temp_dir(cls)
    cls.data_dir, cls.module_dir, _, _ = export_test.build_tiny_module(
        cls.root)
    cls.module = synthesis_export.load_synthesis(cls.module_dir)
    cls.result = synthesis_benchmark.run(cls.module, cls.data_dir, seed=4)

  def test_metrics_against_independent_truth(self):
    result = self.result
    self.assertEqual(result["examples"], {"car": 2, "chair": 2})
    test = synthesis_benchmark.read_split(self.data_dir, "test")
    # The truth: each example's mesh in pose R @ R0, R drawn with the seed.
    drawn = rotations.random_rotations(4, 3, seed=4)
    truth = []
    for index in range(4):
      example = synthesize_views.dataset_example(self.data_dir, "test", index)
      truth.append(synthesize_views.true_views(
          example.mesh, example.pose, drawn[index][None], 64)[0])
    truth = np.stack(truth)
    psnr = tf.image.psnr(test["image"], truth, max_val=1.0).numpy()
    ssim = tf.image.ssim(np.repeat(self.module.mean_image[None], 4, axis=0),
                         truth, max_val=1.0).numpy()
    for category in ("car", "chair"):
      chosen = test["category"] == category
      means = result["categories"][category]
      self.assertAllClose(means["input_view"]["psnr"], psnr[chosen].mean(),
                          rtol=1e-5)
      self.assertAllClose(means["mean_image"]["ssim"], ssim[chosen].mean(),
                          rtol=1e-5)
      for method in ("rotated", "unrotated"):
        self.assertTrue(np.isfinite(means[method]["psnr"]))
        self.assertBetween(means[method]["ssim"], -1.0, 1.0)

  def test_seed_changes_the_rotations(self):
    again = synthesis_benchmark.run(self.module, self.data_dir, seed=4)
    self.assertEqual(again["categories"], self.result["categories"])
    other = synthesis_benchmark.run(self.module, self.data_dir, seed=5)
    self.assertNotEqual(other["categories"]["chair"]["input_view"],
                        self.result["categories"]["chair"]["input_view"])
    first = synthesis_benchmark.run(self.module, self.data_dir,
                                    max_examples=2)
    self.assertEqual(sum(first["examples"].values()), 2)

  def test_a_synthesis_that_ignores_the_rotation_fails(self):
    module = _MeanImageModule("mean", self.module.mean_image)
    result = synthesis_benchmark.run(module, self.data_dir)
    self.assertFalse(result["passed"])
    # rotated == unrotated == mean_image: neither is beaten anywhere.
    for category in ("car", "chair"):
      for control in ("unrotated", "mean_image"):
        for metric in ("psnr", "ssim"):
          self.assertIn([category, control, metric], result["not_beaten"])
    self.assertIn("NOT beaten: car (unrotated psnr)",
                  synthesis_benchmark.markdown(result))

  def test_outputs(self):
    rows = synthesis_benchmark.table_rows(self.result)
    self.assertEqual(rows[0][:3], ["category", "examples", "psnr_rotated"])
    self.assertEqual([row[0] for row in rows[1:]], ["car", "chair"])
    self.assertLen(rows[0], 2 + 2 * 4)
    directory = mesh_test_util.temp_dir(self)
    for name in ("t.md", "t.csv", "t.json"):
      synthesis_benchmark.write(os.path.join(directory, name), self.result)
    with open(os.path.join(directory, "t.csv"), encoding="utf-8") as f:
      self.assertEqual(f.read().splitlines()[1].split(","), rows[1])
    with open(os.path.join(directory, "t.json"), encoding="utf-8") as f:
      self.assertEqual(json.load(f)["categories"], self.result["categories"])
    with open(os.path.join(directory, "t.md"), encoding="utf-8") as f:
      self.assertEqual(f.read().splitlines()[2], "| " + " | ".join(rows[1])
                       + " |")

  def test_module_and_dataset_sizes_must_match(self):
    module = _MeanImageModule("small", np.zeros((32, 32, 1)), image_size=32)
    with self.assertRaisesRegex(ValueError, "views are 64 x 64, the module"
                                " small takes 32 x 32"):
      synthesis_benchmark.run(module, self.data_dir)

  def test_benchmark_script(self):
    output = os.path.join(mesh_test_util.temp_dir(self), "bench.json")
    result = mesh_test_util.run_script(
        "benchmarks/synthesis_bench.py", f"--module={self.module_dir}",
        f"--data_dir={self.data_dir}", f"--output={output}", "--seed=4")
    self.assertIn("| category | examples | psnr_rotated", result.stdout)
    with open(output, encoding="utf-8") as f:
      written = json.load(f)
    self.assertEqual(written["categories"], json.loads(json.dumps(
        self.result["categories"])))
    if written["passed"]:
      self.assertEqual(result.returncode, 0, result.stderr)
    else:
      self.assertEqual(result.returncode, 1)
      failing = sorted({c for c, _, _ in written["not_beaten"]})
      self.assertIn(f"FAILED: the rotated synthesis does not beat all three"
                    f" controls in categories {', '.join(failing)}",
                    result.stderr)


if __name__ == "__main__":
  tf.test.main()
