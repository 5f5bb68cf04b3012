"""Novel views of an object from one image: a PNG grid and an animated GIF.

The view is embedded, its embedding rotated by each R (exact spectral
rotation) and decoded by a synthesis module (tools/export_synthesis.py;
default: the shipped hub_modules/synthesis_synthetic):

  # a turntable of 24 frames about the image's vertical axis
  python3 tools/synthesize.py --image=chair.png --turntable=24 --axis=y \
      --output_png=/tmp/chair.png --output_gif=/tmp/chair.gif
  # a dataset example, with the true renders of the rotated mesh below
  python3 tools/synthesize.py --data_dir=data/synthetic --split=test \
      --index=0 --euler="0,45,0;90,90,0" --output_png=/tmp/views.png
  # the first example of each category of a split: a GIF and a PNG each,
  # in one directory (the main job's <work_dir>/synthesis)
  python3 tools/synthesize.py --data_dir=data/synthetic --split=test \
      --per_category=1 --turntable=24 --output_dir=/tmp/turntables

R acts in the camera frame (x right, y up, z toward the viewer): the
synthesized view is that of the object in pose R @ R0 when the input shows
it in pose R0 (sph_embed.report.synthesize_views).  --image: any picture
Pillow reads (any size and mode: 8- or 16-bit grey, RGB(A), palette,
CMYK, ...; EXIF orientation applied; an animation's first frame), made
into the module's input as training views are (sph_embed.data.image_input):
the object isolated by --mask, else by its alpha channel or the plain
border colour (--background), within --box if given, centred and scaled on
black, grayscale.  --euler: ZYZ Euler angles in degrees, "alpha,beta,gamma",
several separated by ';'.  --turntable=N: N rotations by i * 360 / N
degrees about --axis.
"""

import os

from absl import app
from absl import flags

from sph_embed.common import cli
from sph_embed.common import outputs
from sph_embed.data import flags as data_flags
from sph_embed.data import image_input
from sph_embed.report import synthesize_views
from sph_embed.synthesis import export as synthesis_export

_MODULE = flags.DEFINE_string(
    "module", "hub_modules/synthesis_synthetic",
    "Synthesis module (tools/export_synthesis.py).")
_IMAGE = flags.DEFINE_string("image", None, "Input picture (PNG, JPEG, ...).")
_MASK = flags.DEFINE_string(
    "mask", None, "--image: a picture of its size whose set pixels (half "
    "intensity or more) are the object.")
_BOX = flags.DEFINE_string(
    "box", None, "--image: 'x0,y0,x1,y1', the pixels to crop to first "
    "(x1, y1 excluded).")
_BACKGROUND = data_flags.define_background_flag()
_DATA_DIR = flags.DEFINE_string(
    "data_dir", None, "Or a dataset (with --split, --index): the example's "
    "view is the input and its mesh gives the true views.")
_SPLIT = flags.DEFINE_enum("split", "test", ["train", "test"],
                           "--data_dir: the split.")
_INDEX = flags.DEFINE_integer("index", 0, "--data_dir: the example's index "
                              "in the split's fixed order.", lower_bound=0)
_EULER = flags.DEFINE_string(
    "euler", None, "Rotations as ZYZ Euler angles in degrees: "
    "'alpha,beta,gamma;alpha,beta,gamma;...'.")
_TURNTABLE = flags.DEFINE_integer(
    "turntable", None, "Or N rotations by 360/N degrees about --axis.",
    lower_bound=1)
_AXIS = flags.DEFINE_enum("axis", "y", sorted(synthesize_views.AXES),
                          "--turntable axis in the camera frame (x right, "
                          "y up, z toward the viewer).")
_PER_CATEGORY = flags.DEFINE_integer(
    "per_category", None, "--data_dir: instead of --index, the first N "
    "examples of each category, written into --output_dir.", lower_bound=1)
_OUTPUT_DIR = flags.DEFINE_string(
    "output_dir", None, "--per_category: directory of <category>_<index>"
    ".gif / .png files and samples.json (replaced as a whole).")
_OUTPUT_PNG = flags.DEFINE_string("output_png", None, "PNG grid to write.")
_OUTPUT_GIF = flags.DEFINE_string("output_gif", None,
                                  "Animated GIF to write.")
_OVERWRITE = outputs.define_overwrite_flag(
    "existing --output_png / --output_gif files or --output_dir")
_ZOOM = flags.DEFINE_integer("zoom", 2, "Magnification of the outputs.",
                             lower_bound=1)
_FRAME_MS = flags.DEFINE_integer("frame_ms", 120, "GIF frame duration.",
                                 lower_bound=10)


def _rotations():
  """The requested rotations [k, 3, 3] (--euler or --turntable)."""
  if (_EULER.value is None) == (_TURNTABLE.value is None):
    raise app.UsageError("give exactly one of --euler and --turntable")
  if _EULER.value is not None:
    return synthesize_views.parse_euler(_EULER.value)
  return synthesize_views.turntable(_TURNTABLE.value, _AXIS.value)


def _check_samples_flags():
  """--per_category mode: the checked --output_dir."""
  if _DATA_DIR.value is None or _IMAGE.value is not None:
    raise app.UsageError("--per_category takes its examples from --data_dir"
                         " (not --image)")
  if flags.FLAGS["index"].present or _OUTPUT_PNG.value or _OUTPUT_GIF.value:
    raise app.UsageError("--per_category writes --output_dir; --index,"
                         " --output_png and --output_gif do not apply")
  if _OUTPUT_DIR.value is None:
    raise app.UsageError("--per_category needs --output_dir")
  path = outputs.check_replaced_dir(_OUTPUT_DIR.value, "output_dir",
                                    (synthesize_views.SAMPLES_INDEX,))
  if (os.path.isdir(path) and os.listdir(path) and not _OVERWRITE.value):
    raise app.UsageError(f"--output_dir={_OUTPUT_DIR.value}: exists; pass"
                         " --overwrite to replace it")
  return path


def _checked_box():
  """--box parsed (None without it); --mask, --box and --background apply
  to --image only, and --mask excludes --background."""
  given = [name for name in ("mask", "box", "background")
           if flags.FLAGS[name].present]
  if given and _IMAGE.value is None:
    raise app.UsageError(f"--{given[0]} applies to --image only")
  if _MASK.value is not None and flags.FLAGS["background"].present:
    raise app.UsageError("give --mask or --background, not both: the mask"
                         " isolates the object")
  try:
    return image_input.parse_box(_BOX.value) if _BOX.value else None
  except ValueError as e:
    raise app.UsageError(f"--box: {e}") from None


def _check_flags():
  """The checked output paths (png, gif) of the single-input mode."""
  if (_IMAGE.value is None) == (_DATA_DIR.value is None):
    raise app.UsageError("give exactly one input: --image=PATH, or"
                         " --data_dir with --split and --index")
  if _OUTPUT_DIR.value is not None:
    raise app.UsageError("--output_dir is for --per_category; give"
                         " --output_png and/or --output_gif")
  if not (_OUTPUT_PNG.value or _OUTPUT_GIF.value):
    raise app.UsageError("nothing to write: give --output_png and/or"
                         " --output_gif")
  inputs = {"image": _IMAGE.value, "mask": _MASK.value}
  png = (outputs.check_output_file(_OUTPUT_PNG.value, "output_png", (".png",),
                                   inputs, _OVERWRITE.value)
         if _OUTPUT_PNG.value else None)
  gif = (outputs.check_output_file(_OUTPUT_GIF.value, "output_gif", (".gif",),
                                   inputs, _OVERWRITE.value)
         if _OUTPUT_GIF.value else None)
  if png and gif and png == gif:
    raise app.UsageError("--output_png and --output_gif are the same file")
  return png, gif


def _load_module():
  try:
    return synthesis_export.load_synthesis(_MODULE.value)
  except ValueError as e:
    raise app.UsageError(f"--module: {e}") from None


def _write_samples(rotations):
  output_dir = _check_samples_flags()
  module = _load_module()
  samples = synthesize_views.write_samples(
      module, _DATA_DIR.value, _SPLIT.value, output_dir, _PER_CATEGORY.value,
      rotations, _ZOOM.value, _FRAME_MS.value)
  print(f"wrote {len(samples)} turntables ({len(rotations)} views each) to"
        f" {os.path.relpath(output_dir)}")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  rotations = _rotations()
  box = _checked_box()
  if _PER_CATEGORY.value is not None:
    _write_samples(rotations)
    return
  png, gif = _check_flags()
  module = _load_module()
  truth = None
  if _IMAGE.value is not None:
    image = image_input.prepare_image(
        _IMAGE.value, module.image_size, mask=_MASK.value, box=box,
        background=_BACKGROUND.value)
  else:
    example = synthesize_views.dataset_example(_DATA_DIR.value, _SPLIT.value,
                                               _INDEX.value)
    if example.image.shape[0] != module.image_size:
      raise app.UsageError(
          f"--data_dir: views are {example.image.shape[0]} pixels wide, the"
          f" module {_MODULE.value} takes {module.image_size}")
    image = example.image
    truth = synthesize_views.true_views(example.mesh, example.pose, rotations,
                                        module.image_size)
  synthesized = synthesize_views.synthesize(module, image, rotations)
  written = []
  if png:
    synthesize_views.write_png(png, synthesize_views.grid_image(
        image, synthesized, truth, _ZOOM.value))
    written.append(png)
  if gif:
    synthesize_views.write_gif(gif, synthesize_views.gif_frames(
        synthesized, truth, _ZOOM.value), _FRAME_MS.value)
    written.append(gif)
  print(f"wrote {' and '.join(os.path.relpath(p) for p in written)}:"
        f" {len(rotations)} views")


if __name__ == "__main__":
  cli.run(main)
