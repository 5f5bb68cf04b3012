"""Loss and metric of the embedding network (DESIGN §2).

- `area_weighted_huber`: the Huber loss (breakpoint `delta`, 1 in the
  original) of predicted vs target spherical maps, integrated over the
  sphere with the DH area weights (proportional to sin(theta), summing to 1
  over the grid, `dh_grid.area_weights`) and averaged over channels.
  Samples near the poles, which the DH grid over-represents, count in
  proportion to the area they cover.
- `relative_error`: mean(|p - t| / (|p| + |t| + 1e-8)) over all samples,
  the metric the original logged (0 = perfect, 1 = opposite signs or one
  side zero).

Both return one value per example (what `training.train`'s loss functions
return); the batch value is their mean, as all examples have the same size.
Tensors are [batch, lat, lon, channels] on an n x n DH grid.
"""

import tensorflow as tf

from sph_embed.sphere import dh_grid

RELATIVE_ERROR_EPSILON = 1e-8


def _check_maps(predictions, targets):
  if predictions.shape.rank != 4:
    raise ValueError("predictions: expected [batch, lat, lon, channels], got"
                     f" shape {predictions.shape}")
  if not predictions.shape.is_compatible_with(targets.shape):
    raise ValueError(f"predictions {predictions.shape} and targets"
                     f" {targets.shape} have different shapes")
  lat, lon = predictions.shape[1], predictions.shape[2]
  if lat != lon or lat is None:
    raise ValueError("predictions: expected square maps with a static grid"
                     f" size, got shape {predictions.shape}")
  return dh_grid.validate_grid_size(lat, "predictions")


def area_weighted_huber(predictions, targets, delta=1.0):
  """Area-weighted Huber loss of each example, [B].

  Args:
    predictions: [B, n, n, C] float tensor.
    targets: [B, n, n, C] float tensor.
    delta: Huber breakpoint (> 0): quadratic below, linear above.
  """
  if not delta > 0:
    raise ValueError(f"Huber delta must be > 0, got {delta}")
  predictions = tf.convert_to_tensor(predictions)
  targets = tf.cast(targets, predictions.dtype)
  n = _check_maps(predictions, targets)
  error = tf.abs(predictions - targets)
  quadratic = tf.minimum(error, delta)
  huber = 0.5 * quadratic ** 2 + delta * (error - quadratic)
  weights = tf.constant(dh_grid.area_weights(n)[None, :, :, None],
                        predictions.dtype)
  return tf.reduce_mean(tf.reduce_sum(huber * weights, axis=[1, 2]), axis=-1)


def relative_error(predictions, targets):
  """mean(|p - t| / (|p| + |t| + 1e-8)) of each example, [B], in [0, 1]."""
  predictions = tf.convert_to_tensor(predictions)
  targets = tf.cast(targets, predictions.dtype)
  _check_maps(predictions, targets)
  return tf.reduce_mean(
      tf.abs(predictions - targets) /
      (tf.abs(predictions) + tf.abs(targets) + RELATIVE_ERROR_EPSILON),
      axis=[1, 2, 3])
