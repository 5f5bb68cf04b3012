"""The embedding trainer on two real workers (MultiWorkerMirroredStrategy).

Two `tools/train_embedding.py --strategy=multi_worker` processes on
127.0.0.1, each with its own TF_CONFIG and its own --model_dir (as on two
machines without a shared file system), train a tiny network on a tiny
dataset.  Checked: both end with the same weights (the chief's checkpoint
and the other worker's scratch checkpoint hold the same tensors), only the
chief writes the run's checkpoints and TensorBoard files, and after the
chief is SIGKILLed (no time to save) the same commands resume from the
chief's newest checkpoint and end where an uninterrupted run ends; and when
the chief's newest checkpoint is one step behind the other worker's (killed
while saving), both resume from the older one instead of hanging.

A few TensorFlow process starts on two cores: about 2-4 minutes.  Every
worker has a timeout, so a hang fails the test.
"""

import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np
import tensorflow as tf

from sph_embed.training import checkpoints
from tests import mesh_test_util
from tests.embedding import training_test
from tests.training import multi_worker_test

# Minutes of tool subprocesses: scheduled first (tests/conftest.py).
RUNS_LONG = True

_STEPS = 12
_TIMEOUT = 360  # Seconds for a run of the pair: a hang fails the test.
_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"


def _tf_config(ports, index):
  return json.dumps({
      "cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]},
      "task": {"type": "worker", "index": index}})


class _Pair:
  """The two workers of one run: tools/train_embedding.py subprocesses."""

  def __init__(self, data_dir, hub_module, model_dirs, ports):
    self.processes = []
    for index, model_dir in enumerate(model_dirs):
      env = dict(os.environ, TF_USE_LEGACY_KERAS="1", TF_CPP_MIN_LOG_LEVEL="2",
                 CUDA_VISIBLE_DEVICES="", TF_CONFIG=_tf_config(ports, index))
      self.processes.append(subprocess.Popen(
          [sys.executable, os.path.join("tools", "train_embedding.py"),
           f"--hub_module={hub_module}", f"--data_dir={data_dir}",
           f"--model_dir={model_dir}", "--output_key=pose", "--preset=cpu",
           "--base_filters=4", "--max_filters=8", "--latent_size=16",
           "--blocks_per_layer=1", "--batch_size=4",
           f"--max_steps={_STEPS}", "--strategy=multi_worker",
           "--checkpoint_every_steps=2", "--checkpoint_every_minutes=1000",
           "--keep_checkpoints=3", "--log_every_steps=2",
           "--eval_every_steps=0", "--eval_examples=2", "--lr_boundaries=",
           "--lr_values=0.003", "--seed=0"],
          cwd=mesh_test_util.REPO_ROOT, env=env, text=True,
          stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    self.deadline = time.monotonic() + _TIMEOUT

  def running(self):
    return all(p.poll() is None for p in self.processes)

  def wait(self):
    """[(returncode, stdout, stderr)] of the workers; kills them on timeout."""
    done = []
    try:
      for process in self.processes:
        try:
          out, err = process.communicate(
              timeout=max(1, self.deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
          process.kill()
          out, err = process.communicate()
          err += f"\n[test: killed after the {_TIMEOUT} s timeout]"
        done.append((process.returncode, out, err))
    finally:
      self.kill()
    return done

  def kill(self):
    for process in self.processes:
      if process.poll() is None:
        process.kill()
        process.communicate()


def _steps_trained(stdout):
  """(start, final) from the tool's summary line "trained steps A..B"."""
  match = re.search(r"^trained steps (\d+)\.\.(\d+) ", stdout, re.M)
  assert match, stdout[-2000:]
  return int(match.group(1)), int(match.group(2))


def _checkpoint_steps(directory):
  """Steps of the complete ckpt-<step> checkpoints in `directory`."""
  return sorted(int(m.group(1)) for m in (
      re.fullmatch(r"ckpt-(\d+)\.index", os.path.basename(p))
      for p in glob.glob(os.path.join(directory, "ckpt-*.index"))) if m)


def _tensors(prefix):
  """{name: value} of every variable saved in the checkpoint `prefix`."""
  reader = tf.train.load_checkpoint(prefix)
  return {name: reader.get_tensor(name)
          for name in reader.get_variable_to_shape_map()
          if name != _GRAPH_KEY}


def _files(directory):
  """Paths of the files under `directory`, relative to it, sorted."""
  return sorted(os.path.relpath(os.path.join(root, name), directory)
                for root, _, names in os.walk(directory) for name in names)


class MultiWorkerEmbeddingTest(tf.test.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.root = tempfile.mkdtemp(prefix="multi_worker_embedding_test_")
    cls.data_dir = os.path.join(cls.root, "data")
    cls.hub_module = os.path.join(cls.root, "teacher")
    training_test.build_tiny_dataset(cls.data_dir)
    training_test.export_tiny_teacher(cls.hub_module)
    # Uninterrupted: what every run must end with.
    cls.reference_dirs = cls.model_dirs("reference")
    cls.reference = _Pair(cls.data_dir, cls.hub_module, cls.reference_dirs,
                          multi_worker_test._free_ports(2)).wait()

  @classmethod
  def tearDownClass(cls):
    shutil.rmtree(cls.root, ignore_errors=True)
    super().tearDownClass()

  @classmethod
  def model_dirs(cls, name):
    """The chief's and the other worker's --model_dir of run `name`."""
    return [os.path.join(cls.root, name, f"worker_{i}") for i in range(2)]

  def assert_finished(self, done):
    self.assertEqual([code for code, _, _ in done], [0, 0],
                     "\n".join(err[-3000:] for _, _, err in done))

  def final_tensors(self, model_dirs):
    """Each worker's tensors at _STEPS: the chief's, then the scratch copy."""
    chief = os.path.join(model_dirs[0], "checkpoints")
    scratch = os.path.join(model_dirs[1], "checkpoints", "worker_1_scratch")
    self.assertEqual(tf.train.latest_checkpoint(chief),
                     os.path.join(chief, f"ckpt-{_STEPS}"))
    self.assertEqual(tf.train.latest_checkpoint(scratch),
                     os.path.join(scratch, f"ckpt-{_STEPS}"))
    return [_tensors(os.path.join(d, f"ckpt-{_STEPS}"))
            for d in (chief, scratch)]

  def assert_same_tensors(self, got, want, exactly=True):
    """The same variables; the same values (or close: float round-off)."""
    self.assertCountEqual(got, want)
    self.assertIn("step/.ATTRIBUTES/VARIABLE_VALUE", want)
    self.assertGreater(len([k for k in want if k.startswith("model/")]), 10)
    for name in want:
      if exactly:
        self.assertAllEqual(got[name], want[name], msg=name)
      else:
        self.assertAllClose(got[name], want[name], atol=1e-5, rtol=1e-4,
                            msg=name)

  def test_two_workers_train_one_model(self):
    self.assert_finished(self.reference)
    for _, out, _ in self.reference:
      self.assertEqual(_steps_trained(out), (0, _STEPS))
    chief, other = self.final_tensors(self.reference_dirs)
    self.assert_same_tensors(other, chief)
    self.assertEqual(int(chief["step/.ATTRIBUTES/VARIABLE_VALUE"]), _STEPS)
    # The weights moved from their initial values, identically.
    earlier = _tensors(os.path.join(self.reference_dirs[1], "checkpoints",
                                  "worker_1_scratch", f"ckpt-{_STEPS - 4}"))
    moved = [name for name in chief if name.startswith("model/") and
             not np.array_equal(earlier[name], chief[name])]
    self.assertNotEmpty(moved)

  def test_only_the_chief_writes_the_run(self):
    self.assert_finished(self.reference)
    chief_dir, other_dir = self.reference_dirs
    chief_files = _files(chief_dir)
    kept = [f"checkpoints/ckpt-{s}" for s in (_STEPS - 4, _STEPS - 2, _STEPS)]
    self.assertEqual(
        [f for f in chief_files if f.startswith("checkpoints/")],
        ["checkpoints/checkpoint"] + sorted(
            p + suffix for p in kept
            for suffix in (".data-00000-of-00001", ".index")))
    self.assertIn("embedding_model.json", chief_files)
    for logdir in ("train", "eval"):
      self.assertTrue(any(f.startswith(f"{logdir}/events.out.tfevents.")
                          for f in chief_files), chief_files)
    # The other worker: the spec it checked (each worker reads and writes
    # its own --model_dir's) and its scratch checkpoints, nothing else.
    other_files = _files(other_dir)
    self.assertEqual(
        [f for f in other_files
         if not f.startswith("checkpoints/worker_1_scratch/")],
        ["embedding_model.json"])
    self.assertEqual(
        _checkpoint_steps(os.path.join(other_dir, "checkpoints",
                                       "worker_1_scratch")),
        [_STEPS - 4, _STEPS - 2, _STEPS])
    with open(os.path.join(chief_dir, "embedding_model.json"),
              encoding="utf-8") as f:
      chief_spec = json.load(f)
    with open(os.path.join(other_dir, "embedding_model.json"),
              encoding="utf-8") as f:
      self.assertEqual(json.load(f), chief_spec)

  def test_resumes_after_the_chief_is_killed(self):
    self.assert_finished(self.reference)
    model_dirs = self.model_dirs("killed")
    chief_checkpoints = os.path.join(model_dirs[0], "checkpoints")
    ports = multi_worker_test._free_ports(2)
    pair = _Pair(self.data_dir, self.hub_module, model_dirs, ports)
    try:
      while pair.running() and time.monotonic() < pair.deadline and not [
          s for s in _checkpoint_steps(chief_checkpoints) if s > 0]:
        time.sleep(0.02)
      self.assertTrue(pair.running(), "a worker ended before the chief's"
                      " first checkpoint")
      pair.processes[0].send_signal(signal.SIGKILL)
      pair.processes[0].wait()
      time.sleep(2)  # The other worker may save its copy, fail or hang.
    finally:
      pair.kill()
    saved = _checkpoint_steps(chief_checkpoints)
    self.assertNotEmpty(saved)
    self.assertBetween(saved[-1], 2, _STEPS - 2)

    # The same commands again (same TF_CONFIG, same directories).
    done = _Pair(self.data_dir, self.hub_module, model_dirs, ports).wait()
    self.assert_finished(done)
    for _, out, _ in done:
      self.assertEqual(_steps_trained(out), (saved[-1], _STEPS))
    chief, other = self.final_tensors(model_dirs)
    self.assert_same_tensors(other, chief)
    # Same batches, same updates: where the uninterrupted run ended, up to
    # round-off (CPU kernels are not bitwise deterministic run to run).
    reference, _ = self.final_tensors(self.reference_dirs)
    self.assert_same_tensors(chief, reference, exactly=False)

  def test_workers_one_checkpoint_apart_resume_together(self):
    self.assert_finished(self.reference)
    model_dirs = self.model_dirs("apart")
    for source, copy in zip(self.reference_dirs, model_dirs):
      shutil.copytree(source, copy)
    # The chief died while saving the last step: its newest is two steps
    # older than the other worker's.
    for path in glob.glob(os.path.join(model_dirs[0], "checkpoints",
                                       f"ckpt-{_STEPS}.*")):
      os.remove(path)
    done = _Pair(self.data_dir, self.hub_module, model_dirs,
                 multi_worker_test._free_ports(2)).wait()
    self.assert_finished(done)
    for _, out, _ in done:
      self.assertEqual(_steps_trained(out), (_STEPS - 2, _STEPS))
    scratch = os.path.join(model_dirs[1], "checkpoints", "worker_1_scratch")
    self.assertTrue(os.path.isfile(os.path.join(
        scratch, f"ckpt-{_STEPS}.index" + checkpoints.UNUSED_SUFFIX)))
    chief, other = self.final_tensors(model_dirs)
    self.assert_same_tensors(other, chief)
    reference, _ = self.final_tensors(self.reference_dirs)
    self.assert_same_tensors(chief, reference, exactly=False)


if __name__ == "__main__":
  tf.test.main()
