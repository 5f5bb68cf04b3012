"""Tests for synthesis-network training, resume, restore and its tool.

One tiny synthetic dataset (2 categories, 1 train instance each, 4 views:
the train split is exactly one batch of 8, so every step sees the same
examples) and the shipped teacher module are shared by all tests, as is a
reference training run on the teacher's `synthesis` maps.
"""

import dataclasses
import json
import os
import shutil
import tempfile

import numpy as np
import tensorflow as tf

from sph_embed.data import input_pipeline
from sph_embed.data import views
from sph_embed.embedding import model as embedding_model
from sph_embed.embedding import training as embedding_training
from sph_embed.synthesis import model as synthesis_model
from sph_embed.synthesis import rotate
from sph_embed.synthesis import training as synthesis_training
from sph_embed.training import loop as train_loop
from tests import mesh_test_util
from tests.embedding.training_test import read_scalars

_TINY = synthesis_model.SynthesisConfig(base_filters=4, max_filters=8,
                                        latent_size=16, blocks_per_layer=1)
_HUB_MODULE = os.path.join(mesh_test_util.REPO_ROOT, "hub_modules",
                           "teacher_synthetic")
_STEPS = 30


class Interrupted(Exception):
  pass


def run_tool(*args):
  return mesh_test_util.run_script("tools/train_synthesis.py", *args)


class TrainSynthesisTest(tf.test.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.root = tempfile.mkdtemp(prefix="train_synthesis_test_")
    cls.data_dir = os.path.join(cls.root, "data")
    mesh_test_util.build_tiny_synthetic(
        cls.data_dir, train=1, test=1,
        config=views.ViewConfig(views_per_instance=4, image_size=32,
                                sphere_size=64, seed=5))
    cls.batch = next(iter(input_pipeline.make_dataset(
        cls.data_dir, "test", 4, shuffle=False)))
    cls.reference_dir = os.path.join(cls.root, "reference")
    cls.reference_model, cls.reference = synthesis_training.train(
        *cls.config(cls.reference_dir))

  @classmethod
  def tearDownClass(cls):
    shutil.rmtree(cls.root, ignore_errors=True)
    super().tearDownClass()

  @classmethod
  def config(cls, model_dir, **overrides):
    """(LoopConfig, SynthesisTraining) of a tiny run; overrides of either."""
    loop = train_loop.LoopConfig(
        data_dir=cls.data_dir, model_dir=model_dir, batch_size=8,
        max_steps=_STEPS, lr_boundaries=(20,), lr_values=(3e-3, 2e-3),
        adam_epsilon=1e-8, log_every_steps=5, eval_every_steps=None,
        checkpoint_every_steps=10, checkpoint_every_minutes=None,
        keep_checkpoints=2)
    settings = synthesis_training.SynthesisTraining(
        embedding_source="teacher", hub_module=_HUB_MODULE, synthesis=_TINY)
    loop_fields = {f.name for f in dataclasses.fields(loop)}
    return (
        dataclasses.replace(loop, **{k: v for k, v in overrides.items()
                                     if k in loop_fields}),
        dataclasses.replace(settings, **{k: v for k, v in overrides.items()
                                         if k not in loop_fields}))

  def teacher_embeddings(self):
    """Band-limited teacher `synthesis` maps of the test batch (NumPy)."""
    embedder = synthesis_training.load_embedder(self.config("unused")[1])
    return rotate.band_limit(embedder.network(self.batch["sphere"]))

  def test_band_limit_matches_numpy_reference(self):
    rng = np.random.default_rng(0)
    maps = rng.normal(size=(2, 16, 16, 3)).astype(np.float32)
    self.assertAllClose(synthesis_training.band_limit(tf.constant(maps)),
                        rotate.band_limit(maps), atol=1e-5)

  def test_training_lowers_the_loss_on_a_fixed_batch(self):
    self.assertEqual((self.reference.start_step, self.reference.final_step),
                     (0, _STEPS))
    train = read_scalars(os.path.join(self.reference_dir, "train"))
    self.assertEqual(sorted(train["loss"]), [5, 10, 15, 20, 25, 30])
    # The train split is one batch: the L1 loss on it must fall steadily.
    self.assertLess(train["loss"][_STEPS], 0.7 * train["loss"][5])
    self.assertGreater(train["psnr"][_STEPS], train["psnr"][5] + 2.0)
    self.assertAllClose([train["learning_rate"][s] for s in (20, 25)],
                        [3e-3, 2e-3])
    evaluation = read_scalars(os.path.join(self.reference_dir, "eval"))
    self.assertEqual(sorted(evaluation["psnr"]), [_STEPS])
    self.assertIn("loss", evaluation)

  def test_restored_model_matches_the_trained_one(self):
    model, spec = synthesis_training.restore_model(self.reference_dir)
    self.assertEqual((spec["embedding_size"], spec["channels"],
                      spec["image_size"], spec["embedding_source"]),
                     (32, 8, 32, "teacher"))
    embeddings = self.teacher_embeddings()
    decoded = synthesis_model.decode(model, embeddings)
    self.assertEqual(decoded.shape, (4, 32, 32, 1))
    self.assertAllClose(decoded,
                        self.reference_model(embeddings, training=False),
                        atol=1e-6)
    # The loss the trainer reports is the pixel error of these decodes.
    loss = synthesis_training.pixel_error(decoded, self.batch["image"], "l1")
    self.assertAllClose(loss, np.abs(decoded - self.batch["image"]).mean(
        axis=(1, 2, 3)), atol=1e-6)

  def test_interrupted_run_resumes(self):
    model_dir = os.path.join(self.root, "interrupted")

    def interrupt(step):
      if step == 13:
        raise Interrupted()

    config = self.config(model_dir)
    with self.assertRaises(Interrupted):
      synthesis_training.train(*config, after_step=interrupt)
    model, result = synthesis_training.train(*config)
    self.assertEqual((result.start_step, result.final_step), (10, _STEPS))
    # Same batches, same updates: the uninterrupted run's weights.
    embeddings = self.teacher_embeddings()
    self.assertAllClose(model(embeddings, training=False),
                        self.reference_model(embeddings, training=False),
                        atol=1e-5, rtol=1e-4)

  def test_resume_with_another_network_is_refused(self):
    config = self.config(self.reference_dir, max_steps=_STEPS + 1,
                         synthesis=dataclasses.replace(_TINY, latent_size=32))
    with self.assertRaisesRegex(ValueError, "synthesis_model.json"):
      synthesis_training.train(*config)

  def test_predicted_embeddings(self):
    # A synthesis embedding network (2 steps: only the plumbing matters).
    embedding_dir = os.path.join(self.root, "embedding_synthesis")
    embedding_training.train(
        train_loop.LoopConfig(data_dir=self.data_dir,
                              model_dir=embedding_dir, batch_size=4,
                              max_steps=2, checkpoint_every_minutes=None),
        embedding_training.EmbeddingTraining(
            hub_module=_HUB_MODULE, output_key="synthesis",
            embedding=embedding_model.EmbeddingConfig(
                base_filters=4, max_filters=8, latent_size=16,
                blocks_per_layer=1), eval_examples=2))
    model_dir = os.path.join(self.root, "predicted")
    model, result = synthesis_training.train(*self.config(
        model_dir, max_steps=2, embedding_source="predicted",
        embedding_model_dir=embedding_dir, hub_module=None,
        pixel_loss="l2"))
    self.assertEqual(result.final_step, 2)
    restored, spec = synthesis_training.restore_model(model_dir)
    self.assertEqual((spec["embedding_source"], spec["embedding_model_dir"],
                      spec["pixel_loss"]),
                     ("predicted", os.path.abspath(embedding_dir), "l2"))
    # The inputs are the embedding network's predictions from the views.
    embedder, _ = embedding_training.restore_model(embedding_dir)
    embeddings = rotate.band_limit(embedder(self.batch["image"]))
    self.assertAllClose(synthesis_model.decode(restored, embeddings),
                        model(embeddings, training=False), atol=1e-6)
    self.assertAllClose(
        synthesis_training.pixel_error(embeddings, embeddings + 0.5, "l2"),
        np.full(4, 0.25), atol=1e-6)

    # A run that learned the `pose` maps is refused, naming the setting.
    pose_dir = os.path.join(self.root, "embedding_pose")
    shutil.copytree(embedding_dir, pose_dir)
    spec_path = os.path.join(pose_dir, embedding_training.MODEL_SPEC)
    with open(spec_path) as f:
      pose_spec = json.load(f)
    with open(spec_path, "w") as f:
      json.dump(dict(pose_spec, output_key="pose"), f)
    with self.assertRaisesRegex(
        ValueError, "embedding_model_dir: .*embedding_pose learned the"
        " teacher's 'pose' maps"):
      synthesis_training.train(*self.config(
          os.path.join(self.root, "bad_predicted"), max_steps=1,
          embedding_source="predicted", embedding_model_dir=pose_dir))

  def test_bad_settings(self):
    for overrides, message in [
        (dict(embedding_source="predicted"),
         "embedding_model_dir must be set for embedding_source='predicted'"),
        (dict(hub_module=None), "hub_module must be set"),
        (dict(pixel_loss="l3"), "pixel_loss must be one of"),
        (dict(hub_module=os.path.join(self.root, "missing_module")),
         "hub_module: .*missing_module: no such directory"),
    ]:
      with self.subTest(message), self.assertRaisesRegex(ValueError,
                                                         message):
        synthesis_training.train(*self.config(
            os.path.join(self.root, "bad"), **overrides))
    self.assertFalse(os.path.exists(os.path.join(self.root, "bad")))

  def test_tool_trains(self):
    model_dir = os.path.join(self.root, "tool")
    result = run_tool(f"--data_dir={self.data_dir}",
                      f"--model_dir={model_dir}", "--embedding_source=teacher",
                      f"--hub_module={_HUB_MODULE}", "--preset=cpu",
                      "--max_steps=1", "--pixel_loss=l2")
    self.assertEqual(result.returncode, 0, result.stderr[-3000:])
    self.assertIn("trained steps 0..1", result.stdout)
    spec = synthesis_training.read_model_spec(model_dir)
    self.assertEqual((spec["synthesis"], spec["pixel_loss"]),
                     (dataclasses.asdict(synthesis_model.preset("cpu")),
                      "l2"))

  def test_tool_rejects_bad_flags(self):
    result = run_tool(f"--data_dir={self.data_dir}",
                      f"--model_dir={os.path.join(self.root, 'tool_bad')}")
    self.assertEqual(result.returncode, 1)
    self.assertEqual(result.stderr.strip().splitlines()[-1],
                     "train_synthesis.py: error: --embedding_model_dir must"
                     " be set for embedding_source='predicted' (a run of"
                     " tools/train_embedding.py --output_key=synthesis)")
    missing = os.path.join(self.root, "no_data")
    result = run_tool(f"--data_dir={missing}",
                      f"--model_dir={os.path.join(self.root, 'tool_bad')}",
                      "--embedding_source=teacher",
                      f"--hub_module={_HUB_MODULE}")
    self.assertEqual(result.returncode, 1)
    self.assertRegex(result.stderr.strip().splitlines()[-1],
                     "^train_synthesis.py: error: --data_dir: .*no_data/"
                     "dataset.json: not found")
    self.assertFalse(os.path.exists(os.path.join(self.root, "tool_bad")))


if __name__ == "__main__":
  tf.test.main()
