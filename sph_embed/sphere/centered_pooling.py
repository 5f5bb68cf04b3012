"""Area-weighted 2x downsampling centred on the coarse DH samples.

On the DH grid (DESIGN §1) coarse sample (j, k) of an n/2 x n/2 grid lies
exactly on fine sample (2j, 2k).  The 2 x 2 block pooling of
`layers.SphericalPool` averages fine rows 2j and 2j+1, whose centre is half
a fine row south of the coarse sample: every pooling shifts the map by that
much in colatitude, which is not a rotation, and after two poolings the
shift (3/8 of a 16 x 16 row) dominates the equivariance error of a trained
teacher (BUILD_NOTES.md, "Spherical CNN teacher").  The original pooled
2 x 2 cells of S2kit's grid (theta_j = pi (2j+1) / 4B), whose four fine
samples surround the coarse one.

`CenteredSphericalPool` averages the same area, the 2 x 2-cell square
centred on each coarse sample, on the DH grid: fine rows 2j-1, 2j, 2j+1
with weights 1/4, 1/2, 1/4 (times the area weight sin theta), and likewise
columns 2k-1, 2k, 2k+1 (circularly).  Row -1, beyond the north pole, is row
1 at the opposite longitude.
"""

import functools

import numpy as np
import tensorflow as tf

from sph_embed.sphere import sht_tf
from sph_embed.sphere import dh_grid

_TENT = (0.25, 0.5, 0.25)


@functools.lru_cache(maxsize=None)
def _row_weights(n):
  """(fine sin(theta) [1, n, 1, 1], pooled normaliser [1, n/2, 1, 1])."""
  weights = np.sin(dh_grid.colatitudes(n))
  above = np.concatenate([weights[1:2], weights[1:n - 2:2]])
  normaliser = (_TENT[0] * above + _TENT[1] * weights[0::2] +
                _TENT[2] * weights[1::2])
  return (weights.reshape(1, n, 1, 1).astype(np.float32),
          normaliser.reshape(1, n // 2, 1, 1).astype(np.float32))


class CenteredSphericalPool(tf.keras.layers.Layer):
  """n x n -> n/2 x n/2 area-weighted pooling centred on the coarse samples."""

  def call(self, inputs):
    n, _ = sht_tf.validate_spherical_input(inputs.shape, self.name)
    if n < 8:
      raise ValueError(f"{self.name}: cannot pool a {n} x {n} grid below"
                       " 4 x 4")
    weights, normaliser = _row_weights(n)
    x = inputs * tf.cast(weights, inputs.dtype)
    beyond_pole = tf.roll(x[:, 1:2], n // 2, axis=2)
    above = tf.concat([beyond_pole, x[:, 1:n - 2:2]], axis=1)
    rows = (_TENT[0] * above + _TENT[1] * x[:, 0::2] +
            _TENT[2] * x[:, 1::2])
    left = tf.roll(rows, 1, axis=2)[:, :, 0::2]
    pooled = (_TENT[0] * left + _TENT[1] * rows[:, :, 0::2] +
              _TENT[2] * rows[:, :, 1::2])
    return pooled / tf.cast(normaliser, inputs.dtype)
