"""Tests for the SO(3) Fourier machinery (references: scipy, pyshtools, the
character formula, the pose layer's Euler grid)."""

import math

import numpy as np
import pyshtools
import tensorflow as tf
from absl.testing import parameterized
from scipy.spatial import transform

from sph_embed.pose import distributions
from sph_embed.sphere import dh_grid
from sph_embed.sphere import rotations as rotations_lib
from sph_embed.sphere import sht_numpy
from sph_embed.sphere import so3
from tests.sphere.sht_numpy_test import random_cilm


def wigner(rotation, lmax):
  """D^l(R) blocks without the sqrt(2l+1) of the flat basis."""
  flat = so3.flat_wigner(rotation, lmax)
  return [block / math.sqrt(2 * l + 1)
          for l, block in enumerate(so3.degree_blocks(flat, lmax))]


class LayoutTest(tf.test.TestCase):

  def test_flat_sizes_and_offsets(self):
    self.assertEqual(so3.flat_size(6), 455)
    self.assertAllEqual(so3.degree_offsets(2), [0, 1, 10, 35])
    self.assertEqual(so3.lmax_of_flat_size(455), 6)
    with self.assertRaisesRegex(ValueError, "456 is not a flat SO"):
      so3.lmax_of_flat_size(456)

  def test_degree_blocks_are_row_major(self):
    flat = np.arange(35.0)
    blocks = so3.degree_blocks(flat, 2)
    self.assertAllEqual(blocks[1], np.arange(1.0, 10.0).reshape(3, 3))
    self.assertEqual(blocks[2][0, 1], 11.0)


class WignerTest(tf.test.TestCase, parameterized.TestCase):

  def test_degree_one_is_the_rotation_in_the_y_z_x_basis(self):
    # Packed orders m = -1, 0, 1 of degree 1 are sqrt(3) (y, z, x).
    permutation = np.array([[0, 1, 0], [0, 0, 1], [1, 0, 0]])
    for rotation in rotations_lib.random_rotations(4, seed=0):
      self.assertAllClose(wigner(rotation, 1)[1],
                          permutation @ rotation @ permutation.T, atol=1e-12)

  @parameterized.parameters(3, 6)
  def test_homomorphism(self, lmax):
    # 6: the blocks come from sht_numpy at degree 7 (a power of two - 1).
    r1, r2 = rotations_lib.random_rotations(2, seed=lmax)
    for d1, d2, d12 in zip(wigner(r1, lmax), wigner(r2, lmax),
                           wigner(r1 @ r2, lmax)):
      self.assertAllClose(d1 @ d2, d12, atol=1e-12)
      self.assertAllClose(d1 @ d1.T, np.eye(len(d1)), atol=1e-12)

  def test_trace_is_the_character(self):
    # tr D^l(R) = sin((2l+1) w / 2) / sin(w / 2), w the rotation angle: a
    # basis-free check of every degree.
    for rotation in rotations_lib.random_rotations(3, seed=1):
      angle = transform.Rotation.from_matrix(rotation).magnitude()
      for l, block in enumerate(wigner(rotation, 6)):
        self.assertAllClose(np.trace(block),
                            math.sin((2 * l + 1) * angle / 2)
                            / math.sin(angle / 2), atol=1e-11)

  def test_blocks_rotate_coefficients_as_pyshtools(self):
    lmax = 6
    cilm = random_cilm(lmax, np.random.default_rng(2))
    packed = sht_numpy.cilm_to_packed(cilm)
    rotation = rotations_lib.random_rotations(1, seed=3)[0]
    alpha, beta, gamma = rotations_lib.zyz_from_matrix(rotation)
    reference = sht_numpy.cilm_to_packed(
        pyshtools.SHCoeffs.from_array(cilm).rotate(
            alpha, beta, gamma, degrees=False, convention="y",
            body=True).coeffs)
    for l, block in enumerate(wigner(rotation, lmax)):
      self.assertAllClose(block @ packed[lmax - l:lmax + l + 1, l],
                          reference[lmax - l:lmax + l + 1, l], atol=1e-10)

  def test_left_translation(self):
    lmax = 4
    rng = np.random.default_rng(4)
    coefficients = rng.normal(size=(2, so3.flat_size(lmax)))
    q = rotations_lib.random_rotations(1, seed=5)[0]
    points = rotations_lib.random_rotations(6, seed=6)
    self.assertAllClose(
        so3.evaluate(so3.left_translate(coefficients, q), points),
        so3.evaluate(coefficients, np.swapaxes(q, 0, 1) @ points),
        atol=1e-10)

  def test_orthonormal_under_the_grid_quadrature_from_4l(self):
    lmax = 3

    def gram(size):
      basis = so3.flat_wigner(
          so3.euler_grid_rotations(size).reshape(-1, 3, 3), lmax)
      weights = np.broadcast_to(so3.euler_grid_weights(size)[None, :, None],
                                (size, size // 2 + 1, size)).ravel()
      return (basis * weights[:, None]).T @ basis

    eye = np.eye(so3.flat_size(lmax))
    self.assertAllClose(gram(4 * lmax), eye, atol=1e-12)
    self.assertGreater(np.abs(gram(4 * lmax - 2) - eye).max(), 1e-2)


class EulerGridTest(tf.test.TestCase, parameterized.TestCase):

  @parameterized.parameters(2, 8, 14, 48)
  def test_same_grid_and_weights_as_the_pose_layer(self, size):
    self.assertAllClose(so3.euler_grid_weights(size),
                        distributions.beta_weights(size), atol=1e-15)
    self.assertAllClose(so3.euler_grid_weights(size).sum() * size ** 2, 1.0)
    if size >= 8:
      self.assertAllEqual(so3.euler_grid_rotations(size),
                          distributions.grid_rotations(size))

  def test_tables_evaluate_the_basis(self):
    size, lmax = 8, 3
    alpha_blocks, rest = so3.euler_grid_tables(size, lmax)
    coefficients = np.random.default_rng(7).normal(size=so3.flat_size(lmax))
    rotated = np.concatenate([
        np.einsum("amk,mn->akn", a, b).reshape(size, -1)
        for a, b in zip(alpha_blocks, so3.degree_blocks(coefficients, lmax))],
                             axis=1)
    self.assertAllClose(
        (rotated @ rest.T).ravel(),
        so3.evaluate(coefficients,
                     so3.euler_grid_rotations(size).reshape(-1, 3, 3)),
        atol=1e-12)

  def test_bad_grid_size(self):
    with self.assertRaisesRegex(ValueError, "grid_size must be an even"):
      so3.euler_grid_weights(7)


class HarmonicsTest(tf.test.TestCase):

  def test_matches_pyshtools_at_arbitrary_points(self):
    lmax = 6
    rng = np.random.default_rng(8)
    cilm = random_cilm(lmax, rng)
    directions = rng.normal(size=(20, 3))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    theta, phi = dh_grid.directions_to_colat_lon(directions)
    reference = pyshtools.expand.MakeGridPoint(
        cilm, 90 - np.degrees(theta), np.degrees(phi), norm=1, csphase=1)
    values = np.einsum("ml,kml->k", sht_numpy.cilm_to_packed(cilm),
                       so3.real_harmonics(directions, lmax))
    self.assertAllClose(values, reference, atol=1e-11)

  def test_zero_where_the_order_exceeds_the_degree(self):
    values = so3.real_harmonics(np.array([[0.48, 0.36, 0.8]]), 3)[0]
    self.assertEqual(np.abs(values[~sht_numpy.packed_mask(3)]).max(), 0.0)
    self.assertGreater(np.abs(values[sht_numpy.packed_mask(3)]).min(), 0.0)


class FilterPointsTest(tf.test.TestCase):

  def test_sphere_filter_rings(self):
    directions = so3.sphere_filter_directions(2, 5, math.pi / 6)
    self.assertEqual(directions.shape, (11, 3))
    self.assertAllClose(np.linalg.norm(directions, axis=1), np.ones(11))
    self.assertAllClose(sorted(set(np.round(np.degrees(np.arccos(
        directions[:, 2])), 9))), [0.0, 15.0, 30.0])

  def test_so3_filter_rotations(self):
    rotations = so3.so3_filter_rotations(2, 4, 3, math.pi / 8)
    self.assertEqual(rotations.shape, (3 * 9, 3, 3))
    rotations_lib.validate_rotations(rotations, atol=1e-12)
    tilt = np.degrees(np.arccos(np.clip(rotations[:, 2, 2], -1, 1)))
    self.assertAllClose(sorted(set(np.round(tilt, 4))), [0.0, 11.25, 22.5])
    # All twists of the identity are there.
    twists = np.degrees(np.arctan2(rotations[:3, 1, 0], rotations[:3, 0, 0]))
    self.assertAllClose(np.sort(np.mod(twists, 360)), [0.0, 120.0, 240.0])

  def test_bad_counts(self):
    with self.assertRaisesRegex(ValueError, "twists must be a positive"):
      so3.so3_filter_rotations(twists=0)
    with self.assertRaisesRegex(ValueError, "rings must be a positive"):
      so3.sphere_filter_directions(rings=1.5)


if __name__ == "__main__":
  tf.test.main()
