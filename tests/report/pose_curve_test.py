"""Tests for the error-vs-steps curve (sph_embed.report.pose_curve and
tools/pose_curve.py)."""

import csv
import os
import shutil

import tensorflow as tf

from sph_embed.embedding import inference as embedding_inference
from sph_embed.embedding import training as embedding_training
from sph_embed.embedding import view_averaging
from sph_embed.pose import embeddings_io
from sph_embed.report import correlate_embeddings
from sph_embed.report import pose_curve
from tests import mesh_test_util
from tests.embedding import training_test


class PoseCurveTest(training_test.TinyRunTestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.model_dir = os.path.join(cls.root, "run")
    # Checkpoints at steps 2, 4, 6, all kept.
    embedding_training.train(*cls.config(
        cls.model_dir, max_steps=6, checkpoint_every_steps=2,
        keep_checkpoints=3, eval_every_steps=None))

  def assert_scored_as_correlate_scores_it(self, rows, **views):
    """Each checkpoint scored as save_embeddings + correlate would: the
    embeddings file of that checkpoint, correlate's library, same pairs."""
    teacher, _ = embedding_training.load_teacher(self.hub_module, "pose")
    for row, (_, prefix) in zip(
        rows, pose_curve.kept_checkpoints(self.model_dir)):
      model, _ = embedding_training.restore_model(self.model_dir, prefix)
      path = os.path.join(self.root, f"embeddings_{row['step']}.npz")
      embeddings_io.save_embeddings(path, **embedding_inference.embed_split(
          view_averaging.averaged_over_views(model, **views), teacher,
          self.data_dir, "test", 8, with_images=False))
      overall = correlate_embeddings.run(path, "ib", 2, progress=False)[0][-1]
      self.assertEqual(row["pairs"], overall.pairs)
      self.assertAllClose(row["median_deg"], overall.median, atol=1e-3)
      self.assertAllClose([row["acc15"], row["acc30"]],
                          list(overall.accuracy), atol=1e-3)

  def test_one_row_per_checkpoint_as_correlate_scores_it(self):
    rows = pose_curve.measure(self.model_dir, self.data_dir, pairs=2)
    self.assertEqual([row["step"] for row in rows], [2, 4, 6])
    self.assert_scored_as_correlate_scores_it(rows)

  def test_view_averaging_scores_the_averaged_maps(self):
    views = dict(view_turns=4, view_mirror=True)
    rows = pose_curve.measure(self.model_dir, self.data_dir, pairs=2,
                              **views)
    self.assertNotEqual(
        [row["median_deg"] for row in rows],
        [row["median_deg"] for row in pose_curve.measure(
            self.model_dir, self.data_dir, pairs=2)])
    self.assert_scored_as_correlate_scores_it(
        rows, turns=views["view_turns"], mirror=views["view_mirror"])

  def test_tool_writes_csv_and_plot_and_names_bad_inputs(self):
    output = os.path.join(self.root, "curve.csv")
    plot = os.path.join(self.root, "curve.png")
    result = mesh_test_util.run_script(
        "tools/pose_curve.py", f"--model_dir={self.model_dir}",
        f"--output={output}", f"--plot={plot}", "--pairs=2")
    self.assertEqual(result.returncode, 0, result.stderr[-3000:])
    with open(output, encoding="utf-8") as f:
      steps = [int(row["step"]) for row in csv.DictReader(f)]
    self.assertEqual(steps, [2, 4, 6])
    with open(plot, "rb") as f:
      self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")
    # An existing output without --overwrite; a run without checkpoints.
    result = mesh_test_util.run_script(
        "tools/pose_curve.py", f"--model_dir={self.model_dir}",
        f"--output={output}")
    self.assertNotEqual(result.returncode, 0)
    self.assertIn("curve.csv: already exists", result.stderr)
    empty = os.path.join(self.root, "empty_run")
    os.makedirs(empty)
    shutil.copy(os.path.join(self.model_dir, "embedding_model.json"), empty)
    with self.assertRaisesRegex(ValueError, "empty_run: no checkpoints"):
      pose_curve.measure(empty, self.data_dir)


if __name__ == "__main__":
  tf.test.main()
