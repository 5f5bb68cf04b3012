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

The sections come, in page order, from the builders of SECTION_BUILDERS
(pose_sections, figure_sections, training_sections, copied_sections; the
page itself is report_page).  The report directory is written atomically
as a whole (sph_embed.common.files.atomic_directory).
"""

import os
import time

from absl import logging

from sph_embed.common import files
from sph_embed.common import outputs
from sph_embed.report import copied_sections
from sph_embed.report import figure_sections
from sph_embed.report import paper_results
from sph_embed.report import pose_csvs
from sph_embed.report import pose_sections
from sph_embed.report import report_page
from sph_embed.report import training_sections

# A run of tools/reproduce.py names its experiment here; its tables then
# carry that experiment's published numbers (same kind of data).
EXPERIMENT_FILE = "experiment.json"


def check_work_dir(work_dir, overwrite):
  """Validates the work directory and the report's place in it.

  Returns:
    (absolute work dir, absolute report dir).

  Raises:
    outputs.OutputError / pose_csvs.ReportError naming --work_dir and the
    problem.
  """
  where = f"--work_dir={work_dir}"
  if not work_dir:
    raise pose_csvs.ReportError(
        "--work_dir is empty; give a run of tools/pipeline.py")
  absolute = os.path.abspath(work_dir)
  if not os.path.exists(absolute):
    raise pose_csvs.ReportError(f"{where}: does not exist; give the"
                                " --work_dir of a run of tools/pipeline.py")
  if not os.path.isdir(absolute):
    raise pose_csvs.ReportError(f"{where}: is a file, not a run directory")
  if not pose_csvs.find_pose_csvs(absolute):
    raise pose_csvs.ReportError(
        f"{where}: no pose_<protocol>_<mode>.csv results to report"
        " (tools/pipeline.py writes them)")
  report_dir = outputs.check_replaced_dir(
      os.path.join(absolute, report_page.REPORT_DIR), "work_dir",
      ("index.html",))
  if os.path.exists(report_dir) and not overwrite:
    raise outputs.OutputError(f"{where}: {report_dir} already exists; pass"
                              " --overwrite to replace it")
  return absolute, report_dir


def _dataset_metadata(work_dir):
  """The run's data/dataset.json, or None."""
  path = os.path.join(work_dir, "data", "dataset.json")
  return files.read_json_object(path) if os.path.isfile(path) else None


def _experiment(work_dir):
  """The run's experiment.json ({"name", "paper"}), or None."""
  path = os.path.join(work_dir, EXPERIMENT_FILE)
  if not os.path.isfile(path):
    return None
  experiment = files.read_json_object(path, error=pose_csvs.ReportError)
  for key in ("name", "paper"):
    if not isinstance(experiment.get(key), str):
      raise pose_csvs.ReportError(f"{path}: expected a string '{key}'")
  if experiment["paper"] not in paper_results.PAPER_RESULTS:
    raise pose_csvs.ReportError(
        f"{path}: unknown paper experiment {experiment['paper']!r}; known:"
        f" {', '.join(sorted(paper_results.PAPER_RESULTS))}")
  return experiment


def _dataset_line(metadata):
  test = metadata.get("splits", {}).get("test", {})
  return (f"Data: {metadata.get('source', {}).get('kind', '?')} source,"
          f" {metadata.get('dof', '?')}DOF poses, categories"
          f" {', '.join(metadata.get('categories', []))};"
          f" held-out split: {test.get('instances', '?')} instances,"
          f" {test.get('examples', '?')} views.")


def _not_shown(inputs):
  """The notes of the builders before it: what is missing and why."""
  if not inputs.notes:
    return []
  section = report_page.Section("Not shown")
  for note in inputs.notes:
    section.text(note)
  return [section]


# The report's sections in page order: each builder takes report_page.Inputs
# and returns a list of report_page.Section (empty without its data).
SECTION_BUILDERS = (
    pose_sections.overview,
    pose_sections.per_category,
    pose_sections.absolute,
    figure_sections.alignment_and_slices,
    training_sections.training_curves,
    training_sections.pose_vs_steps,
    training_sections.time_to_accuracy,
    copied_sections.distributions,
    copied_sections.image2sphere,
    copied_sections.synthesis,
    _not_shown,  # Last: it reports the notes of the others.
)


def build_sections(work_dir, staging):
  """Writes the figures into `staging`; returns the report's sections."""
  metadata = _dataset_metadata(work_dir) or {}
  inputs = report_page.Inputs(
      work_dir=work_dir, staging=staging,
      results=[pose_csvs.read_pose_csv(p, metadata.get("dof", 3))
               for p in pose_csvs.find_pose_csvs(work_dir)],
      experiment=_experiment(work_dir), notes=[])
  return [section for builder in SECTION_BUILDERS
          for section in builder(inputs)]


def write_report(work_dir, overwrite=False):
  """Writes <work_dir>/report/ (index.html, report.md, figures).

  Returns:
    The report directory.

  Raises:
    pose_csvs.ReportError / outputs.OutputError naming --work_dir or the
    file at fault, before anything is computed where possible.
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
      f.write(report_page.render_html(title, intro, sections))
    with open(os.path.join(staging, "report.md"), "w", encoding="utf-8") as f:
      f.write(report_page.render_markdown(title, intro, sections))
  logging.info("wrote %s", report_dir)
  return report_dir
