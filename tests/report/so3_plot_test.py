"""Tests for sph_embed.report.so3_plot: the axis/tilt coordinates, the PNG
written, and that markers land where and in the colour they should."""

import colorsys
import os
import tempfile

import numpy as np
from absl.testing import absltest
from PIL import Image

from sph_embed.report import so3_plot
from sph_embed.sphere import rotations as rotations_lib


def hue(rgb):
  return colorsys.rgb_to_hsv(*(np.asarray(rgb[:3]) / 255.0))[0]


class AxisAndTiltTest(absltest.TestCase):

  def test_coordinates_rebuild_the_rotation(self):
    rotations = rotations_lib.random_rotations(50, seed=0)
    longitude, latitude, tilt = so3_plot.axis_and_tilt(rotations)
    # R e_x points at (longitude, latitude).
    np.testing.assert_allclose(
        rotations[:, :, 0],
        np.stack([np.cos(latitude) * np.cos(longitude),
                  np.cos(latitude) * np.sin(longitude),
                  np.sin(latitude)], axis=-1), atol=1e-12)
    # R = Rz(longitude) Ry(-latitude) Rx(tilt).
    z = rotations_lib.matrix_from_zyz(longitude, -latitude, 0.0)
    x = np.array([rotations_lib.rotation_x(t) for t in tilt])
    np.testing.assert_allclose(z @ x, rotations, atol=1e-12)

  def test_tilt_is_the_rotation_about_the_plotted_axis(self):
    base = rotations_lib.random_rotations(1, seed=1)[0]
    for angle in (0.3, -2.0):
      turned = base @ rotations_lib.rotation_x(angle)
      _, _, tilt0 = so3_plot.axis_and_tilt(base)
      _, _, tilt1 = so3_plot.axis_and_tilt(turned)
      self.assertAlmostEqual(
          np.angle(np.exp(1j * (tilt1 - tilt0))), angle, places=10)


class PlotTest(absltest.TestCase):

  def test_writes_png_with_markers_in_place_and_colour(self):
    rotations = rotations_lib.random_rotations(200, seed=2)
    masses = np.full(200, 1e-6)
    masses[0] = 1.0                     # one dominant point
    masses[1:50] = 0.01                 # shown (>= 1e-3 of the largest)
    with tempfile.TemporaryDirectory() as directory:
      path = os.path.join(directory, "pose.png")
      fig = so3_plot.plot_so3_distribution(
          rotations, masses, true_rotation=rotations[0], path=path,
          title="test", size_inches=(6.0, 3.0), dpi=100)
      self.assertEqual(os.listdir(directory), ["pose.png"])
      image = np.asarray(Image.open(path).convert("RGB"))
    self.assertEqual(image.shape, (300, 600, 3))
    ax = fig.axes[0]
    points, truth_outline, truth_ring = ax.collections[:3]
    self.assertLen(points.get_offsets(), 50)
    sizes = points.get_sizes()
    self.assertEqual(sizes.max(), 250.0)        # the largest drawn last
    self.assertEqual(sizes[-1], 250.0)
    self.assertLen(truth_ring.get_offsets(), 1)
    # The dominant marker's centre has the colour of its tilt.
    longitude, latitude, tilt = so3_plot.axis_and_tilt(rotations[0])
    x, y = ax.transData.transform((longitude, latitude))
    pixel = image[int(round(300 - y)), int(round(x))]
    expected = so3_plot.tilt_colors(tilt)
    self.assertAlmostEqual(hue(pixel), hue(255 * expected), delta=0.03)
    # Coloured (saturated) pixels exist: markers and the colour wheel.
    saturation = image.max(axis=-1).astype(int) - image.min(axis=-1)
    self.assertGreater(np.sum(saturation > 100), 500)

  def test_rejects_bad_masses(self):
    rotations = rotations_lib.random_rotations(3, seed=3)
    with self.assertRaisesRegex(ValueError, "3 rotations but 2 masses"):
      so3_plot.plot_so3_distribution(rotations, np.ones(2))
    with self.assertRaisesRegex(ValueError, "positive maximum"):
      so3_plot.plot_so3_distribution(rotations, np.zeros(3))


if __name__ == "__main__":
  absltest.main()
