"""The report's pose tables as (header, rows of cells), beside the paper's.

Relative pose per category of one CSV (with the paper's numbers), the
overall row of every CSV, and absolute pose per category.
"""

import numpy as np

from sph_embed.report import paper_results

NUMERIC_COLUMNS = ("pairs", "median (deg)", "acc@15 (%)", "acc@30 (%)")
PAPER_COLUMN = "paper median (deg), other data"
# The column of a run of tools/reproduce.py: its experiment's published
# numbers (same kind of data).
EXPERIMENT_PAPER_COLUMN = "paper median / acc@15 / acc@30"
ABSOLUTE_COLUMNS = ("views", "median (deg)", "acc@15 (%)", "acc@30 (%)",
                    "log-likelihood")
_NOT_REPORTED = "not reported"


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


def _likelihood_cell(value):
  return "-" if np.isnan(value) else f"{value:.2f}"


def absolute_table(results):
  """(header, rows of cells) of one absolute-pose CSV, per category."""
  rows = []
  for row in results.rows():
    category = None if row.name == "overall" else row.name
    rows.append([row.name, str(row.pairs), f"{row.median:.2f}"]
                + [f"{a:.1f}" for a in row.accuracy]
                + [_likelihood_cell(results.mean_log_likelihood(category))])
  return ["category"] + list(ABSOLUTE_COLUMNS), rows
