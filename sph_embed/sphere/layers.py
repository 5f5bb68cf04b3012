"""Keras layers for spherical CNNs on the DH grid (tf.keras / tf_keras).

- SphericalConv: spectral convolution with localised zonal filters
  (Esteves et al. 2018; DESIGN §2): (f * g)_lm = 2pi sqrt(4pi/(2l+1))
  f_lm g_l0, summed over input channels, with g_l0 linearly interpolated
  from a few anchor degrees (smooth spectrum = spatially localised filter).
- SphericalPool: area-weighted 2 x 2 average pooling.
- SphericalGlobalAvgPool: area-weighted mean over the sphere.
- SphericalPadding: circular in longitude, reflect in colatitude, so that
  ordinary Conv2D / Conv2DTranspose layers with 'valid' padding see the
  sphere's topology.

Tensors are [batch, lat, lon, channels].  `sph_embed` selects legacy Keras
before TensorFlow is imported, so `tf.keras` here is tf_keras and these
layers mix with `hub.KerasLayer`.
"""

import functools

import numpy as np
import tensorflow as tf

from sph_embed.sphere import sht_tf
from sph_embed.sphere import dh_grid
from sph_embed.sphere import sht_numpy

keras = tf.keras


@functools.lru_cache(maxsize=None)
def anchor_interpolation(lmax, num_anchors):
  """[L+1, A] linear interpolation from A anchors evenly spread over 0..L."""
  num_anchors = min(num_anchors, lmax + 1)
  anchors = np.linspace(0.0, lmax, num_anchors)
  eye = np.eye(num_anchors)
  degrees = np.arange(lmax + 1)
  return np.stack([np.interp(degrees, anchors, eye[a])
                   for a in range(num_anchors)], axis=1).astype(np.float32)


@functools.lru_cache(maxsize=None)
def zonal_scale(lmax):
  """2pi sqrt(4pi / (2l+1)): the spectral factor of a zonal convolution."""
  degrees = np.arange(lmax + 1)
  return (2 * np.pi * np.sqrt(4 * np.pi / (2 * degrees + 1))).astype(
      np.float32)


class SphericalConv(keras.layers.Layer):
  """Spectral spherical convolution with localised zonal filters.

  Rotation-equivariant for band-limited inputs: every output degree l is a
  per-degree linear map of the input's degree-l coefficients, the same for
  all orders m.  Output has the input's grid size.
  """

  def __init__(self, filters, num_anchors=8, use_bias=True,
               kernel_initializer="he_normal", kernel_regularizer=None,
               **kwargs):
    # float32 under a mixed-precision policy too: the SHT's Legendre sums
    # lose too much in float16/bfloat16.
    kwargs.setdefault("dtype", "float32")
    super().__init__(**kwargs)
    self.filters = int(filters)
    self.num_anchors = int(num_anchors)
    self.use_bias = use_bias
    self.kernel_initializer = keras.initializers.get(kernel_initializer)
    self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)

  def build(self, input_shape):
    n, channels = sht_tf.validate_spherical_input(input_shape, self.name)
    if channels is None:
      raise ValueError(f"{self.name}: the channel axis must be known")
    self.grid_size = n
    self.lmax = sht_numpy.max_degree(n)
    interpolation = anchor_interpolation(self.lmax, self.num_anchors)
    self.anchors = self.add_weight(
        name="anchors",
        shape=(interpolation.shape[1], channels, self.filters),
        initializer=self.kernel_initializer,
        regularizer=self.kernel_regularizer)
    # Scale so that the He/Glorot fan-in variance of the anchors is the
    # variance of the spatial response: the zonal factor at l = 0 is 4pi.
    self._degree_weights = tf.constant(
        interpolation * (zonal_scale(self.lmax) / (4 * np.pi))[:, None])
    self.bias = (self.add_weight(name="bias", shape=(self.filters,),
                                 initializer="zeros")
                 if self.use_bias else None)
    super().build(input_shape)

  def filters_by_degree(self):
    """Spectral filter per degree, [L+1, in_channels, filters]."""
    return tf.einsum("la,aco->lco", tf.cast(self._degree_weights,
                                            self.anchors.dtype), self.anchors)

  def call(self, inputs):
    _check_channels(self, inputs, self.anchors.shape[1])
    coefficients = sht_tf.forward_by_order(inputs, self.lmax)    # [m, B, C, l]
    kernel = tf.cast(self.filters_by_degree(), coefficients.dtype)
    outputs = sht_tf.inverse_by_order(
        tf.einsum("mbcl,lco->mbol", coefficients, kernel), self.grid_size)
    if self.bias is not None:
      outputs = outputs + tf.cast(self.bias, outputs.dtype)
    return outputs

  def get_config(self):
    config = super().get_config()
    config.update(
        filters=self.filters, num_anchors=self.num_anchors,
        use_bias=self.use_bias,
        kernel_initializer=keras.initializers.serialize(
            self.kernel_initializer),
        kernel_regularizer=keras.regularizers.serialize(
            self.kernel_regularizer))
    return config


def _check_channels(layer, inputs, expected):
  if inputs.shape[-1] is not None and inputs.shape[-1] != expected:
    raise ValueError(f"{layer.name}: built for {expected} input channels, got"
                     f" a tensor with {inputs.shape[-1]} (shape"
                     f" {inputs.shape})")


@functools.lru_cache(maxsize=None)
def _row_weights(n):
  """sin(theta_j) as [1, n, 1, 1] float32 (area weight of each grid row)."""
  return np.sin(dh_grid.colatitudes(n)).astype(np.float32).reshape(1, n, 1, 1)


class SphericalPool(keras.layers.Layer):
  """Area-weighted 2 x 2 average pooling, n x n -> n/2 x n/2."""

  def call(self, inputs):
    n, _ = sht_tf.validate_spherical_input(inputs.shape, self.name)
    if n < 8:
      raise ValueError(f"{self.name}: cannot pool a {n} x {n} grid below"
                       " 4 x 4")
    weights = _row_weights(n)
    pooled_weights = (weights[:, 0::2] + weights[:, 1::2]) / 2
    pooled = tf.nn.avg_pool2d(inputs * tf.cast(weights, inputs.dtype),
                              ksize=2, strides=2, padding="VALID")
    return pooled / tf.cast(pooled_weights, inputs.dtype)


class SphericalGlobalAvgPool(keras.layers.Layer):
  """Area-weighted mean over the sphere: [B, n, n, C] -> [B, C]."""

  def call(self, inputs):
    n, _ = sht_tf.validate_spherical_input(inputs.shape, self.name)
    weights = tf.cast(dh_grid.area_weights(n)[None, :, :, None], inputs.dtype)
    return tf.reduce_sum(inputs * weights, axis=[1, 2])


def _pad_pair(pad):
  if isinstance(pad, (tuple, list)):
    before, after = pad
    return int(before), int(after)
  return int(pad), int(pad)


class SphericalPadding(keras.layers.Layer):
  """Pads DH maps [B, lat, lon, C] as the sphere continues past the grid.

  Longitude wraps circularly.  Colatitude crosses the poles: the row k
  steps beyond the north pole (theta = -k pi / n) is row k at longitude
  phi + pi (a half-turn roll), not a mirror at the same longitude.  At the
  south end the first row beyond the grid is the pole itself, which the
  DH grid does not sample: it is the longitude mean of row n - 1 (second
  order accurate: the first-order terms cancel around the pole); then rows
  n - 1, n - 2, ... at phi + pi.

  Args:
    padding: int (same on every side), or ((top, bottom), (left, right)),
      or (lat, lon) ints.  As official ResNet's fixed padding, use
      before = (k - 1) // 2, after = k - 1 - before for a k x k kernel.
  """

  def __init__(self, padding, **kwargs):
    super().__init__(**kwargs)
    if isinstance(padding, int):
      padding = (padding, padding)
    self.lat_pad = _pad_pair(padding[0])
    self.lon_pad = _pad_pair(padding[1])

  def call(self, inputs):
    shape = inputs.shape
    if shape.rank != 4 or shape[1] is None or shape[2] is None:
      raise ValueError(f"{self.name}: expected [batch, lat, lon, channels]"
                       f" with static lat and lon, got shape {shape}")
    top, bottom = self.lat_pad
    left, right = self.lon_pad
    num_lat, num_lon = shape[1], shape[2]
    if max(top, bottom) >= num_lat:
      raise ValueError(f"{self.name}: pole-crossing padding {self.lat_pad}"
                       f" needs more than {max(top, bottom)} rows, got"
                       f" {num_lat}")
    if num_lon % 2:
      raise ValueError(f"{self.name}: crossing a pole needs an even number"
                       f" of longitudes, got {num_lon}")
    if max(left, right) > num_lon:
      raise ValueError(f"{self.name}: circular padding {self.lon_pad} is"
                       f" wider than the {num_lon} longitudes")
    rows = [inputs]
    if top:   # rows top .. 1, half a turn round
      rows.insert(0, tf.roll(inputs[:, top:0:-1], num_lon // 2, axis=2))
    if bottom:
      south_pole = tf.reduce_mean(inputs[:, -1:], axis=2, keepdims=True)
      rows.append(tf.broadcast_to(south_pole, tf.shape(inputs[:, -1:])))
      if bottom > 1:   # rows n - 1 .. n - bottom + 1, half a turn round
        rows.append(tf.roll(inputs[:, -1:-bottom:-1], num_lon // 2, axis=2))
    outputs = tf.concat(rows, axis=1)
    pieces = [outputs[:, :, -left:] if left else None, outputs,
              outputs[:, :, :right] if right else None]
    return tf.concat([p for p in pieces if p is not None], axis=2)

  def get_config(self):
    config = super().get_config()
    config.update(padding=(self.lat_pad, self.lon_pad))
    return config
