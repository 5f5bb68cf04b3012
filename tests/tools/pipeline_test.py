"""README's main job (tools/pipeline.py) at its --quick size: every tool
runs in order on real data, the summary holds the tables, the report and the
embeddings file exist, and every table cell of the report is finite."""

import csv
import json
import os
import subprocess
import sys

import numpy as np
import tensorflow as tf

from sph_embed.pose import embeddings_io
from tests import mesh_test_util
from tests.report import report_fixture

# Minutes of tool subprocesses: scheduled first (tests/conftest.py).
RUNS_LONG = True

_PIPELINE = os.path.join(mesh_test_util.REPO_ROOT, "tools", "pipeline.py")


class PipelineTest(tf.test.TestCase):

  def test_quick_pipeline_runs_end_to_end_and_writes_a_finite_report(self):
    work = os.path.join(mesh_test_util.temp_dir(self), "run")
    done = subprocess.run(
        [sys.executable, _PIPELINE, "--quick", "--image2sphere",
         f"--work_dir={work}"],
        cwd=mesh_test_util.REPO_ROOT, capture_output=True, text=True,
        timeout=900, check=False,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    self.assertEqual(done.returncode, 0, msg=done.stderr[-3000:])
    self.assertRegex(done.stderr, r"\[(\d+)/\1 report\] done")
    data = embeddings_io.load_embeddings(
        os.path.join(work, "embeddings_test.npz"))
    # --quick: 2 categories x 3 held-out instances x 4 views, teacher `pose`
    # maps.
    self.assertEqual(data["embeddings"].shape, (24, 16, 16, 16))
    self.assertEqual(data["targets"].shape, (24, 16, 16, 16))
    self.assertTrue(np.isfinite(data["embeddings"]).all())
    self.assertEqual(sorted(set(data["category"])), ["car", "chair"])
    upright = embeddings_io.load_embeddings(
        os.path.join(work, "embeddings_test_2dof.npz"))
    self.assertEqual(upright["embeddings"].shape, (24, 16, 16, 16))
    # The same held-out instances, other (upright) poses.
    self.assertAllEqual(upright["instance"], data["instance"])
    self.assertGreater(np.abs(upright["rotations"]
                              - data["rotations"]).max(), 0.1)
    csvs = [f"pose_{name}{suffix}.csv" for suffix in ("", "_2dof")
            for name in ("ib_image", "cb_image", "ib_mesh", "ib_teacher",
                         "cb_teacher", "ib_regression", "cb_regression",
                         "ib_image2sphere", "cb_image2sphere")]
    absolute = [f"absolute_{mode}{suffix}.csv" for suffix in ("", "_2dof")
                for mode in ("regression", "image2sphere")]
    for name in csvs + absolute:
      with open(os.path.join(work, name)) as f:
        rows = f.read().splitlines()
      self.assertGreater(len(rows), 1, msg=name)
    # One turntable per category, and the module that made them.
    self.assertCountEqual(
        [n.split("_")[0] for n in os.listdir(os.path.join(work, "synthesis"))
         if n.endswith(".gif")], ["car", "chair"])
    self.assertTrue(os.path.isfile(os.path.join(work, "synthesis_module",
                                                "manifest.json")))
    # One embedding network with a pose and a synthesis head: the
    # synthesis network and module use its synthesis head.
    with open(os.path.join(work, "embedding", "embedding_model.json")) as f:
      spec = json.load(f)
    self.assertEqual([head[0] for head in spec["heads"]],
                     ["pose", "synthesis"])
    # The default recipe: the pose-aware loss with half-turns on its grid,
    # and a cosine whose rate at mid-run is between its peak and its floor
    # (the paper's piecewise schedule is still at its 1e-3 peak at step 25
    # of 50).
    self.assertEqual(spec["pose_loss"]["weight"], 0.1)
    self.assertEqual(spec["pose_loss"]["half_turns"], 256)
    self.assertBetween(mesh_test_util.read_scalars(os.path.join(
        work, "embedding", "train"))["learning_rate"][25], 2e-4, 8e-4)
    with open(os.path.join(work, "synthesis_module", "manifest.json")) as f:
      self.assertEqual(json.load(f)["embed"]["output"][1:], [32, 32, 8])
    # The error-vs-steps curve: one row per kept checkpoint (every 6 of the
    # 50 steps, the newest 8 kept).
    with open(os.path.join(work, "pose_vs_steps.csv")) as f:
      self.assertEqual([int(row["step"]) for row in csv.DictReader(f)],
                       [12, 18, 24, 30, 36, 42, 48, 50])
    with open(os.path.join(work, "results.md")) as f:
      summary = f.read()
    self.assertIn("relative L2", summary)
    self.assertNotIn("## synthesis embedding", summary)
    for step in ("## embedding", "## regression", "## image2sphere",
                 "## synthesis network", "## pose error vs steps",
                 "## save embeddings 3DOF", "## save embeddings 2DOF",
                 "## relative pose 3DOF IB image",
                 "## relative pose 2DOF CB regression",
                 "## relative pose 2DOF CB image2sphere"):
      self.assertIn(step, summary)
    self.assertIn("acc@15", summary)
    # By default the held-out maps, and the curve's, are averaged with the
    # mirror image's.
    for tool in ("save_embeddings", "pose_curve"):
      self.assertRegex(summary, rf"{tool}\.py [^\n]* --view_mirror")
    # The overview and one table per evaluation of the pipeline, then the
    # absolute-pose overview and one table per baseline and DOF.
    markdown = report_fixture.check_report(
        self, work, 1 + len(csvs) + 1 + len(absolute) + 1)  # + the curve.
    self.assertCountEqual(  # One view per category.
        [n.split("_")[0] for n in os.listdir(
            os.path.join(work, "distributions_image2sphere"))],
        ["car", "chair"])
    self.assertIn("## Training curves", markdown)
    self.assertIn("## Pose error vs training steps", markdown)
    self.assertIn("## Alignment examples", markdown)
    self.assertIn("## Synthesized views", markdown)
    self.assertIn("## Image2Sphere: distributions of single views", markdown)

  def test_bad_flag_fails_with_a_message(self):
    done = subprocess.run(
        [sys.executable, _PIPELINE, "--test_instances=1"],
        cwd=mesh_test_util.REPO_ROOT, capture_output=True, text=True,
        timeout=300, check=False)
    self.assertNotEqual(done.returncode, 0)
    self.assertIn("test_instances", done.stderr)

  def test_unknown_recipe_fails_naming_the_flag_before_writing(self):
    work = os.path.join(mesh_test_util.temp_dir(self), "run")
    mesh_test_util.assert_tool_error(
        self, mesh_test_util.run_script(
            "tools/pipeline.py", "--embedding_recipe=no_such_recipe",
            f"--work_dir={work}", timeout=300),
        "pipeline.py",
        r"--embedding_recipe: .*recipes\.json: no recipes \['no_such_recipe'\]")
    self.assertFalse(os.path.exists(work))


if __name__ == "__main__":
  tf.test.main()
