"""Training runs of tiny untrained networks, made without training.

A run is its spec file and one checkpoint at a chosen step, as the trainers
leave them: what the exports and the tools that read runs need (their
plumbing is tested, not the networks' quality).  `make_pose_runs` builds
the shared fixture of the pose module tests: a tiny dataset, a tiny
teacher, an embedding run and a regression run, each exported as a module.
"""

import json
import os
import types

import tensorflow as tf

from sph_embed.baselines import export as regression_export
from sph_embed.baselines import image2sphere_training
from sph_embed.baselines import regression
from sph_embed.baselines import training as regression_training
from sph_embed.data import input_pipeline
from sph_embed.data import views
from sph_embed.embedding import export as embedding_export
from sph_embed.embedding import model as embedding_model
from sph_embed.embedding import training as embedding_training
from sph_embed.teacher import export as teacher_export
from sph_embed.teacher import model as teacher_model
from tests import mesh_test_util

TINY_ENCODER = embedding_model.EmbeddingConfig(
    base_filters=4, max_filters=8, latent_size=16, blocks_per_layer=1)
TINY_REGRESSION = regression.RegressionConfig(encoder=TINY_ENCODER,
                                              head_units=(8, 4))
# 32 x 32 views; 64 x 64 ray-cast maps, the teacher's input.  Two test
# instances per category, so that CB has pairs.
POSE_VIEWS = views.ViewConfig(views_per_instance=3, image_size=32,
                              sphere_size=64, seed=5)
EMBEDDING_STEPS = 7
REGRESSION_STEPS = 9


def save_run(model_dir, spec_file, spec, model, steps):
  """Writes `spec` and a checkpoint of `model` at `steps` into model_dir."""
  os.makedirs(model_dir)
  with open(os.path.join(model_dir, spec_file), "w", encoding="utf-8") as f:
    json.dump(spec, f)
  tf.train.Checkpoint(step=tf.Variable(steps, dtype=tf.int64),
                      model=model).save(
                          os.path.join(model_dir, "checkpoints", "ckpt"))
  return model_dir


def embedding_run(model_dir, data_dir, hub_module, output_key, target_shape,
                  steps):
  """An untrained tiny embedding network's run (tools/train_embedding.py)."""
  settings = embedding_training.EmbeddingTraining(
      hub_module=hub_module, output_key=output_key, embedding=TINY_ENCODER)
  spec = embedding_training.model_spec(
      settings, data_dir, input_pipeline.read_metadata(data_dir),
      {output_key: target_shape})
  tf.keras.utils.set_random_seed(0)
  return save_run(model_dir, embedding_training.MODEL_SPEC, spec,
                  embedding_training.build_model(spec), steps)


def regression_run(model_dir, data_dir, steps, config=TINY_REGRESSION):
  """An untrained regression network's run (tools/train_regression.py)."""
  spec = regression_training.model_spec(
      config, data_dir, input_pipeline.read_metadata(data_dir))
  tf.keras.utils.set_random_seed(1)
  return save_run(model_dir, regression_training.MODEL_SPEC, spec,
                  regression_training.build_model(spec), steps)


def image2sphere_run(model_dir, data_dir, steps, config):
  """An untrained Image2Sphere network's run (tools/train_image2sphere.py)."""
  spec = image2sphere_training.model_spec(
      config, data_dir, input_pipeline.read_metadata(data_dir))
  tf.keras.utils.set_random_seed(2)
  return save_run(model_dir, image2sphere_training.MODEL_SPEC, spec,
                  image2sphere_training.build_model(spec), steps)


def make_pose_runs(root):
  """The pose module fixture under `root`, as a namespace of paths.

  data_dir (2 categories, 1 train and 2 test instances each, 3 views),
  teacher (a tiny random teacher module), embedding_dir / regression_dir
  (the runs), embedding_module / regression_module (their exports),
  target_shape (the teacher's `pose` maps).
  """
  paths = types.SimpleNamespace(
      data_dir=os.path.join(root, "data"),
      teacher=os.path.join(root, "teacher"),
      embedding_dir=os.path.join(root, "embedding_run"),
      regression_dir=os.path.join(root, "regression_run"),
      embedding_module=os.path.join(root, "embedding_module"),
      regression_module=os.path.join(root, "regression_module"))
  mesh_test_util.build_tiny_synthetic(paths.data_dir, train=1, test=2,
                                      config=POSE_VIEWS)
  tf.keras.utils.set_random_seed(0)
  teacher_export.export_teacher(
      teacher_model.build_teacher(teacher_model.TeacherConfig.tiny(), 2),
      paths.teacher, {"description": "tiny random teacher (tests)"})
  _, paths.target_shape = embedding_training.load_teacher(paths.teacher,
                                                          "pose")
  embedding_run(paths.embedding_dir, paths.data_dir, paths.teacher, "pose",
                paths.target_shape, EMBEDDING_STEPS)
  regression_run(paths.regression_dir, paths.data_dir, REGRESSION_STEPS)
  embedding_export.export_run(paths.embedding_dir, paths.embedding_module)
  regression_export.export_run(paths.regression_dir,
                               paths.regression_module)
  return paths
