"""A user's picture made into the network's input, as training views are.

Training views (sph_embed.data.render, sph_embed.data.input_pipeline) are
S x S grayscale float32 in [0, 1] (uint8 / 255): a lit grey object on a
black (0) background, the mesh's bounding-box centre at the image centre
and its bounding sphere filling the frame, so that the object's longer side
spans `OBJECT_FRACTION` of the image.  A picture is made alike:

  view = image_input.prepare_image("photo.jpg", 64, mask=None, box=None,
                                   background="auto")   # [64, 64, 1]

1. read (`read_picture`): any size and Pillow mode, scaled by its bit depth
   (8-bit / 255, 16-bit / 65535: a 16-bit picture and its 8-bit copy give
   the same view), the EXIF orientation applied, the first frame of an
   animation (with a warning);
2. cropped to `box` (x0, y0, x1, y1 in pixels of the upright picture, x1
   and y1 excluded; clipped to the picture), if given;
3. the object isolated (`object_weights`): the `mask` file's set pixels;
   else, by `background` (`BACKGROUNDS`): "auto" keeps a square grey
   picture on a black border as it is (it already is a view: a render, or a view
   saved by the tools; re-framing one moves and scales the object, which
   the networks are not trained for), else takes the alpha channel
   when the picture has transparency and the border colour otherwise,
   "alpha" and "border" insist on one, "none" keeps the picture (or the
   crop) as it is: neither isolated nor re-framed, only padded to a square;
4. framed (`frame_object`): luminance x weight (the background becomes 0),
   cropped to the object, centred on a black square with its longer side at
   `OBJECT_FRACTION`, resized to S x S with Pillow's Lanczos filter.

Every refusal is an `ImageInputError` (a ValueError) whose one-line message
names the file or the box: not an image, no object found, an empty crop, a
bad box, a mask of another size, a background that is not plain.
Pillow and NumPy only (no TensorFlow).
"""

import dataclasses
import math
import os

from absl import logging
import numpy as np
from PIL import Image
from PIL import ImageOps
from PIL import UnidentifiedImageError

# The object's longer side over the view's: the median over 192 renders of
# the synthetic shapes in random SO(3) poses (0.61-0.98; BUILD_NOTES.md,
# issue 30).
OBJECT_FRACTION = 0.83
BACKGROUNDS = ("auto", "alpha", "border", "none")
# Colour distance (max over channels, intensities in [0, 1]) within which a
# pixel is the border's colour: above JPEG noise on a flat background,
# below the darkest lit face of a render (~0.08).
BORDER_TOLERANCE = 0.05
# A border is plain when this share of its pixels has its median colour
# (the rest: the object touching the frame).
_PLAIN_BORDER_SHARE = 0.9
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)  # Pillow's "L" weights.
_ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")
_SIXTEEN_BIT_MAX = 65535.0
_THIRTY_TWO_BIT_MAX = 2.0 ** 31 - 1


class ImageInputError(ValueError):
  """A picture that cannot be made into a view; the message names it."""


@dataclasses.dataclass(frozen=True)
class Picture:
  """The first frame of an image file, upright, intensities in [0, 1]."""
  path: str
  colour: np.ndarray          # float32 [H, W, C], C = 1 (grey) or 3 (RGB)
  alpha: np.ndarray | None    # float32 [H, W]; None: the mode has none
  frames: int                 # In the file; only the first is read.

  @property
  def size(self):
    """(width, height), as Pillow and boxes count."""
    return self.colour.shape[1], self.colour.shape[0]

  def first_frame_note(self):
    """What to add to a refusal of an animation's first frame."""
    return (f" (only the first of its {self.frames} frames is read)"
            if self.frames > 1 else "")


def luminance(colour):
  """[H, W] grey of float [H, W, C] grey or RGB colour."""
  return colour[..., 0] if colour.shape[-1] == 1 else colour @ _LUMA


def _check_file(path):
  if not os.path.exists(path):
    raise ImageInputError(f"{path}: no such file")
  if os.path.isdir(path):
    raise ImageInputError(f"{path}: is a directory, not an image file")
  if os.path.getsize(path) == 0:
    raise ImageInputError(f"{path}: empty file (0 bytes), not an image")


def _clipped(values, path):
  """`values` clipped to [0, 1], with a warning naming `path` if it cut."""
  low, high = float(values.min()), float(values.max())
  if low < 0 or high > 1:
    logging.warning("%s: intensities %.4g..%.4g clipped to 0..1", path,
                    low, high)
  return np.clip(values, 0, 1).astype(np.float32)


def _wide_grey(image, path):
  """Grey of a 16- or 32-bit integer mode, by its bit depth.

  Pillow opens 16-bit PNG and TIFF as I;16 (or I;16B) and 16-bit PGM as I
  (a 32-bit container): values up to 65535 are 16-bit data.
  """
  values = np.asarray(image).astype(np.float64)
  depth = (_SIXTEEN_BIT_MAX if values.max() <= _SIXTEEN_BIT_MAX
           else _THIRTY_TWO_BIT_MAX)
  return _clipped(values / depth, path)


def _channels(image, path):
  """(colour [H, W, C], alpha [H, W] or None) of an opened image."""
  mode = image.mode
  if mode == "I" or mode.startswith("I;16"):
    return _wide_grey(image, path)[..., None], None
  if mode == "F":
    return _clipped(np.asarray(image), path)[..., None], None
  if mode in _ALPHA_MODES or "transparency" in image.info:
    rgba = np.asarray(image.convert("RGBA"), np.float32) / 255
    return rgba[..., :3], rgba[..., 3]
  if mode in ("1", "L"):
    return (np.asarray(image.convert("L"), np.float32) / 255)[..., None], None
  try:
    rgb = image.convert("RGB")
  except ValueError as e:
    raise ImageInputError(f"{path}: Pillow mode {mode} cannot be read as"
                          f" RGB ({e})") from None
  return np.asarray(rgb, np.float32) / 255, None


def read_picture(path):
  """The `Picture` of the image file `path` (see the module docstring).

  Raises:
    ImageInputError naming `path`: missing, a directory, empty, not a
    readable image, or of a mode that has no RGB.
  """
  path = os.fspath(path)
  _check_file(path)
  try:
    with Image.open(path) as opened:
      frames = getattr(opened, "n_frames", 1)
      image = ImageOps.exif_transpose(opened)  # Loads the first frame.
  except (UnidentifiedImageError, OSError, SyntaxError,
          Image.DecompressionBombError) as e:
    raise ImageInputError(f"{path}: not a readable image"
                          f" ({type(e).__name__}: {e})") from None
  if image.width == 0 or image.height == 0:
    raise ImageInputError(f"{path}: empty image ({image.width} x"
                          f" {image.height})")
  if frames > 1:
    logging.warning("%s: an animated image of %d frames: only the first"
                    " frame is read", path, frames)
  colour, alpha = _channels(image, path)
  return Picture(path, colour, alpha, frames)


def parse_box(text):
  """"x0,y0,x1,y1" -> a box of integer pixel coordinates (x1, y1 excluded).

  Raises:
    ImageInputError naming the box: not four integers, or no area.
  """
  try:
    box = tuple(int(v) for v in text.split(","))
  except ValueError:
    box = ()
  if len(box) != 4:
    raise ImageInputError(f"box {text!r}: expected four integers"
                          " x0,y0,x1,y1 (pixels of the upright picture; x1"
                          " and y1 excluded)")
  if box[2] <= box[0] or box[3] <= box[1]:
    raise ImageInputError(f"box {text!r}: empty crop (needs x0 < x1 and"
                          " y0 < y1)")
  return box


def crop_region(box, picture):
  """Row and column slices of `box` clipped to the picture.

  Raises:
    ImageInputError: the box lies outside the picture (an empty crop).
  """
  width, height = picture.size
  x0, y0 = max(box[0], 0), max(box[1], 0)
  x1, y1 = min(box[2], width), min(box[3], height)
  if x1 <= x0 or y1 <= y0:
    raise ImageInputError(f"box {box}: empty crop: it lies outside the"
                          f" {width} x {height} picture {picture.path}")
  return slice(y0, y1), slice(x0, x1)


def read_mask(path, picture):
  """The set pixels (half intensity or more) of mask file `path`, [H, W].

  Raises:
    ImageInputError naming the mask: unreadable, not the picture's size.
  """
  mask = read_picture(path)
  if mask.size != picture.size:
    raise ImageInputError(f"{path}: the mask is {mask.size[0]} x"
                          f" {mask.size[1]}, the picture {picture.path}"
                          f" {picture.size[0]} x {picture.size[1]}")
  weights = luminance(mask.colour)
  if mask.alpha is not None:
    weights = weights * mask.alpha
  return weights >= 0.5


def _has_transparency(alpha):
  return alpha is not None and alpha.min() < 1


def _border_weights(colour, path):
  """1 where a pixel differs from the plain border's colour, else 0.

  Raises:
    ImageInputError naming `path` when the border is not one colour.
  """
  border = np.concatenate([colour[0], colour[-1], colour[:, 0],
                           colour[:, -1]])
  background = np.median(border, axis=0)
  plain = np.mean(np.abs(border - background).max(axis=-1)
                  <= BORDER_TOLERANCE)
  if plain < _PLAIN_BORDER_SHARE:
    raise ImageInputError(
        f"{path}: no plain background to isolate the object from: only"
        f" {plain:.0%} of the border has its median colour; give a mask"
        " (--mask), a picture with a transparent background, or"
        " --background=none to keep the background")
  return (np.abs(colour - background).max(axis=-1)
          > BORDER_TOLERANCE).astype(np.float32)


def object_weights(colour, alpha, background, path):
  """(weights [H, W] in [0, 1] of the object's pixels, how they were found).

  Args:
    colour, alpha: a picture's (or crop's) arrays.
    background: "auto", "alpha" or "border" (see the module docstring).
    path: the picture, for messages.

  Raises:
    ImageInputError naming `path`: "alpha" without transparency, or a
    border that is not plain.
  """
  if background == "alpha" or (background == "auto" and
                               _has_transparency(alpha)):
    if not _has_transparency(alpha):
      raise ImageInputError(f"{path}: has no transparency to isolate the"
                            " object by (--background=alpha)")
    return alpha, "its alpha channel"
  return _border_weights(colour, path), "the border colour"


def _is_a_view(colour, alpha):
  """Whether a picture already is a view: square, opaque, grey (every
  channel equal), its border black (the views' background) and something
  else in it."""
  border = np.concatenate([colour[0], colour[-1], colour[:, 0],
                           colour[:, -1]])
  return (colour.shape[0] == colour.shape[1] and
          not _has_transparency(alpha) and border.max() < 0.5 / 255 and
          colour.max() > 0 and
          np.ptp(colour, axis=-1).max(initial=0.0) == 0)


def _padded_square(values, side):
  """`values` [h, w] centred on a black side x side square."""
  square = np.zeros((side, side), np.float32)
  top = (side - values.shape[0]) // 2
  left = (side - values.shape[1]) // 2
  square[top:top + values.shape[0], left:left + values.shape[1]] = values
  return square


def _resized(square, size):
  """A square float image as the view [size, size, 1] in [0, 1]."""
  image = Image.fromarray(square)  # Mode F: no rounding to 8 bits.
  if image.size != (size, size):
    image = image.resize((size, size), Image.Resampling.LANCZOS)
  return np.clip(np.asarray(image, np.float32), 0, 1)[..., None]


def frame_object(grey, weights, size):
  """The view [size, size, 1] of the object in `grey` [H, W].

  The object (weights >= 0.5; its soft edges kept) on black, cropped to its
  bounding box, centred with its longer side at OBJECT_FRACTION of the
  view.  Returns None when no pixel is the object.
  """
  rows, columns = np.nonzero(weights >= 0.5)
  if not rows.size:
    return None
  crop = (grey * weights)[rows.min():rows.max() + 1,
                          columns.min():columns.max() + 1]
  side = math.ceil(max(crop.shape) / OBJECT_FRACTION)
  return _resized(_padded_square(crop, side), size)


def _as_is(picture, colour, size):
  """The picture (or crop), not isolated: padded to a square, resized."""
  grey = luminance(colour)
  if grey.min() == grey.max():
    raise ImageInputError(f"{picture.path}: no object found: every pixel is"
                          f" {grey.min():.3g}{picture.first_frame_note()}")
  return _resized(_padded_square(grey, max(grey.shape)), size)


def prepare_image(path, size, mask=None, box=None, background="auto"):
  """The network's input view of the picture `path`: float32 [S, S, 1].

  Args:
    path: an image file.
    size: S, the view's width and height.
    mask: an image file of the picture's size whose set pixels (half
      intensity or more) are the object, or None.
    box: (x0, y0, x1, y1) to crop to first (`parse_box`), or None.
    background: how to find the object without a mask (BACKGROUNDS).

  Raises:
    ImageInputError naming the file or box (see the module docstring).
  """
  if background not in BACKGROUNDS:
    raise ValueError(f"background {background!r}: expected one of"
                     f" {BACKGROUNDS}")
  picture = read_picture(path)
  rows, columns = (crop_region(box, picture) if box is not None
                   else (slice(None), slice(None)))
  colour = picture.colour[rows, columns]
  if mask is not None:
    weights, how = read_mask(mask, picture)[rows, columns], f"mask {mask}"
  else:
    alpha = picture.alpha[rows, columns] if picture.alpha is not None else None
    if background == "none" or (background == "auto" and box is None and
                                _is_a_view(colour, alpha)):
      return _as_is(picture, colour, size)
    weights, how = object_weights(colour, alpha, background, picture.path)
  view = frame_object(luminance(colour), weights, size)
  if view is None:
    raise ImageInputError(f"{picture.path}: no object found by {how}"
                          f"{picture.first_frame_note()}")
  if not view.any():
    raise ImageInputError(f"{picture.path}: no object found: the object"
                          f" isolated by {how} is black, the views'"
                          " background")
  logging.info("%s: the object isolated by %s, centred and scaled to %d x"
               " %d", picture.path, how, size, size)
  return view
