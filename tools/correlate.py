"""Relative pose by SO(3) correlation of embeddings; the paper's tables.

Reads an embeddings file (README.md, "Embeddings file (.npz)"), forms pairs
of views by a protocol, estimates each pair's relative rotation R_rel
(R2 = R_rel R1) as the argmax of the channel-summed SO(3) cross-correlation
of the two views' spherical maps (sph_embed.pose.correlation), writes one CSV
row per pair and prints, per category and overall: pairs, median error
(degrees), acc@15 and acc@30 (%).  NumPy + pyshtools only (no TensorFlow).

  python3 tools/correlate.py --embeddings=test.npz --protocol=ib \
      --pairs=3 --upsample=4 --output=ib.csv

--mode=mesh aligns each first view's image embedding to the second view's
teacher map of the mesh (key `targets`); --mode=teacher aligns the teacher
maps of both views (`targets` on both sides: the bound that perfect image
embeddings would reach).  --symmetric_categories=airplane,... scores the
pairs of the listed categories as min(err, 180 - err) (the paper does this
for airplanes only); the table's `symmetric` column marks them.  Instances
with a single view (IB) and categories with a single instance (CB) are
reported as skipped.  Maps that are constant over the sphere (e.g. all zero)
are reported with a WARNING under the table: their errors mean nothing.
--modes=K adds to the CSV the top-K separated modes (non-maximum
suppression at --mode_separation_degrees) of each pair's pose distribution
exp(C / T) / Z over SO(3) at --temperature=T: rotation, C, mass and error;
--distribution_plots=DIR writes SO(3) plots of the first --plot_pairs
pairs (sph_embed.pose.distributions, sph_embed.report.so3_plot; the
benchmark with a held-out temperature is tools/evaluate_distributions.py).
--output is checked before computing: a .csv in an existing directory, not
the input; an existing file is replaced only with --overwrite.
"""

import csv
import os
import sys

from absl import app
from absl import flags
from absl import logging
import numpy as np
import tqdm

from sph_embed.common import cli
from sph_embed.common import files
from sph_embed.common import outputs
from sph_embed.pose import correlation
from sph_embed.pose import distributions
from sph_embed.pose import embeddings_io
from sph_embed.pose import evaluation as pose_evaluation
from sph_embed.report import so3_plot

_EMBEDDINGS = flags.DEFINE_string("embeddings", None, "Embeddings .npz file.")
_PROTOCOL = flags.DEFINE_enum("protocol", "ib", list(pose_evaluation.PROTOCOLS),
                              "ib: instance-based, cb: category-based.")
_PAIRS = flags.DEFINE_integer("pairs", 3, "Pairs per instance.", lower_bound=1)
_UPSAMPLE = flags.DEFINE_integer(
    "upsample", 4, "Spatial upsampling factor before the transform (the "
    "original used 4 on 16 x 16 maps).", lower_bound=1)
_MODE = flags.DEFINE_enum("mode", "image", ["image", "mesh", "teacher"],
                          "image: embeddings on both sides; mesh: the second"
                          " side uses `targets`; teacher: both sides do.")
_SYMMETRIC_CATEGORIES = flags.DEFINE_list(
    "symmetric_categories", [], "Categories scored up to symmetry, "
    "min(err, 180 - err) (the paper: airplane). Default: none.")
_SYMMETRIC = flags.DEFINE_bool(
    "symmetric", False, "Removed (it folded every category): use "
    "--symmetric_categories.")
_SEED = flags.DEFINE_integer("seed", 0, "Seed of the pair selection.")
_OUTPUT = flags.DEFINE_string("output", None, "CSV file to write (optional).")
_OVERWRITE = flags.DEFINE_bool("overwrite", False,
                               "Replace an existing --output file.")
_REFINE = flags.DEFINE_bool("refine", True,
                            "Refine the grid argmax by continuous "
                            "maximisation of the correlation.")
_NORMALIZE = flags.DEFINE_bool("normalize", False,
                               "Per-channel normalisation (zero mean, unit "
                               "norm) before correlating.")
_GRID_SIZE = flags.DEFINE_integer(
    "grid_size", 0, "Euler grid points per angle (even, >= 2B); 0: 2B, "
    "where B is the bandwidth after upsampling.", lower_bound=0)
_BATCH = flags.DEFINE_integer("batch", 16, "Pairs per batch.", lower_bound=1)
_MODES = flags.DEFINE_integer(
    "modes", 0, "Write the top-K separated modes of each pair's pose "
    "distribution to the CSV (rotation, C, mass, error); 0: none.",
    lower_bound=0)
_MODE_SEPARATION = flags.DEFINE_float(
    "mode_separation_degrees", 30.0, "Minimum geodesic distance between "
    "modes; a mode's mass is taken within half of it.", lower_bound=1e-3)
_TEMPERATURE = flags.DEFINE_float(
    "temperature", 1.0, "T of the pose density exp(C / T) / Z (fit it on "
    "other instances with tools/evaluate_distributions.py).",
    lower_bound=1e-12)
_DISTRIBUTION_PLOTS = flags.DEFINE_string(
    "distribution_plots", None, "Directory for SO(3) plots (PNG) of the "
    "first --plot_pairs pairs' pose distributions.")
_PLOT_PAIRS = flags.DEFINE_integer("plot_pairs", 4, "Pairs plotted.",
                                   lower_bound=0)

CSV_FIELDS = (["index1", "index2", "category", "instance1", "instance2",
               "error_deg"]
              + [f"est_r{i}{j}" for i in range(3) for j in range(3)]
              + [f"true_r{i}{j}" for i in range(3) for j in range(3)])


def write_csv(path, data, pairs, errors, estimated, truth, modes=None,
              mode_errors=None):
  """One row per pair, written atomically (sph_embed.common.files).

  With `modes` (distributions.ModeTable) and their errors, the columns of
  `distributions.mode_csv_fields` follow.
  """
  extra = ([] if modes is None
           else distributions.mode_csv_fields(modes.masses.shape[1]))
  with files.atomic_write(path, newline="") as f:
    writer = csv.writer(f)
    writer.writerow(CSV_FIELDS + extra)
    for p, ((i, j), error, est, true) in enumerate(
        zip(pairs, errors, estimated, truth)):
      writer.writerow(
          [i, j, data["category"][i], data["instance"][i],
           data["instance"][j], f"{error:.4f}"]
          + [f"{v:.7f}" for v in est.ravel()]
          + [f"{v:.7f}" for v in true.ravel()]
          + ([] if modes is None
             else distributions.mode_csv_cells(modes, mode_errors, p)))


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


def featureless_maps_warnings(path, data, mode):
  """Warnings for maps that are constant (e.g. all zero) over the sphere.

  Such a map has no orientation: its correlation is flat, the argmax is
  arbitrary and the pairs' errors (~120 deg median) mean nothing, though
  the table looks normal.
  """
  keys = {"image": ("embeddings",), "mesh": ("embeddings", "targets"),
          "teacher": ("targets",)}[mode]
  warnings = []
  for key in keys:
    maps = data[key]
    flat = maps.reshape(len(maps), -1, maps.shape[-1])
    spread = np.ptp(flat, axis=1)
    scale = np.abs(flat).max(axis=1)
    constant = np.all(spread <= 1e-6 * scale, axis=-1)
    if constant.any():
      kind = "all zero" if not np.any(maps[constant]) else "constant"
      warnings.append(
          f"{path}: '{key}' of {constant.sum()} of {len(maps)} views are"
          f" {kind} over the sphere: no orientation to find, so the errors"
          " of their pairs are meaningless")
  return warnings


def run(path, protocol="ib", pairs_per_instance=3, upsample=4, mode="image",
        symmetric_categories=(), seed=0, output=None, refine=True,
        normalize=False, grid_size=None, batch=16, progress=True, modes=0,
        mode_separation_degrees=30.0, temperature=1.0,
        distribution_plots=None, plot_pairs=4):
  """Runs one experiment; returns (summary rows, skip messages, warnings).

  `modes` > 0: the top modes of each pair's distribution at `temperature`
  go to the CSV; `distribution_plots`: a directory for SO(3) plots of the
  first `plot_pairs` pairs (sph_embed.pose.distributions, report.so3_plot).

  `symmetric_categories`: categories scored min(err, 180 - err); each must
  be a category of the file.
  """
  data = embeddings_io.load_embeddings(path)
  found = set(data["category"].tolist())
  unknown = sorted(set(symmetric_categories) - found)
  if unknown:
    raise ValueError(f"{path}: --symmetric_categories names {unknown}, not"
                     f" categories of the file ({sorted(found)})")
  if mode in ("mesh", "teacher") and data["targets"] is None:
    raise ValueError(f"{path}: --mode={mode} needs key 'targets' (the teacher"
                     f" maps), which the file does not have")
  warnings = featureless_maps_warnings(path, data, mode)
  for message in warnings:
    logging.warning("%s", message)
  first = data["targets"] if mode == "teacher" else data["embeddings"]
  second = data["embeddings"] if mode == "image" else data["targets"]
  pairs, skipped = pose_evaluation.make_pairs(
      data["category"], data["instance"], protocol, pairs_per_instance, seed)
  for message in skipped:
    logging.warning("%s: %s", path, message)
  if not len(pairs):
    raise ValueError(f"{path}: no pairs under protocol {protocol!r} (see the"
                     f" skipped cases: {'; '.join(skipped)})")
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
    table = distributions.pair_modes(
        first, second, pairs, max(modes, 1), mode_separation_degrees,
        temperature, upsample, grid_size, normalize, batch,
        keep=range(plot_pairs) if distribution_plots else ())
    table_errors = distributions.mode_errors(
        table.rotations, truth, categories, symmetric_categories)
  if distribution_plots:
    write_distribution_plots(distribution_plots, table, data, pairs, truth,
                             temperature)
  if output:
    write_csv(output, data, pairs, errors, estimated, truth,
              table if modes else None, table_errors)
    logging.info("wrote %s", output)
  rows = pose_evaluation.summarize(categories, errors, symmetric_categories)
  return rows, skipped, warnings


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  if not _EMBEDDINGS.value:
    raise app.UsageError("--embeddings is required")
  if _SYMMETRIC.value:
    raise app.UsageError(
        "--symmetric (which folded every category) is replaced by"
        " --symmetric_categories=NAME,...: list the categories to score as"
        " min(err, 180 - err), e.g. --symmetric_categories=airplane")
  if _OUTPUT.value:
    # Before computing: a bad --output must not cost the whole run, and
    # must never replace the input.
    outputs.check_output_file(_OUTPUT.value, "output", (".csv",),
                              inputs={"embeddings": _EMBEDDINGS.value},
                              overwrite=_OVERWRITE.value)
  if _DISTRIBUTION_PLOTS.value:
    outputs.check_output_dir(_DISTRIBUTION_PLOTS.value, "distribution_plots")
  rows, skipped, warnings = run(
      _EMBEDDINGS.value, _PROTOCOL.value, _PAIRS.value, _UPSAMPLE.value,
      _MODE.value, _SYMMETRIC_CATEGORIES.value, _SEED.value, _OUTPUT.value,
      _REFINE.value, _NORMALIZE.value, _GRID_SIZE.value or None,
      _BATCH.value, modes=_MODES.value,
      mode_separation_degrees=_MODE_SEPARATION.value,
      temperature=_TEMPERATURE.value,
      distribution_plots=_DISTRIBUTION_PLOTS.value,
      plot_pairs=_PLOT_PAIRS.value)
  print(f"{_EMBEDDINGS.value}: protocol {_PROTOCOL.value.upper()},"
        f" {_MODE.value} mode, upsample x{_UPSAMPLE.value}"
        + (f", symmetric: {','.join(_SYMMETRIC_CATEGORIES.value)}"
           if _SYMMETRIC_CATEGORIES.value else ""))
  print(pose_evaluation.format_table(rows))
  for message in warnings:
    print(f"WARNING: {message}")
  for message in skipped:
    print(f"skipped: {message}")


if __name__ == "__main__":
  cli.run(main)
