"""Two real workers on localhost under MultiWorkerMirroredStrategy.

Each worker is a subprocess running `worker` (the shared training loop on a
tiny regression model) with its own TF_CONFIG; they train one model
together, and a SIGTERM to one of them makes both save the same step
(TensorFlow's PreemptionCheckpointHandler) and exit, so that a rerun
continues from there.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from sph_embed.training import loop as train_loop
from tests.training import tiny_regression

_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
_STEPS = 30
_TIMEOUT = 120  # Seconds for each worker process: a hang fails the test.


def worker(model_dir, num_steps, progress_file=None):
  """Subprocess body: one worker of the cluster in TF_CONFIG.

  Prints a JSON report (weights, loss on all the data before and after,
  steps) on its last stdout line; `progress_file`: slow steps, each step
  reached appended to it (time for the test to send a signal mid-run).
  """
  tf.config.experimental.enable_op_determinism()
  strategy = train_loop.make_strategy("multi_worker")
  model, optimizer = tiny_regression.model_and_optimizer(strategy)
  x, y = tiny_regression.data()

  def full_loss():
    return float(np.mean((model(x).numpy() - y)**2))

  def after_step(step):
    with open(progress_file, "a", encoding="utf-8") as f:
      f.write(f"{step}\n")
    time.sleep(0.2)

  loss_before = full_loss()
  result = train_loop.train(
      strategy=strategy, model=model, optimizer=optimizer,
      loss_fn=tiny_regression.loss_fn, dataset_fn=tiny_regression.dataset,
      num_steps=num_steps, model_dir=model_dir,
      checkpoint_every_steps=1000, checkpoint_every_minutes=None,
      log_every_steps=1000, after_step=after_step if progress_file else None)
  print(json.dumps({
      "start_step": result.start_step, "final_step": result.final_step,
      "loss_before": loss_before, "loss_after": full_loss(),
      "weights": [w.numpy().tolist() for w in model.variables]}))


def _free_ports(count):
  sockets = [socket.socket() for _ in range(count)]
  for s in sockets:
    s.bind(("localhost", 0))
  ports = [s.getsockname()[1] for s in sockets]
  for s in sockets:
    s.close()
  return ports


class _Cluster:
  """Two worker subprocesses running `worker` with the given arguments."""

  def __init__(self, *args):
    workers = [f"localhost:{p}" for p in _free_ports(2)]
    code = ("from tests.training import multi_worker_test as t;"
            f" t.worker(*{args!r})")
    self.processes = []
    for index in range(2):
      env = dict(os.environ, TF_USE_LEGACY_KERAS="1", TF_CPP_MIN_LOG_LEVEL="2",
                 TF_CONFIG=json.dumps({"cluster": {"worker": workers},
                                       "task": {"type": "worker",
                                                "index": index}}))
      self.processes.append(subprocess.Popen(
          [sys.executable, "-c", code], cwd=_ROOT, env=env, text=True,
          stdout=subprocess.PIPE, stderr=subprocess.PIPE))

  def wait(self):
    """[(returncode, stdout, stderr)] of the workers; kills them on timeout."""
    deadline = time.monotonic() + _TIMEOUT
    done = []
    try:
      for process in self.processes:
        out, err = process.communicate(
            timeout=max(1, deadline - time.monotonic()))
        done.append((process.returncode, out, err))
    finally:
      for process in self.processes:
        if process.poll() is None:
          process.kill()
          process.communicate()
    return done


def _report(out):
  return json.loads(out.strip().splitlines()[-1])


def _train_to_the_end(model_dir):
  """Both workers' reports of a run to _STEPS (AssertionError if one fails)."""
  reports = []
  for code, out, err in _Cluster(model_dir, _STEPS).wait():
    assert code == 0, err[-3000:]
    reports.append(_report(out))
  return reports


class MultiWorkerTest(tf.test.TestCase, parameterized.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.reference_dir = tempfile.mkdtemp(prefix="multi_worker_test_")
    # Uninterrupted: what every run must end with.
    cls.reference = _train_to_the_end(cls.reference_dir)

  @classmethod
  def tearDownClass(cls):
    shutil.rmtree(cls.reference_dir, ignore_errors=True)
    super().tearDownClass()

  def test_two_workers_train_one_model(self):
    chief, other = self.reference
    self.assertEqual((chief["start_step"], chief["final_step"]), (0, _STEPS))
    for got, want in zip(other["weights"], chief["weights"]):
      self.assertAllEqual(got, want)
    self.assertLess(chief["loss_after"], 0.5 * chief["loss_before"])
    self.assertEqual(tf.train.latest_checkpoint(
        os.path.join(self.reference_dir, "checkpoints")).rsplit("-", 1)[1],
                     str(_STEPS))

  @parameterized.parameters((0,), (1,))
  def test_sigterm_to_one_worker_saves_the_same_step_on_both(self, signalled):
    model_dir = tempfile.mkdtemp(prefix="multi_worker_test_")
    self.addCleanup(shutil.rmtree, model_dir, ignore_errors=True)
    progress_file = os.path.join(model_dir, "steps.txt")
    cluster = _Cluster(model_dir, _STEPS, progress_file)
    deadline = time.monotonic() + _TIMEOUT
    reached = 0
    while reached < 3 and time.monotonic() < deadline and all(
        p.poll() is None for p in cluster.processes):
      time.sleep(0.05)
      if os.path.exists(progress_file):
        reached = len(open(progress_file, encoding="utf-8").read().split())
    # The progress file has both workers' steps: about reached / 2 each.
    cluster.processes[signalled].send_signal(signal.SIGTERM)
    done = cluster.wait()

    self.assertEqual([code for code, _, _ in done],
                     [128 + signal.SIGTERM] * 2,
                     "".join(err[-3000:] for _, _, err in done))
    saved = tf.train.latest_checkpoint(os.path.join(model_dir,
                                                    "checkpoints"))
    step = int(saved.rsplit("-", 1)[1])
    self.assertBetween(step, 2, _STEPS - 1)
    paths = [saved, os.path.join(model_dir, "checkpoints",
                                 "worker_1_scratch", f"ckpt-{step}")]
    for index, (_, _, stderr) in enumerate(done):
      self.assertNotIn("Traceback", stderr)
      cause = "SIGTERM" if index == signalled else "SIGTERM to another worker"
      self.assertIn(f"{cause} at step {step}: saved {paths[index]}; run the"
                    " same command again", stderr)

    resumed = _train_to_the_end(model_dir)
    self.assertEqual(resumed[0]["start_step"], step)
    for got, want in zip(resumed[0]["weights"] + resumed[1]["weights"],
                         self.reference[0]["weights"] * 2):
      self.assertAllEqual(got, want)


if __name__ == "__main__":
  tf.test.main()
