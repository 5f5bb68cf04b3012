"""The data layer's absl flags shared by several tools, defined once.

tools/build_dataset.py builds any dataset; tools/train_teacher.py
--build_data builds a synthetic one first; tools/synthesize.py and
tools/relative_pose.py read users' pictures.  The flags they share are
defined here so that names and meanings cannot drift apart; each tool
passes its own defaults.  Call once per process (absl refuses a second
definition).
"""

import types

from absl import flags

from sph_embed.data import image_input


def define_view_set_flags(train_instances, test_instances, views_per_instance,
                          anisotropic_scale, context=""):
  """Synthetic instance counts, poses per instance and the augmentation.

  `context` prefixes each help text (e.g. "--build_data: ").
  """
  return types.SimpleNamespace(
      train_instances=flags.DEFINE_integer(
          "train_instances", train_instances,
          f"{context}synthetic train instances per category.", lower_bound=0),
      test_instances=flags.DEFINE_integer(
          "test_instances", test_instances,
          f"{context}synthetic held-out test instances per category.",
          lower_bound=0),
      views_per_instance=flags.DEFINE_integer(
          "views_per_instance", views_per_instance,
          f"{context}examples (poses) per instance.", lower_bound=1),
      anisotropic_scale=flags.DEFINE_float(
          "anisotropic_scale", anisotropic_scale,
          f"{context}per-axis mesh scale factors uniform in [1 - s, 1 + s]"
          " (augmentation, as the paper); 0 = off.", lower_bound=0.0,
          upper_bound=0.99),
  )


def define_background_flag():
  """--background: how image_input finds the object of a picture."""
  return flags.DEFINE_enum(
      "background", "auto", image_input.BACKGROUNDS, "Without a mask: auto"
      " keeps a square grey picture on a black border as it is (a view"
      " already, e.g. a render), else isolates the object by the alpha"
      " channel or, without transparency, the plain border colour; alpha /"
      " border insist on one; none keeps the picture as it is, padded to a"
      " square (sph_embed.data.image_input).")
