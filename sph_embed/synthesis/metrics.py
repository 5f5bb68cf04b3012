"""PSNR / SSIM of synthesized views against the true renders, with controls.

The acceptance check of novel view synthesis (issue 13): for each test view
and rotation R, decode(rotate(embed(view), R)) is compared with the true
render of the rotated mesh, beside three controls that use no rotation:

- "unrotated": the decoded *unrotated* embedding (the input pose);
- "mean_image": the mean training image;
- "input_view": the input view itself.

Images are [N, D, D, 1] in [0, 1]; the metrics are `tf.image.psnr` and
`tf.image.ssim` with max_val 1 and SSIM's default 11 x 11 Gaussian window.
"""

import numpy as np
import tensorflow as tf

METHODS = ("rotated", "unrotated", "mean_image", "input_view")
CONTROLS = METHODS[1:]
METRICS = ("psnr", "ssim")


def _images(images, what):
  images = np.asarray(images, dtype=np.float32)
  if images.ndim != 4:
    raise ValueError(f"{what}: expected images [N, height, width, channels],"
                     f" got shape {images.shape}")
  return images


def image_metrics(predicted, truth):
  """{'psnr': [N], 'ssim': [N]} of predicted vs true images in [0, 1]."""
  truth = _images(truth, "truth")
  predicted = np.broadcast_to(_images(predicted, "predicted"), truth.shape)
  return {
      "psnr": tf.image.psnr(predicted, truth, max_val=1.0).numpy(),
      "ssim": tf.image.ssim(predicted, truth, max_val=1.0).numpy(),
  }


def synthesis_metrics(truth, rotated, unrotated, mean_image, input_views):
  """Per-image metrics of the rotated synthesis and the three controls.

  Args:
    truth: [N, D, D, 1] true renders of the rotated meshes.
    rotated: [N, D, D, 1] decode(rotate(embedding, R)).
    unrotated: [N, D, D, 1] decode(embedding), no rotation.
    mean_image: [D, D, 1] mean of the training images.
    input_views: [N, D, D, 1] the views the embeddings came from.

  Returns:
    {method: {'psnr': [N], 'ssim': [N]}} for each of METHODS.
  """
  truth = _images(truth, "truth")
  predictions = {"rotated": rotated, "unrotated": unrotated,
                 "mean_image": np.asarray(mean_image)[None],
                 "input_view": input_views}
  for method, images in predictions.items():
    shape = np.shape(images)
    if shape[1:] != truth.shape[1:] or shape[0] not in (1, truth.shape[0]):
      raise ValueError(f"{method}: shape {shape} does not match the true"
                       f" images' {truth.shape}")
  return {method: image_metrics(predictions[method], truth)
          for method in METHODS}


def category_means(metrics, categories):
  """{category: {method: {metric: mean}}} from `synthesis_metrics` output.

  Args:
    metrics: {method: {metric: [N]}}.
    categories: [N] category name of each image.
  """
  categories = np.asarray(categories)
  return {
      str(category): {
          method: {name: float(np.mean(values[categories == category]))
                   for name, values in by_metric.items()}
          for method, by_metric in metrics.items()}
      for category in np.unique(categories)}


def controls_not_beaten(means):
  """(category, control, metric) where the rotated synthesis is not better.

  Args:
    means: `category_means` output.

  Returns:
    A list, empty when the rotated synthesis beats every control on every
    metric in every category.
  """
  return [(category, control, metric)
          for category, by_method in sorted(means.items())
          for control in CONTROLS for metric in METRICS
          if not by_method["rotated"][metric] > by_method[control][metric]]
