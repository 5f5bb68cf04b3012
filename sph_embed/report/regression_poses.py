"""Relative poses of a dataset split's view pairs from regressed rotations.

The library side of tools/evaluate_regression.py: a rotation predictor (the
regression baseline, sph_embed.baselines.export.load_predictor) is run over
every view of a split, in the dataset's fixed order, the order
tools/save_embeddings.py writes an embeddings file in
(sph_embed.embedding.inference.embed_split); the pairs of a protocol are
then formed by the same code and seed as tools/correlate.py
(sph_embed.pose.evaluation.make_pairs), so the two tools score the same
pairs of the same views; each pair's relative pose is R_hat_j R_hat_i^T
(sph_embed.pose.relative_from_absolute), and the CSV is correlate's
(sph_embed.report.correlate_embeddings.write_csv), so the report
(sph_embed.report.html_report, `pose_<protocol>_regression.csv`) reads it
beside the embeddings' tables.
"""

import numpy as np

from sph_embed.data import input_pipeline
from sph_embed.pose import evaluation as pose_evaluation
from sph_embed.pose import relative_from_absolute
from sph_embed.report import correlate_embeddings


def predict_split(predict, data_dir, split, batch_size=64):
  """Predicted and true rotations of every view of a split, in order.

  Args:
    predict: images [b, S, S, 1] -> rotations [b, 3, 3].
    data_dir: dataset directory.
    split: "train" or "test".
    batch_size: views per call of `predict`.

  Returns:
    dict: `predicted` and `rotations` float64 [N, 3, 3], `category` and
    `instance` str [N] (the embeddings file's keys and order).
  """
  out = {k: [] for k in ("predicted", "rotations", "category", "instance")}
  # The order of embed_split: no shuffling, deterministic reads.
  for batch in input_pipeline.make_dataset(data_dir, split, batch_size,
                                           shuffle=False, deterministic=True):
    out["predicted"].append(np.asarray(predict(batch["image"].numpy()),
                                       np.float64))
    out["rotations"].append(batch["rotation"].numpy().astype(np.float64))
    out["category"] += [c.decode("utf-8") for c in batch["category"].numpy()]
    out["instance"] += [i.decode("utf-8") for i in batch["instance"].numpy()]
  if not out["category"]:
    raise input_pipeline.DataError(f"{data_dir}: split {split!r} has no"
                                   " examples")
  return {"predicted": np.concatenate(out["predicted"]),
          "rotations": np.concatenate(out["rotations"]),
          "category": np.array(out["category"]),
          "instance": np.array(out["instance"])}


def source_name(data_dir, split):
  """How messages and the tool's heading name the views."""
  return f"{data_dir} ({split} split)"


def check_image_size(data_dir, image_size):
  """The dataset's metadata; DataError unless its views fit the network."""
  metadata = input_pipeline.read_metadata(data_dir)
  if metadata["image_size"] != image_size:
    raise input_pipeline.DataError(
        f"{data_dir}/dataset.json: views are {metadata['image_size']} x"
        f" {metadata['image_size']}, the network takes {image_size} x"
        f" {image_size}")
  return metadata


def run(predict, image_size, data_dir, split="test", protocol="ib",
        pairs_per_instance=3, seed=0, symmetric_categories=(), output=None,
        batch_size=64):
  """Scores a predictor's relative poses; returns (summary rows, skipped).

  Args:
    predict, batch_size: as `predict_split`.
    image_size: the views the predictor takes (S).
    data_dir, split: the views.
    protocol, pairs_per_instance, seed, symmetric_categories: as
      tools/correlate.py's flags of the same names.
    output: CSV path (correlate's columns), or None.
  """
  check_image_size(data_dir, image_size)
  table = predict_split(predict, data_dir, split, batch_size)
  source = source_name(data_dir, split)
  correlate_embeddings.check_symmetric_categories(
      source, table["category"], symmetric_categories)
  rows, skipped, pairs, errors, estimated = relative_from_absolute.evaluate(
      table["predicted"], table, protocol, pairs_per_instance, seed,
      symmetric_categories)
  correlate_embeddings.check_pairs(source, protocol, pairs, skipped)
  if output:
    correlate_embeddings.write_csv(
        output, table, pairs, errors, estimated,
        pose_evaluation.true_relative_rotations(table["rotations"], pairs))
  return rows, skipped
