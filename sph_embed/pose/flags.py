"""The absl flags of the relative-pose tools, defined once.

tools/correlate.py and tools/evaluate_distributions.py form the same pairs
from the same embeddings file and correlate them the same way, and
tools/evaluate_regression.py and tools/evaluate_image2sphere.py form the
same pairs of the same views from absolute poses; their
shared flags are defined here so that names, defaults and help cannot drift
apart.
Each `define_*` function is called once per process (absl refuses a second
definition) and returns a namespace of flag holders.
"""

import types

from absl import app
from absl import flags

from sph_embed.common import outputs
from sph_embed.pose import evaluation

MODES = ("image", "mesh", "teacher")


def define_protocol_flags():
  """The pair protocol: which pairs of views are scored, and how."""
  return types.SimpleNamespace(
      protocol=flags.DEFINE_enum(
          "protocol", "ib", list(evaluation.PROTOCOLS),
          "ib: instance-based, cb: category-based."),
      pairs=flags.DEFINE_integer("pairs", 3, "Pairs per instance.",
                                 lower_bound=1),
      seed=flags.DEFINE_integer("seed", 0, "Seed of the pair selection."),
      symmetric_categories=flags.DEFINE_list(
          "symmetric_categories", [], "Categories whose errors are scored"
          " up to symmetry, min(err, 180 - err) (the paper: airplane)."
          " Default: none."),
  )


def define_pair_flags():
  """Embeddings file, pair protocol and correlation settings."""
  return types.SimpleNamespace(
      embeddings=flags.DEFINE_string("embeddings", None,
                                     "Embeddings .npz file."),
      **vars(define_protocol_flags()),
      mode=flags.DEFINE_enum(
          "mode", "image", list(MODES),
          "image: embeddings on both sides; mesh: the second side uses "
          "`targets` (the teacher maps of the mesh); teacher: both sides "
          "do (the bound perfect image embeddings would reach)."),
      upsample=flags.DEFINE_integer(
          "upsample", 4, "Spatial upsampling factor before the transform"
          " (the original used 4 on 16 x 16 maps).", lower_bound=1),
      normalize=flags.DEFINE_bool(
          "normalize", False, "Per-channel normalisation (zero mean, unit"
          " norm) before correlating."),
      grid_size=flags.DEFINE_integer(
          "grid_size", 0, "Euler grid points per angle (even, >= 2B); 0: 2B,"
          " where B is the bandwidth after upsampling.", lower_bound=0),
      batch=flags.DEFINE_integer("batch", 16, "Pairs per batch.",
                                 lower_bound=1),
  )


def define_mode_flags(default_modes, modes_help):
  """Top-k modes of each pair's pose distribution."""
  return types.SimpleNamespace(
      modes=flags.DEFINE_integer("modes", default_modes, modes_help,
                                 lower_bound=0),
      separation=flags.DEFINE_float(
          "mode_separation_degrees", 30.0, "Minimum geodesic distance"
          " between modes; a mode's mass is taken within half of it.",
          lower_bound=1e-3),
  )


def define_plot_flags(directory_flag, default_pairs, pairs_help):
  """A directory for SO(3) distribution plots and how many pairs go in."""
  return types.SimpleNamespace(
      directory=flags.DEFINE_string(
          directory_flag, None, "Directory for SO(3) plots (PNG) of pose"
          " distributions."),
      pairs=flags.DEFINE_integer("plot_pairs", default_pairs, pairs_help,
                                 lower_bound=0),
  )


def define_csv_output_flags(what):
  """--output (a .csv, optional) and --overwrite."""
  return types.SimpleNamespace(
      output=flags.DEFINE_string("output", None,
                                 f"CSV file to write (optional): {what}."),
      overwrite=outputs.define_overwrite_flag(),
  )


def define_absolute_pose_flags(network):
  """The flags of the tools that score a model of absolute pose (`network`,
  e.g. "the regression network"): the views, the protocol, the
  relative-pose CSV and the per-view absolute-pose CSV."""
  return types.SimpleNamespace(
      data_dir=flags.DEFINE_string(
          "data_dir", None, "Dataset of the views (default: the network's"
          " training data)."),
      split=flags.DEFINE_enum("split", "test", ["train", "test"],
                              "Dataset split to evaluate."),
      batch_size=flags.DEFINE_integer("batch_size", 64,
                                      "Views per forward pass.",
                                      lower_bound=1),
      protocol=define_protocol_flags(),
      csv=define_csv_output_flags("one row per pair"),
      absolute_output=flags.DEFINE_string(
          "absolute_output", None, "CSV file to write (optional): one row"
          f" per view, the absolute-pose error of {network} (and the"
          " log-likelihood of the truth, for a distribution); the report"
          " reads <work_dir>/absolute_<mode>[_2dof].csv."),
  )


def check_arguments(argv, pair_flags):
  """UsageError for stray arguments or a missing --embeddings."""
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  if not pair_flags.embeddings.value:
    raise app.UsageError("--embeddings is required")


def heading(source, protocol_flags, details):
  """The line the relative-pose tools print above their tables."""
  f = protocol_flags
  symmetric = f.symmetric_categories.value
  return (f"{source}: protocol {f.protocol.value.upper()}, {details}"
          + (f", symmetric: {','.join(symmetric)}" if symmetric else ""))


def describe(pair_flags):
  """The heading line of the correlation tools."""
  f = pair_flags
  return heading(f.embeddings.value, f,
                 f"{f.mode.value} mode, upsample x{f.upsample.value}")
