"""Tests for on-the-fly training views (rendered in spawned workers)."""

import numpy as np
import tensorflow as tf

from sph_embed.sphere import rotations as rotations_lib
from sph_embed.data import sources
from sph_embed.data import view_stream
from sph_embed.data import views

_METADATA = {
    "categories": ["airplane", "car"],
    "source": {"kind": "synthetic", "train_instances": 2,
               "test_instances": 1},
}


class ViewStreamTest(tf.test.TestCase):

  def test_instances_from_metadata(self):
    categories, instances = view_stream.instances_from_metadata(_METADATA)
    self.assertEqual(categories, ["airplane", "car"])
    self.assertLen(instances, 4)
    self.assertTrue(all(i.split == "train" for i in instances))
    _, test = view_stream.instances_from_metadata(_METADATA, "test")
    self.assertLen(test, 2)
    with self.assertRaisesRegex(sources.SourceError, "unknown kind"):
      view_stream.instances_from_metadata(
          {"categories": ["car"], "source": {"kind": "scanner"}})

  def test_instances_from_metadata_keep_the_datasets_up_axis(self):
    _, instances = view_stream.instances_from_metadata(
        dict(_METADATA, up_axis="y"))
    self.assertEqual({i.up_axis for i in instances}, {"y"})
    # Datasets from before the up axis was recorded loaded meshes as is.
    _, instances = view_stream.instances_from_metadata(_METADATA)
    self.assertEqual({i.up_axis for i in instances}, {"z"})

  def test_batches_are_fresh_and_reproducible_from_any_step(self):
    categories, instances = view_stream.instances_from_metadata(_METADATA)
    stream = view_stream.ViewStream(
        instances, categories,
        views.ViewConfig(anisotropic_scale=0.2, image_size=32,
                         sphere_size=16),
        batch_size=3, seed=5, num_workers=1, prefetch_batches=2)
    from_start = stream.batches(0)
    first, second = next(from_start), next(from_start)
    from_start.close()
    # A run resumed at step 1 sees the batch an uninterrupted run saw.
    resumed = next(iter(stream.dataset(1)))
    for key in ("image", "sphere", "rotation", "label"):
      self.assertAllEqual(resumed[key], second[key])
    self.assertAllEqual(resumed["instance"].numpy().astype(str),
                        second["instance"].astype(str))
    self.assertEqual(resumed["image"].shape, (3, 32, 32, 1))
    self.assertEqual(resumed["sphere"].shape, (3, 16, 16, 1))
    self.assertEqual(resumed["image"].dtype, tf.float32)
    self.assertBetween(float(tf.reduce_max(resumed["image"])), 0.01, 1.0)
    rotations_lib.validate_rotations(first["rotation"], "rotation")
    # New poses every step.
    self.assertGreater(np.abs(first["rotation"] - second["rotation"]).max(),
                       0.01)

  def test_bad_arguments(self):
    _, instances = view_stream.instances_from_metadata(_METADATA)
    with self.assertRaisesRegex(ValueError, "categories \\['car'\\] not in"):
      view_stream.ViewStream(instances, ["airplane"], views.ViewConfig(), 2)
    with self.assertRaisesRegex(ValueError, "batch_size must be >= 1"):
      view_stream.ViewStream(instances, ["airplane", "car"],
                             views.ViewConfig(), 0)


if __name__ == "__main__":
  tf.test.main()
