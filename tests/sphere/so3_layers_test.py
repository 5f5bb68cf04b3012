"""Tests for the SO(3) layers: their spatial definitions, equivariance, the
Euler grid transforms.

The spatial checks evaluate the layers' output coefficients at rotations
(through so3.flat_wigner) and compare with the definitions computed from
the input functions at rotated points (through the harmonics alone), so a
transposed or inverted Wigner convention fails them.
"""

import math

import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from sph_embed.sphere import dh_grid
from sph_embed.sphere import rotations as rotations_lib
from sph_embed.sphere import sht_numpy
from sph_embed.sphere import so3
from sph_embed.sphere import so3_layers

LMAX = 4
GRID = 16  # DH grid of the sphere inputs.


def random_packed(lmax, channels, seed):
  """Random packed coefficients [C, 2L+1, L+1] (zero where l < |m|)."""
  rng = np.random.default_rng(seed)
  return rng.normal(size=(channels, 2 * lmax + 1, lmax + 1)) * (
      sht_numpy.packed_mask(lmax))


def sphere_values(packed, directions):
  """f_c(x) of packed coefficients [C, 2L+1, L+1] at points [..., 3]:
  [..., C]."""
  harmonics = so3.real_harmonics(directions, packed.shape[-1] - 1)
  return np.einsum("cml,...ml->...c", packed, harmonics)


def sphere_maps(packed, rotation=None):
  """DH maps [1, n, n, C] of f(Q^T x) (Q = rotation, default identity),
  computed pointwise (no Wigner matrices)."""
  directions = dh_grid.directions(GRID)
  if rotation is not None:
    directions = directions @ rotation    # rows x^T Q = (Q^T x)^T
  return sphere_values(packed, directions)[None].astype(np.float32)


def relative_error(a, b):
  return np.abs(np.asarray(a) - b).max() / np.abs(b).max()


class EulerGridTest(tf.test.TestCase, parameterized.TestCase):

  def test_evaluate_matches_the_numpy_reference(self):
    size = 10
    coefficients = np.random.default_rng(0).normal(
        size=(2, so3.flat_size(LMAX), 3))
    grid = so3_layers.EulerGrid(size, LMAX, tf.float64)
    values = grid.evaluate(coefficients).numpy()
    self.assertEqual(values.shape, (2, size, size // 2 + 1, size, 3))
    reference = so3.evaluate(
        np.swapaxes(coefficients, 1, 2),
        so3.euler_grid_rotations(size).reshape(-1, 3, 3))
    self.assertAllClose(np.moveaxis(values, -1, 1).reshape(reference.shape),
                        reference, atol=1e-12)

  @parameterized.parameters((4 * LMAX, True), (4 * LMAX - 2, False))
  def test_analyze_inverts_evaluate_from_4l(self, size, exact):
    coefficients = np.random.default_rng(1).normal(
        size=(2, so3.flat_size(LMAX), 3))
    grid = so3_layers.EulerGrid(size, LMAX, tf.float64)
    error = np.abs(grid.analyze(grid.evaluate(coefficients)).numpy()
                   - coefficients).max()
    if exact:
      self.assertLess(error, 1e-12)
    else:
      self.assertGreater(error, 1e-3)

  def test_log_density_is_normalised_with_the_haar_weights(self):
    grid = so3_layers.EulerGrid(12, LMAX)
    coefficients = 3 * np.random.default_rng(2).normal(
        size=(4, so3.flat_size(LMAX))).astype(np.float32)
    log_density = grid.log_density(coefficients).numpy()
    self.assertEqual(log_density.shape, (4, 12 * 7 * 12))
    self.assertAllClose(
        np.exp(log_density + grid.log_weights.numpy()).sum(axis=1),
        np.ones(4), atol=1e-5)
    # log p = f - log Z: the values up to one constant per example.
    values = so3.evaluate(coefficients,
                          so3.euler_grid_rotations(12).reshape(-1, 3, 3))
    self.assertAllClose(np.ptp(log_density - values, axis=1), np.zeros(4),
                        atol=1e-3)  # float32 values of magnitude ~30


class SphereToSO3ConvTest(tf.test.TestCase):

  def setUp(self):
    super().setUp()
    tf.keras.utils.set_random_seed(0)
    self.layer = so3_layers.SphereToSO3Conv(
        2, LMAX, rings=2, points_per_ring=3, max_colatitude=0.5)
    self.packed = random_packed(LMAX, 3, seed=1)
    self.outputs = self.layer(sphere_maps(self.packed)).numpy()[0]  # [S, O]

  def test_output_shape(self):
    self.assertEqual(self.outputs.shape, (so3.flat_size(LMAX), 2))

  def test_spatial_definition(self):
    # out_o(R) = sum_{k,c} w[k, c, o] f_c(R x_k).
    rotations = rotations_lib.random_rotations(5, seed=2)
    directions = so3.sphere_filter_directions(2, 3, 0.5)
    values = sphere_values(self.packed,
                           np.einsum("rij,kj->rki", rotations, directions))
    expected = np.einsum("rkc,kco->or", values, self.layer.kernel.numpy())
    self.assertLess(relative_error(so3.evaluate(self.outputs.T, rotations),
                                   expected), 1e-5)

  def test_equivariance(self):
    # Rotating the input map by Q left-translates the output by Q.
    for q in rotations_lib.random_rotations(2, seed=3):
      rotated = self.layer(sphere_maps(self.packed, q)).numpy()[0]
      self.assertLess(relative_error(
          rotated.T, so3.left_translate(self.outputs.T, q)), 1e-5)

  def test_bad_inputs(self):
    with self.assertRaisesRegex(ValueError, "lmax must be in"):
      so3_layers.SphereToSO3Conv(2, 8)(np.zeros((1, GRID, GRID, 1)))
    with self.assertRaisesRegex(ValueError, "DH"):
      so3_layers.SphereToSO3Conv(2, 2)(np.zeros((1, 8, 16, 1)))


class SO3ConvTest(tf.test.TestCase):

  def setUp(self):
    super().setUp()
    tf.keras.utils.set_random_seed(4)
    self.layer = so3_layers.SO3Conv(2, rings=1, directions_per_ring=3,
                                    twists=2, max_tilt=0.4)
    self.inputs = np.random.default_rng(5).normal(
        size=(1, so3.flat_size(LMAX), 3)).astype(np.float32)
    self.outputs = self.layer(self.inputs).numpy()[0]             # [S, O]

  def test_spatial_definition(self):
    # out_o(R) = sum_{k,c} w[k, c, o] f_c(R R_k).
    rotations = rotations_lib.random_rotations(4, seed=6)
    filter_rotations = so3.so3_filter_rotations(1, 3, 2, 0.4)
    shifted = np.einsum("rij,kjl->rkil", rotations, filter_rotations)
    values = so3.evaluate(self.inputs[0].T, shifted.reshape(-1, 3, 3))
    values = values.reshape(3, len(rotations), len(filter_rotations))
    expected = np.einsum("crk,kco->or", values, self.layer.kernel.numpy())
    self.assertLess(relative_error(so3.evaluate(self.outputs.T, rotations),
                                   expected), 1e-5)

  def test_equivariance(self):
    q = rotations_lib.random_rotations(1, seed=7)[0]
    rotated = self.layer(
        so3.left_translate(self.inputs[0].T, q).T[None].astype(np.float32))
    self.assertLess(relative_error(
        rotated.numpy()[0].T, so3.left_translate(self.outputs.T, q)), 1e-5)

  def test_not_a_flat_size(self):
    with self.assertRaisesRegex(ValueError, "so3_conv_bad: 30 is not a flat"):
      so3_layers.SO3Conv(2, name="so3_conv_bad")(np.zeros((1, 30, 2)))


class SO3ActivationTest(tf.test.TestCase):

  def test_linear_activation_is_exact_from_4l(self):
    inputs = np.random.default_rng(8).normal(
        size=(2, so3.flat_size(LMAX), 3)).astype(np.float32)
    layer = so3_layers.SO3Activation(4 * LMAX, activation="linear")
    self.assertAllClose(layer(inputs), inputs, atol=1e-4)

  def test_relu_is_the_quadrature_of_the_rectified_signal(self):
    size = 10
    inputs = np.random.default_rng(9).normal(
        size=(1, so3.flat_size(LMAX), 2)).astype(np.float32)
    outputs = so3_layers.SO3Activation(size)(inputs).numpy()[0]
    basis = so3.flat_wigner(so3.euler_grid_rotations(size).reshape(-1, 3, 3),
                            LMAX)
    weights = np.broadcast_to(so3.euler_grid_weights(size)[None, :, None],
                              (size, size // 2 + 1, size)).ravel()
    rectified = np.maximum(inputs[0].T @ basis.T, 0.0)              # [C, G]
    self.assertAllClose(outputs, ((rectified * weights) @ basis).T,
                        atol=1e-4)

  def test_default_grid_is_4l(self):
    layer = so3_layers.SO3Activation()
    layer.build((None, so3.flat_size(LMAX), 1))
    grid = layer._grid  # pylint: disable=protected-access
    self.assertEqual(grid.grid_size, 4 * LMAX)


class SerializationTest(tf.test.TestCase):

  def test_layers_rebuild_from_config(self):
    tf.keras.utils.set_random_seed(10)
    inputs = tf.keras.Input((GRID, GRID, 2))
    x = so3_layers.SphereToSO3Conv(3, 3, name="s2")(inputs)
    x = so3_layers.SO3Activation(12, name="act")(x)
    x = so3_layers.SO3Conv(1, twists=4, max_tilt=math.pi / 10, name="so3")(x)
    model = tf.keras.Model(inputs, x)
    clone = tf.keras.Model.from_config(
        model.get_config(), custom_objects={
            "SphereToSO3Conv": so3_layers.SphereToSO3Conv,
            "SO3Activation": so3_layers.SO3Activation,
            "SO3Conv": so3_layers.SO3Conv})
    clone.set_weights(model.get_weights())
    maps = np.random.default_rng(11).normal(size=(2, GRID, GRID, 2))
    self.assertAllClose(clone(maps), model(maps), atol=1e-6)


if __name__ == "__main__":
  tf.test.main()
