"""Relative-pose evaluation protocols and metrics of the paper (NumPy).

Protocols (DESIGN §3) over a set of views, each with a category, an
instance id and a pose R (the object is rotated by R before rendering):

- instance-based (IB): each instance's first view against up to `pairs`
  other views of the same instance;
- category-based (CB): each instance's first view against one random view
  of each of up to `pairs` other instances of the same category (the
  ground truth assumes meshes aligned within a category).

A pair (i, j) asks for R_rel with R_j = R_rel R_i, i.e. R_j R_i^T.  Errors
are geodesic angles in degrees; for the categories named as symmetric (the
paper: airplanes only) min(err, 180 - err), and the table says which
categories were scored that way.
Metrics: median error, acc@15 and acc@30 (% of pairs with error below 15 /
30 degrees).  Cases that cannot produce a pair (an instance with one view
under IB, a category with one instance under CB) are returned as skip
messages, never silently dropped.
"""

import collections
import dataclasses

import numpy as np
from scipy.spatial.transform import Rotation

from sph_embed.sphere import rotations as rotations_lib

PROTOCOLS = ("ib", "cb")
THRESHOLDS = (15.0, 30.0)


def _instances_in_order(category, instance):
  """{(category, instance): [view indices]} in order of first appearance."""
  groups = collections.OrderedDict()
  for index, key in enumerate(zip(category, instance)):
    groups.setdefault(key, []).append(index)
  return groups


def make_pairs(category, instance, protocol, pairs=3, seed=0):
  """Index pairs (first view, second view) of a protocol.

  Args:
    category: [N] category names.
    instance: [N] instance ids (unique within a category).
    protocol: "ib" or "cb".
    pairs: maximum number of pairs per instance.
    seed: seed of the random choices.

  Returns:
    (int array [P, 2], list of skip messages).
  """
  if protocol not in PROTOCOLS:
    raise ValueError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")
  if pairs < 1:
    raise ValueError(f"pairs must be >= 1, got {pairs}")
  rng = np.random.default_rng(seed)
  groups = _instances_in_order(category, instance)
  out, skipped = [], []
  if protocol == "ib":
    for (cat, inst), views in groups.items():
      if len(views) < 2:
        skipped.append(f"IB: instance {str(inst)!r} ({cat}) has 1 view:"
                       f" no pair")
        continue
      others = rng.permutation(views[1:])[:pairs]
      out.extend((views[0], int(j)) for j in others)
  else:
    by_category = collections.OrderedDict()
    for (cat, inst), views in groups.items():
      by_category.setdefault(cat, []).append(views)
    for cat, instances in by_category.items():
      if len(instances) < 2:
        skipped.append(f"CB: category {str(cat)!r} has 1 instance:"
                       f" no pair")
        continue
      if len(instances) - 1 < pairs:
        skipped.append(f"CB: category {str(cat)!r} has {len(instances)}"
                       f" instances: {len(instances) - 1} pair(s) per"
                       f" instance instead of {pairs}")
      for a, views in enumerate(instances):
        candidates = [b for b in range(len(instances)) if b != a]
        for b in rng.permutation(candidates)[:pairs]:
          out.append((views[0], int(rng.choice(instances[b]))))
  return np.array(out, dtype=np.int64).reshape(-1, 2), skipped


def true_relative_rotations(rotations, pairs):
  """R_j R_i^T for index pairs [P, 2]: [P, 3, 3]."""
  rotations = np.asarray(rotations, dtype=np.float64)
  return rotations_lib.relative_rotation(rotations[pairs[:, 0]],
                                         rotations[pairs[:, 1]])


def error_axes_in_object_frame(estimated, truth, second_rotations):
  """[P, 3] unit axis of each pair's error in the object's canonical frame.

  If either view's embedding shows the object turned by H in its own frame
  (a front-for-back car: H a half-turn about up), the correlation returns
  R_est = R2 H R1^T for either view, so R2^T (R_est R_rel^T) R2 = H: its
  axis is the shape's near-symmetry the pair fell for.  Signs are fixed so
  that each axis's largest component is positive.

  Args:
    estimated, truth: [P, 3, 3] estimated and true R_rel = R2 R1^T.
    second_rotations: [P, 3, 3] the second view's pose R2.
  """
  second = np.asarray(second_rotations, np.float64)
  error = rotations_lib.relative_rotation(truth, estimated)  # R_est R_rel^T
  in_object = np.swapaxes(second, 1, 2) @ error @ second
  axes = Rotation.from_matrix(in_object).as_rotvec()
  axes /= np.maximum(np.linalg.norm(axes, axis=1, keepdims=True), 1e-12)
  largest = np.take_along_axis(
      axes, np.abs(axes).argmax(axis=1)[:, None], axis=1)
  return axes * np.where(largest < 0, -1.0, 1.0)


def pose_errors(estimated, truth, categories=None, symmetric_categories=()):
  """Geodesic errors in degrees, folded for symmetric categories.

  Args:
    estimated, truth: rotations [P, 3, 3].
    categories: [P] category of each pair (needed if symmetric_categories).
    symmetric_categories: names whose pairs score min(err, 180 - err).
  """
  errors = rotations_lib.geodesic_degrees(estimated, truth)
  if not symmetric_categories:
    return errors
  if categories is None:
    raise ValueError("pose_errors: symmetric_categories needs the pairs'"
                     " categories")
  folded = np.isin(np.asarray(categories).astype(str),
                   list(symmetric_categories))
  return np.where(folded, np.minimum(errors, 180.0 - errors), errors)


@dataclasses.dataclass(frozen=True)
class Summary:
  """One row of the evaluation table."""
  name: str
  pairs: int
  median: float
  accuracy: tuple  # % of pairs below each of THRESHOLDS
  # Scored up to symmetry, min(err, 180 - err): "yes", "no", or "mixed"
  # (the overall row of a table with both kinds of category).
  symmetric: str = "no"
  # Some of its pairs have maps without orientation (constant over the
  # sphere): its numbers mean nothing.
  meaningless: bool = False


def summarize(categories, errors, symmetric_categories=(), meaningless=None):
  """Per-category rows (sorted by name) and an "overall" row.

  `symmetric_categories` are the categories whose `errors` were folded
  (pose_errors); the rows record it.  `meaningless`: [P] bool, the pairs
  whose errors mean nothing; a row with any of them is marked.
  """
  categories = np.asarray(categories).astype(str)
  errors = np.asarray(errors, dtype=np.float64)
  folded = np.isin(categories, list(symmetric_categories))
  meaningless = (np.zeros(errors.shape, bool) if meaningless is None
                 else np.asarray(meaningless, bool))

  def row(name, chosen):
    values, flags = errors[chosen], folded[chosen]
    symmetric = ("yes" if flags.all() else "no" if not flags.any()
                 else "mixed")
    return Summary(name, int(values.size), float(np.median(values)),
                   tuple(float(100.0 * np.mean(values < t))
                         for t in THRESHOLDS), symmetric,
                   bool(meaningless[chosen].any()))

  rows = [row(c, categories == c) for c in sorted(set(categories.tolist()))]
  if errors.size:
    rows.append(row("overall", np.ones(errors.shape, bool)))
  return rows


def format_table(rows):
  """The paper-style table as text, with a column saying which rows were
  scored up to symmetry."""
  width = max([len("category")] + [len(r.name) for r in rows])
  marked = any(r.meaningless for r in rows)   # Its column only then.
  header = (f"{'category':<{width}}  {'pairs':>6}  {'median err (deg)':>16}"
            + "".join(f"  {f'acc@{t:g} (%)':>11}" for t in THRESHOLDS)
            + f"  {'symmetric':>9}" + ("  meaningless" if marked else ""))
  lines = [header, "-" * len(header)]
  for r in rows:
    lines.append(f"{r.name:<{width}}  {r.pairs:>6d}  {r.median:>16.2f}"
                 + "".join(f"  {a:>11.1f}" for a in r.accuracy)
                 + f"  {r.symmetric:>9}"
                 + (f"  {'yes' if r.meaningless else 'no':>11}" if marked
                    else ""))
  if any(r.symmetric != "no" for r in rows):
    lines.append("symmetric = yes: error scored as min(err, 180 - err)")
  if marked:
    lines.append("meaningless = yes: some of its pairs have maps constant"
                 " over the sphere (no orientation); its numbers mean"
                 " nothing")
  return "\n".join(lines)
