"""The dataset-building absl flags, defined once.

tools/build_dataset.py builds any dataset; tools/train_teacher.py
--build_data builds a synthetic one first.  The flags both need are defined
here so that names and meanings cannot drift apart; each tool passes its own
defaults.  Call once per process (absl refuses a second definition).
"""

import types

from absl import flags


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
