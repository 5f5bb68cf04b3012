"""Tests for test-time view averaging: the longitude permutations that undo
a turn or a mirror image of the view against the library's rotation of
maps, the renderer and the shipped network; the average against a toy
network that is exactly equivariant."""

import os

import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from sph_embed.data import fresh_views
from sph_embed.data import raycast
from sph_embed.data import render
from sph_embed.data import sources
from sph_embed.embedding import export as embedding_export
from sph_embed.embedding import view_averaging
from sph_embed.sphere import dh_grid
from sph_embed.sphere import rotations
from sph_embed.sphere import sht_numpy

_POSE_MODULE = os.path.join(os.path.dirname(__file__), "..", "..",
                            "hub_modules", "pose_embedding_synthetic")
_QUARTER_TURN_ABOUT_Z = rotations.matrix_from_zyz(np.pi / 2, 0.0, 0.0)
# The reflection a transposed image shows: (x, y, z) -> (-y, -x, z).
_MIRROR = np.array([[0.0, -1.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])


def _transformed(mesh, matrix):
  out = mesh.copy()
  out.apply_transform(np.block([[matrix, np.zeros((3, 1))],
                                [np.zeros((1, 3)), np.ones((1, 1))]]))
  return out


def polar_sampler(n):
  """A toy network, exactly equivariant to quarter turns and to the mirror
  image of the view.

  Map sample (theta, phi) reads the pixel nearest to the image point at
  radius ~ theta and angle phi, phi measured from image right (+x) towards
  image up (+y), as the camera sees the sphere's longitudes.  Odd image
  sizes: the centre is a pixel, so no sample is halfway between two.
  """
  theta, phi = np.meshgrid(dh_grid.colatitudes(n), dh_grid.longitudes(n),
                           indexing="ij")

  def network(images, training=False):
    del training
    size = images.shape[1]
    centre = (size - 1) / 2
    radius = theta / np.pi * (size / 2 - 1)
    rows = np.round(centre - radius * np.sin(phi)).astype(np.int32)
    cols = np.round(centre + radius * np.cos(phi)).astype(np.int32)
    pixels = tf.transpose(images[..., 0], [1, 2, 0])      # [h, w, B]
    maps = tf.transpose(tf.gather_nd(pixels, np.stack([rows, cols], -1)),
                        [2, 0, 1])                          # [B, n, n]
    return tf.stack([maps, 2.0 * maps], axis=-1)

  return network


class ViewAveragingTest(tf.test.TestCase, parameterized.TestCase):

  def test_a_quarter_turn_about_the_camera_axis_is_a_longitude_shift(self):
    n = 16
    rng = np.random.default_rng(0)
    cilm = np.zeros((2, n // 2, n // 2))
    for l in range(n // 2):
      cilm[:, l, :l + 1] = rng.normal(size=(2, l + 1))
    cilm[1, :, 0] = 0.0
    maps = sht_numpy.isht(cilm, n)
    turned = sht_numpy.rotate_maps(maps, _QUARTER_TURN_ABOUT_Z)
    self.assertAllClose(turned, np.roll(maps, n // 4, axis=-1), atol=1e-9)

  def test_a_quarter_turn_of_the_object_turns_the_view_counterclockwise(self):
    _, instances = sources.synthetic_instances(["car", "chair"], 1, 0)
    meshes = fresh_views.load_meshes(instances)
    poses = rotations.random_rotations(len(meshes), 3, seed=5)
    for mesh, pose in zip(meshes, poses):
      view = render.render_view(mesh, pose) > 0
      turned = render.render_view(mesh, _QUARTER_TURN_ABOUT_Z @ pose) > 0
      expected = np.rot90(view, k=1)
      overlap = np.sum(turned & expected) / np.sum(turned | expected)
      self.assertGreater(overlap, 0.97)
      self.assertLess(np.sum(turned & np.rot90(view, k=-1)) /
                      np.sum(turned | np.rot90(view, k=-1)), overlap)

  def test_a_mirror_image_of_the_view_is_the_mirrored_object_lit_alike(self):
    """Its grey levels too, where a turned view is lit from elsewhere (edge
    pixels of the rasterised mirror image still differ a little)."""
    _, instances = sources.synthetic_instances(["car", "chair", "sofa", "bed"],
                                               1, 0)
    meshes = fresh_views.load_meshes(instances)
    poses = rotations.random_rotations(len(meshes), 3, seed=6)
    mirror_differences, turn_differences = [], []
    for mesh, pose in zip(meshes, poses):
      view = render.render_view(mesh, pose).astype(float)
      mirrored = render.render_view(_transformed(mesh, _MIRROR @ pose),
                                    np.eye(3)).astype(float)
      turned = render.render_view(mesh, _QUARTER_TURN_ABOUT_Z @ pose)
      mirror_differences.append(np.mean(np.abs(mirrored - view.T)))
      turn_differences.append(np.mean(np.abs(turned - np.rot90(view))))
      self.assertGreater(np.mean(np.abs(mirrored - view)), 5.0)
    self.assertLess(np.mean(mirror_differences), 2.5)
    self.assertLess(np.mean(mirror_differences),
                    0.25 * np.mean(turn_differences))

  def test_a_mirrored_object_has_its_maps_longitudes_permuted(self):
    _, instances = sources.synthetic_instances(["chair"], 1, 0)
    mesh = fresh_views.load_meshes(instances)[0]
    pose = rotations.random_rotations(1, 3, seed=2)[0]
    n = 32
    maps = raycast.raycast(_transformed(mesh, pose), n)
    mirrored = raycast.raycast(_transformed(mesh, _MIRROR @ pose), n)
    back = view_averaging.longitudes_back(n, 0, mirrored=True)
    self.assertAllClose(mirrored[:, back], maps, atol=1e-4)
    self.assertGreater(np.abs(mirrored - maps).max(), 0.1)

  @parameterized.parameters((2, False), (4, False), (1, True), (4, True))
  def test_an_equivariant_network_is_its_own_average(self, turns, mirror):
    network = polar_sampler(16)
    images = tf.random.stateless_uniform((3, 33, 33, 1), seed=(1, 2))
    averaged = view_averaging.averaged_over_views(network, turns, mirror)
    self.assertAllClose(averaged(images), network(images), atol=1e-6)

  def test_the_average_is_the_mean_of_the_shifted_back_turned_copies(self):
    network = polar_sampler(16)
    images = tf.random.stateless_uniform((2, 33, 33, 1), seed=(3, 4))
    # Not equivariant: a brightness ramp from left to right added to every
    # input.
    ramp = tf.reshape(tf.linspace(0.0, 1.0, 33), (1, 1, 33, 1))
    biased = lambda x, training=False: network(x + ramp)
    turned = [np.roll(biased(tf.image.rot90(images, k)), -4 * k, axis=2)
              for k in range(4)]
    self.assertAllClose(view_averaging.averaged_over_views(biased, 4)(images),
                        np.mean(turned, axis=0), atol=1e-6)
    # Mirrored (transposed) copies: longitude j is read at 12 - j - 4 k.
    mirrored = [
        biased(tf.transpose(tf.image.rot90(images, k), [0, 2, 1, 3])).numpy()[
            :, :, (12 - np.arange(16) - 4 * k) % 16] for k in range(4)]
    self.assertAllClose(
        view_averaging.averaged_over_views(biased, 4, mirror=True)(images),
        np.mean(turned + mirrored, axis=0), atol=1e-6)
    expected = np.mean(turned, axis=0)
    self.assertNotAllClose(expected, biased(images), atol=1e-3)

  def test_one_copy_is_the_network_and_other_counts_are_refused(self):
    network = polar_sampler(16)
    self.assertIs(view_averaging.averaged_over_views(network, 1), network)
    with self.assertRaisesRegex(ValueError, r"--view_turns must be one of"
                                r" \[1, 2, 4\].*got 3"):
      view_averaging.validate_turns(3, "--view_turns")

  def test_the_shipped_network_follows_the_permutations(self):
    """Of all longitude shifts, shifting its maps of a view turned a quarter
    turn back by a quarter of the longitudes brings them nearest its maps of
    the view; likewise for the mirror image."""
    module = embedding_export.load_embedding(_POSE_MODULE)
    _, instances = sources.synthetic_instances(
        ["airplane", "car", "chair", "sofa", "bed", "toilet"], 0, 1)
    meshes = fresh_views.load_meshes(instances)
    poses = rotations.random_rotations(len(meshes), 3, seed=7)
    views = np.stack([render.render_view(mesh, pose)
                      for mesh, pose in zip(meshes, poses)])
    views = tf.constant(views[..., None] / 255.0, tf.float32)
    maps = module(views).numpy()
    turned = module(tf.image.rot90(views, k=1)).numpy()
    n = maps.shape[2]
    distances = [np.linalg.norm(np.roll(turned, -shift, axis=2) - maps)
                 for shift in range(n)]
    self.assertEqual(np.argmin(distances), n // 4)
    # The mirror image: of all reflections of the longitudes, j -> c - j,
    # the one undoing the transposed view's is nearest.
    mirrored = module(tf.transpose(views, [0, 2, 1, 3])).numpy()
    distances = [np.linalg.norm(mirrored[:, :, (c - np.arange(n)) % n] - maps)
                 for c in range(n)]
    self.assertAllEqual((np.argmin(distances) - np.arange(n)) % n,
                        view_averaging.longitudes_back(n, 0, mirrored=True))

if __name__ == "__main__":
  tf.test.main()
