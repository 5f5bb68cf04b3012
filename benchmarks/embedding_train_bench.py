"""Training throughput of the embedding network, in images/s, per preset.

Times the real training step (sph_embed.training.loop.make_train_step with
sph_embed.embedding.training's loss: the teacher through hub.KerasLayer on
the ray-cast maps, the network forward and backward, Adam) on batches held
in memory, so input reading is not measured.  The teacher is --hub_module,
or, without it, a randomly initialised default TeacherConfig() exported to
a temporary directory (same cost as a trained one of that shape).

  python3 benchmarks/embedding_train_bench.py --presets=cpu,paper \
      [--hub_module=hub_modules/teacher_synthetic --output_key=pose]
"""

import os
import platform
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app  # pylint: disable=g-import-not-at-top
from absl import flags
import numpy as np
import tensorflow as tf

from sph_embed.embedding import model as embedding_model
from sph_embed.embedding import training as embedding_training
from sph_embed.teacher import model as teacher_model
from sph_embed.teacher import export as teacher_export
from sph_embed.training import loop as train_loop

_PRESETS = flags.DEFINE_list("presets", ["cpu", "paper"], "Presets to time.")
_HUB_MODULE = flags.DEFINE_string("hub_module", None, "Teacher module.")
_OUTPUT_KEY = flags.DEFINE_enum("output_key", "pose", ["pose", "synthesis"],
                                "Teacher output.")
_BATCH = flags.DEFINE_integer("batch_size", 16, "Images per step.")
_STEPS = flags.DEFINE_integer("steps", 20, "Timed steps (after 2 warm-up).")


def time_preset(name, teacher_layer, target_shape, batch_size, steps):
  """(images/s, parameters) of training steps of one preset."""
  model = embedding_model.build_embedding_model(
      embedding_model.preset(name), target_shape[0], target_shape[2])
  optimizer = tf.keras.optimizers.legacy.Adam(1e-3, epsilon=1e-8)
  metrics = {k: tf.keras.metrics.Mean(k) for k in ("loss", "relative_error")}
  step = train_loop.make_train_step(
      tf.distribute.get_strategy(), model, optimizer,
      embedding_training.make_loss_fn(teacher_layer, 1.0), metrics)
  rng = np.random.default_rng(0)
  batch = {
      "image": tf.constant(rng.uniform(size=(batch_size, 64, 64, 1)),
                           tf.float32),
      "sphere": tf.constant(rng.uniform(size=(batch_size, 64, 64, 1)),
                            tf.float32),
  }
  for _ in range(2):
    step(batch)
  metrics["loss"].result().numpy()
  start = time.perf_counter()
  for _ in range(steps):
    step(batch)
  metrics["loss"].result().numpy()  # Waits for the last step.
  seconds = time.perf_counter() - start
  return steps * batch_size / seconds, model.count_params()


def main(argv):
  del argv
  with tempfile.TemporaryDirectory() as scratch:
    hub_module = _HUB_MODULE.value
    if hub_module is None:
      hub_module = os.path.join(scratch, "teacher")
      teacher_export.export_teacher(
          teacher_model.build_teacher(teacher_model.TeacherConfig(), 11), hub_module,
          {"note": "random, benchmark"})
    teacher_layer, target_shape = embedding_training.load_teacher(
        hub_module, _OUTPUT_KEY.value)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores;"
          f" TF {tf.__version__}; teacher {_HUB_MODULE.value or 'default'}"
          f" {_OUTPUT_KEY.value} {list(target_shape)}; batch"
          f" {_BATCH.value}, {_STEPS.value} timed steps")
    for name in _PRESETS.value:
      rate, params = time_preset(name, teacher_layer, target_shape,
                                 _BATCH.value, _STEPS.value)
      print(f"  {name:6s} {params:>11,d} parameters  {rate:8.1f} images/s")


if __name__ == "__main__":
  app.run(main)
