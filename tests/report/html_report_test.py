"""Tests of sph_embed.report.html_report on a hand-made work directory."""

import csv
import os
import re
import shutil

import numpy as np
from scipy.spatial import transform
import tensorflow as tf

from sph_embed.common import outputs
from sph_embed.data import meshes
from sph_embed.data import synthetic
from sph_embed.pose import embeddings_io
from sph_embed.pose import evaluation as pose_evaluation
from sph_embed.report import absolute_csv
from sph_embed.report import figures
from sph_embed.report import html_report
from sph_embed.report import pose_csvs
from sph_embed.report import pose_curve
from sph_embed.report import pose_tables
from sph_embed.report import recipe_curves
from sph_embed.sphere import rotations
from tests import mesh_test_util
from tests.report import report_fixture


class DiscoveryTest(tf.test.TestCase):

  def test_csv_names_and_order(self):
    work = mesh_test_util.temp_dir(self)
    names = ["pose_cb_image.csv", "pose_ib_teacher.csv",
             "pose_ib_regression_2dof.csv", "pose_ib_image_2dof.csv",
             "pose_ib_new_mode.csv", "pose_ib_image.csv",
             "pose_ib_regression.csv", "pose_xx_image.csv", "notes.csv",
             "pose_ib_image.csv.bak"]
    for name in names:
      mesh_test_util.write_file(work, name, "")
    found = [os.path.basename(p) for p in pose_csvs.find_pose_csvs(work)]
    self.assertEqual(found, [
        "pose_ib_image.csv", "pose_ib_regression.csv", "pose_ib_teacher.csv",
        "pose_ib_new_mode.csv", "pose_cb_image.csv",
        "pose_ib_image_2dof.csv", "pose_ib_regression_2dof.csv"])
    match = pose_csvs.CSV_PATTERN.fullmatch("pose_ib_new_mode_2dof.csv")
    self.assertEqual((match["protocol"], match["mode"], match["dof"]),
                     ("ib", "new_mode", "_2dof"))


class TablesTest(tf.test.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.work = report_fixture.make_work_dir(
        os.path.join(mesh_test_util.class_temp_dir(cls), "run"),
        events=False, extras=False)

  def test_table_matches_the_csv(self):
    results = pose_csvs.read_pose_csv(
        os.path.join(self.work, "pose_ib_image.csv"))
    header, rows = pose_tables.pose_table(results)
    self.assertEqual(header[-1], pose_tables.PAPER_COLUMN)
    by_name = {row[0]: row for row in rows}
    self.assertEqual(set(by_name), {"car", "chair", "overall"})
    chair = results.errors[results.categories == "chair"]
    self.assertEqual(by_name["chair"][1], str(chair.size))
    self.assertEqual(by_name["chair"][2], f"{np.median(chair):.2f}")
    self.assertEqual(by_name["chair"][3],
                     f"{100 * np.mean(chair < 15):.1f}")
    self.assertEqual(by_name["chair"][-1], "ShapeNet 5.55; ModelNet40 7.79")
    self.assertEqual(by_name["overall"][-1], "not reported")

  def test_no_paper_column_without_paper_numbers(self):
    header, _ = pose_tables.pose_table(pose_csvs.read_pose_csv(
        os.path.join(self.work, "pose_ib_teacher.csv")))
    self.assertNotIn(pose_tables.PAPER_COLUMN, header)

  def test_absolute_table_matches_the_csv(self):
    path = os.path.join(self.work, "absolute_image2sphere.csv")
    results = absolute_csv.read(path)
    header, rows = pose_tables.absolute_table(results)
    self.assertEqual(header[-1], "log-likelihood")
    by_name = {row[0]: row for row in rows}
    self.assertEqual(set(by_name), {"car", "chair", "overall"})
    with open(path, newline="", encoding="utf-8") as f:
      chair = [r for r in csv.DictReader(f) if r["category"] == "chair"]
    errors = np.array([float(r["error_deg"]) for r in chair])
    likelihoods = np.array([float(r["log_likelihood"]) for r in chair])
    self.assertEqual(by_name["chair"][1:], [
        str(len(chair)), f"{np.median(errors):.2f}",
        f"{100 * np.mean(errors < 15):.1f}",
        f"{100 * np.mean(errors < 30):.1f}", f"{likelihoods.mean():.2f}"])
    # The perturbation of the fixture: up to ~20 degrees (3 sigma 20).
    self.assertLess(float(by_name["overall"][2]), 30.0)
    regression = pose_tables.absolute_table(absolute_csv.read(
        os.path.join(self.work, "absolute_regression.csv")))[1]
    self.assertEqual({row[-1] for row in regression}, {"-"})

  def test_absolute_csv_errors_are_the_geodesic_angles(self):
    data = embeddings_io.load_embeddings(
        os.path.join(self.work, "embeddings_test.npz"))
    turn = transform.Rotation.from_rotvec([0.0, 0.0, np.radians(40.0)])
    path = os.path.join(mesh_test_util.temp_dir(self), "absolute_x.csv")
    predicted = turn.as_matrix() @ data["rotations"]
    absolute_csv.write(path, dict(data, predicted=predicted,
                                  error_deg=pose_evaluation.pose_errors(
                                      predicted, data["rotations"])))
    results = absolute_csv.read(path)
    self.assertAllClose(results.errors, np.full(len(results.errors), 40.0),
                        atol=1e-3)
    self.assertTrue(np.isnan(results.log_likelihoods).all())

  def test_bad_absolute_csv_is_named(self):
    work = mesh_test_util.temp_dir(self)
    path = mesh_test_util.write_file(work, "absolute_bad.csv",
                                     "index,category\n0,chair\n")
    with self.assertRaisesRegex(ValueError, f"{path}: missing columns"):
      absolute_csv.read(path)

  def test_2dof_tables_carry_the_2dof_numbers(self):
    header, rows = pose_tables.pose_table(pose_csvs.read_pose_csv(
        os.path.join(self.work, "pose_ib_regression_2dof.csv")))
    self.assertEqual(header[-1], pose_tables.PAPER_COLUMN)
    by_name = {row[0]: row for row in rows}
    # Table 2 (ShapeNet 2DOF IB regression) and Table 6 (ModelNet40).
    self.assertEqual(by_name["chair"][-1], "ShapeNet 13.7; ModelNet40 25.5")

  def test_experiment_numbers_replace_the_reference_column(self):
    results = pose_csvs.read_pose_csv(
        os.path.join(self.work, "pose_ib_image.csv"))
    header, rows = pose_tables.pose_table(results, "shapenet_3dof")
    self.assertEqual(header[-1], pose_tables.EXPERIMENT_PAPER_COLUMN)
    by_name = {row[0]: row for row in rows}
    self.assertEqual(by_name["chair"][-1], "5.55 / 89.1 / 95.7")
    self.assertEqual(by_name["overall"][-1], "not reported")
    header, rows = pose_tables.pose_table(results, "modelnet40_3dof")
    self.assertEqual({row[0]: row for row in rows}["car"][-1], "3.95 / - / -")
    # A 2DOF experiment has no numbers for a 3DOF table.
    header, _ = pose_tables.pose_table(results, "shapenet_2dof")
    self.assertNotIn(pose_tables.EXPERIMENT_PAPER_COLUMN, header)

  def test_dof_of_the_name_else_of_the_dataset(self):
    path = os.path.join(self.work, "pose_ib_image.csv")
    results = pose_csvs.read_pose_csv(path, default_dof=2)
    self.assertEqual(results.title, "2DOF IB, ours, image to image")
    rows = pose_tables.pose_table(results)[1]
    self.assertEqual({row[0]: row for row in rows}["chair"][-1],
                     "ShapeNet 5.07; ModelNet40 7.07")
    results = pose_csvs.read_pose_csv(
        os.path.join(self.work, "pose_ib_regression_2dof.csv"), default_dof=3)
    self.assertEqual(results.title, "2DOF IB, regression baseline")

  def test_bad_csvs_are_named(self):
    work = mesh_test_util.temp_dir(self)
    source = os.path.join(self.work, "pose_ib_image.csv")
    with open(source, encoding="utf-8") as f:
      lines = f.read().splitlines()
    cases = {
        "pose_ib_image.csv": ([lines[0].replace("error_deg,", "err,")]
                              + lines[1:], "missing columns"),
        "pose_cb_image.csv": (lines[:1], "no rows"),
        "pose_ib_mesh.csv": (lines[:2] + [re.sub(
            r"^(([^,]*,){5})[^,]*", r"\1nan", lines[2])], "row 3"),
        "pairs.csv": (lines, "not named pose_"),
    }
    for name, (content, message) in cases.items():
      path = mesh_test_util.write_file(work, name, "\n".join(content) + "\n")
      with self.assertRaisesRegex(pose_csvs.ReportError,
                                  f"{re.escape(path)}: .*{message}"):
        pose_csvs.read_pose_csv(path)


class AlignmentViewsTest(tf.test.TestCase):

  def test_true_pose_of_view_1_is_view_2(self):
    mesh = meshes.normalize_mesh(synthetic.make_instance("chair", 3))
    pose1, pose2, other = rotations.random_rotations(3, seed=1)
    truth = rotations.relative_rotation(pose1, pose2)
    wrong = rotations.relative_rotation(pose1, other)
    views = figures.alignment_views(mesh, mesh, pose1, pose2, wrong,
                                        truth, 32)
    self.assertAllEqual(views[3], views[1])
    self.assertGreater(np.abs(views[2].astype(int) - views[1]).mean(), 5)
    self.assertGreater(np.abs(views[0].astype(int) - views[1]).mean(), 5)


class WriteReportTest(tf.test.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.work = report_fixture.make_work_dir(
        os.path.join(mesh_test_util.class_temp_dir(cls), "run"))
    cls.report = html_report.write_report(cls.work)
    with open(os.path.join(cls.report, "report.md"), encoding="utf-8") as f:
      cls.markdown = f.read()
    with open(os.path.join(cls.report, "index.html"), encoding="utf-8") as f:
      cls.html = f.read()

  def test_every_section_with_data(self):
    for title in ("Relative pose: overview", "paper-style tables",
                  "Alignment examples", "Correlation grid slices",
                  "Absolute pose", "Training curves", "Pose distributions",
                  "Image2Sphere: distributions of single views",
                  "Synthesized views"):
      self.assertIn(title, self.markdown)
      self.assertIn(title, self.html)
    # The 2DOF CSV has no embeddings file: a note, not a failure.
    self.assertIn("pose_ib_regression_2dof.csv: no figures"
                  " (embeddings_test_2dof.npz not found)", self.markdown)

  def test_tables_same_in_html_and_markdown_and_finite(self):
    tables = report_fixture.markdown_tables(self.markdown)
    # Overview + one per CSV, then the absolute-pose overview + one per CSV.
    self.assertLen(tables, 1 + 4 + 1 + 2)
    for header, rows in tables:
      self.assertEqual(report_fixture.table_problems(header, rows), [])
      for row in rows:
        self.assertIn("<td>" + "</td><td>".join(row) + "</td>", self.html)
    overview = {row[1]: row for row in tables[0][1]}
    self.assertEqual(list(overview), [
        "pose_ib_image.csv", "pose_ib_teacher.csv", "pose_cb_image.csv",
        "pose_ib_regression_2dof.csv"])
    self.assertEqual(overview["pose_ib_regression_2dof.csv"][0],
                     "2DOF IB, regression baseline")

  def test_images_exist_in_both(self):
    sources = re.findall(r'<img src="([^"]+)"', self.html)
    self.assertEqual(sources, re.findall(r"!\[[^\]]*\]\(([^)]+)\)",
                                         self.markdown))
    for name in sources:
      self.assertTrue(os.path.isfile(os.path.join(self.report, name)),
                      msg=name)
    self.assertIn("synthesis/turntable.gif", sources)
    self.assertIn("distributions/pair0000_chair_0_1.png", sources)
    self.assertIn("distributions_image2sphere/chair_0000.png", sources)
    self.assertIn("curves_embedding.png", sources)

  def test_training_curves_read_from_events(self):
    curves = figures.read_training_curves(self.work)
    self.assertEqual(sorted(curves), ["embedding/eval", "embedding/train"])
    steps, values = curves["embedding/train"]["loss"]
    self.assertEqual(steps, [0, 10, 20, 30, 40])
    self.assertAllClose(values, [1.0 / (s + 1) for s in steps])

  def test_existing_report_needs_overwrite(self):
    with self.assertRaisesRegex(outputs.OutputError, "--overwrite"):
      html_report.write_report(self.work)
    work = os.path.join(mesh_test_util.temp_dir(self), "copy")
    shutil.copytree(self.work, work)
    html_report.write_report(work, overwrite=True)
    self.assertTrue(os.path.isfile(os.path.join(work, "report",
                                                "index.html")))


class PoseCurveSectionTest(tf.test.TestCase):

  def test_curve_table_and_figure_from_the_csv(self):
    work = report_fixture.make_work_dir(
        os.path.join(mesh_test_util.temp_dir(self), "run"), events=False,
        extras=False)
    rows = [{"step": 500, "pairs": 12, "median_deg": 90.5, "acc15": 8.25,
             "acc30": 16.5},
            {"step": 1000, "pairs": 12, "median_deg": 20.125, "acc15": 41.5,
             "acc30": 66.75}]
    pose_curve.write_csv(os.path.join(work, "pose_vs_steps.csv"), rows)
    report = html_report.write_report(work)
    with open(os.path.join(report, "report.md"), encoding="utf-8") as f:
      markdown = f.read()
    self.assertIn("## Pose error vs training steps", markdown)
    header, table = report_fixture.markdown_tables(markdown)[-1]
    self.assertEqual(header[0], "step")
    self.assertEqual(table, [["500", "12", "90.50", "8.2", "16.5"],
                             ["1000", "12", "20.12", "41.5", "66.8"]])
    self.assertTrue(os.path.isfile(os.path.join(report,
                                                "pose_vs_steps.png")))
    # A malformed curve is named, and no report is written.
    mesh_test_util.write_file(work, "pose_vs_steps.csv", "step,median\n1,2\n")
    with self.assertRaisesRegex(ValueError,
                                "pose_vs_steps.csv: not a pose-vs-steps"):
      html_report.write_report(work, overwrite=True)


class TimeToAccuracySectionTest(tf.test.TestCase):

  def test_recipes_table_and_figure_from_the_csv(self):
    work = report_fixture.make_work_dir(
        os.path.join(mesh_test_util.temp_dir(self), "run"), events=False,
        extras=False)
    rows = [{"recipe": name, "step": step, "minutes": minutes, "pairs": 12,
             "median_deg": median, "acc15": 10.0, "acc30": 20.0}
            for name, step, minutes, median in (("a", 100, 2.5, 120.0),
                                                ("a", 200, 5.0, 60.25),
                                                ("b", 150, 5.0, 30.5))]
    recipe_curves.write_csv(os.path.join(work, "time_to_accuracy.csv"),
                               rows)
    report = html_report.write_report(work)
    with open(os.path.join(report, "report.md"), encoding="utf-8") as f:
      markdown = f.read()
    self.assertIn("## Pose error vs minutes of training", markdown)
    header, table = report_fixture.markdown_tables(markdown)[-1]
    self.assertEqual(header[:3], ["recipe", "step", "minutes"])
    self.assertEqual([row[:4] for row in table],
                     [["a", "100", "2.5", "120.00"], ["a", "200", "5.0",
                                                      "60.25"],
                      ["b", "150", "5.0", "30.50"]])
    self.assertTrue(os.path.isfile(os.path.join(report,
                                                "time_to_accuracy.png")))


class BadWorkDirTest(tf.test.TestCase):

  def test_work_dir_problems(self):
    root = mesh_test_util.temp_dir(self)
    a_file = mesh_test_util.write_file(root, "file.txt", "x")
    empty = os.path.join(root, "empty")
    os.mkdir(empty)
    for path, message in ((os.path.join(root, "missing"), "does not exist"),
                          (a_file, "is a file"),
                          (empty, "no pose_<protocol>_<mode>.csv")):
      with self.assertRaisesRegex(ValueError,
                                  f"--work_dir={re.escape(path)}: {message}"):
        html_report.write_report(path)

  def test_a_failure_leaves_no_report(self):
    work = mesh_test_util.temp_dir(self)
    mesh_test_util.write_file(work, "pose_ib_image.csv", "index1\n")
    with self.assertRaisesRegex(pose_csvs.ReportError, "missing columns"):
      html_report.write_report(work)
    self.assertEqual(os.listdir(work), ["pose_ib_image.csv"])


if __name__ == "__main__":
  tf.test.main()
