"""Poses of a dataset split's views from a model of absolute pose.

The library side of tools/evaluate_regression.py and
tools/evaluate_image2sphere.py.  A predictor of each view's canonical
rotation (the regression baseline, sph_embed.baselines.export.load_predictor;
Image2Sphere, `image2sphere_predictor`) is run over every view of a split,
in the dataset's fixed order, the order tools/save_embeddings.py writes an
embeddings file in (sph_embed.embedding.inference.embed_split); the pairs
of a protocol are then formed by the same code and seed as
tools/correlate.py (sph_embed.pose.evaluation.make_pairs), so the tools
score the same pairs of the same views; each pair's relative pose is
R_hat_j R_hat_i^T (sph_embed.pose.relative_from_absolute), and the CSV is
correlate's (sph_embed.report.correlate_embeddings.write_csv), so the
report (sph_embed.report.html_report, `pose_<protocol>_<mode>.csv`) reads
it beside the embeddings' tables.  The per-view absolute errors (and
log-likelihoods) go to `absolute_<mode>.csv` (sph_embed.report.absolute_csv).
"""

import os

import numpy as np

from sph_embed.common import outputs
from sph_embed.data import input_pipeline
from sph_embed.pose import absolute_distributions
from sph_embed.pose import distributions
from sph_embed.pose import evaluation as pose_evaluation
from sph_embed.pose import flags as pose_flags
from sph_embed.pose import relative_from_absolute
from sph_embed.report import absolute_csv
from sph_embed.report import correlate_embeddings
from sph_embed.report import so3_plot


def rotation_predictor(predict):
  """A `predict_split` predictor of a images -> rotations callable."""
  return lambda images, rotations: {"predicted": predict(images)}


def image2sphere_predictor(predictor):
  """A `predict_split` predictor of an image2sphere.Predictor: the argmax
  rotation and the log-likelihood of the truth (absolute_distributions)."""

  def predict(images, rotations):
    predictions = predictor(images)
    return {"predicted": predictions.rotations,
            "log_likelihood": absolute_distributions.log_likelihoods(
                predictions.probabilities, rotations,
                predictions.grid_size)}

  return predict


def predict_split(predict, data_dir, split, batch_size=64):
  """Predictions and truth of every view of a split, in order.

  Args:
    predict: (images [b, S, S, 1], true rotations [b, 3, 3] float64) ->
      dict with "predicted" rotations [b, 3, 3] and any other per-view
      arrays [b, ...] (the truth is for scores such as a log-likelihood,
      not for the prediction): `rotation_predictor`,
      `image2sphere_predictor`.
    data_dir: dataset directory.
    split: "train" or "test".
    batch_size: views per call of `predict`.

  Returns:
    dict: `predicted` and `rotations` float64 [N, 3, 3], `error_deg` [N]
    (the geodesic error of each prediction), `category` and `instance`
    str [N] (the embeddings file's keys and order), and the predictor's
    other arrays.
  """
  out = {k: [] for k in ("rotations", "category", "instance")}
  # The order of embed_split: no shuffling, deterministic reads.
  for batch in input_pipeline.make_dataset(data_dir, split, batch_size,
                                           shuffle=False, deterministic=True):
    truth = batch["rotation"].numpy().astype(np.float64)
    for key, value in predict(batch["image"].numpy(), truth).items():
      out.setdefault(key, []).append(np.asarray(value))
    out["rotations"].append(truth)
    out["category"] += [c.decode("utf-8") for c in batch["category"].numpy()]
    out["instance"] += [i.decode("utf-8") for i in batch["instance"].numpy()]
  if not out["category"]:
    raise input_pipeline.DataError(f"{data_dir}: split {split!r} has no"
                                   " examples")
  table = {k: (np.array(v) if k in ("category", "instance")
               else np.concatenate(v)) for k, v in out.items()}
  table["predicted"] = table["predicted"].astype(np.float64)
  table["error_deg"] = pose_evaluation.pose_errors(table["predicted"],
                                                   table["rotations"])
  return table


def source_name(data_dir, split):
  """How messages and the tools' headings name the views."""
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
        batch_size=64, absolute_output=None):
  """Scores a predictor's relative poses; returns (summary rows, skipped,
  the `predict_split` table).

  Args:
    predict, batch_size: as `predict_split`.
    image_size: the views the predictor takes (S).
    data_dir, split: the views.
    protocol, pairs_per_instance, seed, symmetric_categories: as
      tools/correlate.py's flags of the same names.
    output: relative-pose CSV path (correlate's columns), or None.
    absolute_output: per-view absolute-pose CSV path (absolute_csv), or
      None.
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
  if absolute_output:
    absolute_csv.write(absolute_output, table)
  return rows, skipped, table


def format_absolute_table(table):
  """The per-category absolute-pose table of a `predict_split` table, as
  text: views, median error, acc@15 / acc@30 and, where the predictor gives
  it, the mean log-likelihood of the truth."""
  results = absolute_csv.AbsoluteResults.of_table(table)
  likelihoods = "log_likelihood" in table
  lines = []
  for row in results.rows():
    category = None if row.name == "overall" else row.name
    likelihood = (f"  {results.mean_log_likelihood(category):>14.2f}"
                  if likelihoods else "")
    lines.append(f"{row.name:<12}  {row.pairs:>5d}  {row.median:>16.2f}"
                 + "".join(f"  {a:>11.1f}" for a in row.accuracy)
                 + likelihood)
  header = (f"{'category':<12}  {'views':>5}  {'median err (deg)':>16}"
            + "".join(f"  {f'acc@{t:g} (%)':>11}"
                      for t in pose_evaluation.THRESHOLDS)
            + (f"  {'log-likelihood':>14}" if likelihoods else ""))
  return "\n".join([header, "-" * len(header)] + lines)


def run_tool(predict, spec, tool_flags, details):
  """The body of an absolute-pose evaluation tool.

  Checks the output flags before computing (a bad --output must not cost
  the whole run), scores `predict` (as `predict_split`) on the flags'
  views, writes the CSVs and prints the relative-pose table, then the
  absolute-pose one.

  Args:
    predict: as `predict_split`.
    spec: the network's run spec ("image_size", "data_dir").
    tool_flags: pose.flags.define_absolute_pose_flags's namespace.
    details: what the heading names (e.g. "regression").

  Returns:
    The `predict_split` table.
  """
  f = tool_flags
  overwrite = f.csv.overwrite.value
  targets = {"output": f.csv.output.value,
             "absolute_output": f.absolute_output.value}
  for flag, path in targets.items():
    if path:
      outputs.check_output_file(path, flag, (".csv",), overwrite=overwrite)
  if targets["output"] and targets["output"] == targets["absolute_output"]:
    raise outputs.OutputError(
        f"--output and --absolute_output are the same file"
        f" ({targets['output']})")
  data_dir = f.data_dir.value or spec["data_dir"]
  rows, skipped, table = run(
      predict, spec["image_size"], data_dir, f.split.value,
      f.protocol.protocol.value, f.protocol.pairs.value,
      f.protocol.seed.value, f.protocol.symmetric_categories.value,
      targets["output"], f.batch_size.value, targets["absolute_output"])
  print(pose_flags.heading(source_name(data_dir, f.split.value), f.protocol,
                           details))
  print(pose_evaluation.format_table(rows))
  for message in skipped:
    print(f"skipped: {message}")
  print(f"\nabsolute pose of each view, {details}:")
  print(format_absolute_table(table))
  return table


def first_views(table, per_category):
  """Indices of the first `per_category` views of each category, in the
  split's order."""
  categories = np.asarray(table["category"])
  return sorted(i for name in np.unique(categories)
                for i in np.flatnonzero(categories == name)[:per_category])


def write_distribution_plots(predictor, data_dir, split, table, indices,
                             directory, batch_size=64):
  """One SO(3) plot (PNG) per view of `indices` of its predicted
  distribution, the true rotation ringed (sph_embed.report.so3_plot).

  Args:
    predictor: an image2sphere.Predictor (its `probabilities`).
    data_dir, split, batch_size: as `predict_split`; `table` is its result.
    indices: views of the split, in its order.
    directory: where the PNGs go (created; each file written atomically).

  Returns:
    The paths written.
  """
  wanted = set(int(i) for i in indices)
  if wanted and (min(wanted) < 0 or max(wanted) >= len(table["category"])):
    raise ValueError(f"view indices must be in [0, {len(table['category'])}),"
                     f" got {sorted(wanted)}")
  images, start = {}, 0
  for batch in input_pipeline.make_dataset(data_dir, split, batch_size,
                                           shuffle=False, deterministic=True):
    batch_images = batch["image"].numpy()
    for i in wanted & set(range(start, start + len(batch_images))):
      images[i] = batch_images[i - start]
    start += len(batch_images)
  os.makedirs(directory, exist_ok=True)
  likelihoods = table.get("log_likelihood")
  views = sorted(wanted)
  if not views:
    return []
  # One forward pass for every plotted view (their distributions only:
  # the whole split's would take 1.8 MB per view at grid 96).
  predictions = predictor(np.stack([images[i] for i in views]))
  shape = distributions.grid_rotations(predictions.grid_size).shape[:3]
  paths = []
  for i, probabilities in zip(views, predictions.probabilities):
    masses = probabilities.reshape(shape)
    category = table["category"][i]
    likelihood = ("" if likelihoods is None
                  else f", log-likelihood {likelihoods[i]:.2f}")
    path = os.path.join(directory, f"{category}_{i:04d}.png")
    so3_plot.plot_grid_distribution(
        masses, table["rotations"][i], path,
        f"{category} {table['instance'][i]}, view {i}: argmax error"
        f" {table['error_deg'][i]:.1f} deg{likelihood}")
    paths.append(path)
  return paths
