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
  absolute pose one table per `absolute_<mode>[_2dof].csv` (the networks
                trained with pose labels: regression, Image2Sphere;
                sph_embed.report.absolute_csv): per category views, median
                error, acc@15, acc@30, mean log-likelihood of the truth;
  alignment     the paper's Fig. 4: for one pair per category, the two
                views, and view 1's mesh rendered under the estimated and
                under the true relative pose (needs the CSV's embeddings
                file embeddings_test[_2dof].npz, for the poses, and its
                dataset data[_2dof]/, for the meshes);
  correlation   slices through the SO(3) correlation grid of a few IB pairs
                (sph_embed.pose.correlation, no upsampling);
  training      curves of every TensorBoard scalar under the work directory
                (e.g. embedding/train, embedding/eval);
  pose vs steps the pose embedding's 3DOF IB error at its kept checkpoints
                (<work_dir>/pose_vs_steps.csv, tools/pose_curve.py);
  distributions PNGs in <work_dir>/distributions/ (tools/correlate.py
                --distribution_plots), in <work_dir>/
                distributions_image2sphere/ (tools/evaluate_image2sphere.py
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

from sph_embed.common import files
from sph_embed.common import outputs
from sph_embed.pose import evaluation as pose_evaluation
from sph_embed.report import absolute_csv
from sph_embed.report import correlate_embeddings
from sph_embed.report import figures
from sph_embed.report import paper_results
from sph_embed.report import pose_curve

REPORT_DIR = "report"
POSE_CURVE_CSV = "pose_vs_steps.csv"  # tools/pose_curve.py, in the pipeline
# pose_<protocol>_<mode>[_2dof].csv; a mode may hold underscores.
CSV_PATTERN = re.compile(
    r"pose_(?P<protocol>ib|cb)_(?P<mode>[a-z0-9_]+?)(?P<dof>_2dof)?\.csv")
MODE_LABELS = {
    "image": "ours, image to image",
    "mesh": "ours, image to mesh",
    "teacher": "teacher maps on both sides (bound)",
    "regression": "regression baseline",
    "image2sphere": "Image2Sphere (argmax of its distribution)",
}
_MODE_ORDER = ("image", "regression", "image2sphere", "mesh", "teacher")
NUMERIC_COLUMNS = ("pairs", "median (deg)", "acc@15 (%)", "acc@30 (%)")
PAPER_COLUMN = "paper median (deg), other data"
# A run of tools/reproduce.py names its experiment here; its tables then
# carry that experiment's published numbers (same kind of data).
EXPERIMENT_FILE = "experiment.json"
EXPERIMENT_PAPER_COLUMN = "paper median / acc@15 / acc@30"
_NOT_REPORTED = "not reported"
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


def _mode_rank(mode):
  """Where a mode's tables go: _MODE_ORDER first, other modes after."""
  return _MODE_ORDER.index(mode) if mode in _MODE_ORDER else len(_MODE_ORDER)


def _sort_key(path):
  match = CSV_PATTERN.fullmatch(os.path.basename(path))
  return (bool(match["dof"]), match["protocol"] != "ib",
          _mode_rank(match["mode"]), match["mode"])


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


def find_absolute_csvs(work_dir):
  """The work directory's absolute_<mode>[_2dof].csv files, 3DOF first."""
  found = [p for p in glob.glob(os.path.join(work_dir, "absolute_*.csv"))
           if absolute_csv.PATTERN.fullmatch(os.path.basename(p))]

  def key(path):
    match = absolute_csv.PATTERN.fullmatch(os.path.basename(path))
    return (bool(match["dof"]), _mode_rank(match["mode"]), match["mode"])

  return sorted(found, key=key)


def absolute_title(path):
  """'3DOF, regression baseline' for absolute_regression.csv."""
  match = absolute_csv.PATTERN.fullmatch(os.path.basename(path))
  dof = 2 if match["dof"] else 3
  return f"{dof}DOF, {MODE_LABELS.get(match['mode'], match['mode'])}"


def _likelihood_cell(value):
  return "-" if np.isnan(value) else f"{value:.2f}"


ABSOLUTE_COLUMNS = ("views", "median (deg)", "acc@15 (%)", "acc@30 (%)",
                    "log-likelihood")


def absolute_table(results):
  """(header, rows of cells) of one absolute-pose CSV, per category."""
  rows = []
  for row in results.rows():
    category = None if row.name == "overall" else row.name
    rows.append([row.name, str(row.pairs), f"{row.median:.2f}"]
                + [f"{a:.1f}" for a in row.accuracy]
                + [_likelihood_cell(results.mean_log_likelihood(category))])
  return ["category"] + list(ABSOLUTE_COLUMNS), rows


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
    figures.error_histogram(results, os.path.join(staging, name))
    tables.image(name, f"error histogram, {results.title}")
    tables.html.append("</div>")
  sections.append(tables)
  absolute = _absolute_section(work_dir)
  if absolute:
    sections.append(absolute)

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
    data, problem = figures.embeddings_for(work_dir, results, cache)
    if data is None:
      notes.append(f"{results.name}: no figures ({problem}).")
      continue
    name = f"align_{results.stem}.png"
    if figures.alignment_figure(work_dir, results, data, os.path.join(staging, name)):
      alignment.image(name, f"alignment, {results.title}")
      shown.append(alignment)
    else:
      notes.append(f"{results.name}: no alignment figure (no dataset"
                   f" data{results.suffix}/dataset.json to reload meshes).")
    has_maps = (results.mode in figures.MODE_MAPS and all(
        data[key] is not None for key in figures.MODE_MAPS[results.mode]))
    if results.protocol == "ib" and has_maps:
      name = f"corr_{results.stem}.png"
      figures.correlation_slices(results, data, os.path.join(staging, name))
      slices.image(name, f"correlation slices, {results.title}")
      shown.append(slices)
  sections += [s for s in (alignment, slices) if any(s is t for t in shown)]

  curves = figures.read_training_curves(
      work_dir, skipped=("data", REPORT_DIR, "."))  # And the staging dir.
  by_model = {}
  for run, tags in curves.items():
    by_model.setdefault(os.path.dirname(run) or run, {})[run] = tags
  if by_model:
    training = _Section("Training curves")
    for model, runs in sorted(by_model.items()):
      name = "curves_" + re.sub(r"[^A-Za-z0-9]+", "_", model) + ".png"
      figures.training_figure(model, runs, os.path.join(staging, name))
      training.image(name, f"training curves, {model}")
    sections.append(training)
  curve = _pose_curve_section(work_dir, staging)
  if curve:
    sections.append(curve)

  distributions = _Section("Pose distributions")
  if _copy_images(os.path.join(work_dir, "distributions"), ("*.png",),
                  staging, "distributions", distributions):
    sections.append(distributions)
  image2sphere = _Section("Image2Sphere: distributions of single views")
  image2sphere.text("Each view's predicted distribution over SO(3) (Euler"
                    " grid masses, the larger the dot the more mass): dot"
                    " position = where the rotated x axis points, colour ="
                    " the tilt about it; the ring marks the true rotation.")
  if _copy_images(os.path.join(work_dir, "distributions_image2sphere"),
                  ("*.png",), staging, "distributions_image2sphere",
                  image2sphere):
    sections.append(image2sphere)
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


def _pose_curve_section(work_dir, staging):
  """The pose embedding's error at its kept checkpoints (tools/
  pose_curve.py's <work_dir>/pose_vs_steps.csv), or None."""
  path = os.path.join(work_dir, POSE_CURVE_CSV)
  if not os.path.isfile(path):
    return None
  rows = pose_curve.read_csv(path)
  section = _Section("Pose error vs training steps")
  section.text("3DOF instance-based relative pose of the held-out views,"
               " scored at each kept checkpoint of the embedding network"
               " exactly as the final one (tools/pose_curve.py).")
  section.table(("step", "pairs", "median (deg)", "acc@15 (%)",
                 "acc@30 (%)"),
                [(str(row["step"]), str(row["pairs"]),
                  f"{row['median_deg']:.2f}",
                  f"{row['acc15']:.1f}", f"{row['acc30']:.1f}")
                 for row in rows])
  name = "pose_vs_steps.png"
  figures.pose_curve_figure(rows, "relative pose error vs training step",
                            os.path.join(staging, name))
  section.image(name, "pose error vs training step")
  return section


def _absolute_section(work_dir):
  """The absolute-pose tables, or None without absolute_*.csv files."""
  paths = find_absolute_csvs(work_dir)
  if not paths:
    return None
  section = _Section("Absolute pose (networks trained with pose labels)")
  section.text("Geodesic error of each held-out view's predicted canonical"
               " rotation; log-likelihood of the true rotation under the"
               " predicted distribution, in the Implicit-PDF / Image2Sphere"
               " convention (a uniform distribution scores -2.29; '-' for a"
               " network without one).  Our embeddings give relative poses"
               " only, so they have no row here.")
  results = [absolute_csv.read(p) for p in paths]
  header = ["results", "file"] + list(ABSOLUTE_COLUMNS)
  rows = []
  for path, result in zip(paths, results):
    overall = absolute_table(result)[1][-1]
    rows.append([absolute_title(path), os.path.basename(path)] + overall[1:])
  section.table(header, rows)
  for path, result in zip(paths, results):
    caption = f"{absolute_title(path)} ({os.path.basename(path)})"
    section.html.append(f"<h3>{html.escape(caption)}</h3>")
    section.markdown.append(f"### {caption}")
    section.table(*absolute_table(result))
  return section


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
