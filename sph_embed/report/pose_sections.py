"""The report's sections of pose tables: the overview, one table and error
histogram per relative-pose CSV, and the absolute-pose tables.

Each builder takes report_page.Inputs and returns its sections.
"""

import html
import os

from sph_embed.report import absolute_csv
from sph_embed.report import figures
from sph_embed.report import pose_csvs
from sph_embed.report import pose_tables
from sph_embed.report import report_page


def overview(inputs):
  """The overall row of every relative-pose CSV."""
  section = report_page.Section("Relative pose: overview")
  section.text("Overall row of each evaluation on the held-out views."
               " Errors are geodesic angles between the estimated and the"
               " true relative rotation; acc@t is the % of pairs below t"
               " degrees.")
  section.table(*pose_tables.overview_table(inputs.results))
  return [section]


def per_category(inputs):
  """Each relative-pose CSV's paper-style table beside its histogram."""
  tables = report_page.Section(
      "Relative pose per category (paper-style tables)")
  experiment = inputs.experiment
  if experiment:
    tables.text(f"'{pose_tables.EXPERIMENT_PAPER_COLUMN}': the paper's"
                f" numbers for this experiment ({experiment['name']}:"
                f" {experiment['paper']}, sph_embed/report/paper_results.py);"
                " '-' where the paper gives only the median.  The paper"
                " trained the `paper` presets for 200k GPU steps: compare"
                " budgets before numbers.")
  else:
    tables.text(f"'{pose_tables.PAPER_COLUMN}': the paper's median errors on"
                " renders of ShapeNet / ModelNet40 meshes (sph_embed/report/"
                "paper_results.py), NOT this data set: a scale of reference,"
                " not a comparison.")
  for results in inputs.results:
    caption = f"{results.title} ({results.name})"
    tables.html.append(f"<h3>{html.escape(caption)}</h3>"
                       '<div class="result">')  # Table beside histogram.
    tables.markdown.append(f"### {caption}")
    tables.table(*pose_tables.pose_table(
        results, experiment and experiment["paper"]))
    name = f"hist_{results.stem}.png"
    figures.error_histogram(results, os.path.join(inputs.staging, name))
    tables.image(name, f"error histogram, {results.title}")
    tables.html.append("</div>")
  return [tables]


def absolute(inputs):
  """The absolute-pose tables; none without absolute_*.csv files."""
  paths = pose_csvs.find_absolute_csvs(inputs.work_dir)
  if not paths:
    return []
  section = report_page.Section(
      "Absolute pose (networks trained with pose labels)")
  section.text("Geodesic error of each held-out view's predicted canonical"
               " rotation; log-likelihood of the true rotation under the"
               " predicted distribution, in the Implicit-PDF / Image2Sphere"
               " convention (a uniform distribution scores -2.29; '-' for a"
               " network without one).  Our embeddings give relative poses"
               " only, so they have no row here.")
  results = [absolute_csv.read(p) for p in paths]
  header = ["results", "file"] + list(pose_tables.ABSOLUTE_COLUMNS)
  rows = []
  for path, result in zip(paths, results):
    overall = pose_tables.absolute_table(result)[1][-1]
    rows.append([pose_csvs.absolute_title(path), os.path.basename(path)]
                + overall[1:])
  section.table(header, rows)
  for path, result in zip(paths, results):
    caption = f"{pose_csvs.absolute_title(path)} ({os.path.basename(path)})"
    section.html.append(f"<h3>{html.escape(caption)}</h3>")
    section.markdown.append(f"### {caption}")
    section.table(*pose_tables.absolute_table(result))
  return [section]
