"""Per-view absolute-pose CSVs: `absolute_<mode>[_2dof].csv` (NumPy only).

The models trained with pose labels (the regression baseline, Image2Sphere)
predict each view's canonical rotation; tools/evaluate_regression.py and
tools/evaluate_image2sphere.py write one row per view with the geodesic
error of the prediction and, for a model of a distribution, the
log-likelihood of the true rotation (sph_embed.pose.absolute_distributions'
convention: uniform = -2.29).  The report (sph_embed.report.html_report)
reads them into its absolute-pose tables.  Our embeddings have no absolute
pose (only relative poses between views), so they have no such file.
"""

import csv
import dataclasses
import re

import numpy as np

from sph_embed.common import files
from sph_embed.pose import evaluation as pose_evaluation

PATTERN = re.compile(r"absolute_(?P<mode>[a-z0-9_]+?)(?P<dof>_2dof)?\.csv")
_ROTATION = [f"r{i}{j}" for i in range(3) for j in range(3)]
FIELDS = (["index", "category", "instance", "error_deg", "log_likelihood"]
          + [f"est_{c}" for c in _ROTATION] + [f"true_{c}" for c in _ROTATION])


@dataclasses.dataclass(frozen=True)
class AbsoluteResults:
  """One absolute-pose CSV."""
  path: str
  categories: np.ndarray       # [N] str
  errors: np.ndarray           # [N] degrees
  log_likelihoods: np.ndarray  # [N], NaN where the model has none

  @classmethod
  def of_table(cls, table, path=None):
    """The results of an `absolute_poses.predict_split` table (with its
    "error_deg" and, for a distribution, "log_likelihood")."""
    likelihoods = table.get("log_likelihood")
    return cls(path=path, categories=np.asarray(table["category"]),
               errors=np.asarray(table["error_deg"], np.float64),
               log_likelihoods=(np.full(len(table["error_deg"]), np.nan)
                                if likelihoods is None
                                else np.asarray(likelihoods, np.float64)))

  def rows(self):
    """Per-category summary rows and "overall" (pose_evaluation.summarize;
    its `pairs` field counts views here)."""
    return pose_evaluation.summarize(self.categories, self.errors)

  def mean_log_likelihood(self, category=None):
    """Mean log-likelihood of a category's views (all views for None);
    NaN for a model without distributions."""
    keep = (slice(None) if category is None
            else self.categories == category)
    values = self.log_likelihoods[keep]
    return float(values.mean()) if values.size else float("nan")


def write(path, table):
  """Writes one row per view atomically (sph_embed.common.files).

  Args:
    path: the .csv to write.
    table: mapping with "predicted" and "rotations" [N, 3, 3], "error_deg",
      "category", "instance" [N] and optionally "log_likelihood" [N] (the
      column is left empty without it): absolute_poses.predict_split.
  """
  errors, log_likelihoods = table["error_deg"], table.get("log_likelihood")
  with files.atomic_write(path, newline="") as f:
    writer = csv.writer(f)
    writer.writerow(FIELDS)
    for i, (error, est, true) in enumerate(
        zip(errors, table["predicted"], table["rotations"])):
      likelihood = ("" if log_likelihoods is None
                    else f"{log_likelihoods[i]:.4f}")
      writer.writerow([i, table["category"][i], table["instance"][i],
                       f"{error:.4f}", likelihood]
                      + [f"{v:.7f}" for v in np.ravel(est)]
                      + [f"{v:.7f}" for v in np.ravel(true)])


def read(path):
  """An absolute-pose CSV as AbsoluteResults; ValueError naming the file
  and the problem."""
  try:
    with open(path, newline="", encoding="utf-8") as f:
      rows = list(csv.DictReader(f))
  except (OSError, UnicodeDecodeError, csv.Error) as e:
    raise ValueError(f"{path}: cannot read ({e})") from e
  if not rows:
    raise ValueError(f"{path}: no rows")
  missing = [c for c in ("category", "error_deg", "log_likelihood")
             if c not in rows[0]]
  if missing:
    raise ValueError(f"{path}: missing columns {missing}")
  try:
    errors = np.array([float(r["error_deg"]) for r in rows])
    likelihoods = np.array([float(r["log_likelihood"] or "nan")
                            for r in rows])
  except (TypeError, ValueError) as e:
    raise ValueError(f"{path}: bad number ({e})") from e
  if not np.all(np.isfinite(errors)):
    raise ValueError(f"{path}: non-finite error_deg")
  return AbsoluteResults(path=path,
                         categories=np.array([r["category"] for r in rows]),
                         errors=errors, log_likelihoods=likelihoods)
