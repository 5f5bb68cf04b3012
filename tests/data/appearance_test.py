"""Tests of the views' appearance option (views.ViewConfig.appearance,
tools/build_dataset.py --appearance; issue 29 item 5)."""

import dataclasses
import json
import os

import numpy as np
import tensorflow as tf

from sph_embed.data import sources
from sph_embed.data import views
from tests import mesh_test_util

_CONFIG = mesh_test_util.TINY_CONFIG


class AppearanceTest(tf.test.TestCase):

  def test_unknown_appearance_is_refused(self):
    with self.assertRaisesRegex(ValueError, "appearance must be one of"):
      views.ViewConfig(appearance="sepia")

  def test_appearances_share_meshes_and_poses_not_views(self):
    _, instances = sources.synthetic_instances(["sofa"], 0, 1)
    made = {appearance: views.make_examples(instances[0], dataclasses.replace(
        _CONFIG, appearance=appearance)) for appearance in views.APPEARANCES}
    plain = made["plain"]
    for appearance in ("framed", "photo"):
      with self.subTest(appearance=appearance):
        np.testing.assert_array_equal(made[appearance]["rotation"],
                                      plain["rotation"])
        np.testing.assert_array_equal(made[appearance]["sphere"],
                                      plain["sphere"])
        self.assertEqual(made[appearance]["image"].shape,
                         plain["image"].shape)
        self.assertGreater(np.mean(np.abs(
            made[appearance]["image"].astype(float) - plain["image"])), 1)

  def test_build_records_the_appearance(self):
    built = {}
    for appearance in ("plain", "photo"):
      output = os.path.join(mesh_test_util.temp_dir(self), appearance)
      metadata = mesh_test_util.build_tiny_synthetic(
          output, categories=("car",), train=0, test=1,
          config=dataclasses.replace(_CONFIG, appearance=appearance))
      with open(os.path.join(output, "dataset.json"), encoding="utf-8") as f:
        self.assertEqual(json.load(f)["appearance"], appearance)
      built[appearance] = metadata
    self.assertNotEqual(built["plain"]["fingerprint"],
                        built["photo"]["fingerprint"])

  def test_build_tool_refuses_an_unknown_appearance(self):
    result = mesh_test_util.run_script(
        "tools/build_dataset.py", "--appearance=sepia",
        f"--output_dir={mesh_test_util.temp_dir(self)}", timeout=300)
    self.assertNotEqual(result.returncode, 0)
    self.assertIn("--appearance", result.stderr)
    self.assertIn("sepia", result.stderr)


if __name__ == "__main__":
  tf.test.main()
