"""Relative pose of an embeddings file's view pairs by SO(3) correlation.

The library side of tools/correlate.py: loads the file, forms pairs by a
protocol (sph_embed.pose.evaluation), aligns them (sph_embed.pose.correlation),
scores them, and writes one CSV row per pair and, on request, the top modes
of each pair's pose distribution and SO(3) plots of them.  NumPy, pyshtools
and matplotlib: no TensorFlow.
"""

import csv
import os
import sys

from absl import logging
import numpy as np
import tqdm

from sph_embed.common import files
from sph_embed.pose import correlation
from sph_embed.pose import pair_distributions
from sph_embed.pose import embeddings_io
from sph_embed.pose import evaluation as pose_evaluation
from sph_embed.report import so3_plot

CSV_FIELDS = (["index1", "index2", "category", "instance1", "instance2",
               "error_deg"]
              + [f"est_r{i}{j}" for i in range(3) for j in range(3)]
              + [f"true_r{i}{j}" for i in range(3) for j in range(3)])


def write_csv(path, data, pairs, errors, estimated, truth, modes=None,
              mode_errors=None, meaningless=None):
  """One row per pair, written atomically (sph_embed.common.files).

  With `modes` (pair_distributions.ModeTable) and their errors, the columns of
  `pair_distributions.mode_csv_fields` follow.  With `meaningless` ([P]
  bool) true for any pair, a last column `meaningless` (1: the pair's error
  means nothing) follows.
  """
  extra = ([] if modes is None
           else pair_distributions.mode_csv_fields(modes.masses.shape[1]))
  marked = meaningless is not None and np.any(meaningless)
  with files.atomic_write(path, newline="") as f:
    writer = csv.writer(f)
    writer.writerow(CSV_FIELDS + extra + (["meaningless"] if marked else []))
    for p, ((i, j), error, est, true) in enumerate(
        zip(pairs, errors, estimated, truth)):
      writer.writerow(
          [i, j, data["category"][i], data["instance"][i],
           data["instance"][j], f"{error:.4f}"]
          + [f"{v:.7f}" for v in est.ravel()]
          + [f"{v:.7f}" for v in true.ravel()]
          + ([] if modes is None
             else pair_distributions.mode_csv_cells(modes, mode_errors, p))
          + ([int(meaningless[p])] if marked else []))


def check_symmetric_categories(source, categories, symmetric_categories):
  """ValueError naming `source` unless each symmetric category is one of
  `categories` (a misspelt name would silently score nothing folded)."""
  found = set(np.asarray(categories).tolist())
  unknown = sorted(set(symmetric_categories) - found)
  if unknown:
    raise ValueError(f"{source}: --symmetric_categories names {unknown}, not"
                     f" categories of its views ({sorted(found)})")


def check_pairs(source, protocol, pairs, skipped):
  """Logs the protocol's skipped cases; ValueError naming `source` when
  there is no pair at all."""
  for message in skipped:
    logging.warning("%s: %s", source, message)
  if not len(pairs):
    raise ValueError(f"{source}: no pairs under protocol {protocol!r} (see"
                     f" the skipped cases: {'; '.join(skipped)})")


def write_distribution_plots(directory, table, data, pairs, truth,
                             temperature):
  """One SO(3) plot (PNG) per pair kept in `table.plotted`."""
  os.makedirs(directory, exist_ok=True)
  for p, masses in sorted(table.plotted.items()):
    i, j = pairs[p]
    category = data["category"][i]
    path = os.path.join(directory, f"pair{p:04d}_{category}_{i}_{j}.png")
    so3_plot.plot_grid_distribution(
        masses, truth[p], path, f"{category} {data['instance'][i]}: views"
        f" {i} -> {j}, T = {temperature:g}")
    logging.info("wrote %s", path)


# The maps each mode correlates: (first view's, second view's).
_MODE_KEYS = {"image": ("embeddings", "embeddings"),
              "mesh": ("embeddings", "targets"),
              "teacher": ("targets", "targets")}


def constant_maps(maps):
  """[N] bool: which maps [N, T, T, C] are constant over the sphere.

  Such a map has no orientation: its correlation is flat, the argmax is
  arbitrary and its pairs' errors (~120 deg median) mean nothing, though
  the table looks normal.
  """
  flat = maps.reshape(len(maps), -1, maps.shape[-1])
  spread = np.ptp(flat, axis=1)
  scale = np.abs(flat).max(axis=1)
  return np.all(spread <= 1e-6 * scale, axis=-1)


def featureless_maps_warnings(path, data, mode):
  """One message per key of `mode` whose maps are constant for some views."""
  warnings = []
  for key in dict.fromkeys(_MODE_KEYS[mode]):
    constant = constant_maps(data[key])
    if constant.any():
      kind = "all zero" if not np.any(data[key][constant]) else "constant"
      warnings.append(
          f"{path}: '{key}' of {constant.sum()} of {len(constant)} views are"
          f" {kind} over the sphere: no orientation to find, so the errors"
          " of their pairs are meaningless")
  return warnings


def meaningless_pairs(data, mode, pairs):
  """[P] bool: the pairs with a constant map on either side."""
  first, second = _MODE_KEYS[mode]
  return (constant_maps(data[first])[pairs[:, 0]]
          | constant_maps(data[second])[pairs[:, 1]])


def run(path, protocol="ib", pairs_per_instance=3, upsample=4, mode="image",
        symmetric_categories=(), seed=0, output=None, refine=True,
        normalize=False, grid_size=None, batch=16, progress=True, modes=0,
        mode_separation_degrees=30.0, temperature=1.0,
        distribution_plots=None, plot_pairs=4, allow_constant=False):
  """Runs one experiment; returns (summary rows, skip messages, warnings).

  `modes` > 0: the top modes of each pair's distribution at `temperature`
  go to the CSV; `distribution_plots`: a directory for SO(3) plots of the
  first `plot_pairs` pairs (sph_embed.pose.distributions, report.so3_plot).

  `symmetric_categories`: categories scored min(err, 180 - err); each must
  be a category of the file.

  Maps constant over the sphere (e.g. all zero) are refused, unless
  `allow_constant`: then the CSV rows and table rows of their pairs are
  marked meaningless.
  """
  data = embeddings_io.load_embeddings(path)
  check_symmetric_categories(path, data["category"], symmetric_categories)
  if mode in ("mesh", "teacher") and data["targets"] is None:
    raise ValueError(f"{path}: --mode={mode} needs key 'targets' (the teacher"
                     f" maps), which the file does not have")
  warnings = featureless_maps_warnings(path, data, mode)
  if warnings and not allow_constant:
    raise ValueError("; ".join(warnings) + "; pass --allow_constant_embeddings"
                     " to score them anyway, marked meaningless")
  for message in warnings:
    logging.warning("%s", message)
  first, second = (data[key] for key in _MODE_KEYS[mode])
  pairs, skipped = pose_evaluation.make_pairs(
      data["category"], data["instance"], protocol, pairs_per_instance, seed)
  check_pairs(path, protocol, pairs, skipped)
  logging.info("%s: %d pairs (%s, %s mode)", path, len(pairs), protocol, mode)
  with tqdm.tqdm(total=len(pairs), unit="pair", disable=not progress,
                 file=sys.stderr) as bar:
    estimated = correlation.align_pairs(
        first, second, pairs, upsample, grid_size, refine,
        normalize, batch, bar.update).rotations
  truth = pose_evaluation.true_relative_rotations(data["rotations"], pairs)
  categories = data["category"][pairs[:, 0]]
  errors = pose_evaluation.pose_errors(estimated, truth, categories,
                                       symmetric_categories)
  table = table_errors = None
  if modes or distribution_plots:
    table = pair_distributions.pair_modes(
        first, second, pairs, max(modes, 1), mode_separation_degrees,
        temperature, upsample, grid_size, normalize, batch,
        keep=range(plot_pairs) if distribution_plots else ())
    table_errors = pair_distributions.mode_errors(
        table.rotations, truth, categories, symmetric_categories)
  if distribution_plots:
    write_distribution_plots(distribution_plots, table, data, pairs, truth,
                             temperature)
  meaningless = meaningless_pairs(data, mode, pairs)
  if output:
    write_csv(output, data, pairs, errors, estimated, truth,
              table if modes else None, table_errors, meaningless)
    logging.info("wrote %s", output)
  rows = pose_evaluation.summarize(categories, errors, symmetric_categories,
                                   meaningless)
  return rows, skipped, warnings
