"""Tests for embedding training, checkpoints, resume and the two tools.

One tiny synthetic dataset (2 categories, rendered by the real builder) and
one tiny randomly initialised teacher exported with `export_teacher` are
shared by all tests, as is a reference training run.
"""

import dataclasses
import glob
import json
import os
import shutil
import tempfile

import numpy as np
import tensorflow as tf

from sph_embed.data import input_pipeline
from sph_embed.data import dataset
from sph_embed.embedding import model as embedding_model
from sph_embed.embedding import training as embedding_training
from sph_embed.pose import embeddings_io
from sph_embed.data import sources
from sph_embed.teacher import model as teacher_model
from sph_embed.teacher import export as teacher_export
from sph_embed.training import loop as train_loop
from sph_embed.data import views
from tests import mesh_test_util

_TINY = embedding_model.EmbeddingConfig(base_filters=4, max_filters=8,
                                        latent_size=16, blocks_per_layer=1)
_STEPS = 12


class Interrupted(Exception):
  pass


def build_tiny_dataset(output_dir):
  categories, instances = sources.synthetic_instances(["airplane", "car"], 2,
                                                      1)
  dataset.build(instances, categories, output_dir,
                views.ViewConfig(views_per_instance=4, seed=0),
                {"kind": "synthetic", "train_instances": 2,
                 "test_instances": 1},
                examples_per_shard=8, num_workers=1, progress=False)


def export_tiny_teacher(export_dir):
  tf.keras.utils.set_random_seed(0)
  model = teacher_model.build_teacher(teacher_model.TeacherConfig.tiny(), 2)
  teacher_export.export_teacher(model, export_dir, {"note": "random, tests"})


def read_scalars(logdir):
  """{tag: {step: value}} from the TensorBoard event files in `logdir`."""
  scalars = {}
  for path in glob.glob(os.path.join(logdir, "events.*")):
    for event in tf.compat.v1.train.summary_iterator(path):
      for value in event.summary.value:
        scalars.setdefault(value.tag, {})[event.step] = float(
            tf.make_ndarray(value.tensor))
  return scalars


def run_tool(name, *args):
  return mesh_test_util.run_script(os.path.join("tools", name), *args)


class TinyRunTestCase(tf.test.TestCase):
  """A tiny dataset (cls.data_dir) and teacher (cls.hub_module) in a
  class-wide temporary directory (cls.root), and the settings of tiny
  embedding runs on them (`config`)."""

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.root = tempfile.mkdtemp(prefix=f"{cls.__name__}_")
    cls.data_dir = os.path.join(cls.root, "data")
    cls.hub_module = os.path.join(cls.root, "teacher")
    build_tiny_dataset(cls.data_dir)
    export_tiny_teacher(cls.hub_module)

  @classmethod
  def tearDownClass(cls):
    shutil.rmtree(cls.root, ignore_errors=True)
    super().tearDownClass()

  @classmethod
  def held_out_images(cls, count=4):
    """The first `count` views of the tiny dataset's test split."""
    return next(iter(input_pipeline.make_dataset(
        cls.data_dir, "test", count, shuffle=False)))["image"]

  @classmethod
  def config(cls, model_dir, **overrides):
    """(LoopConfig, EmbeddingTraining) of a tiny run; overrides of either."""
    loop = train_loop.LoopConfig(
        data_dir=cls.data_dir, model_dir=model_dir, batch_size=4,
        max_steps=_STEPS, lr_boundaries=(8,), lr_values=(3e-3, 1e-3),
        adam_epsilon=1e-8, log_every_steps=3, eval_every_steps=6,
        checkpoint_every_steps=4, checkpoint_every_minutes=None,
        keep_checkpoints=2)
    settings = embedding_training.EmbeddingTraining(
        hub_module=cls.hub_module, embedding=_TINY)
    loop_fields = {f.name for f in dataclasses.fields(loop)}
    return (
        dataclasses.replace(loop, **{k: v for k, v in overrides.items()
                                     if k in loop_fields}),
        dataclasses.replace(settings, **{k: v for k, v in overrides.items()
                                         if k not in loop_fields}))


class TrainEmbeddingTest(TinyRunTestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.images = cls.held_out_images()
    cls.reference_dir = os.path.join(cls.root, "reference")
    cls.reference_model, cls.reference = embedding_training.train(
        *cls.config(cls.reference_dir))

  def test_training_lowers_the_loss(self):
    self.assertEqual((self.reference.start_step, self.reference.final_step),
                     (0, _STEPS))
    losses = read_scalars(os.path.join(self.reference_dir, "train"))["loss"]
    self.assertLess(losses[_STEPS], 0.8 * losses[3])

  def test_trains_under_the_mirrored_strategy(self):
    """The TF-Hub teacher must be usable inside the replicas' step (it was
    loaded inside the strategy's scope, and calling it then failed)."""
    model_dir = os.path.join(self.root, "mirrored")
    _, result = embedding_training.train(
        *self.config(model_dir, strategy="mirrored", max_steps=2,
                     eval_every_steps=None))
    self.assertEqual(result.final_step, 2)

  def test_tensorboard_scalars(self):
    train = read_scalars(os.path.join(self.reference_dir, "train"))
    self.assertContainsSubset(["loss", "relative_error", "learning_rate"],
                              train)
    self.assertEqual(sorted(train["loss"]), [3, 6, 9, 12])
    self.assertAllClose([train["learning_rate"][s] for s in (6, 9)],
                        [3e-3, 1e-3])
    evaluation = read_scalars(os.path.join(self.reference_dir, "eval"))
    self.assertEqual(sorted(evaluation["relative_error"]), [6, 12])
    self.assertBetween(evaluation["relative_error"][12], 0.0, 1.0)
    self.assertIn("loss", evaluation)

  def test_checkpoint_reload_gives_identical_outputs(self):
    model, spec = embedding_training.restore_model(self.reference_dir)
    self.assertEqual(spec["output_key"], "pose")
    self.assertAllEqual(model(self.images, training=False),
                        self.reference_model(self.images, training=False))
    # Only the newest 2 checkpoints are kept.
    checkpoints = tf.train.get_checkpoint_state(
        os.path.join(self.reference_dir, "checkpoints"))
    self.assertEqual([os.path.basename(p)
                      for p in checkpoints.all_model_checkpoint_paths],
                     ["ckpt-8", "ckpt-12"])

  def test_interrupted_run_resumes(self):
    model_dir = os.path.join(self.root, "interrupted")

    def interrupt(step):
      if step == 7:
        raise Interrupted()

    # Evaluation does not change the weights; skip it to save time.
    config = self.config(model_dir, eval_every_steps=None)
    with self.assertRaises(Interrupted):
      embedding_training.train(*config, after_step=interrupt)
    model, result = embedding_training.train(*config)
    self.assertEqual((result.start_step, result.final_step), (4, _STEPS))
    # Same batches, same updates: the uninterrupted run's weights.
    self.assertAllClose(model(self.images, training=False),
                        self.reference_model(self.images, training=False),
                        atol=1e-5, rtol=1e-4)

  def test_resume_with_another_network_is_refused(self):
    config = self.config(self.reference_dir, embedding=dataclasses.replace(
        _TINY, latent_size=32), max_steps=_STEPS + 1)
    with self.assertRaisesRegex(ValueError,
                                "embedding_model.json.*different embedding"):
      embedding_training.train(*config)

  def test_bad_inputs(self):
    with self.assertRaisesRegex(teacher_export.ModuleError,
                                "missing_module: no such directory"):
      embedding_training.train(*self.config(
          os.path.join(self.root, "bad1"),
          hub_module=os.path.join(self.root, "missing_module")))
    with self.assertRaisesRegex(ValueError, "output_key must be one of"):
      embedding_training.train(*self.config(os.path.join(self.root, "bad2"),
                                           output_key="logits"))
    with self.assertRaisesRegex(ValueError, "anisotropic_scale only"):
      embedding_training.train(*self.config(os.path.join(self.root, "bad3"),
                                           anisotropic_scale=0.1))
    # A dataset whose ray-cast maps do not fit the teacher's grid.
    coarse = os.path.join(self.root, "coarse_data")
    os.makedirs(coarse, exist_ok=True)
    with open(os.path.join(self.data_dir, "dataset.json")) as f:
      metadata = json.load(f)
    metadata["sphere_size"] = 32
    with open(os.path.join(coarse, "dataset.json"), "w") as f:
      json.dump(metadata, f)
    with self.assertRaisesRegex(input_pipeline.DataError,
                                "dataset.json: ray-cast maps are 32 x 32, the"
                                " teacher takes 64 x 64"):
      embedding_training.train(*self.config(os.path.join(self.root, "bad4"),
                                           data_dir=coarse))

  def test_save_embeddings_tool(self):
    output = os.path.join(self.root, "test_embeddings.npz")
    result = run_tool("save_embeddings.py", f"--model_dir={self.reference_dir}",
                      "--split=test", f"--output={output}")
    self.assertEqual(result.returncode, 0, result.stderr[-3000:])
    loaded = embeddings_io.load_embeddings(output)
    self.assertEqual(loaded["embeddings"].shape, (8, 16, 16, 2))
    self.assertEqual(loaded["targets"].shape, (8, 16, 16, 2))
    self.assertEqual(loaded["images"].shape, (8, 64, 64))
    self.assertEqual(sorted(set(loaded["category"])), ["airplane", "car"])
    test = next(iter(input_pipeline.make_dataset(self.data_dir, "test", 8,
                                             shuffle=False)))
    self.assertAllClose(loaded["rotations"], test["rotation"])
    self.assertAllClose(loaded["embeddings"],
                        self.reference_model(test["image"], training=False),
                        atol=1e-5)
    targets = teacher_export.load_teacher_layer(self.hub_module, "pose")(
        test["sphere"])
    self.assertAllClose(loaded["targets"], targets, atol=1e-5)

    # The reader rejects a file with a missing key or a wrong shape.
    arrays = {k: v for k, v in loaded.items() if v is not None}
    broken = os.path.join(self.root, "broken.npz")
    np.savez(broken, **{k: v for k, v in arrays.items() if k != "rotations"})
    with self.assertRaisesRegex(ValueError, "broken.npz: missing key"
                                " 'rotations'"):
      embeddings_io.load_embeddings(broken)
    np.savez(broken, **dict(arrays, targets=arrays["targets"][:, :8, :8]))
    with self.assertRaisesRegex(ValueError, "broken.npz: key 'targets'"):
      embeddings_io.load_embeddings(broken)

  def test_train_tool_rejects_bad_flags(self):
    result = run_tool(
        "train_embedding.py", f"--hub_module={self.hub_module}",
        f"--data_dir={self.data_dir}",
        f"--model_dir={os.path.join(self.root, 'tool')}",
        "--lr_boundaries=10", "--lr_values=1e-3")
    self.assertNotEqual(result.returncode, 0)
    self.assertIn("--lr_boundaries / --lr_values: learning rate schedule:"
                  " expected len(values) == len(boundaries) + 1",
                  result.stderr)
    self.assertFalse(os.path.exists(os.path.join(self.root, "tool")))


if __name__ == "__main__":
  tf.test.main()
