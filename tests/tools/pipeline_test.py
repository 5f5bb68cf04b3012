"""Smoke test of the README's main job (tools/pipeline.py) at a tiny size:
every tool runs in order on real data and the summary holds the tables."""

import os
import subprocess
import sys

import numpy as np
import tensorflow as tf

from sph_embed.pose import embeddings_io
from tests import mesh_test_util

_PIPELINE = os.path.join(mesh_test_util.REPO_ROOT, "tools", "pipeline.py")


class PipelineTest(tf.test.TestCase):

  def test_tiny_pipeline_runs_end_to_end(self):
    work = mesh_test_util.temp_dir(self)
    done = subprocess.run(
        [sys.executable, _PIPELINE, f"--work_dir={work}",
         "--categories=chair,car",
         "--train_instances=2", "--test_instances=2",
         "--views_per_instance=2", "--embedding_steps=2", "--pairs=1"],
        cwd=mesh_test_util.REPO_ROOT, capture_output=True, text=True,
        timeout=900, check=False,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    self.assertEqual(done.returncode, 0, msg=done.stderr[-3000:])
    data = embeddings_io.load_embeddings(
        os.path.join(work, "embeddings_test.npz"))
    # 2 categories x 2 held-out instances x 2 views, teacher `pose` maps.
    self.assertEqual(data["embeddings"].shape, (8, 16, 16, 16))
    self.assertEqual(data["targets"].shape, (8, 16, 16, 16))
    self.assertTrue(np.isfinite(data["embeddings"]).all())
    for name in ("pose_ib_image.csv", "pose_cb_image.csv",
                 "pose_ib_mesh.csv", "pose_ib_teacher.csv",
                 "pose_cb_teacher.csv"):
      with open(os.path.join(work, name)) as f:
        rows = f.read().splitlines()
      self.assertGreater(len(rows), 1, msg=name)
    with open(os.path.join(work, "results.md")) as f:
      summary = f.read()
    self.assertIn("relative L2", summary)
    for step in ("## embedding", "## save embeddings", "## relative pose IB image",
                 "## relative pose CB image", "## relative pose IB mesh",
                 "## relative pose IB teacher", "## relative pose CB teacher"):
      self.assertIn(step, summary)
    self.assertIn("acc@15", summary)

  def test_bad_flag_fails_with_a_message(self):
    done = subprocess.run(
        [sys.executable, _PIPELINE, "--test_instances=1"],
        cwd=mesh_test_util.REPO_ROOT, capture_output=True, text=True,
        timeout=300, check=False)
    self.assertNotEqual(done.returncode, 0)
    self.assertIn("test_instances", done.stderr)


if __name__ == "__main__":
  tf.test.main()
