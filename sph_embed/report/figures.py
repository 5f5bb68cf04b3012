"""The report's figures: matplotlib PNGs of one run's results.

Each function draws one kind of figure of sph_embed.report.html_report's
sections into a PNG file: error histograms, the paper's Fig. 4 alignment
(view 1's mesh rendered under the estimated and the true relative pose),
slices of the SO(3) correlation grid, and the TensorBoard training curves.
"""

import os

from absl import logging
import numpy as np
from matplotlib import figure as figure_lib
from matplotlib import ticker
from tensorboard.backend.event_processing import event_accumulator
from tensorboard.util import tensor_util

from sph_embed.common import files
from sph_embed.pose import correlation
from sph_embed.pose import embeddings_io
from sph_embed.pose import evaluation as pose_evaluation
# Imports TensorFlow (the dataset reader), which must come before the
# first render (sph_embed.data.render).
from sph_embed.report import synthesize_views
from sph_embed.data import render  # pylint: disable=g-bad-import-order
from sph_embed.sphere import rotations as rotations_lib

# The maps each mode correlates (first view, second view), as
# correlate_embeddings.run; other modes have no correlation grid.
MODE_MAPS = {"image": ("embeddings", "embeddings"),
             "mesh": ("embeddings", "targets"),
             "teacher": ("targets", "targets")}
_ALIGNMENT_PAIRS = 6   # At most one per category.
_SLICE_PAIRS = 2


def _save(fig, path):
  fig.savefig(path, format="png", dpi=100)
  logging.info("wrote %s", path)


def error_histogram(results, path):
  """Histogram of a CSV's errors (0-180 deg) with the 15/30 deg marks."""
  fig = figure_lib.Figure(figsize=(5.0, 2.6), layout="constrained")
  ax = fig.add_subplot()
  ax.hist(results.errors, bins=np.arange(0.0, 185.0, 5.0), color="tab:blue")
  for threshold in pose_evaluation.THRESHOLDS:
    ax.axvline(threshold, color="tab:green", linestyle="--", linewidth=1)
  median = float(np.median(results.errors))
  ax.axvline(median, color="tab:red", linewidth=1.5,
             label=f"median {median:.1f}°")
  ax.set_xlim(0, 180)
  ax.set_xlabel("error (degrees); dashed: 15°, 30°")
  ax.set_ylabel("pairs")
  ax.yaxis.set_major_locator(ticker.MaxNLocator(integer=True))
  ax.set_title(results.title, fontsize=9)
  ax.legend(fontsize=8)
  _save(fig, path)


def _one_pair_per_category(results, count):
  """Indices of the first pair of each category, at most `count`."""
  seen = {}
  for p, category in enumerate(results.categories):
    seen.setdefault(category, p)
  return sorted(seen.values())[:count]


def embeddings_for(work_dir, results, cache):
  """The CSV's embeddings file, checked against its pairs; None if absent."""
  path = os.path.join(work_dir, f"embeddings_test{results.suffix}.npz")
  if path not in cache:
    cache[path] = (embeddings_io.load_embeddings(path)
                   if os.path.isfile(path) else None)
  data = cache[path]
  if data is None:
    return None, f"{os.path.basename(path)} not found"
  if results.pairs.max() >= len(data["rotations"]):
    return None, f"{results.name} indexes views beyond {path}"
  truth = pose_evaluation.true_relative_rotations(data["rotations"],
                                                  results.pairs)
  if not np.allclose(truth, results.truth, atol=1e-3):
    return None, f"{results.name} does not match the poses of {path}"
  return data, None


def alignment_views(mesh1, mesh2, pose1, pose2, estimated, truth, size):
  """The four images of a row of the alignment figure, uint8 [size, size].

  View 1 (mesh1 in pose1), view 2 (mesh2 in pose2), and mesh1 in the
  poses R pose1 for R = the estimated and the true relative rotation
  (R2 = R_rel R1, pose_evaluation): under IB the last is view 2 itself.
  """
  return (render.render_view(mesh1, pose1, size),
          render.render_view(mesh2, pose2, size),
          render.render_view(mesh1, estimated @ pose1, size),
          render.render_view(mesh1, truth @ pose1, size))


def alignment_figure(work_dir, results, data, path):
  """The paper's Fig. 4 for one pair per category; False if no meshes.

  Columns: view 1, view 2, view 1's mesh under the estimated relative pose
  (R_est R1: what the method believes view 2 shows) and under the true one
  (R_true R1 = R2).  All are rendered from the dataset's meshes, as built.
  """
  data_dir = os.path.join(work_dir, f"data{results.suffix}")
  metadata_path = os.path.join(data_dir, "dataset.json")
  if not os.path.isfile(metadata_path):
    return False
  metadata = files.read_json_object(metadata_path)
  chosen = _one_pair_per_category(results, _ALIGNMENT_PAIRS)
  index1, index2 = results.pairs[chosen, 0], results.pairs[chosen, 1]
  poses = data["rotations"].astype(np.float64)
  meshes = synthesize_views.example_meshes(
      metadata, "test",
      np.concatenate([data["instance"][index1], data["instance"][index2]]),
      np.concatenate([poses[index1], poses[index2]]))
  size = metadata["image_size"]
  columns = ("view 1", "view 2", "view 1's mesh,\nestimated pose",
             "view 1's mesh,\ntrue pose")
  fig = figure_lib.Figure(figsize=(6.4, 1.7 * len(chosen) + 0.4),
                          layout="constrained")
  axes = fig.subplots(len(chosen), 4, squeeze=False)
  for row, p in enumerate(chosen):
    images = alignment_views(meshes[row], meshes[len(chosen) + row],
                             poses[index1[row]], poses[index2[row]],
                             results.estimated[p], results.truth[p], size)
    for column, image in enumerate(images):
      ax = axes[row, column]
      ax.imshow(image, cmap="gray", vmin=0, vmax=255)
      ax.set_xticks([])
      ax.set_yticks([])
      if row == 0:
        ax.set_title(columns[column], fontsize=8)
    axes[row, 0].set_ylabel(f"{results.categories[p]}\nerror"
                            f" {results.errors[p]:.1f}°", fontsize=8)
  fig.suptitle(results.title, fontsize=9)
  _save(fig, path)
  return True


def correlation_slices(results, data, path):
  """Slices of the correlation grid C(alpha, beta, gamma) of a few pairs.

  Per pair: C over (alpha, gamma) at the beta of the grid maximum, and over
  (alpha, beta) at its gamma; x = the maximum, o = the truth's angles (on
  the slice only when the truth shares the fixed angle).
  """
  first, second = (data[key] for key in MODE_MAPS[results.mode])
  chosen = range(min(_SLICE_PAIRS, len(results.pairs)))
  fig = figure_lib.Figure(figsize=(7.0, 2.9 * len(chosen)),
                          layout="constrained")
  axes = fig.subplots(len(chosen), 2, squeeze=False)
  for row, p in enumerate(chosen):
    i, j = results.pairs[p]
    # Zero padding to >= 64 points per angle: smooth slices at no cost.
    grid = correlation.align(first[i], second[j], return_grid=True,
                             grid_size=max(64, first.shape[1])).grids
    a, b, c = np.unravel_index(np.argmax(grid), grid.shape)
    angles = np.degrees(correlation.grid_angles(grid.shape[0]))
    half = 180.0 / grid.shape[0]  # Pixels centred on the grid angles.
    full = (-half, 360.0 - half)
    truth = np.degrees(rotations_lib.zyz_from_matrix(results.truth[p]))
    truth = np.mod(truth, 360.0)
    for ax, image, extent, (x, y), (tx, ty), labels, fixed in (
        (axes[row, 0], grid[:, b, :].T, full + full, (a, c),
         (truth[0], truth[2]), ("alpha", "gamma"), f"beta = {angles[b]:.0f}°"),
        (axes[row, 1], grid[:, :, c].T, full + (-half, 180.0 + half), (a, b),
         (truth[0], truth[1]), ("alpha", "beta"),
         f"gamma = {angles[c]:.0f}°")):
      shown = ax.imshow(image, origin="lower", extent=extent, aspect="auto",
                        cmap="viridis")
      fig.colorbar(shown, ax=ax, shrink=0.8)
      ax.plot(angles[x], angles[y], "x", color="red", markersize=9, label="grid maximum")
      ax.plot(tx, ty, "o", markerfacecolor="none", color="white",
              markersize=9, label="truth")
      ax.set_xlabel(f"{labels[0]} (deg)")
      ax.set_ylabel(f"{labels[1]} (deg)")
      ax.set_title(f"{results.categories[p]} views {i} -> {j}: {fixed}",
                   fontsize=8)
    axes[row, 0].legend(fontsize=7, loc="upper right")
  fig.suptitle(f"{results.title}: correlation C(alpha, beta, gamma),"
               f" {grid.shape[0]}-point Euler grid", fontsize=9)
  _save(fig, path)


def _scalar_points(accumulator, tag, kind):
  """(steps, values) of one scalar tag; None for a non-scalar tensor."""
  if kind == "scalars":
    events = accumulator.Scalars(tag)
    return [e.step for e in events], [e.value for e in events]
  steps, values = [], []
  for event in accumulator.Tensors(tag):
    value = tensor_util.make_ndarray(event.tensor_proto)
    if value.size != 1 or value.dtype.kind not in "fiu":
      return None
    steps.append(event.step)
    values.append(float(value.ravel()[0]))
  return steps, values


def read_training_curves(work_dir, skipped=("data", "report", ".")):
  """{run dir (relative): {tag: (steps, values)}} of every TensorBoard
  events directory under `work_dir`, but for its top-level directories
  whose names start with one of `skipped` (datasets, the report)."""
  curves = {}
  for directory, subdirs, names in os.walk(work_dir):
    if directory == work_dir:
      subdirs[:] = [d for d in subdirs if not d.startswith(skipped)]
    subdirs.sort()
    if not any(n.startswith("events.out.tfevents") for n in names):
      continue
    accumulator = event_accumulator.EventAccumulator(
        directory, size_guidance={event_accumulator.SCALARS: 0,
                                  event_accumulator.TENSORS: 0})
    accumulator.Reload()
    tags = accumulator.Tags()
    run = {}
    for kind in ("scalars", "tensors"):
      for tag in tags.get(kind, ()):
        points = _scalar_points(accumulator, tag, kind)
        if points and points[0]:
          run[tag] = points
    if run:
      curves[os.path.relpath(directory, work_dir)] = run
  return curves


def pose_curve_figure(rows, title, path):
  """Median error and acc@15 against the training step
  (sph_embed.report.pose_curve's rows)."""
  steps = [row["step"] for row in rows]
  fig = figure_lib.Figure(figsize=(6.0, 3.2), layout="constrained")
  ax = fig.add_subplot()
  ax.plot(steps, [row["median_deg"] for row in rows], "o-",
          color="tab:blue")
  ax.set_xlabel("training step")
  ax.set_ylabel("median error (deg)", color="tab:blue")
  ax.set_ylim(0, 180)  # A rotation's geodesic error is at most 180 deg.
  accuracy = ax.twinx()
  accuracy.plot(steps, [row["acc15"] for row in rows], "s--",
                color="tab:orange")
  accuracy.set_ylabel("acc@15 (%)", color="tab:orange")
  accuracy.set_ylim(0, 100)
  ax.set_title(title, fontsize=9)
  _save(fig, path)


def training_figure(name, runs, path):
  """One panel per tag, one line per run (e.g. train, eval) of a model."""
  tags = sorted({tag for run in runs.values() for tag in run})
  columns = min(3, len(tags))
  rows = -(-len(tags) // columns)
  fig = figure_lib.Figure(figsize=(3.3 * columns, 2.5 * rows),
                          layout="constrained")
  axes = fig.subplots(rows, columns, squeeze=False).ravel()
  for ax, tag in zip(axes, tags):
    for run_name, run in sorted(runs.items()):
      if tag in run:
        steps, values = run[tag]
        ax.plot(steps, values, marker="." if len(steps) < 20 else None,
                label=os.path.basename(run_name))
    positive = all(v > 0 for run in runs.values() if tag in run
                   for v in run[tag][1])
    if "loss" in tag and positive:
      ax.set_yscale("log")
      ax.yaxis.set_minor_formatter(ticker.NullFormatter())
    ax.set_title(tag, fontsize=8)
    ax.set_xlabel("step", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=7)
  for ax in axes[len(tags):]:
    ax.set_visible(False)
  fig.suptitle(f"{name}: TensorBoard scalars", fontsize=9)
  _save(fig, path)


def time_to_accuracy_figure(rows, title, path):
  """Median error against minutes of training, a line per recipe
  (sph_embed.experiments.time_to_accuracy's rows)."""
  fig = figure_lib.Figure(figsize=(6.4, 3.6), layout="constrained")
  ax = fig.add_subplot()
  for recipe in dict.fromkeys(row["recipe"] for row in rows):
    own = sorted((r for r in rows if r["recipe"] == recipe),
                 key=lambda r: r["minutes"])
    ax.plot([r["minutes"] for r in own], [r["median_deg"] for r in own],
            "o-", label=recipe)
  ax.set_xlabel("minutes of training (this machine)")
  ax.set_ylabel("median error (deg)")
  ax.set_ylim(0, 180)  # A rotation's geodesic error is at most 180 deg.
  ax.legend(fontsize=8)
  ax.grid(alpha=0.3)
  ax.set_title(title, fontsize=9)
  _save(fig, path)
