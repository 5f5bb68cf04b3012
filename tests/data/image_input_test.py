"""Tests for sph_embed.data.image_input (a user's picture -> the view)."""

import os

from absl.testing import parameterized
import numpy as np
from PIL import Image
import tensorflow as tf

from sph_embed.data import image_input
from tests import mesh_test_util

_SIZE = 64
_HEIGHT, _WIDTH = 48, 72
_EXIF_ORIENTATION = 0x0112


def _object(binary=False):
  """uint8 [48, 72]: an L-shaped object of two grey levels on black."""
  pixels = np.zeros((_HEIGHT, _WIDTH), np.uint8)
  pixels[10:38, 20:34] = 255
  pixels[28:38, 34:56] = 255 if binary else 128
  return pixels


def _eight_bit(pixels):
  return Image.fromarray(pixels)


def _wide(pixels, dtype):
  return Image.fromarray(pixels.astype(dtype) * 257)


def _with_alpha(mode):
  def make(pixels):
    image = Image.fromarray(pixels).convert(mode)
    image.putalpha(Image.fromarray(np.where(pixels > 0, 255, 0)
                                   .astype(np.uint8)))
    return image
  return make


def _palette_with_transparency(pixels):
  image = Image.fromarray(pixels).convert("P")
  image.info["transparency"] = 0   # Black, the background.
  return image


# (name, the picture in that mode from the object's pixels, file type).
_MODES = (
    ("L", _eight_bit, "png"),
    ("RGB", lambda p: Image.fromarray(p).convert("RGB"), "png"),
    ("RGBA", _with_alpha("RGBA"), "png"),
    ("LA", _with_alpha("LA"), "png"),
    ("P", lambda p: Image.fromarray(p).convert("P"), "png"),
    ("P_transparency", _palette_with_transparency, "png"),
    ("I16", lambda p: _wide(p, np.uint16), "png"),
    ("I16B", lambda p: _wide(p, ">u2"), "tif"),
    ("I", lambda p: _wide(p, np.int32), "tif"),
    ("F", lambda p: Image.fromarray(p.astype(np.float32) / 255), "tif"),
    ("CMYK", lambda p: Image.fromarray(p).convert("RGB").convert("CMYK"),
     "tif"),
)


class ImageInputTest(tf.test.TestCase, parameterized.TestCase):

  def setUp(self):
    super().setUp()
    self.dir = mesh_test_util.temp_dir(self)

  def save(self, name, image, **options):
    path = os.path.join(self.dir, name)
    image.save(path, **options)
    return path

  def view(self, image, name="picture.png", save=None, **options):
    """The view of `image` saved as `name` (with Pillow's `save` options)."""
    return image_input.prepare_image(self.save(name, image, **(save or {})),
                                     _SIZE, **options)

  def reference(self, binary=False):
    """The view of the object on black, as an 8-bit grey PNG."""
    return self.view(_eight_bit(_object(binary)), "reference.png")

  def test_view_is_the_training_format(self):
    view = self.reference()
    self.assertEqual((view.shape, view.dtype), ((_SIZE, _SIZE, 1),
                                                np.float32))
    self.assertEqual((view.min(), view.max()), (0.0, 1.0))
    self.assertEqual(view[0, 0, 0], 0.0)   # Black background.

  def test_object_is_centred_and_scaled_as_in_training_views(self):
    pixels = np.zeros((300, 500), np.uint8)
    pixels[200:260, 30:90] = 200   # Small, off-centre, in a wide picture.
    rows, columns = np.nonzero(self.view(_eight_bit(pixels))[..., 0] > 0.1)
    self.assertAllClose([rows.min() + rows.max() + 1,
                         columns.min() + columns.max() + 1],
                        [_SIZE, _SIZE], atol=1)
    self.assertAllClose([rows.max() + 1 - rows.min(),
                         columns.max() + 1 - columns.min()],
                        [image_input.OBJECT_FRACTION * _SIZE] * 2, atol=1.5)

  def test_sixteen_bit_grey_png_gives_its_eight_bit_copys_view(self):
    ramp = np.linspace(0.2, 1.0, _WIDTH)[None, :] * np.ones((_HEIGHT, 1))
    deep = np.where(_object() > 0, np.round(ramp * 65535), 0).astype(
        np.uint16)
    shallow = np.round(deep / 257).astype(np.uint8)
    self.assertAllClose(self.view(Image.fromarray(deep), "deep.png"),
                        self.view(Image.fromarray(shallow), "shallow.png"),
                        atol=1 / 255, rtol=0)

  @parameterized.named_parameters(*_MODES)
  def test_each_mode_gives_the_grey_pictures_view(self, make, file_type):
    self.assertAllClose(self.view(make(_object()), f"mode.{file_type}"),
                        self.reference(), atol=1e-5, rtol=0)

  def test_bilevel_mode(self):
    image = Image.fromarray(_object(binary=True)).convert("1")
    self.assertEqual(image.mode, "1")
    self.assertAllClose(self.view(image), self.reference(binary=True),
                        atol=1e-6, rtol=0)

  def test_exif_rotated_jpeg_equals_the_upright_one(self):
    upright = _eight_bit(np.repeat(np.repeat(_object(), 2, 0), 2, 1))
    exif = Image.Exif()
    exif[_EXIF_ORIENTATION] = 6   # Shown rotated back by 90 deg clockwise.
    stored = upright.transpose(Image.Transpose.ROTATE_90)
    rotated = self.view(stored, "rotated.jpg",
                        save={"exif": exif, "quality": 100})
    expected = self.view(upright, "upright.jpg", save={"quality": 100})
    self.assertAllClose(rotated, expected, atol=0.03, rtol=0)

  def test_alpha_channel_isolates_the_object(self):
    noise = np.random.default_rng(0).integers(0, 256, (_HEIGHT, _WIDTH, 3),
                                              dtype=np.uint8)
    pixels = _object()
    rgb = np.where(pixels[..., None] > 0, pixels[..., None], noise)
    image = Image.fromarray(rgb.astype(np.uint8))
    image.putalpha(Image.fromarray(np.where(pixels > 0, 255, 0).astype(
        np.uint8)))
    self.assertAllClose(self.view(image), self.reference(), atol=1e-5,
                        rtol=0)

  def test_mask_file_isolates_the_object(self):
    pixels = _object()
    noise = np.random.default_rng(1).integers(0, 256, pixels.shape,
                                              dtype=np.uint8)
    picture = _eight_bit(np.where(pixels > 0, pixels, noise))
    mask = self.save("mask.png", _eight_bit(np.where(pixels > 0, 255, 0)
                                            .astype(np.uint8)))
    self.assertAllClose(self.view(picture, mask=mask), self.reference(),
                        atol=1e-5, rtol=0)

  def test_box_crops_to_one_object(self):
    pixels = _object()
    pixels[2:8, 62:70] = 255   # A second object.
    view = self.view(_eight_bit(pixels), box=(15, 5, 60, 45))
    self.assertAllClose(view, self.reference(), atol=1e-5, rtol=0)

  def test_border_colour_is_the_background(self):
    pixels = _object()
    green = np.array([40, 160, 90], np.uint8)
    rgb = np.where(pixels[..., None] > 0, pixels[..., None], green)
    self.assertAllClose(self.view(Image.fromarray(rgb.astype(np.uint8))),
                        self.reference(), atol=1e-5, rtol=0)

  def test_a_square_picture_on_black_is_kept_as_a_view(self):
    """A render (or a view saved by the tools) is not re-framed: moving and
    scaling its object cost the shipped network ~110 degrees of IB."""
    render = np.zeros((_SIZE, _SIZE), np.uint8)
    render[3:20, 40:60] = 180   # Off-centre and small, as a render can be.
    self.assertAllEqual(self.view(_eight_bit(render), "render.png"),
                        render[..., None] / np.float32(255))
    # Cropped by a box, it is framed as any picture.
    framed = self.view(_eight_bit(render), "render.png", box=(0, 0, _SIZE,
                                                              _SIZE))
    self.assertNotAllClose(framed, render[..., None] / np.float32(255))

  def test_background_none_keeps_the_picture_as_it_is(self):
    pixels = np.zeros((_SIZE, _SIZE), np.uint8)
    pixels[5:30, 20:60] = 90
    pixels[30:40, 2:10] = 250
    view = self.view(_eight_bit(pixels), background="none")
    self.assertAllEqual(view[..., 0], pixels / np.float32(255))

  def test_animated_image_reads_the_first_frame_and_says_so(self):
    frames = [_eight_bit(_object()), _eight_bit(np.zeros((_HEIGHT, _WIDTH),
                                                         np.uint8))]
    path = self.save("moving.gif", frames[0], save_all=True,
                     append_images=frames[1:])
    with self.assertLogs(level="WARNING") as logs:
      view = image_input.prepare_image(path, _SIZE)
    self.assertRegex(" ".join(logs.output), f"{path}: an animated image of"
                     " 2 frames: only the first frame is read")
    self.assertAllClose(view, self.reference(), atol=1e-5, rtol=0)

  def _refusal(self, case):
    """(picture, prepare_image options, expected message) of `case`."""
    blank = _eight_bit(np.full((_HEIGHT, _WIDTH), 9, np.uint8))
    black = _eight_bit(np.zeros((_HEIGHT, _WIDTH), np.uint8))
    picture = self.save("picture.png", _eight_bit(_object()))
    if case == "missing":
      path = os.path.join(self.dir, "missing.png")
      return path, {}, f"^{path}: no such file"
    if case == "directory":
      return self.dir, {}, f"^{self.dir}: is a directory"
    if case == "empty_file":
      return (mesh_test_util.write_file(self.dir, "empty.png", ""), {},
              "empty.png: empty file .0 bytes.")
    if case == "not_an_image":
      return (mesh_test_util.write_file(self.dir, "text.png", "not an image"),
              {}, "text.png: not a readable image")
    if case == "blank":
      return (self.save("blank.png", blank), {},
              "blank.png: no object found by the border colour$")
    if case == "blank_as_is":
      return (self.save("blank.png", blank), {"background": "none"},
              "blank.png: no object found: every pixel is 0.0353")
    if case == "transparent":
      clear = Image.new("RGBA", (_WIDTH, _HEIGHT), (200, 30, 30, 0))
      return (self.save("clear.png", clear), {},
              "clear.png: no object found by its alpha channel")
    if case == "black_object":
      on_white = _eight_bit(np.where(_object() > 0, 0, 255).astype(np.uint8))
      return (self.save("black.png", on_white), {},
              "black.png: no object found: the object isolated by the border"
              " colour is black")
    if case == "cluttered":
      noise = _eight_bit(np.random.default_rng(2).integers(
          0, 256, (_HEIGHT, _WIDTH), dtype=np.uint8))
      return (self.save("noise.png", noise), {},
              "noise.png: no plain background to isolate the object from")
    if case == "no_alpha":
      return (picture, {"background": "alpha"},
              "picture.png: has no transparency")
    if case == "empty_mask":
      mask = self.save("mask.png", blank)
      return (picture, {"mask": mask},
              f"picture.png: no object found by mask {mask}")
    if case == "mask_size":
      mask = self.save("mask.png", _eight_bit(np.zeros((10, 10), np.uint8)))
      return (picture, {"mask": mask}, "mask.png: the mask is 10 x 10, the"
              " picture .*picture.png 72 x 48")
    if case == "box_outside":
      return (picture, {"box": (100, 0, 120, 10)},
              r"box \(100, 0, 120, 10\): empty crop: it lies outside the 72"
              " x 48 picture .*picture.png")
    if case == "box_around_nothing":
      return (picture, {"box": (0, 0, 10, 5)},
              "picture.png: no object found by the border colour")
    assert case == "animated_blank_first_frame", case
    path = self.save("blank_first.gif", black, save_all=True,
                     append_images=[_eight_bit(_object())])
    return (path, {}, "blank_first.gif: no object found by the border colour"
            r" \(only the first of its 2 frames is read\)")

  @parameterized.parameters(
      "missing", "directory", "empty_file", "not_an_image", "blank",
      "blank_as_is", "transparent", "black_object", "cluttered", "no_alpha",
      "empty_mask", "mask_size", "box_outside", "box_around_nothing",
      "animated_blank_first_frame")
  def test_refusals_name_the_file_and_the_problem(self, case):
    path, options, message = self._refusal(case)
    with self.assertRaisesRegex(image_input.ImageInputError, message):
      image_input.prepare_image(path, _SIZE, **options)

  @parameterized.parameters(
      ("1,2,3", "expected four integers"), ("a,b,c,d", "expected four"),
      ("1,2,3,4,5", "expected four"), ("10,0,5,8", "empty crop"),
      ("0,8,5,8", "empty crop"))
  def test_bad_boxes_are_refused(self, text, message):
    with self.assertRaisesRegex(image_input.ImageInputError,
                                f"^box '{text}': {message}"):
      image_input.parse_box(text)

  def test_box_is_parsed(self):
    self.assertEqual(image_input.parse_box("-3,4,50,60"), (-3, 4, 50, 60))


if __name__ == "__main__":
  tf.test.main()
