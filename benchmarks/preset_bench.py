"""Per-preset cost of every network: parameters, FLOPs, CPU step time, and
an ESTIMATE of the GPU wall time of the paper's schedule.

For each network x preset it builds the network the trainer builds and the
trainer's loss (teacher-in-the-loop targets included), wraps them in the
real training step (sph_embed.training.loop.make_train_step: forward,
backward, Adam, metrics) on a fixed synthetic batch at the paper's batch
size (16; synthesis 8), and reports:

  params     trainable + non-trainable parameters of the trained network
             (the frozen teacher / embedder of the loss not included).
  GFLOP/step forward + backward + frozen-network forward of one step,
             counted ANALYTICALLY from the step's graph: the concrete
             function of the tf.function step is walked op by op and each
             contraction op counted from its static shapes as 2 x multiply-
             adds -- MatMul, BatchMatMul, Einsum, Conv2D and its two
             backprops (so the transposed convs too), depthwise convs.
             Elementwise ops, reductions, BN and the Adam update are NOT
             counted (a few % at most, and bandwidth-bound anyway).  TF's
             own profiler (tf.compat.v1.profiler float_operation) is run on
             the same graph as a cross-check (`tfprof_gflop` in the JSON):
             it counts elementwise ops but has no FLOP count for Einsum,
             so it misses the spectral convolutions and SHTs.
  ops/step   graph ops of the step (a proxy for GPU kernel launches).
  CPU        median wall time of --steps timed steps after warm-up (one
             step per call, synchronised on the step counter), images/s.
  GPU est.   an ESTIMATE, not a measurement: FLOPs/step x the paper's
             steps / (--gpu_efficiency x the GPU's dense peak), for an
             A100 (19.5 TFLOPS float32) and an H100/H200 (67 TFLOPS
             float32 without tensor cores; 495 dense TF32 on tensor cores,
             which TF uses for float32 matmuls/convs on Ampere+ by
             default), and a launch floor: ops/step x --launch_us per op x
             steps (small batch-16 networks are launch-bound on a GPU).
             The larger of the FLOP bound and the floor is the estimate.

Paper schedules (steps): teacher 15 epochs of ModelNet40 (9,843 train
models x 1 view / 16 = 9,227 steps); embedding 200k steps of batch 16;
synthesis 200k of batch 8; regression: appendix B.1's step count is
missing from our copy of the text, 200k assumed; Image2Sphere: the
regression budget (200k).

  nice python3 benchmarks/preset_bench.py [--networks=teacher,embedding,\
synthesis,regression,image2sphere] [--presets=cpu,paper] [--steps=10] \
[--paper_steps=3] [--output_json=/tmp/preset_bench.json]
"""

import dataclasses
import json
import os
import platform
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app  # pylint: disable=g-import-not-at-top
from absl import flags
import numpy as np
import tensorflow as tf

from sph_embed.baselines import image2sphere
from sph_embed.baselines import regression
from sph_embed.common import cli
from sph_embed.embedding import model as embedding_model
from sph_embed.embedding import targets as embedding_targets
from sph_embed.embedding import training as embedding_training
from sph_embed.synthesis import model as synthesis_model
from sph_embed.synthesis import training as synthesis_training
from sph_embed.teacher import model as teacher_model
from sph_embed.teacher import training as teacher_training
from sph_embed.training import loop as train_loop

NETWORKS = ("teacher", "embedding", "embedding_two_heads", "synthesis",
            "regression", "image2sphere")
PRESET_NAMES = ("cpu", "paper")
# Classes of the teacher of each preset (ModelNet40 for the paper, the
# synthetic set's 11 categories for cpu).
NUM_CLASSES = {"cpu": 11, "paper": 40}
BATCH = {"synthesis": 8}  # Others: 16.
DEFAULT_BATCH = 16
PAPER_STEPS = {"teacher": 15 * (9843 // 16), "embedding": 200_000,
               "embedding_two_heads": 200_000,
               "synthesis": 200_000, "regression": 200_000,
               "image2sphere": 200_000}
SCHEDULE_NOTE = {
    "teacher": "15 epochs x 9,843 ModelNet40 train models / 16",
    "embedding": "200k steps (paper)",
    "embedding_two_heads": "200k steps (the pose network's)",
    "synthesis": "200k steps (paper)",
    "regression": "200k ASSUMED (B.1's count missing from our text)",
    "image2sphere": "regression's budget (200k, assumed)",
}
# Dense peak TFLOPS (vendor data sheets; H100 SXM, the H200 has the same
# compute).
GPUS = {"A100 fp32": 19.5, "H100/H200 fp32": 67.0,
        "H100/H200 TF32": 495.0}

_NETWORKS = flags.DEFINE_list("networks", list(NETWORKS), "Networks.")
_PRESETS = flags.DEFINE_list("presets", list(PRESET_NAMES), "Presets.")
_STEPS = flags.DEFINE_integer("steps", 10, "Timed steps, cpu presets.",
                              lower_bound=0)
_PAPER_STEPS = flags.DEFINE_integer(
    "paper_steps", 3, "Timed steps, paper presets (slow on 2 cores).",
    lower_bound=0)
_WARMUP = flags.DEFINE_integer("warmup", 2, "Untimed steps first (the first"
                               " traces).", lower_bound=1)
_MIXED = flags.DEFINE_enum("mixed_precision", None,
                           list(train_loop.MIXED_PRECISION),
                           "Keras policy of the trained network.")
_EFFICIENCY = flags.DEFINE_float(
    "gpu_efficiency", 0.3, "Assumed sustained fraction of the GPU's dense"
    " peak for the FLOP-bound estimate.")
_LAUNCH_US = flags.DEFINE_float(
    "launch_us", 10.0, "Assumed GPU time per graph op (kernel launch and"
    " small-kernel latency) for the launch floor, microseconds.")
_OUTPUT_JSON = flags.DEFINE_string("output_json", None,
                                   "Also write the results here.")


def _random_rotations(rng, batch):
  q, r = np.linalg.qr(rng.normal(size=(batch, 3, 3)))
  q *= np.sign(np.diagonal(r, axis1=1, axis2=2))[:, None, :]
  q[np.linalg.det(q) < 0, :, 0] *= -1
  return q.astype(np.float32)


def _teacher_maps(teacher, keys):
  """The teacher Keras model as embedding_training.load_teacher_maps'."""
  def call(spheres):
    maps = teacher(spheres, training=False)
    return {key: maps[key] for key in keys}
  return call


@dataclasses.dataclass
class _Setup:
  model: tf.keras.Model       # the trained network
  loss_fn: object             # train_loop loss_fn
  batch: dict                 # {name: tensor} one training batch
  metric_names: tuple
  legacy_adam: bool = True


def _setup(network, preset, batch_size):
  """The trained network, the trainer's loss and a synthetic batch."""
  rng = np.random.default_rng(0)
  uniform = lambda *shape: tf.constant(  # pylint: disable=g-long-lambda
      rng.uniform(size=shape).astype(np.float32))
  images = uniform(batch_size, 64, 64, 1)
  spheres = uniform(batch_size, 64, 64, 1)
  rotations = tf.constant(_random_rotations(rng, batch_size))
  teacher_config = teacher_model.preset(preset)
  num_classes = NUM_CLASSES[preset]
  if network == "teacher":
    model = teacher_training.build_model("spherical", teacher_config,
                                         num_classes)
    labels = tf.constant(rng.integers(0, num_classes, batch_size), tf.int32)
    # pylint: disable-next=protected-access
    return _Setup(model, teacher_training._loss_fn,
                  {"sphere": spheres, "label": labels}, ("accuracy",),
                  legacy_adam=False)
  if network in ("embedding", "embedding_two_heads"):
    # embedding_two_heads: the pose and synthesis maps, one encoder.
    keys = ("pose",) if network == "embedding" else ("pose", "synthesis")
    shapes = teacher_config.output_shapes(num_classes)
    with _float32_policy():
      teacher = teacher_model.build_teacher(teacher_config, num_classes)
    config = embedding_model.preset(preset)
    model = (embedding_model.build_embedding_model(
        config, shapes["pose"][0], shapes["pose"][2]) if len(keys) == 1 else
             embedding_model.build_multi_head_model(
                 config, [(k, shapes[k][0], shapes[k][2]) for k in keys]))
    layout = embedding_targets.TargetLayout(
        tuple((k, tuple(shapes[k])) for k in keys))
    return _Setup(model, embedding_training.make_loss_fn(
        _teacher_maps(teacher, keys), 1.0, layout),
                  {"image": images, "sphere": spheres},
                  embedding_training.metric_names(keys))
  if network == "synthesis":
    shape = teacher_config.output_shapes(num_classes)["synthesis"]
    with _float32_policy():
      # The paper's embedder: the synthesis embedding network (frozen).
      embedder_net = embedding_model.build_embedding_model(
          embedding_model.preset(preset), shape[0], shape[2])
    embedder_net.trainable = False
    embedder = synthesis_training.Embedder(embedder_net, "image", shape, 64)
    model = synthesis_model.build_synthesis_model(
        synthesis_model.preset(preset), shape[2], embedding_size=shape[0])
    return _Setup(model, synthesis_training.make_loss_fn(embedder, "l1"),
                  {"image": images}, ("psnr",))
  if network == "regression":
    config = regression.preset(preset)
    model = regression.build_regression_model(config)
    step = tf.Variable(0, dtype=tf.int64, trainable=False)
    return _Setup(model, regression.make_loss_fn(
        step, regression.switch_step(config, PAPER_STEPS[network])),
                  {"image": images, "rotation": rotations},
                  ("rmse", "geodesic_degrees"))
  if network == "image2sphere":
    config = image2sphere.preset(preset)
    model = image2sphere.build_image2sphere_model(config)
    distribution = image2sphere.GridDistribution(config.train_grid_size,
                                                 config.lmax)
    return _Setup(model, image2sphere.make_loss_fn(distribution),
                  {"image": images, "rotation": rotations},
                  ("log_likelihood", "geodesic_degrees"))
  raise app.UsageError(f"unknown network {network!r}; expected some of"
                       f" {NETWORKS}")


class _float32_policy:  # pylint: disable=invalid-name
  """Frozen networks of the loss stay float32 (as the trainers load them)."""

  def __enter__(self):
    self._saved = tf.keras.mixed_precision.global_policy()
    tf.keras.mixed_precision.set_global_policy("float32")

  def __exit__(self, *unused):
    tf.keras.mixed_precision.set_global_policy(self._saved)


# --- Analytic FLOP count of a graph ---------------------------------------

def _dims(tensor):
  shape = tensor.shape
  if shape.rank is None or not shape.is_fully_defined():
    return None
  return [int(d) for d in shape]


def _einsum_flops(op):
  equation = op.get_attr("equation").decode().replace(" ", "")
  inputs, output = equation.split("->")
  terms = inputs.split(",")
  sizes = {}
  for term, tensor in zip(terms, op.inputs):
    dims = _dims(tensor)
    if dims is None or "." in term:
      return None
    for letter, size in zip(term, dims):
      sizes[letter] = max(sizes.get(letter, 1), size)
  total = int(np.prod([sizes[c] for c in sizes], dtype=np.float64))
  contracted = set("".join(terms)) - set(output)
  return 2 * total if (contracted or len(terms) > 1) else total


def _op_flops(op):
  """2 x multiply-adds of a contraction op (None: not one / unknown)."""
  kind = op.type
  if kind in ("MatMul", "_FusedMatMul"):
    a, b = _dims(op.inputs[0]), _dims(op.inputs[1])
    if a is None or b is None:
      return None
    k = a[0] if op.get_attr("transpose_a") else a[1]
    return 2 * int(np.prod(_dims(op.outputs[0]), dtype=np.float64)) * k
  if kind in ("BatchMatMul", "BatchMatMulV2", "BatchMatMulV3"):
    a, out = _dims(op.inputs[0]), _dims(op.outputs[0])
    if a is None or out is None:
      return None
    k = a[-2] if op.get_attr("adj_x") else a[-1]
    return 2 * int(np.prod(out, dtype=np.float64)) * k
  if kind == "Einsum":
    return _einsum_flops(op)
  if kind in ("Conv2D", "_FusedConv2D"):
    out, f = _dims(op.outputs[0]), _dims(op.inputs[1])
    if out is None or f is None:
      return None
    return 2 * int(np.prod(out, dtype=np.float64)) * f[0] * f[1] * f[2]
  if kind == "Conv2DBackpropInput":  # (input_sizes, filter, out_backprop)
    f, dy = _dims(op.inputs[1]), _dims(op.inputs[2])
    if f is None or dy is None:
      return None
    return 2 * int(np.prod(dy, dtype=np.float64)) * f[0] * f[1] * f[2]
  if kind == "Conv2DBackpropFilter":  # (input, filter_sizes, out_backprop)
    f, dy = _dims(op.outputs[0]), _dims(op.inputs[2])  # dfilter: filter's
    if f is None or dy is None:
      return None
    return 2 * int(np.prod(dy, dtype=np.float64)) * f[0] * f[1] * f[2]
  if kind in ("DepthwiseConv2dNative",
              "DepthwiseConv2dNativeBackpropInput",
              "DepthwiseConv2dNativeBackpropFilter"):
    out = _dims(op.outputs[0]) if kind == "DepthwiseConv2dNative" else (
        _dims(op.inputs[2]))
    f = _dims(op.inputs[1]) if kind != (
        "DepthwiseConv2dNativeBackpropFilter") else _dims(op.outputs[0])
    if out is None or f is None:
      return None
    return 2 * int(np.prod(out, dtype=np.float64)) * f[0] * f[1]
  return None


_CONTRACTIONS = ("MatMul", "_FusedMatMul", "BatchMatMul", "BatchMatMulV2",
                 "BatchMatMulV3", "Einsum", "Conv2D", "_FusedConv2D",
                 "Conv2DBackpropInput", "Conv2DBackpropFilter",
                 "DepthwiseConv2dNative",
                 "DepthwiseConv2dNativeBackpropInput",
                 "DepthwiseConv2dNativeBackpropFilter")


# Ops that launch no kernel of their own (constants, variable reads,
# shape arithmetic, control): left out of the op count.
_NO_KERNEL = ("Const", "Identity", "IdentityN", "NoOp", "ReadVariableOp",
              "Placeholder", "Shape", "StopGradient", "Reshape", "Pack",
              "StridedSlice", "Cast", "AssignVariableOp", "VarHandleOp")


def count_graph(graph):
  """{flops, ops, by_type {type: flops}, unknown [types], nested [types]}.

  `ops` counts the ops other than _NO_KERNEL (a proxy for the kernels a
  GPU launches per step; Reshape, StridedSlice on static shapes and
  float32 Casts are mostly free or folded).
  """
  flops, ops, by_type, unknown, nested = 0, 0, {}, set(), set()
  for op in graph.get_operations():
    if op.type not in _NO_KERNEL:
      ops += 1
    if op.type in _CONTRACTIONS:
      value = _op_flops(op)
      if value is None:
        unknown.add(op.type)
        continue
      flops += value
      by_type[op.type] = by_type.get(op.type, 0) + value
    elif any(a.func.name for a in op.node_def.attr.values()
             if a.HasField("func")) and op.type not in ("NoOp",):
      nested.add(op.type)  # Function-call / loop ops: not descended into.
  return {"flops": flops, "ops": ops, "by_type": by_type,
          "unknown": sorted(unknown), "nested": sorted(nested)}


def tfprof_flops(graph):
  """TF profiler's float_operation total of `graph` (no Einsum counts)."""
  options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
  options["output"] = "none"
  verbosity = tf.compat.v1.logging.get_verbosity()
  tf.compat.v1.logging.set_verbosity(tf.compat.v1.logging.ERROR)
  try:
    result = tf.compat.v1.profiler.profile(graph, options=options)
  finally:
    tf.compat.v1.logging.set_verbosity(verbosity)
  return int(result.total_float_ops)


# --- One network x preset ------------------------------------------------

def measure(network, preset, timed_steps, mixed_precision=None):
  """The row of one network x preset (see the module docstring)."""
  batch_size = BATCH.get(network, DEFAULT_BATCH)
  tf.keras.backend.clear_session()
  tf.keras.utils.set_random_seed(0)
  tf.keras.mixed_precision.set_global_policy(mixed_precision or "float32")
  try:
    setup = _setup(network, preset, batch_size)
  finally:
    tf.keras.mixed_precision.set_global_policy("float32")
  adam = (tf.keras.optimizers.legacy.Adam if setup.legacy_adam
          else tf.keras.optimizers.Adam)
  optimizer = adam(1e-3, epsilon=1e-8)
  metrics = {k: tf.keras.metrics.Mean(k)
             for k in ("loss",) + setup.metric_names}
  strategy = tf.distribute.get_strategy()
  step = train_loop.make_train_step(strategy, setup.model, optimizer,
                                    setup.loss_fn, metrics)
  graph = step.get_concrete_function(setup.batch).graph
  counted = count_graph(graph)
  try:
    profiled = tfprof_flops(graph)
  except Exception:  # pylint: disable=broad-except
    profiled = None
  for _ in range(_WARMUP.value):
    step(setup.batch)
  _ = optimizer.iterations.numpy()
  times = []
  for _ in range(timed_steps):
    start = time.perf_counter()
    step(setup.batch)
    _ = optimizer.iterations.numpy()  # Waits for the step.
    times.append(time.perf_counter() - start)
  seconds = statistics.median(times) if times else None
  paper_steps = PAPER_STEPS[network]
  estimates = {}
  floor_s = counted["ops"] * _LAUNCH_US.value * 1e-6 * paper_steps
  for gpu, tflops in GPUS.items():
    flop_s = counted["flops"] * paper_steps / (_EFFICIENCY.value * tflops *
                                               1e12)
    estimates[gpu] = {"flop_bound_h": flop_s / 3600,
                      "estimate_h": max(flop_s, floor_s) / 3600}
  return {
      "network": network, "preset": preset, "batch_size": batch_size,
      "mixed_precision": mixed_precision,
      "params": int(setup.model.count_params()),
      "trainable_params": int(sum(int(np.prod(v.shape))
                                  for v in setup.model.trainable_variables)),
      "gflop_per_step": counted["flops"] / 1e9,
      "gflop_by_op": {k: v / 1e9 for k, v in sorted(counted["by_type"].items())},
      "uncounted_op_types": counted["unknown"],
      "nested_call_op_types": counted["nested"],
      "tfprof_gflop": None if profiled is None else profiled / 1e9,
      "graph_ops": counted["ops"],
      "cpu_step_times_s": times,
      "cpu_ms_per_step": None if seconds is None else seconds * 1e3,
      "cpu_images_per_s": None if seconds is None else batch_size / seconds,
      "paper_steps": paper_steps, "schedule": SCHEDULE_NOTE[network],
      "gpu_launch_floor_h": floor_s / 3600,
      "gpu_estimate": estimates,
  }


def _fmt(value, pattern):
  return "-" if value is None else format(value, pattern)


def _hours(value):
  return f"{value * 60:.0f} min" if value < 1 else f"{value:.1f} h"


def markdown(rows):
  """A Markdown table per preset."""
  lines = []
  for preset in dict.fromkeys(r["preset"] for r in rows):
    lines += [f"\n### preset `{preset}`\n",
              "| network | batch | params | GFLOP/step | graph ops |"
              " CPU ms/step | CPU img/s | paper steps | GPU est. A100"
              " fp32 | GPU est. H100/H200 fp32 | GPU est. H100/H200"
              " TF32 | launch floor |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
      if r["preset"] != preset:
        continue
      est = r["gpu_estimate"]
      lines.append(
          f"| {r['network']} | {r['batch_size']} | {r['params']:,d} |"
          f" {r['gflop_per_step']:.2f} | {r['graph_ops']:,d} |"
          f" {_fmt(r['cpu_ms_per_step'], '.0f')} |"
          f" {_fmt(r['cpu_images_per_s'], '.1f')} |"
          f" {r['paper_steps']:,d} |"
          + "".join(f" {_hours(est[g]['estimate_h'])} |" for g in GPUS)
          + f" {_hours(r['gpu_launch_floor_h'])} |")
  return "\n".join(lines)


def main(argv):
  del argv
  for name in _NETWORKS.value:
    if name not in NETWORKS:
      raise app.UsageError(f"--networks: unknown {name!r}; expected some of"
                           f" {NETWORKS}")
  for name in _PRESETS.value:
    if name not in PRESET_NAMES:
      raise app.UsageError(f"--presets: unknown {name!r}; expected some of"
                           f" {PRESET_NAMES}")
  print(f"{time.strftime('%Y-%m-%d %H:%M')}; machine: {platform.machine()},"
        f" {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f};"
        f" TF {tf.__version__}; policy {_MIXED.value or 'float32'}",
        flush=True)
  rows = []
  for preset in _PRESETS.value:
    for network in _NETWORKS.value:
      timed = _STEPS.value if preset == "cpu" else _PAPER_STEPS.value
      row = measure(network, preset, timed, _MIXED.value)
      rows.append(row)
      print(f"{network:12s} {preset:5s} {row['params']:>11,d} params"
            f" {row['gflop_per_step']:8.2f} GFLOP/step (tfprof"
            f" {_fmt(row['tfprof_gflop'], '.2f')}) {row['graph_ops']:6d} ops"
            f"  CPU {_fmt(row['cpu_ms_per_step'], '8.0f')} ms/step"
            f" {_fmt(row['cpu_images_per_s'], '6.1f')} img/s"
            f"  load {os.getloadavg()[0]:.1f}"
            + (f"  UNCOUNTED {row['uncounted_op_types']}"
               if row["uncounted_op_types"] else "")
            + (f"  nested calls {row['nested_call_op_types']}"
               if row["nested_call_op_types"] else ""), flush=True)
  print(f"load average after: {os.getloadavg()[0]:.1f}")
  print(markdown(rows))
  print(f"\nGPU columns are ESTIMATES: max(GFLOP/step x paper steps /"
        f" ({_EFFICIENCY.value:.0%} of the dense peak: "
        + ", ".join(f"{g} {t} TFLOPS" for g, t in GPUS.items())
        + f"), graph ops x {_LAUNCH_US.value:g} us x paper steps).")
  if _OUTPUT_JSON.value:
    with open(_OUTPUT_JSON.value, "w") as f:
      json.dump({"date": time.strftime("%Y-%m-%d %H:%M"),
                 "machine": platform.machine(), "cores": os.cpu_count(),
                 "tf": tf.__version__, "gpu_efficiency": _EFFICIENCY.value,
                 "launch_us": _LAUNCH_US.value, "gpus_tflops": GPUS,
                 "rows": rows}, f, indent=1)


if __name__ == "__main__":
  cli.run(main)
