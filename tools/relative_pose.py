"""The rotation between pictures of an object, or one picture's pose.

  python3 tools/relative_pose.py --images=a.png,b.png,c.png \
      --output=poses.csv --figures_dir=figures

For each pair of pictures (--pairs=consecutive, the default: a -> b,
b -> c; --pairs=all: every a -> b with a before b in --images) prints the
relative rotation R = R_b R_a^T (README "Conventions": picture b shows the
object of picture a turned by R in the camera frame, x right, y up, z
toward the viewer) as a matrix, axis-angle and ZYZ Euler angles, and the
top --modes modes of its distribution over SO(3) with their probability
mass and log density (relative to uniform, -2.29).  The pose network is
a pose embedding module (--module, default the shipped
hub_modules/pose_embedding_synthetic) or a tools/train_embedding.py run
(--model_dir); R is the argmax of the SO(3) correlation of the two
pictures' embeddings (sph_embed.report.picture_poses).

--absolute: each picture alone, its absolute pose (the rotation from the
object's canonical pose) from an Image2Sphere module
(--image2sphere_module, default the shipped
hub_modules/image2sphere_synthetic; tools/export_model.py
--kind=image2sphere) or run (--image2sphere_model_dir).

--output: a CSV, one row per pair (or picture), the rotation under
tools/correlate.py's column names (est_r00 ... est_r22), its Euler angles,
axis-angle and modes.  --figures_dir: per pair, the SO(3) plot of the
distribution (<pair>_so3.png) and a strip [a | the synthesis module's view
of a turned by R | b] (<pair>_synthesis.png; --synthesis_module, default
the shipped hub_modules/synthesis_synthetic; --nosynthesis: none), which
matches b when R is right; per picture with --absolute, its SO(3) plot.

Pictures are read as by tools/synthesize.py (sph_embed.data.image_input):
any Pillow picture, the object isolated by --masks (one per picture), else
its alpha channel or plain border colour (--background), within --boxes.
Renders made like the training views (64 x 64, black background, the
object framed by its bounding sphere) should be given with
--background=none: re-centring and re-scaling them costs the shipped
network its accuracy (README, "Pose from your own pictures").
Outputs are checked before computing; existing files are replaced only
with --overwrite.
"""

import os

from absl import app
from absl import flags

from sph_embed.common import cli
from sph_embed.common import outputs
from sph_embed.data import flags as data_flags
from sph_embed.data import image_input
from sph_embed.pose import flags as pose_flags
from sph_embed.report import picture_poses
from sph_embed.synthesis import export as synthesis_export

_IMAGES = flags.DEFINE_list(
    "images", None, "Pictures, comma-separated: two or more (one or more"
    " with --absolute).", required=True)
_PAIRS = flags.DEFINE_enum(
    "pairs", "consecutive", list(picture_poses.PAIR_ORDERS),
    "consecutive: each picture with the next; all: every pair, in --images"
    " order.")
_MODULE = flags.DEFINE_string(
    "module", None, "Pose embedding module (tools/export_model.py"
    " --kind=pose_embedding); default: the shipped"
    " hub_modules/pose_embedding_synthetic.")
_MODEL_DIR = flags.DEFINE_string(
    "model_dir", None, "Or a tools/train_embedding.py run (its pose head).")
_ABSOLUTE = flags.DEFINE_bool(
    "absolute", False, "Each picture's absolute pose with Image2Sphere"
    " instead of relative poses.")
_I2S_MODULE = flags.DEFINE_string(
    "image2sphere_module", None, "--absolute: an Image2Sphere module"
    " (tools/export_model.py --kind=image2sphere); default: the shipped"
    " hub_modules/image2sphere_synthetic.")
_I2S_MODEL_DIR = flags.DEFINE_string(
    "image2sphere_model_dir", None, "--absolute: or a"
    " tools/train_image2sphere.py run.")
_GRID_SIZE = flags.DEFINE_integer(
    "grid_size", None, "--absolute: the Euler grid of the distribution, even"
    " (default: the run's evaluation grid).", lower_bound=4)
_MODES = pose_flags.define_mode_flags(3, "Modes printed per estimate.")
_TEMPERATURE = flags.DEFINE_float(
    "temperature", 1.0, "T of the relative pose density exp(C / T) / Z.",
    lower_bound=1e-12)
_UPSAMPLE = flags.DEFINE_integer(
    "upsample", 4, "Upsampling of the maps before correlating.",
    lower_bound=1)
_CSV = pose_flags.define_csv_output_flags("one row per pair (or picture)")
_FIGURES_DIR = flags.DEFINE_string(
    "figures_dir", None, "Directory for the figures (PNG).")
_SYNTHESIS = flags.DEFINE_bool(
    "synthesis", True, "--figures_dir: also the synthesis strip of each pair.")
_SYNTHESIS_MODULE = flags.DEFINE_string(
    "synthesis_module", picture_poses.DEFAULT_SYNTHESIS_MODULE,
    "Synthesis module of the strips (tools/export_synthesis.py).")
_MASKS = flags.DEFINE_list(
    "masks", None, "One mask picture per --images picture: its set pixels"
    " are the object.")
_BOXES = flags.DEFINE_string(
    "boxes", None, "One box 'x0,y0,x1,y1' per picture, separated by ';':"
    " the pixels to crop to first.")
_BACKGROUND = data_flags.define_background_flag()
flags.adopt_module_key_flags(pose_flags)  # Listed by --help.
flags.adopt_module_key_flags(outputs)

_RELATIVE_ONLY = ("pairs", "module", "model_dir", "temperature", "upsample",
                  "synthesis", "synthesis_module")
_ABSOLUTE_ONLY = ("image2sphere_module", "image2sphere_model_dir",
                  "grid_size")


def _loaded(flag, load, *args):
  """load(*args), a ValueError reported as one line naming --flag."""
  try:
    return load(*args)
  except ValueError as e:
    raise app.UsageError(f"--{flag}: {e}") from None


def _picture_options():
  """prepare_views' keyword arguments from --masks, --boxes, --background."""
  count = len(_IMAGES.value)
  for flag, values in (("masks", _MASKS.value),
                       ("boxes", _BOXES.value and _BOXES.value.split(";"))):
    if values and len(values) != count:
      raise app.UsageError(f"--{flag}: {len(values)} given for {count}"
                           " pictures; give one per picture")
  if _MASKS.value and flags.FLAGS["background"].present:
    raise app.UsageError("give --masks or --background, not both: the masks"
                         " isolate the objects")
  boxes = (None if not _BOXES.value else
           [_loaded("boxes", image_input.parse_box, box)
            for box in _BOXES.value.split(";")])
  return {"masks": _MASKS.value, "boxes": boxes,
          "background": _BACKGROUND.value}


def _check_flags():
  """Usage errors of the flag combination."""
  misplaced = [name for name in (_RELATIVE_ONLY if _ABSOLUTE.value
                                 else _ABSOLUTE_ONLY)
               if flags.FLAGS[name].present]
  if misplaced:
    raise app.UsageError(f"--{misplaced[0]} does not apply"
                         f" {'with' if _ABSOLUTE.value else 'without'}"
                         " --absolute")
  if _ABSOLUTE.value:
    if _I2S_MODULE.value and _I2S_MODEL_DIR.value:
      raise app.UsageError("give --image2sphere_module or"
                           " --image2sphere_model_dir, not both")
    if _GRID_SIZE.value is not None and _GRID_SIZE.value % 2:
      raise app.UsageError(f"--grid_size={_GRID_SIZE.value}: must be even")
  elif len(_IMAGES.value) < 2:
    raise app.UsageError(f"--images: {len(_IMAGES.value)} picture given; a"
                         " relative pose needs two or more (or --absolute)")
  if _MODULE.value and _MODEL_DIR.value:
    raise app.UsageError("give --module or --model_dir, not both")


def _checked_outputs(pairs=None):
  """The figure paths (None without --figures_dir), every output checked."""
  inputs = {f"images={path}": path for path in _IMAGES.value}
  if _CSV.output.value:
    outputs.check_output_file(_CSV.output.value, "output", (".csv",),
                              inputs, _CSV.overwrite.value)
  if not _FIGURES_DIR.value:
    return None
  outputs.check_output_dir(_FIGURES_DIR.value, "figures_dir")
  figures = picture_poses.figure_paths(_FIGURES_DIR.value, _IMAGES.value,
                                       pairs, _SYNTHESIS.value)
  if os.path.isdir(_FIGURES_DIR.value):  # Else made with the figures.
    for paths in figures.values():
      for path in paths.values():
        outputs.check_output_file(path, "figures_dir", (".png",), inputs,
                                  _CSV.overwrite.value)
  return figures


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  _check_flags()
  picture_options = _picture_options()
  modes = {"modes": _MODES.modes.value,
           "separation_degrees": _MODES.separation.value}
  if _ABSOLUTE.value:
    figures = _checked_outputs()
    poser = _loaded(
        "image2sphere_model_dir" if _I2S_MODEL_DIR.value else
        "image2sphere_module", picture_poses.load_image2sphere,
        _I2S_MODULE.value, _I2S_MODEL_DIR.value, _GRID_SIZE.value)
    lines = picture_poses.run_absolute(
        _IMAGES.value, poser, **modes, picture_options=picture_options,
        output=_CSV.output.value, figures=figures)
  else:
    pairs = picture_poses.pair_indices(len(_IMAGES.value), _PAIRS.value)
    figures = _checked_outputs(pairs)
    embedder = _loaded("model_dir" if _MODEL_DIR.value else "module",
                       picture_poses.load_embedder, _MODULE.value,
                       _MODEL_DIR.value)
    synthesis = (_loaded("synthesis_module", synthesis_export.load_synthesis,
                         _SYNTHESIS_MODULE.value)
                 if figures and _SYNTHESIS.value else None)
    lines = picture_poses.run_relative(
        _IMAGES.value, embedder, pairs, **modes,
        temperature=_TEMPERATURE.value, upsample=_UPSAMPLE.value,
        picture_options=picture_options, output=_CSV.output.value,
        figures=figures, synthesis=synthesis)
  print("\n".join(lines))


if __name__ == "__main__":
  cli.run(main)
