"""The report's sections of images other tools wrote, copied into it:
pose distributions (tools/correlate.py, tools/evaluate_image2sphere.py
--distribution_plots) and synthesized views (GIFs, PNGs).

Each builder takes report_page.Inputs and returns its section, none when
its directory holds no such file.
"""

import glob
import os
import shutil

from sph_embed.report import report_page

_MAX_COPIED = 24       # Files shown per section.


def _copy_images(inputs, subdir, patterns, section):
  """Copies the files of <work_dir>/<subdir> matching `patterns` into the
  report's <subdir>; returns [section] with them, or []."""
  source_dir = os.path.join(inputs.work_dir, subdir)
  found = sorted({p for pattern in patterns for p in glob.glob(
      os.path.join(source_dir, "**", pattern), recursive=True)})
  if not found:
    return []
  for path in found[:_MAX_COPIED]:
    relative = os.path.relpath(path, source_dir)
    target = os.path.join(inputs.staging, subdir, relative)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    shutil.copyfile(path, target)
    section.image(os.path.join(subdir, relative), relative)
  if len(found) > _MAX_COPIED:
    section.text(f"{len(found) - _MAX_COPIED} more in {source_dir}.")
  return [section]


def distributions(inputs):
  """<work_dir>/distributions/: the pose distributions of pairs."""
  return _copy_images(inputs, "distributions", ("*.png",),
                      report_page.Section("Pose distributions"))


def image2sphere(inputs):
  """<work_dir>/distributions_image2sphere/: Image2Sphere's of views."""
  section = report_page.Section(
      "Image2Sphere: distributions of single views")
  section.text("Each view's predicted distribution over SO(3) (Euler"
               " grid masses, the larger the dot the more mass): dot"
               " position = where the rotated x axis points, colour ="
               " the tilt about it; the ring marks the true rotation.")
  return _copy_images(inputs, "distributions_image2sphere", ("*.png",),
                      section)


def synthesis(inputs):
  """<work_dir>/synthesis/: synthesized views."""
  return _copy_images(inputs, "synthesis", ("*.gif", "*.png"),
                      report_page.Section("Synthesized views"))
