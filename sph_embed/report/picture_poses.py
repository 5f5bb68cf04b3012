"""Poses from a user's own pictures: the library side of tools/relative_pose.py.

Pictures are made into views exactly as the tools read any picture
(sph_embed.data.image_input), then:
- relative pose: each view is embedded by a pose embedding network (a
  module, default the shipped hub_modules/pose_embedding_synthetic, or a
  tools/train_embedding.py run: `load_embedder`) and each pair (a, b) gets
  R = R_b R_a^T with its modes (sph_embed.pose.pose_estimates.relative_pose):
  the object in b is the object in a turned by R, in the camera frame
  (x right, y up, z toward the viewer);
- absolute pose: each view's distribution over its canonical rotation from
  an Image2Sphere network (a module of tools/export_model.py
  --kind=image2sphere or a tools/train_image2sphere.py run:
  `load_image2sphere`), with its modes (pose_estimates.grid_pose).

Outputs: the text of each estimate (pose_estimates.describe), a CSV whose
rotation columns are tools/correlate.py's (`est_r00` ... `est_r22`), and
figures: the SO(3) plot of each distribution (sph_embed.report.so3_plot)
and, for a pair, a strip [a | the synthesis module's view of a turned by R
| b] (sph_embed.report.synthesize_views), which matches b when R is right.
TensorFlow (the networks).
"""

import csv
import dataclasses
import itertools
import os

import numpy as np

from sph_embed.baselines import image2sphere_export
from sph_embed.common import files
from sph_embed.data import image_input
from sph_embed.embedding import export as embedding_export
from sph_embed.embedding import training as embedding_training
from sph_embed.pose import pose_estimates
from sph_embed.report import correlate_embeddings
from sph_embed.report import so3_plot
from sph_embed.report import synthesize_views

DEFAULT_POSE_MODULE = os.path.join(embedding_export.SHIPPED_MODULES,
                                   "pose_embedding_synthetic")
DEFAULT_SYNTHESIS_MODULE = os.path.join(embedding_export.SHIPPED_MODULES,
                                        "synthesis_synthetic")
DEFAULT_IMAGE2SPHERE_MODULE = os.path.join(embedding_export.SHIPPED_MODULES,
                                           "image2sphere_synthetic")
PAIR_ORDERS = ("consecutive", "all")
# tools/correlate.py's columns of the estimated rotation.
ROTATION_FIELDS = [name for name in correlate_embeddings.CSV_FIELDS
                   if name.startswith("est_r")]
_ANGLE_FIELDS = ["alpha_deg", "beta_deg", "gamma_deg", "axis_x", "axis_y",
                 "axis_z", "angle_deg"]


@dataclasses.dataclass(frozen=True)
class Embedder:
  """A pose embedding network and the views it takes."""
  network: object     # network(images, training=False) -> maps
  image_size: int     # S of its [S, S, 1] views

  def embed(self, views):
    """Views [b, S, S, 1] -> maps [b, T, T, C] (NumPy)."""
    return np.asarray(self.network(np.asarray(views, np.float32),
                                   training=False))


@dataclasses.dataclass(frozen=True)
class AbsolutePoser:
  """An Image2Sphere network on its Euler grid, and the views it takes."""
  predictor: object   # image2sphere.Predictor
  image_size: int

  def poses(self, views, modes=3, separation_degrees=30.0):
    """One PoseEstimate per view [b, S, S, 1] (pose_estimates.grid_pose)."""
    predictions = self.predictor(np.asarray(views, np.float32))
    return [pose_estimates.grid_pose(masses, predictions.grid_size, modes,
                                     separation_degrees)
            for masses in predictions.probabilities]


def load_embedder(module=None, model_dir=None):
  """The Embedder of a pose embedding module or run (default: the shipped
  module).

  Raises:
    ValueError (ModuleError) naming the path: not a pose embedding module
    (e.g. an Image2Sphere one), or not a run with a `pose` head.
  """
  if module is not None and model_dir is not None:
    raise ValueError("load_embedder: give a module or a model_dir, not both")
  if model_dir is not None:
    network, spec = embedding_training.restore_model(
        model_dir, output_key=embedding_export.OUTPUT_KEY)
    return Embedder(network, spec["image_size"])
  loaded = embedding_export.load_embedding(module or DEFAULT_POSE_MODULE)
  return Embedder(loaded, loaded.image_size)


def load_image2sphere(module=None, model_dir=None, grid_size=None):
  """The AbsolutePoser of an Image2Sphere module or run (not both; default:
  the shipped module), on an Euler grid of `grid_size` (default: the run's
  evaluation grid)."""
  if module is None and model_dir is None:
    module = DEFAULT_IMAGE2SPHERE_MODULE
  predictor, spec = image2sphere_export.load_predictor(model_dir, module,
                                                       grid_size)
  return AbsolutePoser(predictor, spec["image_size"])


def prepare_views(paths, size, masks=None, boxes=None, background="auto"):
  """The views [N, size, size, 1] of the pictures `paths`
  (image_input.prepare_image; `masks` and `boxes`: one per picture, or
  None)."""
  masks = masks or [None] * len(paths)
  boxes = boxes or [None] * len(paths)
  if not len(masks) == len(boxes) == len(paths):
    raise ValueError(f"{len(paths)} pictures, but {len(masks)} masks and"
                     f" {len(boxes)} boxes")
  return np.stack([image_input.prepare_image(path, size, mask, box,
                                             background)
                   for path, mask, box in zip(paths, masks, boxes)])


def pair_indices(count, order="consecutive"):
  """(a, b) index pairs of `count` pictures: consecutive (0, 1), (1, 2),
  ... or all (a < b)."""
  if order not in PAIR_ORDERS:
    raise ValueError(f"pair order {order!r}: expected one of {PAIR_ORDERS}")
  if order == "consecutive":
    return [(a, a + 1) for a in range(count - 1)]
  return list(itertools.combinations(range(count), 2))


def _csv_cells(estimate, modes):
  rotation = estimate.rotation
  axis, angle = pose_estimates.axis_angle(rotation)
  cells = [f"{v:.7f}" for v in rotation.ravel()]
  cells += [f"{v:.4f}" for v in pose_estimates.euler_degrees(rotation)]
  cells += [f"{v:.7f}" for v in axis] + [f"{angle:.4f}"]
  for k in range(modes):
    if k < len(estimate.masses):
      cells += [f"{v:.7f}" for v in estimate.rotations[k].ravel()]
      cells += [f"{estimate.masses[k]:.5f}",
                f"{estimate.log_densities[k]:.4f}"]
    else:
      cells += [""] * 11
  return cells


def mode_fields(modes):
  """The CSV columns of `modes` modes: rotation (correlate's mode columns),
  mass and log density of each."""
  return [f"mode{k}_{what}" for k in range(1, modes + 1)
          for what in [name[len("est_"):] for name in ROTATION_FIELDS]
          + ["mass", "log_density"]]


def write_csv(path, picture_columns, rows, modes):
  """One row per estimate, written atomically.

  Args:
    path: the .csv file.
    picture_columns: the first columns' names, e.g. ("image_a", "image_b").
    rows: [(pictures (one per picture column), PoseEstimate)].
    modes: mode columns written (rows with fewer modes leave them empty).
  """
  with files.atomic_write(path, newline="") as f:
    writer = csv.writer(f)
    writer.writerow(list(picture_columns) + ROTATION_FIELDS + _ANGLE_FIELDS
                    + mode_fields(modes))
    for pictures, estimate in rows:
      writer.writerow(list(pictures) + _csv_cells(estimate, modes))


def synthesis_strip(module, view_a, view_b, rotation, zoom=2):
  """PIL image [a | module's view of a turned by `rotation` | b]."""
  turned = synthesize_views.synthesize(module, view_a, rotation[None])[0]
  return synthesize_views.grid_image(view_a, np.stack([turned, view_b]),
                                     zoom=zoom)


def _stem(path):
  return os.path.splitext(os.path.basename(path))[0]


def figure_paths(figures_dir, pictures, pairs=None, synthesis=True):
  """{(a, b) or a: {"so3": path[, "synthesis": path]}} of the figures of
  each pair (`pairs` given; the strip unless not `synthesis`) or of each
  picture (absolute poses)."""
  if pairs is None:
    return {a: {"so3": os.path.join(figures_dir,
                                    f"{a + 1}_{_stem(p)}_so3.png")}
            for a, p in enumerate(pictures)}
  out = {}
  for k, (a, b) in enumerate(pairs, 1):
    stem = os.path.join(figures_dir, f"pair{k}_{_stem(pictures[a])}_"
                        f"{_stem(pictures[b])}")
    out[(a, b)] = {"so3": stem + "_so3.png"}
    if synthesis:
      out[(a, b)]["synthesis"] = stem + "_synthesis.png"
  return out


def _make_parents(figures):
  for paths in figures.values():
    for path in paths.values():
      os.makedirs(os.path.dirname(path), exist_ok=True)


def run_relative(pictures, embedder, pairs, modes=3, separation_degrees=30.0,
                 temperature=1.0, upsample=4, picture_options=None,
                 output=None, figures=None, synthesis=None):
  """Relative poses of picture pairs; returns the text to print.

  Args:
    pictures: picture paths.
    embedder: an Embedder.
    pairs: [(a, b)] indices into `pictures`.
    modes, separation_degrees, temperature, upsample: as
      pose_estimates.relative_pose.
    picture_options: prepare_views' keyword arguments (masks, boxes,
      background), or None.
    output: a .csv to write, or None.
    figures: `figure_paths(dir, pictures, pairs)`, or None.
    synthesis: a loaded synthesis module for the strips, or None.
  """
  picture_options = picture_options or {}
  views = prepare_views(pictures, embedder.image_size, **picture_options)
  maps = embedder.embed(views)
  estimates = [pose_estimates.relative_pose(
      maps[a], maps[b], modes, separation_degrees, temperature, upsample)
               for a, b in pairs]
  lines = []
  for k, ((a, b), estimate) in enumerate(zip(pairs, estimates), 1):
    lines.append(f"pair {k}: {pictures[a]} -> {pictures[b]}: R = R_b R_a^T"
                 " (b shows a turned by R)")
    lines += pose_estimates.describe(estimate)
  if output:
    write_csv(output, ("image_a", "image_b"),
              [((pictures[a], pictures[b]), e)
               for (a, b), e in zip(pairs, estimates)], modes)
    lines.append(f"wrote {output}")
  if not figures:
    return lines
  _make_parents(figures)
  if synthesis is not None and synthesis.image_size != embedder.image_size:
    views = prepare_views(pictures, synthesis.image_size, **picture_options)
  for (a, b), estimate in zip(pairs, estimates):
    paths = figures[(a, b)]
    so3_plot.plot_grid_distribution(
        estimate.cell_masses, path=paths["so3"],
        title=f"{_stem(pictures[a])} -> {_stem(pictures[b])}: R = R_b R_a^T")
    lines.append(f"wrote {paths['so3']}")
    if synthesis is not None:
      synthesize_views.write_png(paths["synthesis"], synthesis_strip(
          synthesis, views[a], views[b], estimate.rotation))
      lines.append(f"wrote {paths['synthesis']}: {_stem(pictures[a])}, the"
                   f" synthesized view of it turned by R, {_stem(pictures[b])}")
  return lines


def run_absolute(pictures, poser, modes=3, separation_degrees=30.0,
                 picture_options=None, output=None, figures=None):
  """Absolute poses of single pictures (Image2Sphere); returns the text to
  print.  Arguments as `run_relative`; figures: `figure_paths(dir,
  pictures)`."""
  views = prepare_views(pictures, poser.image_size, **(picture_options or {}))
  estimates = poser.poses(views, modes, separation_degrees)
  lines = []
  for picture, estimate in zip(pictures, estimates):
    lines.append(f"{picture}: absolute pose R (the object turned by R from"
                 " its canonical pose), Image2Sphere")
    lines += pose_estimates.describe(estimate)
  if output:
    write_csv(output, ("image",),
              [((p,), e) for p, e in zip(pictures, estimates)], modes)
    lines.append(f"wrote {output}")
  if not figures:
    return lines
  _make_parents(figures)
  for a, estimate in enumerate(estimates):
    so3_plot.plot_grid_distribution(
        estimate.cell_masses, path=figures[a]["so3"],
        title=f"{_stem(pictures[a])}: absolute pose (Image2Sphere)")
    lines.append(f"wrote {figures[a]['so3']}")
  return lines
