"""Relative poses from per-view absolute rotations (NumPy, no TensorFlow).

A model of absolute pose (the regression baseline,
sph_embed.baselines.regression) predicts each view's canonical rotation
R_hat_i.  A pair (i, j) of the IB/CB protocols asks
for R_rel with R_j = R_rel R_i (DESIGN §1), estimated as
R_hat_j R_hat_i^T, as the paper computes the baseline's relative poses
(appendix B.1).  A frame offset Q common to all predictions,
R_hat_i = R_i Q, cancels out: only the canonical frame's consistency
across views matters.

`evaluate` runs the same protocol code as tools/correlate.py
(sph_embed.pose.evaluation), so with the same table (category, instance in
the same order) and seed it scores the same pairs as the embeddings.
"""

import numpy as np

from sph_embed.pose import evaluation as pose_evaluation
from sph_embed.sphere import rotations as rotations_lib


def relative_pose_estimates(predicted_rotations, pairs):
  """R_hat_j R_hat_i^T for index pairs (i, j) [P, 2]: [P, 3, 3] float64.

  Args:
    predicted_rotations: [N, 3, 3] predicted canonical rotations.
    pairs: int [P, 2] indices into them (pose_evaluation.make_pairs).
  """
  predicted = rotations_lib.validate_rotations(predicted_rotations,
                                               "predicted rotations")
  pairs = np.asarray(pairs)
  if pairs.ndim != 2 or pairs.shape[1] != 2:
    raise ValueError(f"pairs: expected shape [P, 2], got {pairs.shape}")
  if pairs.size and (pairs.min() < 0 or pairs.max() >= len(predicted)):
    raise ValueError(f"pairs: indices must be in [0, {len(predicted)}), got"
                     f" [{pairs.min()}, {pairs.max()}]")
  return rotations_lib.relative_rotation(predicted[pairs[:, 0]],
                                         predicted[pairs[:, 1]])


def evaluate(predicted_rotations, table, protocol="ib", pairs_per_instance=3,
             seed=0, symmetric_categories=()):
  """The IB/CB evaluation of regressed rotations.

  Args:
    predicted_rotations: [N, 3, 3] predicted canonical rotation of each view.
    table: mapping with the embeddings file's "rotations" [N, 3, 3] (truth),
      "category" [N] and "instance" [N] (sph_embed.pose.embeddings_io).
    protocol, pairs_per_instance, seed: as pose_evaluation.make_pairs.
    symmetric_categories: categories scored min(err, 180 - err).

  Returns:
    (summary rows, skip messages, pairs [P, 2], errors [P] in degrees,
    estimated relative rotations [P, 3, 3]).
  """
  if len(predicted_rotations) != len(table["rotations"]):
    raise ValueError(f"{len(predicted_rotations)} predicted rotations for"
                     f" {len(table['rotations'])} views")
  pairs, skipped = pose_evaluation.make_pairs(
      table["category"], table["instance"], protocol, pairs_per_instance,
      seed)
  estimated = relative_pose_estimates(predicted_rotations, pairs)
  truth = pose_evaluation.true_relative_rotations(table["rotations"], pairs)
  categories = np.asarray(table["category"])[pairs[:, 0]]
  errors = pose_evaluation.pose_errors(estimated, truth, categories,
                                       symmetric_categories)
  rows = pose_evaluation.summarize(categories, errors, symmetric_categories)
  return rows, skipped, pairs, errors, estimated
