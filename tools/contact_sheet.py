"""Writes a PNG contact sheet of synthetic shapes: one row per category.

Each row shows --instances instances of a category (seeds 0, 1, ...),
normalised and rendered by sph_embed.data.render from a fixed three-quarter view
in which the canonical up axis (+z) points up in the image and the front
(+x) faces the viewer's left.  Use it to check that the shapes of
sph_embed.data.synthetic look like their names.

  python3 tools/contact_sheet.py --output=/tmp/contact_sheet.png
"""

from absl import flags
import numpy as np
from PIL import Image
from PIL import ImageDraw
from scipy.spatial import transform

from sph_embed.common import cli
from sph_embed.common import files
from sph_embed.common import outputs
from sph_embed.data import meshes
from sph_embed.data import render
from sph_embed.sphere import rotations
from sph_embed.data import synthetic

_OUTPUT = flags.DEFINE_string("output", "contact_sheet.png", "PNG to write.")
_OVERWRITE = outputs.define_overwrite_flag()
flags.adopt_module_key_flags(outputs)  # Listed by --help.
_INSTANCES = flags.DEFINE_integer("instances", 6, "Instances per category.")
_SIZE = flags.DEFINE_integer("size", 96, "Size of each view in pixels.")
_CATEGORIES = flags.DEFINE_list("categories", list(synthetic.CATEGORIES),
                                "Categories, one row each.")
_LABEL_WIDTH = 80

# Canonical frame -> camera frame: object up (+z) to image up (+y), object
# front (+x) toward the camera (+z); then turned 35 degrees about the up axis
# and tilted 25 degrees so that the top is visible.
_UPRIGHT = np.array([[0.0, 1.0, 0.0],
                     [0.0, 0.0, 1.0],
                     [1.0, 0.0, 0.0]])
_TILT = transform.Rotation.from_euler("x", 25, degrees=True).as_matrix()
_VIEW = _TILT @ _UPRIGHT @ rotations.matrix_from_zyz(np.radians(-35), 0, 0)


def contact_sheet(categories, instances, size):
  """uint8 [rows * size, label + instances * size] grayscale sheet."""
  sheet = Image.new("L", (_LABEL_WIDTH + instances * size,
                          len(categories) * size), color=0)
  draw = ImageDraw.Draw(sheet)
  for row, category in enumerate(categories):
    draw.text((4, row * size + size // 2 - 6), category, fill=255)
    for seed in range(instances):
      mesh = meshes.normalize_mesh(synthetic.make_instance(category, seed))
      view = render.render_view(mesh, _VIEW, size)
      sheet.paste(Image.fromarray(view),
                  (_LABEL_WIDTH + seed * size, row * size))
  return sheet


def main(argv):
  del argv  # Unused.
  output = outputs.check_output_file(_OUTPUT.value, "output", (".png",),
                                     overwrite=_OVERWRITE.value)
  sheet = contact_sheet(_CATEGORIES.value, _INSTANCES.value, _SIZE.value)
  with files.atomic_write(output, "wb") as f:
    sheet.save(f, format="PNG")
  print(f"wrote {output}")


if __name__ == "__main__":
  cli.run(main)
