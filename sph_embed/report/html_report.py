"""The report of a pipeline run: <work_dir>/report/index.html and report.md.

The library side of tools/make_report.py.  It reads what tools/pipeline.py
(and the tools it runs) left in the work directory and writes one
self-contained report directory: index.html, report.md with the same
tables, and the PNGs (and copied GIFs) beside them, so the page opens from
disk.  Each section appears only when its data exist:

  tables        one per relative-pose CSV `pose_<protocol>_<mode>[_2dof].csv`
                (sph_embed.report.correlate_embeddings writes them): per
                category pairs, median error, acc@15, acc@30, with the
                paper's medians (on other data) where the paper has them.
                Any protocol (ib, cb) and mode (image, mesh, teacher,
                regression, or a new one) is found by its file name;
  histograms    the error distribution of each table;
  alignment     the paper's Fig. 4: for one pair per category, the two
                views, and view 1's mesh rendered under the estimated and
                under the true relative pose (needs the CSV's embeddings
                file embeddings_test[_2dof].npz, for the poses, and its
                dataset data[_2dof]/, for the meshes);
  correlation   slices through the SO(3) correlation grid of a few IB pairs
                (sph_embed.pose.correlation, no upsampling);
  training      curves of every TensorBoard scalar under the work directory
                (e.g. embedding/train, embedding/eval);
  distributions PNGs in <work_dir>/distributions/ (tools/correlate.py
                --distribution_plots) and synthesis GIFs/PNGs in
                <work_dir>/synthesis/, copied into the report.

The report directory is written atomically as a whole
(sph_embed.common.files.atomic_directory).
"""

import csv
import dataclasses
import glob
import html
import os
import re
import shutil
import time

from absl import logging
import numpy as np
from matplotlib import figure as figure_lib
from matplotlib import ticker
from tensorboard.backend.event_processing import event_accumulator
from tensorboard.util import tensor_util

from sph_embed.common import files
from sph_embed.common import outputs
from sph_embed.pose import correlation
from sph_embed.pose import embeddings_io
from sph_embed.pose import evaluation as pose_evaluation
from sph_embed.report import correlate_embeddings
from sph_embed.report import paper_results
# Imports TensorFlow (the dataset reader), which must come before the
# first render (sph_embed.data.render).
from sph_embed.report import synthesize_views
from sph_embed.data import render  # pylint: disable=g-bad-import-order
from sph_embed.sphere import rotations as rotations_lib

REPORT_DIR = "report"
# pose_<protocol>_<mode>[_2dof].csv; a mode may hold underscores.
CSV_PATTERN = re.compile(
    r"pose_(?P<protocol>ib|cb)_(?P<mode>[a-z0-9_]+?)(?P<dof>_2dof)?\.csv")
MODE_LABELS = {
    "image": "ours, image to image",
    "mesh": "ours, image to mesh",
    "teacher": "teacher maps on both sides (bound)",
    "regression": "regression baseline",
}
_MODE_ORDER = ("image", "regression", "mesh", "teacher")
# The maps each mode correlates (first view, second view), as
# correlate_embeddings.run; other modes have no correlation grid.
_MODE_MAPS = {"image": ("embeddings", "embeddings"),
              "mesh": ("embeddings", "targets"),
              "teacher": ("targets", "targets")}
NUMERIC_COLUMNS = ("pairs", "median (deg)", "acc@15 (%)", "acc@30 (%)")
PAPER_COLUMN = "paper median (deg), other data"
# A run of tools/reproduce.py names its experiment here; its tables then
# carry that experiment's published numbers (same kind of data).
EXPERIMENT_FILE = "experiment.json"
EXPERIMENT_PAPER_COLUMN = "paper median / acc@15 / acc@30"
_NOT_REPORTED = "not reported"
_ALIGNMENT_PAIRS = 6   # At most one per category.
_SLICE_PAIRS = 2
_MAX_COPIED = 24       # Distribution plots / synthesis files shown.


class ReportError(ValueError):
  """The work directory cannot be reported on."""


@dataclasses.dataclass(frozen=True)
class PoseResults:
  """One relative-pose CSV."""
  path: str
  protocol: str
  mode: str
  dof: int
  pairs: np.ndarray        # int [P, 2] indices into the embeddings file
  categories: np.ndarray   # [P] str
  instances: np.ndarray    # [P, 2] str
  errors: np.ndarray       # [P] degrees
  estimated: np.ndarray    # [P, 3, 3]
  truth: np.ndarray        # [P, 3, 3]

  @property
  def name(self):
    return os.path.basename(self.path)

  @property
  def stem(self):
    return os.path.splitext(self.name)[0]

  @property
  def suffix(self):
    """'' or '_2dof' (as the name): the embeddings file and dataset go by
    it."""
    return CSV_PATTERN.fullmatch(self.name)["dof"] or ""

  @property
  def title(self):
    label = MODE_LABELS.get(self.mode, self.mode)
    return f"{self.dof}DOF {self.protocol.upper()}, {label}"

  def rows(self):
    return pose_evaluation.summarize(self.categories, self.errors)


def _sort_key(path):
  match = CSV_PATTERN.fullmatch(os.path.basename(path))
  mode = match["mode"]
  rank = _MODE_ORDER.index(mode) if mode in _MODE_ORDER else len(_MODE_ORDER)
  return (bool(match["dof"]), match["protocol"] != "ib", rank, mode)


def find_pose_csvs(work_dir):
  """The work directory's pose_<protocol>_<mode>[_2dof].csv files, in table
  order (3DOF before 2DOF, IB before CB, ours before the others)."""
  found = [p for p in glob.glob(os.path.join(work_dir, "pose_*.csv"))
           if CSV_PATTERN.fullmatch(os.path.basename(p))]
  return sorted(found, key=_sort_key)


def read_pose_csv(path, default_dof=3):
  """A correlate_embeddings CSV as PoseResults.

  Its DOF is 2 for a name ending in _2dof, else `default_dof` (that of the
  run's dataset).

  Raises:
    ReportError naming the file: a missing column, no rows, or a value that
    is not a finite number.
  """
  match = CSV_PATTERN.fullmatch(os.path.basename(path))
  with open(path, newline="", encoding="utf-8") as f:
    reader = csv.DictReader(f)
    missing = [c for c in correlate_embeddings.CSV_FIELDS
               if c not in (reader.fieldnames or ())]
    if missing:
      raise ReportError(f"{path}: missing columns {missing} (expected the"
                        " CSV of tools/correlate.py)")
    records = list(reader)
  if not records:
    raise ReportError(f"{path}: no rows (no pairs were evaluated)")
  est_keys = [f"est_r{i}{j}" for i in range(3) for j in range(3)]
  true_keys = [f"true_r{i}{j}" for i in range(3) for j in range(3)]
  try:
    numbers = np.array([[float(r[k]) for k in
                         ["index1", "index2", "error_deg"] + est_keys
                         + true_keys] for r in records])
  except ValueError as e:
    raise ReportError(f"{path}: a value is not a number ({e})") from None
  if not np.isfinite(numbers).all():
    row = int(np.argmin(np.isfinite(numbers).all(axis=1)))
    raise ReportError(f"{path}: row {row + 2} holds NaN or infinite values")
  return PoseResults(
      path=path, protocol=match["protocol"], mode=match["mode"],
      dof=2 if match["dof"] else default_dof,
      pairs=numbers[:, :2].astype(np.int64),
      categories=np.array([r["category"] for r in records]),
      instances=np.array([[r["instance1"], r["instance2"]] for r in records]),
      errors=numbers[:, 2],
      estimated=numbers[:, 3:12].reshape(-1, 3, 3),
      truth=numbers[:, 12:21].reshape(-1, 3, 3))


def check_work_dir(work_dir, overwrite):
  """Validates the work directory and the report's place in it.

  Returns:
    (absolute work dir, absolute report dir).

  Raises:
    outputs.OutputError / ReportError naming --work_dir and the problem.
  """
  where = f"--work_dir={work_dir}"
  if not work_dir:
    raise ReportError("--work_dir is empty; give a run of tools/pipeline.py")
  absolute = os.path.abspath(work_dir)
  if not os.path.exists(absolute):
    raise ReportError(f"{where}: does not exist; give the --work_dir of a"
                      " run of tools/pipeline.py")
  if not os.path.isdir(absolute):
    raise ReportError(f"{where}: is a file, not a run directory")
  if not find_pose_csvs(absolute):
    raise ReportError(f"{where}: no pose_<protocol>_<mode>.csv results to"
                      " report (tools/pipeline.py writes them)")
  report_dir = outputs.check_replaced_dir(
      os.path.join(absolute, REPORT_DIR), "work_dir", ("index.html",))
  if os.path.exists(report_dir) and not overwrite:
    raise outputs.OutputError(f"{where}: {report_dir} already exists; pass"
                              " --overwrite to replace it")
  return absolute, report_dir


# ---------------------------------------------------------------- tables


def _paper_cell(sources, category):
  values = [f"{name} {medians[category]:g}"
            for name, medians in sources.items() if category in medians]
  return "; ".join(values) or _NOT_REPORTED


def _experiment_cell(table, category):
  if category not in table:
    return _NOT_REPORTED
  return " / ".join("-" if v is None else f"{v:g}" for v in table[category])


def experiment_table(experiment, results):
  """The paper's table of `experiment` (a PAPER_RESULTS key) for `results`.

  None when the paper has no such table, or the run's DOF is not the
  experiment's.
  """
  if not (experiment or "").endswith(f"_{results.dof}dof"):
    return None
  return paper_results.PAPER_RESULTS.get(experiment, {}).get(
      (results.protocol, results.mode))


def pose_table(results, experiment=None):
  """(header, rows of cells) of one CSV's paper-style table.

  `experiment`: the reproduced experiment (a paper_results key): its
  numbers are shown; otherwise the paper's medians on other data.
  """
  if experiment:
    table = experiment_table(experiment, results)
    column = EXPERIMENT_PAPER_COLUMN
    cell = lambda category: _experiment_cell(table, category)
  else:
    table = paper_results.medians(results.protocol, results.mode, results.dof)
    column = PAPER_COLUMN
    cell = lambda category: _paper_cell(table, category)
  header = ["category"] + list(NUMERIC_COLUMNS) + ([column] if table else [])
  rows = []
  for row in results.rows():
    cells = [row.name, str(row.pairs), f"{row.median:.2f}"] + [
        f"{a:.1f}" for a in row.accuracy]
    if table:
      cells.append(cell(row.name))
    rows.append(cells)
  return header, rows


def overview_table(all_results):
  """(header, rows): the overall row of every CSV."""
  header = ["results", "file"] + list(NUMERIC_COLUMNS)
  rows = []
  for results in all_results:
    overall = results.rows()[-1]
    rows.append([results.title, results.name, str(overall.pairs),
                 f"{overall.median:.2f}"]
                + [f"{a:.1f}" for a in overall.accuracy])
  return header, rows


def _markdown_table(header, rows):
  lines = ["| " + " | ".join(header) + " |",
           "|" + "|".join("---" for _ in header) + "|"]
  lines += ["| " + " | ".join(cells) + " |" for cells in rows]
  return "\n".join(lines)


def _html_table(header, rows):
  head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
  body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells)
                 + "</tr>\n" for cells in rows)
  return (f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}"
          "</tbody>\n</table>")


# ---------------------------------------------------------------- figures


def _save(fig, path):
  fig.savefig(path, format="png", dpi=100)
  logging.info("wrote %s", path)


def error_histogram(results, path):
  """Histogram of a CSV's errors (0-180 deg) with the 15/30 deg marks."""
  fig = figure_lib.Figure(figsize=(5.0, 2.6), layout="constrained")
  ax = fig.add_subplot()
  ax.hist(results.errors, bins=np.arange(0.0, 185.0, 5.0), color="tab:blue")
  for threshold in pose_evaluation.THRESHOLDS:
    ax.axvline(threshold, color="tab:green", linestyle="--", linewidth=1)
  median = float(np.median(results.errors))
  ax.axvline(median, color="tab:red", linewidth=1.5,
             label=f"median {median:.1f}°")
  ax.set_xlim(0, 180)
  ax.set_xlabel("error (degrees); dashed: 15°, 30°")
  ax.set_ylabel("pairs")
  ax.yaxis.set_major_locator(ticker.MaxNLocator(integer=True))
  ax.set_title(results.title, fontsize=9)
  ax.legend(fontsize=8)
  _save(fig, path)


def _one_pair_per_category(results, count):
  """Indices of the first pair of each category, at most `count`."""
  seen = {}
  for p, category in enumerate(results.categories):
    seen.setdefault(category, p)
  return sorted(seen.values())[:count]


def _embeddings_for(work_dir, results, cache):
  """The CSV's embeddings file, checked against its pairs; None if absent."""
  path = os.path.join(work_dir, f"embeddings_test{results.suffix}.npz")
  if path not in cache:
    cache[path] = (embeddings_io.load_embeddings(path)
                   if os.path.isfile(path) else None)
  data = cache[path]
  if data is None:
    return None, f"{os.path.basename(path)} not found"
  if results.pairs.max() >= len(data["rotations"]):
    return None, f"{results.name} indexes views beyond {path}"
  truth = pose_evaluation.true_relative_rotations(data["rotations"],
                                                  results.pairs)
  if not np.allclose(truth, results.truth, atol=1e-3):
    return None, f"{results.name} does not match the poses of {path}"
  return data, None


def alignment_views(mesh1, mesh2, pose1, pose2, estimated, truth, size):
  """The four images of a row of the alignment figure, uint8 [size, size].

  View 1 (mesh1 in pose1), view 2 (mesh2 in pose2), and mesh1 in the
  poses R pose1 for R = the estimated and the true relative rotation
  (R2 = R_rel R1, pose_evaluation): under IB the last is view 2 itself.
  """
  return (render.render_view(mesh1, pose1, size),
          render.render_view(mesh2, pose2, size),
          render.render_view(mesh1, estimated @ pose1, size),
          render.render_view(mesh1, truth @ pose1, size))


def alignment_figure(work_dir, results, data, path):
  """The paper's Fig. 4 for one pair per category; False if no meshes.

  Columns: view 1, view 2, view 1's mesh under the estimated relative pose
  (R_est R1: what the method believes view 2 shows) and under the true one
  (R_true R1 = R2).  All are rendered from the dataset's meshes, as built.
  """
  data_dir = os.path.join(work_dir, f"data{results.suffix}")
  metadata_path = os.path.join(data_dir, "dataset.json")
  if not os.path.isfile(metadata_path):
    return False
  metadata = files.read_json_object(metadata_path)
  chosen = _one_pair_per_category(results, _ALIGNMENT_PAIRS)
  index1, index2 = results.pairs[chosen, 0], results.pairs[chosen, 1]
  poses = data["rotations"].astype(np.float64)
  meshes = synthesize_views.example_meshes(
      metadata, "test",
      np.concatenate([data["instance"][index1], data["instance"][index2]]),
      np.concatenate([poses[index1], poses[index2]]))
  size = metadata["image_size"]
  columns = ("view 1", "view 2", "view 1's mesh,\nestimated pose",
             "view 1's mesh,\ntrue pose")
  fig = figure_lib.Figure(figsize=(6.4, 1.7 * len(chosen) + 0.4),
                          layout="constrained")
  axes = fig.subplots(len(chosen), 4, squeeze=False)
  for row, p in enumerate(chosen):
    images = alignment_views(meshes[row], meshes[len(chosen) + row],
                             poses[index1[row]], poses[index2[row]],
                             results.estimated[p], results.truth[p], size)
    for column, image in enumerate(images):
      ax = axes[row, column]
      ax.imshow(image, cmap="gray", vmin=0, vmax=255)
      ax.set_xticks([])
      ax.set_yticks([])
      if row == 0:
        ax.set_title(columns[column], fontsize=8)
    axes[row, 0].set_ylabel(f"{results.categories[p]}\nerror"
                            f" {results.errors[p]:.1f}°", fontsize=8)
  fig.suptitle(results.title, fontsize=9)
  _save(fig, path)
  return True


def correlation_slices(results, data, path):
  """Slices of the correlation grid C(alpha, beta, gamma) of a few pairs.

  Per pair: C over (alpha, gamma) at the beta of the grid maximum, and over
  (alpha, beta) at its gamma; x = the maximum, o = the truth's angles (on
  the slice only when the truth shares the fixed angle).
  """
  first, second = (data[key] for key in _MODE_MAPS[results.mode])
  chosen = range(min(_SLICE_PAIRS, len(results.pairs)))
  fig = figure_lib.Figure(figsize=(7.0, 2.9 * len(chosen)),
                          layout="constrained")
  axes = fig.subplots(len(chosen), 2, squeeze=False)
  for row, p in enumerate(chosen):
    i, j = results.pairs[p]
    # Zero padding to >= 64 points per angle: smooth slices at no cost.
    grid = correlation.align(first[i], second[j], return_grid=True,
                             grid_size=max(64, first.shape[1])).grids
    a, b, c = np.unravel_index(np.argmax(grid), grid.shape)
    angles = np.degrees(correlation.grid_angles(grid.shape[0]))
    half = 180.0 / grid.shape[0]  # Pixels centred on the grid angles.
    full = (-half, 360.0 - half)
    truth = np.degrees(rotations_lib.zyz_from_matrix(results.truth[p]))
    truth = np.mod(truth, 360.0)
    for ax, image, extent, (x, y), (tx, ty), labels, fixed in (
        (axes[row, 0], grid[:, b, :].T, full + full, (a, c),
         (truth[0], truth[2]), ("alpha", "gamma"), f"beta = {angles[b]:.0f}°"),
        (axes[row, 1], grid[:, :, c].T, full + (-half, 180.0 + half), (a, b),
         (truth[0], truth[1]), ("alpha", "beta"),
         f"gamma = {angles[c]:.0f}°")):
      shown = ax.imshow(image, origin="lower", extent=extent, aspect="auto",
                        cmap="viridis")
      fig.colorbar(shown, ax=ax, shrink=0.8)
      ax.plot(angles[x], angles[y], "x", color="red", markersize=9, label="grid maximum")
      ax.plot(tx, ty, "o", markerfacecolor="none", color="white",
              markersize=9, label="truth")
      ax.set_xlabel(f"{labels[0]} (deg)")
      ax.set_ylabel(f"{labels[1]} (deg)")
      ax.set_title(f"{results.categories[p]} views {i} -> {j}: {fixed}",
                   fontsize=8)
    axes[row, 0].legend(fontsize=7, loc="upper right")
  fig.suptitle(f"{results.title}: correlation C(alpha, beta, gamma),"
               f" {grid.shape[0]}-point Euler grid", fontsize=9)
  _save(fig, path)


def _scalar_points(accumulator, tag, kind):
  """(steps, values) of one scalar tag; None for a non-scalar tensor."""
  if kind == "scalars":
    events = accumulator.Scalars(tag)
    return [e.step for e in events], [e.value for e in events]
  steps, values = [], []
  for event in accumulator.Tensors(tag):
    value = tensor_util.make_ndarray(event.tensor_proto)
    if value.size != 1 or value.dtype.kind not in "fiu":
      return None
    steps.append(event.step)
    values.append(float(value.ravel()[0]))
  return steps, values


def read_training_curves(work_dir):
  """{run dir (relative): {tag: (steps, values)}} of every TensorBoard
  events directory under `work_dir` (data/ and report/ skipped)."""
  curves = {}
  for directory, subdirs, names in os.walk(work_dir):
    if directory == work_dir:
      # Not the datasets, the report or the report's staging directory.
      subdirs[:] = [d for d in subdirs
                    if not d.startswith(("data", REPORT_DIR, "."))]
    subdirs.sort()
    if not any(n.startswith("events.out.tfevents") for n in names):
      continue
    accumulator = event_accumulator.EventAccumulator(
        directory, size_guidance={event_accumulator.SCALARS: 0,
                                  event_accumulator.TENSORS: 0})
    accumulator.Reload()
    tags = accumulator.Tags()
    run = {}
    for kind in ("scalars", "tensors"):
      for tag in tags.get(kind, ()):
        points = _scalar_points(accumulator, tag, kind)
        if points and points[0]:
          run[tag] = points
    if run:
      curves[os.path.relpath(directory, work_dir)] = run
  return curves


def training_figure(name, runs, path):
  """One panel per tag, one line per run (e.g. train, eval) of a model."""
  tags = sorted({tag for run in runs.values() for tag in run})
  columns = min(3, len(tags))
  rows = -(-len(tags) // columns)
  fig = figure_lib.Figure(figsize=(3.3 * columns, 2.5 * rows),
                          layout="constrained")
  axes = fig.subplots(rows, columns, squeeze=False).ravel()
  for ax, tag in zip(axes, tags):
    for run_name, run in sorted(runs.items()):
      if tag in run:
        steps, values = run[tag]
        ax.plot(steps, values, marker="." if len(steps) < 20 else None,
                label=os.path.basename(run_name))
    positive = all(v > 0 for run in runs.values() if tag in run
                   for v in run[tag][1])
    if "loss" in tag and positive:
      ax.set_yscale("log")
      ax.yaxis.set_minor_formatter(ticker.NullFormatter())
    ax.set_title(tag, fontsize=8)
    ax.set_xlabel("step", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=7)
  for ax in axes[len(tags):]:
    ax.set_visible(False)
  fig.suptitle(f"{name}: TensorBoard scalars", fontsize=9)
  _save(fig, path)


# ---------------------------------------------------------------- assembly


@dataclasses.dataclass
class _Section:
  title: str
  html: list = dataclasses.field(default_factory=list)
  markdown: list = dataclasses.field(default_factory=list)

  def text(self, text):
    self.html.append(f"<p>{html.escape(text)}</p>")
    self.markdown.append(text)

  def table(self, header, rows):
    self.html.append(_html_table(header, rows))
    self.markdown.append(_markdown_table(header, rows))

  def image(self, name, alt):
    self.html.append(f'<img src="{html.escape(name)}" alt="{html.escape(alt)}">')
    self.markdown.append(f"![{alt}]({name})")


def _copy_images(source_dir, patterns, staging, subdir, section):
  """Copies the files of `source_dir` matching `patterns` into the report."""
  found = sorted({p for pattern in patterns for p in glob.glob(
      os.path.join(source_dir, "**", pattern), recursive=True)})
  if not found:
    return False
  for path in found[:_MAX_COPIED]:
    relative = os.path.relpath(path, source_dir)
    target = os.path.join(staging, subdir, relative)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    shutil.copyfile(path, target)
    section.image(os.path.join(subdir, relative), relative)
  if len(found) > _MAX_COPIED:
    section.text(f"{len(found) - _MAX_COPIED} more in {source_dir}.")
  return True


def _dataset_metadata(work_dir):
  """The run's data/dataset.json, or None."""
  path = os.path.join(work_dir, "data", "dataset.json")
  return files.read_json_object(path) if os.path.isfile(path) else None


def _experiment(work_dir):
  """The run's experiment.json ({"name", "paper"}), or None."""
  path = os.path.join(work_dir, EXPERIMENT_FILE)
  if not os.path.isfile(path):
    return None
  experiment = files.read_json_object(path, error=ReportError)
  for key in ("name", "paper"):
    if not isinstance(experiment.get(key), str):
      raise ReportError(f"{path}: expected a string '{key}'")
  if experiment["paper"] not in paper_results.PAPER_RESULTS:
    raise ReportError(f"{path}: unknown paper experiment"
                      f" {experiment['paper']!r}; known:"
                      f" {', '.join(sorted(paper_results.PAPER_RESULTS))}")
  return experiment


def _dataset_line(metadata):
  test = metadata.get("splits", {}).get("test", {})
  return (f"Data: {metadata.get('source', {}).get('kind', '?')} source,"
          f" {metadata.get('dof', '?')}DOF poses, categories"
          f" {', '.join(metadata.get('categories', []))};"
          f" held-out split: {test.get('instances', '?')} instances,"
          f" {test.get('examples', '?')} views.")


def build_sections(work_dir, staging):
  """Writes the figures into `staging`; returns the report's sections."""
  metadata = _dataset_metadata(work_dir) or {}
  all_results = [read_pose_csv(p, metadata.get("dof", 3))
                 for p in find_pose_csvs(work_dir)]
  sections = []

  overview = _Section("Relative pose: overview")
  overview.text("Overall row of each evaluation on the held-out views."
                " Errors are geodesic angles between the estimated and the"
                " true relative rotation; acc@t is the % of pairs below t"
                " degrees.")
  overview.table(*overview_table(all_results))
  sections.append(overview)

  tables = _Section("Relative pose per category (paper-style tables)")
  experiment = _experiment(work_dir)
  if experiment:
    tables.text(f"'{EXPERIMENT_PAPER_COLUMN}': the paper's numbers for this"
                f" experiment ({experiment['name']}: {experiment['paper']},"
                " sph_embed/report/paper_results.py); '-' where the paper"
                " gives only the median.  The paper trained the `paper`"
                " presets for 200k GPU steps: compare budgets before"
                " numbers.")
  else:
    tables.text(f"'{PAPER_COLUMN}': the paper's median errors on renders of"
                " ShapeNet / ModelNet40 meshes (sph_embed/report/"
                "paper_results.py), NOT this data set: a scale of reference,"
                " not a comparison.")
  for results in all_results:
    caption = f"{results.title} ({results.name})"
    tables.html.append(f"<h3>{html.escape(caption)}</h3>"
                       '<div class="result">')  # Table beside histogram.
    tables.markdown.append(f"### {caption}")
    tables.table(*pose_table(results, experiment and experiment["paper"]))
    name = f"hist_{results.stem}.png"
    error_histogram(results, os.path.join(staging, name))
    tables.image(name, f"error histogram, {results.title}")
    tables.html.append("</div>")
  sections.append(tables)

  cache = {}
  alignment = _Section("Alignment examples (as the paper's Fig. 4)")
  alignment.text("Per row, one pair: the two input views, then view 1's mesh"
                 " rendered under the estimated relative pose (what the"
                 " method says view 2 shows) and under the true one.")
  slices = _Section("Correlation grid slices")
  slices.text("C(alpha, beta, gamma) of the first pairs, Euler angles ZYZ,"
              " without the upsampling and refinement of the tables.")
  notes = []
  shown = []
  for results in all_results:
    data, problem = _embeddings_for(work_dir, results, cache)
    if data is None:
      notes.append(f"{results.name}: no figures ({problem}).")
      continue
    name = f"align_{results.stem}.png"
    if alignment_figure(work_dir, results, data, os.path.join(staging, name)):
      alignment.image(name, f"alignment, {results.title}")
      shown.append(alignment)
    else:
      notes.append(f"{results.name}: no alignment figure (no dataset"
                   f" data{results.suffix}/dataset.json to reload meshes).")
    has_maps = (results.mode in _MODE_MAPS and all(
        data[key] is not None for key in _MODE_MAPS[results.mode]))
    if results.protocol == "ib" and has_maps:
      name = f"corr_{results.stem}.png"
      correlation_slices(results, data, os.path.join(staging, name))
      slices.image(name, f"correlation slices, {results.title}")
      shown.append(slices)
  sections += [s for s in (alignment, slices) if any(s is t for t in shown)]

  curves = read_training_curves(work_dir)
  by_model = {}
  for run, tags in curves.items():
    by_model.setdefault(os.path.dirname(run) or run, {})[run] = tags
  if by_model:
    training = _Section("Training curves")
    for model, runs in sorted(by_model.items()):
      name = "curves_" + re.sub(r"[^A-Za-z0-9]+", "_", model) + ".png"
      training_figure(model, runs, os.path.join(staging, name))
      training.image(name, f"training curves, {model}")
    sections.append(training)

  distributions = _Section("Pose distributions")
  if _copy_images(os.path.join(work_dir, "distributions"), ("*.png",),
                  staging, "distributions", distributions):
    sections.append(distributions)
  synthesis = _Section("Synthesized views")
  if _copy_images(os.path.join(work_dir, "synthesis"), ("*.gif", "*.png"),
                  staging, "synthesis", synthesis):
    sections.append(synthesis)
  if notes:
    missing = _Section("Not shown")
    for note in notes:
      missing.text(note)
    sections.append(missing)
  return sections


_CSS = """
body { font-family: sans-serif; max-width: 75em; margin: 1em auto;
       padding: 0 1em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1em; }
th, td { border: 1px solid #bbb; padding: 0.2em 0.6em; text-align: right; }
th { background: #eee; }
td:first-child, th:first-child { text-align: left; }
img { max-width: 100%; display: block; margin: 0.5em 0 1.5em; }
.result { display: flex; flex-wrap: wrap; gap: 2em; align-items: flex-start; }
h2 { border-bottom: 2px solid #ccc; margin-top: 1.5em; }
"""


def _render_html(title, intro, sections):
  body = [f"<h1>{html.escape(title)}</h1>"]
  body += [f"<p>{html.escape(line)}</p>" for line in intro]
  for section in sections:
    body.append(f"<h2>{html.escape(section.title)}</h2>")
    body += section.html
  return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">"
          f"\n<title>{html.escape(title)}</title>\n<style>{_CSS}</style>\n"
          "</head>\n<body>\n" + "\n".join(body) + "\n</body>\n</html>\n")


def _render_markdown(title, intro, sections):
  parts = [f"# {title}", *intro]
  for section in sections:
    parts.append(f"## {section.title}")
    parts += section.markdown
  return "\n\n".join(parts) + "\n"


def write_report(work_dir, overwrite=False):
  """Writes <work_dir>/report/ (index.html, report.md, figures).

  Returns:
    The report directory.

  Raises:
    ReportError / outputs.OutputError naming --work_dir or the file at
    fault, before anything is computed where possible.
  """
  work_dir, report_dir = check_work_dir(work_dir, overwrite)
  title = f"sph_embed report: {os.path.basename(work_dir)}"
  intro = [f"Run directory: {work_dir}; report written"
           f" {time.strftime('%Y-%m-%d %H:%M')}."]
  metadata = _dataset_metadata(work_dir)
  if metadata:
    intro.append(_dataset_line(metadata))
  with files.atomic_directory(report_dir) as staging:
    sections = build_sections(work_dir, staging)
    with open(os.path.join(staging, "index.html"), "w",
              encoding="utf-8") as f:
      f.write(_render_html(title, intro, sections))
    with open(os.path.join(staging, "report.md"), "w", encoding="utf-8") as f:
      f.write(_render_markdown(title, intro, sections))
  logging.info("wrote %s", report_dir)
  return report_dir
