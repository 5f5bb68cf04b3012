"""Embedding-network training throughput (images/s) per loop speed option.

Times the real training step (sph_embed.training.loop.make_multi_step with
sph_embed.embedding.training's loss: the teacher through hub.KerasLayer on
the ray-cast maps, the network forward and backward, Adam) of one preset
for the default loop and each speed option, INTERLEAVED: every round times
a block of steps of each variant in turn (rotating the order), so machine
noise hits all alike; the median block rate is reported.  Variants:

  today     the loop before the speed options: one step per call on a
            batch iterated in Python, the step counter read back every step
  default   one step per call, no per-step read-back
  jit       --jit_compile
  spc<K>    --steps_per_call=K
  bf16      --mixed_precision=mixed_bfloat16
  targets   the teacher's targets precomputed (--precompute_targets): the
            batches carry them, the step does not run the teacher
  zeropad   NOT an option: the encoder zero-pads instead of reflecting (a
            different model).  Zero padding fuses into the convolutions, so
            this bounds what any faster reflect padding could save.
  and any of them joined by "+", e.g. bf16+spc+targets

It also times, in the same rounds, the teacher's forward pass alone and the
network's SphericalPadding layers alone (forward and backward on tensors of
their input shapes), as shares of the default step.

Batches come from a small synthetic set held in memory, or from
--data_dir's train split (tools/build_dataset.py).

  nice python3 benchmarks/embedding_train_bench.py --preset=cpu \
      [--hub_module=hub_modules/teacher_synthetic] [--rounds=6]
"""

import functools
import os
import platform
import statistics
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app  # pylint: disable=g-import-not-at-top
from absl import flags
import numpy as np
import tensorflow as tf

from sph_embed.common import cli
from sph_embed.data import input_pipeline
from sph_embed.embedding import model as embedding_model
from sph_embed.embedding import targets as embedding_targets
from sph_embed.embedding import training as embedding_training
from sph_embed.sphere import layers as sphere_layers
from sph_embed.teacher import export as teacher_export
from sph_embed.teacher import model as teacher_model
from sph_embed.training import loop as train_loop

_SHIPPED_TEACHER = os.path.join(os.path.dirname(__file__), os.pardir,
                                "hub_modules", "teacher_synthetic")

_PRESET = flags.DEFINE_string("preset", "cpu", "Embedding network preset.")
_HUB_MODULE = flags.DEFINE_string(
    "hub_module", _SHIPPED_TEACHER, "Teacher module; empty: a randomly"
    " initialised default TeacherConfig() (same cost as a trained one).")
_OUTPUT_KEY = flags.DEFINE_enum("output_key", "pose", ["pose", "synthesis"],
                                "Teacher output.")
_DATA_DIR = flags.DEFINE_string(
    "data_dir", None, "Dataset to read batches from (default: synthetic).")
_BATCH = flags.DEFINE_integer("batch_size", 16, "Images per step.",
                              lower_bound=1)
_STEPS_PER_CALL = flags.DEFINE_integer("steps_per_call", 4,
                                       "K of the spc<K> variants.",
                                       lower_bound=2)
_BLOCK = flags.DEFINE_integer(
    "block_steps", 8, "Steps per timed block (rounded up to a multiple of"
    " --steps_per_call).", lower_bound=1)
_ROUNDS = flags.DEFINE_integer("rounds", 6, "Timed rounds.", lower_bound=1)
_VARIANTS = flags.DEFINE_list(
    "variants", ["today", "default", "jit", "spc", "bf16", "targets",
                 "bf16+spc+targets"],
    "Variants to time (spc: spc<K>; options joined by '+').")


def _batches(data_dir, batch_size):
  """An endless dataset of training batches {"image", "sphere"}."""
  if data_dir:
    return input_pipeline.training_batches(data_dir, batch_size, 0, 0)
  rng = np.random.default_rng(0)
  data = {k: rng.uniform(size=(4 * batch_size, 64, 64, 1)).astype(np.float32)
          for k in ("image", "sphere")}
  return tf.data.Dataset.from_tensor_slices(data).repeat().batch(
      batch_size, drop_remainder=True).prefetch(2)


def _with_targets(dataset, teacher_layer):
  """`dataset` with each batch's teacher targets, computed once up front.

  The first batches (as many as the in-memory set holds, or 16 of a data
  directory's) are cached with their targets: the timed steps then read
  them as tools/train_embedding.py --precompute_targets does.
  """
  batches = [dict(batch, targets=teacher_layer(batch["sphere"],
                                               training=False))
             for batch in dataset.take(16)]
  for batch in batches:  # Flat, as the cache's records.
    batch["targets"] = tf.reshape(batch["targets"],
                                  [batch["targets"].shape[0], -1])
  stacked = {key: tf.stack([b[key] for b in batches]) for key in batches[0]}
  return tf.data.Dataset.from_tensor_slices(stacked).repeat().prefetch(2)


class _Variant:
  """One way of running training steps, timed a block at a time."""

  def __init__(self, name, teacher_layer, target_shape, dataset, block,
               jit_compile=False, steps_per_call=1, mixed_precision=None,
               legacy=False, targets=False, zero_padding=False):
    self.name = name
    self.rates = []  # images/s per timed block
    self._batch_size = dataset.element_spec["image"].shape[0]
    if targets:
      dataset = _with_targets(dataset, teacher_layer)
    tf.keras.mixed_precision.set_global_policy(mixed_precision or "float32")
    tf.keras.utils.set_random_seed(0)
    self.model = embedding_model.build_embedding_model(
        embedding_model.preset(_PRESET.value), target_shape[0],
        target_shape[2])
    tf.keras.mixed_precision.set_global_policy("float32")
    if zero_padding:
      _zero_pad_encoder(self.model)
    optimizer = tf.keras.optimizers.legacy.Adam(1e-3, epsilon=1e-8)
    metrics = {k: tf.keras.metrics.Mean(k) for k in ("loss", "relative_error")}
    key = _OUTPUT_KEY.value
    loss_fn = embedding_training.make_loss_fn(
        lambda spheres: {key: teacher_layer(spheres, training=False)}, 1.0,
        embedding_targets.TargetLayout(((key, tuple(target_shape)),)))
    strategy = tf.distribute.get_strategy()
    self._step = tf.Variable(0, dtype=tf.int64)
    self._block = block
    self._calls = block // steps_per_call
    self._count = tf.constant(steps_per_call, tf.int64)
    if legacy:
      one_step = train_loop.make_train_step(strategy, self.model, optimizer,
                                            loss_fn, metrics, jit_compile)
      self._python_iterator = iter(dataset)

      def run_block():
        for _ in range(block):
          one_step(next(self._python_iterator))
          self._step.assign_add(1)
          int(self._step.numpy())  # As Checkpointer.maybe_save did.
    else:
      steps = train_loop.make_multi_step(strategy, self.model, optimizer,
                                         loss_fn, metrics, self._step,
                                         jit_compile)
      iterator = iter(dataset)

      def run_block():
        for _ in range(self._calls):
          steps(iterator, self._count)
    self._run_block = run_block

  def time_block(self):
    start = time.perf_counter()
    self._run_block()
    int(self._step.numpy())  # Waits for the last step.
    self.rates.append(self._block * self._batch_size /
                      (time.perf_counter() - start))


def _zero_pad(inputs, padding):
  before, after = padding
  return tf.pad(inputs, [[0, 0], [before, after], [before, after], [0, 0]])


def _zero_pad_encoder(model):
  """Makes every ReflectPadding of `model` pad with zeros instead."""
  for layer in model.submodules:
    if isinstance(layer, embedding_model.ReflectPadding):
      layer.call = functools.partial(_zero_pad, padding=layer.padding)


class _Probe:
  """A part of the step timed alone (seconds per step, per block)."""

  def __init__(self, name, fn, steps):
    self.name = name
    self.rates = []  # calls/s per timed block
    self._fn = fn
    self._steps = steps

  def time_block(self):
    start = time.perf_counter()
    for _ in range(self._steps):
      result = self._fn()
    tf.nest.map_structure(lambda t: t.numpy(), result)
    self.rates.append(self._steps / (time.perf_counter() - start))


def _padding_probe(model, batch_size):
  """Forward and backward of every SphericalPadding of `model`, alone."""
  pads = [layer for layer in model.submodules
          if isinstance(layer, sphere_layers.SphericalPadding)]
  inputs = [tf.random.uniform((batch_size,) + tuple(p.input_shape[1:]))
            for p in pads]

  @tf.function
  def run():
    with tf.GradientTape() as tape:
      tape.watch(inputs)
      total = tf.add_n([tf.reduce_sum(p(x)) for p, x in zip(pads, inputs)])
    return tape.gradient(total, inputs)

  return len(pads), run


def main(argv):
  del argv
  batch_size = _BATCH.value
  spc = _STEPS_PER_CALL.value
  block = -(-_BLOCK.value // spc) * spc
  with tempfile.TemporaryDirectory() as scratch:
    hub_module = _HUB_MODULE.value
    if not hub_module:
      hub_module = os.path.join(scratch, "teacher")
      teacher_export.export_teacher(
          teacher_model.build_teacher(teacher_model.TeacherConfig(), 11),
          hub_module, {"note": "random, benchmark"})
    teacher_layer, target_shape = embedding_training.load_teacher(
        hub_module, _OUTPUT_KEY.value)
    dataset = _batches(_DATA_DIR.value, batch_size)
    options = {
        "today": dict(legacy=True), "default": {},
        "jit": dict(jit_compile=True), "spc": dict(steps_per_call=spc),
        "bf16": dict(mixed_precision="mixed_bfloat16"),
        "targets": dict(targets=True), "zeropad": dict(zero_padding=True)}
    unknown = sorted({part for name in _VARIANTS.value
                      for part in name.split("+")} - set(options))
    if unknown:
      raise app.UsageError(f"--variants: unknown {unknown}; expected some"
                           f" of {sorted(options)}, joined by '+'")
    variants = [
        _Variant(name.replace("spc", f"spc{spc}"), teacher_layer,
                 target_shape, dataset, block,
                 **{key: value for part in name.split("+")
                    for key, value in options[part].items()})
        for name in _VARIANTS.value]
    sample = next(iter(dataset))
    teacher_probe = _Probe("teacher forward", tf.function(
        lambda: teacher_layer(sample["sphere"], training=False)), block)
    num_pads, pad_fn = _padding_probe(variants[0].model, batch_size)
    padding_probe = _Probe(f"SphericalPadding x{num_pads} (fwd+bwd)", pad_fn,
                           block)
    probes = [teacher_probe, padding_probe]
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, load"
          f" average {os.getloadavg()[0]:.1f}; TF {tf.__version__}; preset"
          f" {_PRESET.value} ({variants[0].model.count_params():,d}"
          f" parameters); teacher {hub_module} {_OUTPUT_KEY.value}"
          f" {list(target_shape)}; batch {batch_size}; {_ROUNDS.value}"
          f" rounds of {block} steps per variant", flush=True)
    timed_all = variants + probes
    start = time.perf_counter()
    for timed in timed_all:  # Warm-up: tracing and XLA compilation.
      timed.time_block()
      timed.rates = []
    print(f"warm-up (tracing, XLA) {time.perf_counter() - start:.0f} s",
          flush=True)
    for round_index in range(_ROUNDS.value):
      shift = round_index % len(timed_all)
      for timed in timed_all[shift:] + timed_all[:shift]:
        timed.time_block()
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    rates = {v.name: statistics.median(v.rates) for v in variants}
    base = rates.get("default")
    width = max(12, *(len(v.name) for v in variants))
    print(f"{'variant':{width}s} {'images/s':>9s} {'vs default':>11s}"
          f" {'min..max':>13s}")
    for v in variants:
      ratio = f"{rates[v.name] / base:10.2f}x" if base else ""
      print(f"{v.name:{width}s} {rates[v.name]:9.1f} {ratio:>11s}"
            f" {min(v.rates):6.1f}..{max(v.rates):6.1f}")
    if base:
      step_seconds = batch_size / base
      for probe in probes:
        seconds = 1 / statistics.median(probe.rates)
        print(f"{probe.name}: {seconds * 1e3:.1f} ms/step, ="
              f" {100 * seconds / step_seconds:.0f}% of the default step")


if __name__ == "__main__":
  cli.run(main)
