"""The pose-result CSVs of a work directory: found by name, ordered, read.

Relative pose: `pose_<protocol>_<mode>[_2dof].csv`
(sph_embed.report.correlate_embeddings), read as PoseResults; absolute
pose: `absolute_<mode>[_2dof].csv` (sph_embed.report.absolute_csv).
"""

import csv
import dataclasses
import glob
import os
import re

import numpy as np

from sph_embed.pose import evaluation as pose_evaluation
from sph_embed.report import absolute_csv
from sph_embed.report import correlate_embeddings

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
    ReportError naming the file: a name that is not a pose CSV's, a missing
    column, no rows, or a value that is not a finite number.
  """
  match = CSV_PATTERN.fullmatch(os.path.basename(path))
  if match is None:
    raise ReportError(f"{path}: not named pose_<protocol>_<mode>[_2dof].csv"
                      " as tools/correlate.py's CSVs are")
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
