"""A tiny pipeline work directory made by hand, for the report's tests.

Real synthetic meshes and poses (as a dataset of `CATEGORIES` would hold
them), ray-cast maps as the teacher `targets` and noisy copies as the
`embeddings`, relative-pose CSVs written by correlate_embeddings, and
absolute-pose CSVs of two baselines (perturbed true rotations; one with
log-likelihoods), and optionally TensorBoard scalars, pose-distribution
PNGs and a synthesis GIF: every section of the report, in seconds.
"""

import os
import re
import shutil

import numpy as np
from PIL import Image
from scipy.spatial import transform
import tensorflow as tf

from sph_embed.common import files
from sph_embed.data import raycast
from sph_embed.data import view_stream
from sph_embed.data import views
from sph_embed.pose import embeddings_io
from sph_embed.pose import evaluation as pose_evaluation
from sph_embed.report import absolute_csv
from sph_embed.report import correlate_embeddings
from sph_embed.report import synthesize_views

CATEGORIES = ("chair", "car")
SPHERE_SIZE = 16
CSVS = (("ib", "image"), ("cb", "image"), ("ib", "teacher"))


def _metadata(test_instances, views_per_instance):
  return {
      "source": {"kind": "synthetic", "train_instances": 1,
                 "test_instances": test_instances},
      "categories": list(CATEGORIES), "dof": 3, "anisotropic_scale": 0.0,
      "views_per_instance": views_per_instance, "image_size": 32,
      "sphere_size": SPHERE_SIZE, "seed": 0,
      "splits": {"test": {"instances": test_instances * len(CATEGORIES),
                          "examples": (test_instances * len(CATEGORIES)
                                       * views_per_instance)}}}


def _write_embeddings(work, metadata):
  _, instances = view_stream.instances_from_metadata(metadata, "test")
  config = synthesize_views.view_config(metadata)
  maps, poses, category, instance = [], [], [], []
  for item in instances:
    meshes, item_poses = views.example_meshes(item, config)
    for mesh, pose in zip(meshes, item_poses):
      maps.append(raycast.raycast(mesh, SPHERE_SIZE, pose))
      poses.append(pose)
      category.append(item.category)
      instance.append(item.name)
  targets = np.stack(maps)[..., None].astype(np.float32)
  rng = np.random.default_rng(0)
  embeddings = targets + 0.05 * rng.standard_normal(targets.shape)
  path = os.path.join(work, "embeddings_test.npz")
  embeddings_io.save_embeddings(path, embeddings, np.stack(poses), category,
                                instance, targets=targets)
  return path


def write_absolute_csvs(work, embeddings):
  """absolute_regression.csv and absolute_image2sphere.csv of the
  embeddings file's views: true rotations turned by random angles (up to
  90 / 20 degrees), log-likelihoods for Image2Sphere only."""
  data = embeddings_io.load_embeddings(embeddings)
  rng = np.random.default_rng(1)
  for mode, largest, likelihoods in (("regression", 90.0, None),
                                     ("image2sphere", 20.0, True)):
    turns = transform.Rotation.from_rotvec(
        rng.standard_normal((len(data["rotations"]), 3)) * np.radians(
            largest / 3)).as_matrix()
    predicted = turns @ data["rotations"]
    table = dict(data, predicted=predicted,
                 error_deg=pose_evaluation.pose_errors(predicted,
                                                       data["rotations"]))
    if likelihoods:
      table["log_likelihood"] = rng.uniform(-3, 3, len(turns))
    absolute_csv.write(os.path.join(work, f"absolute_{mode}.csv"), table)


def _write_events(work):
  for run, offset in (("train", 0.0), ("eval", 0.1)):
    writer = tf.summary.create_file_writer(
        os.path.join(work, "embedding", run))
    with writer.as_default():
      for step in range(0, 50, 10):
        tf.summary.scalar("loss", 1.0 / (step + 1) + offset, step=step)
    writer.close()


def _write_extras(work):
  for directory in ("distributions", "distributions_image2sphere",
                    "synthesis"):
    os.makedirs(os.path.join(work, directory))
  gradient = np.tile(np.arange(0, 250, 5, dtype=np.uint8), (40, 1))
  Image.fromarray(gradient).save(
      os.path.join(work, "distributions", "pair0000_chair_0_1.png"))
  Image.fromarray(gradient[::-1]).save(
      os.path.join(work, "distributions_image2sphere", "chair_0000.png"))
  frames = [Image.fromarray(np.roll(gradient, 10 * k, axis=1))
            for k in range(3)]
  frames[0].save(os.path.join(work, "synthesis", "turntable.gif"),
                 save_all=True, append_images=frames[1:], duration=100)


def make_work_dir(work, test_instances=2, views_per_instance=3, events=True,
                  extras=True):
  """Fills the directory `work` (created) like a small pipeline run."""
  metadata = _metadata(test_instances, views_per_instance)
  os.makedirs(os.path.join(work, "data"))
  files.write_json_atomic(os.path.join(work, "data", "dataset.json"),
                          metadata)
  embeddings = _write_embeddings(work, metadata)
  for protocol, mode in CSVS:
    correlate_embeddings.run(
        embeddings, protocol, pairs_per_instance=2, upsample=1, mode=mode,
        output=os.path.join(work, f"pose_{protocol}_{mode}.csv"),
        progress=False)
  # A later kind of result (a regression baseline on 2DOF data): found by
  # its name alone; it has no embeddings file of its own.
  shutil.copyfile(os.path.join(work, "pose_ib_image.csv"),
                  os.path.join(work, "pose_ib_regression_2dof.csv"))
  write_absolute_csvs(work, embeddings)
  if events:
    _write_events(work)
  if extras:
    _write_extras(work)
  return work


def markdown_tables(text):
  """The tables of a Markdown text: [(header cells, [row cells])]."""
  tables = []
  lines = text.splitlines()
  for k, line in enumerate(lines):
    if (line.startswith("|") and k + 1 < len(lines)
        and re.fullmatch(r"\|(---\|)+", lines[k + 1])
        and not (k and lines[k - 1].startswith("|"))):
      split = lambda row: [c.strip() for c in row.strip().strip("|")
                           .split("|")]
      rows = []
      for row in lines[k + 2:]:
        if not row.startswith("|"):
          break
        rows.append(split(row))
      tables.append((split(line), rows))
  return tables


_NUMERIC = ("pairs", "median (deg)", "acc@15 (%)", "acc@30 (%)")


def table_problems(header, rows):
  """Messages for empty tables, empty or NaN/inf cells, and numeric
  columns whose cells are not finite numbers."""
  problems = [] if rows else [f"table {header} has no rows"]
  for row in rows:
    if len(row) != len(header):
      problems.append(f"row {row} has {len(row)} cells, header {len(header)}")
    for name, cell in zip(header, row):
      if not cell or re.search(r"\b(nan|inf|infinity)\b", cell, re.I):
        problems.append(f"cell {name!r} = {cell!r} in row {row}")
      elif name in _NUMERIC:
        try:
          if not np.isfinite(float(cell)):
            problems.append(f"cell {name!r} = {cell!r} is not finite")
        except ValueError:
          problems.append(f"cell {name!r} = {cell!r} is not a number")
  return problems


def check_report(test_case, work, num_tables):
  """Asserts <work>/report has index.html and `num_tables` Markdown tables,
  none empty or with a non-finite cell; returns the report's Markdown."""
  report = os.path.join(work, "report")
  test_case.assertTrue(os.path.isfile(os.path.join(report, "index.html")))
  with open(os.path.join(report, "report.md"), encoding="utf-8") as f:
    markdown = f.read()
  tables = markdown_tables(markdown)
  test_case.assertLen(tables, num_tables)
  for header, rows in tables:
    test_case.assertEqual(table_problems(header, rows), [], msg=header)
  return markdown
