"""Tests for the synthesis module export (both networks + mean image).

The runs are untrained: a tiny embedding network and synthesis network are
built from run specs and saved as step-3 and step-5 checkpoints (the
export's plumbing is tested, not their quality).  `build_tiny_module` is
shared with the tool and benchmark tests.
"""

import json
import os

import numpy as np
import tensorflow as tf

from sph_embed.data import dataset
from sph_embed.data import input_pipeline
from sph_embed.data import sources
from sph_embed.data import views
from sph_embed.embedding import training as embedding_training
from sph_embed.synthesis import export as synthesis_export
from sph_embed.synthesis import model as synthesis_model
from sph_embed.synthesis import rotate
from sph_embed.synthesis import training as synthesis_training
from tests import mesh_test_util
from tests import untrained_runs

_TEACHER = os.path.join(mesh_test_util.REPO_ROOT, "hub_modules",
                        "teacher_synthetic")
_CHANNELS = 2
# 64 x 64 views as the shipped module; anisotropic scaling on, so that the
# true views must use each example's own scaled mesh.
TINY_VIEWS = views.ViewConfig(views_per_instance=2, image_size=64,
                              sphere_size=16, anisotropic_scale=0.2, seed=3)


def make_untrained_runs(root, data_dir):
  """(embedding_dir, synthesis_dir): untrained runs of tiny networks."""
  metadata = input_pipeline.read_metadata(data_dir)
  embedding_dir = untrained_runs.embedding_run(
      os.path.join(root, "embedding_run"), data_dir, _TEACHER, "synthesis",
      (32, 32, _CHANNELS), 3)
  synthesis_settings = synthesis_training.SynthesisTraining(
      embedding_model_dir=embedding_dir,
      synthesis=synthesis_model.SynthesisConfig(
          base_filters=4, max_filters=8, latent_size=16, blocks_per_layer=1))
  embedder = synthesis_training.Embedder(None, "image", (32, 32, _CHANNELS),
                                         metadata["image_size"])
  spec = synthesis_training.model_spec(synthesis_settings, data_dir, metadata,
                                       embedder)
  synthesis_dir = untrained_runs.save_run(
      os.path.join(root, "synthesis_run"), synthesis_training.MODEL_SPEC,
      spec, synthesis_training.build_model(spec), 5)
  return embedding_dir, synthesis_dir


def build_tiny_module(root):
  """(data_dir, module_dir, embedding_dir, synthesis_dir) under `root`."""
  data_dir = os.path.join(root, "data")
  categories, instances = sources.synthetic_instances(("chair", "car"), 1, 1)
  # The source as tools/build_dataset.py records it: the meshes of the
  # examples (true views) are found again from it.
  dataset.build(instances, categories, data_dir, TINY_VIEWS,
                {"kind": "synthetic", "train_instances": 1,
                 "test_instances": 1}, progress=False, num_workers=0)
  embedding_dir, synthesis_dir = make_untrained_runs(root, data_dir)
  embedding, _ = embedding_training.restore_model(embedding_dir)
  synthesis, _ = synthesis_training.restore_model(synthesis_dir)
  module_dir = os.path.join(root, "module")
  synthesis_export.export_synthesis(
      embedding, synthesis, synthesis_export.mean_training_image(data_dir),
      module_dir, {"note": "untrained test module"})
  return data_dir, module_dir, embedding_dir, synthesis_dir


def run_export_tool(*args):
  return mesh_test_util.run_script("tools/export_synthesis.py", *args)


class ExportSynthesisTest(tf.test.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.root = mesh_test_util.class_temp_dir(cls)
    (cls.data_dir, cls.module_dir, cls.embedding_dir,
     cls.synthesis_dir) = build_tiny_module(cls.root)
    cls.module = synthesis_export.load_synthesis(cls.module_dir)
    cls.images = next(iter(input_pipeline.make_dataset(
        cls.data_dir, "test", 4, shuffle=False)))["image"].numpy()

  def test_module_matches_the_trained_networks(self):
    embedding, _ = embedding_training.restore_model(self.embedding_dir)
    synthesis, _ = synthesis_training.restore_model(self.synthesis_dir)
    embeddings = self.module.embed(self.images)
    self.assertEqual(embeddings.shape, (4, 32, 32, _CHANNELS))
    self.assertAllClose(embeddings, embedding(self.images, training=False),
                        atol=1e-5)
    inputs = rotate.band_limit(embeddings)
    decoded = self.module.decode(inputs)
    self.assertEqual(decoded.shape, (4, 64, 64, 1))
    self.assertAllClose(decoded, synthesis(inputs, training=False), atol=1e-5)
    self.assertAllInRange(decoded, 0.0, 1.0)
    # synthesize(None) is the plain reconstruction; the identity rotation
    # gives exactly the same.
    self.assertAllEqual(self.module.synthesize(embeddings), decoded)
    self.assertAllEqual(self.module.synthesize(embeddings, np.eye(3)),
                        decoded)

  def test_mean_image_is_the_mean_training_view(self):
    train = np.concatenate([b["image"].numpy() for b in
                            input_pipeline.make_dataset(self.data_dir,
                                                        "train", 3)])
    self.assertEqual(self.module.mean_image.shape, (64, 64, 1))
    self.assertAllClose(self.module.mean_image, train.mean(axis=0),
                        atol=1e-6)

  def test_manifest(self):
    manifest = self.module.manifest
    self.assertEqual(manifest["module"], "synthesis")
    self.assertEqual(manifest["embed"]["input"], [None, 64, 64, 1])
    self.assertEqual(manifest["decode"]["input"], [None, 32, 32, _CHANNELS])
    self.assertEqual(manifest["note"], "untrained test module")
    self.assertIn("date", manifest)

  def test_bad_inputs_are_named(self):
    with self.assertRaisesRegex(ValueError, "embed takes views"):
      self.module.embed(np.zeros((1, 32, 32, 1)))
    with self.assertRaisesRegex(ValueError, "decode takes embeddings"):
      self.module.decode(np.zeros((1, 32, 32, _CHANNELS + 1)))

  def test_not_a_synthesis_module(self):
    missing = os.path.join(self.root, "missing")
    empty = os.path.join(self.root, "empty")
    os.makedirs(empty, exist_ok=True)
    for path, message in ((missing, "no such directory"),
                          (empty, "not a synthesis module"),
                          (_TEACHER, "not a synthesis module")):
      with self.assertRaisesRegex(synthesis_export.ModuleError,
                                  f"{path}: .*{message}"):
        synthesis_export.load_synthesis(path)

  def test_shapes_must_fit(self):
    embedding, _ = embedding_training.restore_model(self.embedding_dir)
    other = synthesis_model.build_synthesis_model(
        synthesis_model.SynthesisConfig(base_filters=4, max_filters=8,
                                        latent_size=16, blocks_per_layer=1),
        _CHANNELS + 1)
    target = os.path.join(self.root, "never")
    with self.assertRaisesRegex(ValueError, "decodes .* embeddings"):
      synthesis_export.export_synthesis(
          embedding, other, self.module.mean_image, target, {})
    self.assertFalse(os.path.exists(target))

  def test_trained_steps(self):
    self.assertEqual(synthesis_export.trained_steps(self.embedding_dir), 3)
    self.assertEqual(synthesis_export.trained_steps(self.synthesis_dir), 5)

  def test_export_tool(self):
    export_dir = os.path.join(self.root, "tool_module")
    benchmark = os.path.join(self.root, "benchmark.json")
    with open(benchmark, "w", encoding="utf-8") as f:
      json.dump({"passed": False, "categories": {}}, f)
    args = [f"--embedding_model_dir={self.embedding_dir}",
            f"--synthesis_model_dir={self.synthesis_dir}",
            f"--data_dir={self.data_dir}", f"--export_dir={export_dir}",
            f"--benchmark={benchmark}"]
    result = run_export_tool(*args)
    self.assertEqual(result.returncode, 0, result.stderr)
    manifest = synthesis_export.read_manifest(export_dir)
    self.assertEqual(manifest["embedding_network"]["steps"], 3)
    self.assertEqual(manifest["synthesis_network"]["steps"], 5)
    self.assertIn("tools/train_embedding.py", manifest["embedding_network"]
                  ["command"])
    self.assertIn("--output_key=synthesis --base_filters=4",
                  manifest["embedding_network"]["command"])
    self.assertIn(f"--embedding_model_dir={self.embedding_dir}",
                  manifest["synthesis_network"]["command"])
    self.assertEqual(manifest["training_data"]["examples"],
                     {"train": 4, "test": 4})
    self.assertEqual(manifest["benchmark"], {"passed": False,
                                             "categories": {}})
    self.assertIn("export_synthesis.py", manifest["export_command"])
    # A second export needs --overwrite; the module is left as it was.
    before = os.listdir(export_dir)
    result = run_export_tool(*args)
    self.assertEqual(result.returncode, 1)
    self.assertRegex(result.stderr.strip().splitlines()[-1],
                     r"^export_synthesis.py: error: --export_dir=.*already"
                     r" holds a module; pass --overwrite")
    self.assertEqual(os.listdir(export_dir), before)


if __name__ == "__main__":
  tf.test.main()
