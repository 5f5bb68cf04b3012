"""Keras layers on SO(3): spherical and group convolutions, a grid activation.

Signals on SO(3) are flat real Wigner coefficients [batch, S, channels]
(`sph_embed.sphere.so3`: f(R) = sum_l sqrt(2l+1) sum_mn F^l_mn D^l_mn(R));
sphere signals are DH maps [batch, n, n, channels].  Every layer is
left-equivariant: rotating the input by Q (a map f -> f(Q^T x), an SO(3)
signal f -> f(Q^T R)) left-translates the output, F^l -> D^l(Q) F^l, for
band-limited inputs (SO3Activation: up to its grid's resolution).

- SphereToSO3Conv: out_o(R) = sum_{c,k} w[k, c, o] f_c(R x_k), x_k points
  near the north pole (a localised filter: `so3.sphere_filter_directions`);
  spectrally F^l_mn = sum_c f^c_lm psi^{co}_ln with
  psi_ln = sum_k w_k Y_ln(x_k) / sqrt(2l+1).
- SO3Conv: out_o(R) = sum_{c,k} w[k, c, o] f_c(R R_k), R_k rotations near
  the identity in tilt (`so3.so3_filter_rotations`); spectrally
  G^l = sum_c F^l_c Psi^l_co^T with Psi^l = sum_k w_k D^l(R_k).
- SO3Activation: a pointwise nonlinearity, applied on the Euler grid
  (`EulerGrid`) and projected back to degree L by quadrature.
- EulerGrid (not a layer): the coefficients' values on the Euler grid
  [N, N/2 + 1, N] of sph_embed.pose.distributions, and the adjoint
  quadrature; the output distribution of Image2Sphere is a softmax on it.

The filters' Wigner matrices and harmonics are NumPy constants from
`so3` and `sht_numpy`; no TensorFlow library computes SO(3) transforms.
All layers compute in float32 under a mixed-precision policy too (as
sph_embed.sphere.layers.SphericalConv).
"""

import math

import numpy as np
import tensorflow as tf

from sph_embed.sphere import sht_numpy
from sph_embed.sphere import sht_tf
from sph_embed.sphere import so3

keras = tf.keras


def _blocks(coefficients, lmax):
  """Flat [B, S, C] -> list over l of [B, 2l+1, 2l+1, C]."""
  offsets = so3.degree_offsets(lmax)
  return [tf.reshape(coefficients[:, offsets[l]:offsets[l + 1]],
                     (-1, 2 * l + 1, 2 * l + 1, coefficients.shape[-1]))
          for l in range(lmax + 1)]


def _flatten(blocks):
  """List over l of [B, 2l+1, 2l+1, C] -> flat [B, S, C]."""
  return tf.concat([tf.reshape(b, (-1, b.shape[1] * b.shape[2], b.shape[3]))
                    for b in blocks], axis=1)


def _flat_input(layer, shape):
  """(L, channels) of a flat coefficient input shape [B, S, C]."""
  shape = tf.TensorShape(shape)
  if shape.rank != 3 or shape[1] is None or shape[2] is None:
    raise ValueError(f"{layer.name}: expected SO(3) coefficients [batch, S,"
                     f" channels] with static S and channels, got {shape}")
  try:
    return so3.lmax_of_flat_size(shape[1]), shape[2]
  except ValueError as e:
    raise ValueError(f"{layer.name}: {e} (input shape {shape})") from None


class EulerGrid:
  """Flat SO(3) coefficients on the Euler grid of size N, and back.

  `evaluate` uses the factorisation of `so3.euler_grid_tables` (a
  per-degree product over alpha, then one matrix product); `analyze` is
  its adjoint weighted by the Haar shares v_b of the grid points, i.e. the
  quadrature F = sum_i v_i f(R_i) sqrt(2l+1) D(R_i), exact for band limit
  L when N >= 4L (so3 module docstring).
  """

  def __init__(self, grid_size, lmax, dtype=tf.float32):
    alpha_blocks, rest = so3.euler_grid_tables(grid_size, lmax)
    self.grid_size = grid_size
    self.lmax = lmax
    self.shape = (grid_size, grid_size // 2 + 1, grid_size)
    # Built eagerly even when first made inside a tf.function or a layer's
    # build, so that every graph can capture them.
    with tf.init_scope():
      self._alpha = [tf.constant(b, dtype) for b in alpha_blocks]
      self._rest = tf.constant(rest, dtype)                  # [Q, S]
      self._weights = tf.constant(
          so3.euler_grid_weights(grid_size)[:, None], dtype)  # [N/2+1, 1]
      log_weights = np.broadcast_to(
          np.log(so3.euler_grid_weights(grid_size))[None, :, None],
          self.shape)
      # log v of each grid point, flattened in the grid's order.
      self.log_weights = tf.constant(log_weights.ravel(), dtype)

  def evaluate(self, coefficients):
    """f on the grid: [B, S, C] -> [B, N, N/2 + 1, N, C]."""
    coefficients = tf.convert_to_tensor(coefficients)
    channels = coefficients.shape[-1]
    size = self.grid_size
    by_channel = tf.transpose(coefficients, (0, 2, 1))        # [B, C, S]
    flat = tf.reshape(by_channel, (-1, by_channel.shape[-1]))  # [BC, S]
    offsets = so3.degree_offsets(self.lmax)
    parts = []
    for l, alpha in enumerate(self._alpha):
      width = 2 * l + 1
      block = tf.reshape(flat[:, offsets[l]:offsets[l + 1]],
                         (-1, width, width))
      rotated = tf.einsum("amk,xmn->xakn", alpha, block)
      parts.append(tf.reshape(rotated, (-1, size, width * width)))
    rotated = tf.concat(parts, axis=-1)                        # [BC, N, S]
    values = tf.matmul(tf.reshape(rotated, (-1, rotated.shape[-1])),
                       self._rest, transpose_b=True)           # [BCN, Q]
    values = tf.reshape(values, (-1, channels) + self.shape)
    return tf.transpose(values, (0, 2, 3, 4, 1))

  def analyze(self, values):
    """Quadrature back to degree L: [B, N, N/2 + 1, N, C] -> [B, S, C]."""
    values = tf.convert_to_tensor(values)
    channels = values.shape[-1]
    size = self.grid_size
    weighted = tf.transpose(values, (0, 4, 1, 2, 3)) * self._weights
    partial = tf.matmul(tf.reshape(weighted, (-1, self._rest.shape[0])),
                        self._rest)                            # [BCN, S]
    partial = tf.reshape(partial, (-1, size, partial.shape[-1]))
    offsets = so3.degree_offsets(self.lmax)
    parts = []
    for l, alpha in enumerate(self._alpha):
      width = 2 * l + 1
      block = tf.reshape(partial[:, :, offsets[l]:offsets[l + 1]],
                         (-1, size, width, width))
      parts.append(tf.reshape(tf.einsum("amk,xakn->xmn", alpha, block),
                              (-1, width * width)))
    flat = tf.reshape(tf.concat(parts, axis=-1),
                      (-1, channels, offsets[-1]))
    return tf.transpose(flat, (0, 2, 1))

  def log_density(self, coefficients):
    """log p on the grid, [B, S] -> [B, G] (G = N^2 (N/2 + 1), grid order).

    The coefficients are the log of an unnormalised density with respect
    to the Haar measure: p = exp(f) / Z, Z = sum_i exp(f_i) v_i, so that
    sum_i p_i v_i = 1 (sph_embed.pose.distributions' convention; the
    probability mass of grid point i is p_i v_i).
    """
    values = tf.reshape(self.evaluate(coefficients[..., None]),
                        (-1, self.log_weights.shape[0]))
    log_z = tf.reduce_logsumexp(values + self.log_weights, axis=-1,
                                keepdims=True)
    return values - log_z


class _Float32Layer(keras.layers.Layer):
  """A layer that computes in float32 under any precision policy."""

  def __init__(self, **kwargs):
    kwargs.setdefault("dtype", "float32")
    super().__init__(**kwargs)


class SphereToSO3Conv(_Float32Layer):
  """Spherical convolution S2 -> SO(3) with a localised learned filter.

  Input DH maps [B, n, n, C] (band-limited to `lmax` by their transform);
  output flat coefficients [B, S, filters] of degree <= lmax.
  """

  def __init__(self, filters, lmax, rings=3, points_per_ring=8,
               max_colatitude=math.pi / 8, kernel_initializer="he_normal",
               **kwargs):
    super().__init__(**kwargs)
    self.filters = int(filters)
    self.lmax = int(lmax)
    self.rings = int(rings)
    self.points_per_ring = int(points_per_ring)
    self.max_colatitude = float(max_colatitude)
    self.kernel_initializer = keras.initializers.get(kernel_initializer)

  def build(self, input_shape):
    n, channels = sht_tf.validate_spherical_input(input_shape, self.name)
    if channels is None:
      raise ValueError(f"{self.name}: the channel axis must be known")
    try:
      sht_numpy.max_degree(n, self.lmax)
    except ValueError as e:
      raise ValueError(f"{self.name}: {e}") from None
    directions = so3.sphere_filter_directions(
        self.rings, self.points_per_ring, self.max_colatitude)
    degrees = np.arange(self.lmax + 1)
    harmonics = (so3.real_harmonics(directions, self.lmax)
                 / np.sqrt(2 * degrees + 1.0))                # [K, n, l]
    self._harmonics = tf.constant(harmonics, tf.float32)
    self.kernel = self.add_weight(
        name="kernel", shape=(len(directions), channels, self.filters),
        initializer=self.kernel_initializer)
    super().build(input_shape)

  def call(self, inputs):
    coefficients = sht_tf.forward(tf.cast(inputs, tf.float32), self.lmax)
    psi = tf.einsum("knl,kco->lnco", self._harmonics, self.kernel)
    lmax = self.lmax
    blocks = [tf.einsum("bmc,nco->bmno",
                        coefficients[:, lmax - l:lmax + l + 1, l],
                        psi[l, lmax - l:lmax + l + 1])
              for l in range(lmax + 1)]
    return _flatten(blocks)

  def get_config(self):
    config = super().get_config()
    config.update(filters=self.filters, lmax=self.lmax, rings=self.rings,
                  points_per_ring=self.points_per_ring,
                  max_colatitude=self.max_colatitude,
                  kernel_initializer=keras.initializers.serialize(
                      self.kernel_initializer))
    return config


class SO3Conv(_Float32Layer):
  """Group convolution SO(3) -> SO(3) with a localised learned filter.

  Input and output flat coefficients [B, S, channels] of the same degree.
  """

  def __init__(self, filters, rings=3, directions_per_ring=8, twists=8,
               max_tilt=math.pi / 8, kernel_initializer="he_normal",
               **kwargs):
    super().__init__(**kwargs)
    self.filters = int(filters)
    self.rings = int(rings)
    self.directions_per_ring = int(directions_per_ring)
    self.twists = int(twists)
    self.max_tilt = float(max_tilt)
    self.kernel_initializer = keras.initializers.get(kernel_initializer)

  def build(self, input_shape):
    self.lmax, channels = _flat_input(self, input_shape)
    rotations = so3.so3_filter_rotations(
        self.rings, self.directions_per_ring, self.twists, self.max_tilt)
    self._wigner = [tf.constant(block, tf.float32)          # [K, 2l+1, 2l+1]
                    for block in so3.wigner_blocks(rotations, self.lmax)]
    self.kernel = self.add_weight(
        name="kernel", shape=(len(rotations), channels, self.filters),
        initializer=self.kernel_initializer)
    super().build(input_shape)

  def call(self, inputs):
    blocks = _blocks(tf.cast(inputs, tf.float32), self.lmax)
    outputs = []
    for block, wigner in zip(blocks, self._wigner):
      psi = tf.einsum("kjn,kco->jnco", wigner, self.kernel)
      outputs.append(tf.einsum("bmnc,jnco->bmjo", block, psi))
    return _flatten(outputs)

  def get_config(self):
    config = super().get_config()
    config.update(filters=self.filters, rings=self.rings,
                  directions_per_ring=self.directions_per_ring,
                  twists=self.twists, max_tilt=self.max_tilt,
                  kernel_initializer=keras.initializers.serialize(
                      self.kernel_initializer))
    return config


class SO3Activation(_Float32Layer):
  """A pointwise activation of SO(3) signals on the Euler grid.

  Coefficients -> values on the grid -> activation -> quadrature back to
  the input's degree.  Without the activation the round trip is exact for
  grid_size >= 4L; with it, the output is the degree-L part of the
  activated signal up to aliasing, and equivariant up to the grid's
  resolution (as Image2Sphere's e3nn SO3Activation).
  """

  def __init__(self, grid_size=None, activation="relu", **kwargs):
    super().__init__(**kwargs)
    self.grid_size = grid_size
    self.activation = keras.activations.get(activation)

  def build(self, input_shape):
    lmax, _ = _flat_input(self, input_shape)
    size = self.grid_size if self.grid_size is not None else max(4 * lmax, 2)
    self._grid = EulerGrid(size, lmax)
    super().build(input_shape)

  def call(self, inputs):
    grid = self._grid
    return grid.analyze(self.activation(grid.evaluate(
        tf.cast(inputs, tf.float32))))

  def get_config(self):
    config = super().get_config()
    config.update(grid_size=self.grid_size,
                  activation=keras.activations.serialize(self.activation))
    return config
