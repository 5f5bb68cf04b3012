"""The quick demo: the shipped modules on a small held-out set -> the report.

No training: the pose embedding, regression, Image2Sphere, synthesis and
teacher modules shipped in hub_modules/ (each with a manifest saying how it
was made) run on a small synthetic test set of instances none of them was
trained on, and write the main job's report (sph_embed.report.demo):

  python3 tools/demo.py --work_dir=/tmp/demo
  # then open /tmp/demo/report/index.html

A few minutes on 2 CPU cores; the numbers are those of a few pairs per
category (--test_instances, --pairs for more), not the main job's.
"""

import os

from absl import app
from absl import flags
from absl import logging

from sph_embed.common import cli
from sph_embed.common import outputs
from sph_embed.report import demo

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_SHIPPED = demo.shipped_modules(_REPO)
_DEFAULTS = demo.DemoConfig()

_WORK_DIR = flags.DEFINE_string(
    "work_dir", os.path.join(_REPO, "runs", "demo"),
    "A new (or empty) directory for the data, tables and report.")
_CATEGORIES = flags.DEFINE_list("categories", list(_DEFAULTS.categories),
                                "Synthetic categories.")
_TEST_INSTANCES = flags.DEFINE_integer(
    "test_instances", _DEFAULTS.test_instances,
    "Held-out instances per category.", lower_bound=2)
_VIEWS = flags.DEFINE_integer("views_per_instance",
                              _DEFAULTS.views_per_instance,
                              "Views per instance.", lower_bound=2)
_PAIRS = flags.DEFINE_integer("pairs", _DEFAULTS.pairs,
                              "Pairs per instance.", lower_bound=1)
_VIEW_MIRROR = flags.DEFINE_bool(
    "view_mirror", _DEFAULTS.view_mirror, "Average each view's maps with its"
    " mirror image's, as the main job (tools/pipeline.py --view_mirror).")
_TEACHER = flags.DEFINE_string("teacher", _SHIPPED.teacher,
                               "Teacher module.")
_POSE_EMBEDDING = flags.DEFINE_string(
    "pose_embedding", _SHIPPED.pose_embedding, "Pose embedding module.")
_POSE_REGRESSION = flags.DEFINE_string(
    "pose_regression", _SHIPPED.pose_regression,
    "Regression baseline module; empty: none.  Without --pose_regression,"
    " the shipped one if it exists.")
_IMAGE2SPHERE = flags.DEFINE_string(
    "image2sphere", _SHIPPED.image2sphere,
    "Image2Sphere module (tools/export_model.py --kind=image2sphere); empty:"
    " none.  Without --image2sphere, the shipped one if it exists.")
_SYNTHESIS = flags.DEFINE_string("synthesis", _SHIPPED.synthesis,
                                 "Synthesis module.")


def _baseline(flag, name):
  """The baseline module a flag names, None for none: an unshipped default
  is left out with a warning; a given path that is missing fails later."""
  path = flag.value or None
  if path and not flags.FLAGS[flag.name].present and not os.path.exists(path):
    logging.warning("no %s module at %s (not shipped): the report has no %s"
                    " rows", name, path, name)
    return None
  return path


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  work_dir = outputs.check_output_dir(_WORK_DIR.value, "work_dir")
  config = demo.DemoConfig(
      categories=tuple(_CATEGORIES.value),
      test_instances=_TEST_INSTANCES.value,
      views_per_instance=_VIEWS.value, pairs=_PAIRS.value,
      view_mirror=_VIEW_MIRROR.value)
  modules = demo.Modules(
      teacher=_TEACHER.value, pose_embedding=_POSE_EMBEDDING.value,
      pose_regression=_baseline(_POSE_REGRESSION, "regression"),
      synthesis=_SYNTHESIS.value,
      image2sphere=_baseline(_IMAGE2SPHERE, "Image2Sphere"))
  report_dir = demo.run(work_dir, modules, config)
  print(f"wrote {report_dir}/index.html and {report_dir}/report.md")


if __name__ == "__main__":
  cli.run(main)
