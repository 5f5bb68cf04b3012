"""Pose regression baseline (paper appendix B.1; Mahendran et al. 2017).

The network regresses the canonical rotation R of the object in a view (the
pose the view was rendered in, DESIGN §1): the embedding network's encoder
(sph_embed.embedding.model.build_encoder, same widths) up to its 1 x 1
bottleneck, then Mahendran's pose network, as in the authors' code
(JHUVisionLab/multi-modal-regression, `model_3layer`):

  FC(h1, no bias) + BN + ReLU, FC(h2, no bias) + BN + ReLU, FC(3) -> pi tanh

h1 = 1000, h2 = 500 (`paper`).  The output is an axis-angle vector
y = theta v (unit axis v, angle theta), each component in (-pi, pi); its
rotation matrix R_hat = exp([y]x) comes from tensorflow-graphics
(`rotation_matrix_3d.from_axis_angle`).

Losses, one value per example (what sph_embed.training.loop's loss
functions return):
- `rmse_loss`: root mean square error over the 3 components of y against
  the target's axis-angle vector (tensorflow-graphics
  `axis_angle.from_rotation_matrix`, angle in [0, pi]).  As Mahendran, the
  first stage regresses the representation itself;
- `geodesic_loss`: the angle (radians) of R_hat^T R, `geodesic_distance`.
The paper trains with RMSE for 100k steps, then geodesic; here the switch
happens after `loss_switch_fraction` of the run's steps (`switch_step`).

The geodesic distance is theta = atan2(s, c) with c = (tr M - 1) / 2 and
s = |(M32 - M23, M13 - M31, M21 - M12)| / 2 for M = R1^T R2 (cos and sin of
the angle of M), not arccos(clip(c)): arccos resolves no angle below ~0.02
degrees in float32 (1 - c underflows), and its derivative -1/sqrt(1 - c^2)
is infinite at identical rotations, where training drives the loss.  atan2
is accurate over [0, pi] and its derivatives are bounded; the one remaining
singular point, the norm s at s = 0 (identical or half-turn rotations), is
taken as sqrt(max(s^2, tiny)), whose gradient is 0 there (a subgradient of
the distance's kink at identity).

Tensors: images [B, D, D, 1]; axis-angle [B, 3]; rotations [B, 3, 3]
acting on column vectors.  `tf.keras` is tf_keras (sph_embed/__init__.py).
"""

import dataclasses
import math

import numpy as np
import tensorflow as tf
from tensorflow_graphics.geometry import transformation as tfg_transformation

from sph_embed.embedding import model as embedding_model

keras = tf.keras

# Smallest squared norm the safe square root sees: its root (1e-12) stands in
# for 0, far below float32 resolution of any angle that matters.
_MIN_SQUARED_NORM = 1e-24


@dataclasses.dataclass(frozen=True)
class RegressionConfig:
  """Widths of the regression network and its loss schedule.

  Attributes:
    encoder: the encoder's widths (the embedding network's config; only
      its encoder is built).
    head_units: widths of the pose network's hidden FC layers.
    loss_switch_fraction: fraction of the training steps with the RMSE
      loss; the geodesic loss takes over after it (the paper: 100k RMSE
      steps, then geodesic).
  """
  encoder: embedding_model.EmbeddingConfig = dataclasses.field(
      default_factory=lambda: embedding_model.preset("paper"))
  head_units: tuple = (1000, 500)
  loss_switch_fraction: float = 0.5

  def __post_init__(self):
    if not isinstance(self.encoder, embedding_model.EmbeddingConfig):
      raise ValueError("RegressionConfig.encoder must be an EmbeddingConfig,"
                       f" got {self.encoder!r}")
    units = tuple(self.head_units)
    if not units or any(not isinstance(u, int) or isinstance(u, bool)
                        or u < 1 for u in units):
      raise ValueError("RegressionConfig.head_units must be positive"
                       f" integers, got {self.head_units!r}")
    object.__setattr__(self, "head_units", units)
    if not 0.0 <= self.loss_switch_fraction <= 1.0:
      raise ValueError("RegressionConfig.loss_switch_fraction must be in"
                       f" [0, 1], got {self.loss_switch_fraction!r}")

  @classmethod
  def from_dict(cls, fields):
    """The config of `dataclasses.asdict` output (e.g. read from JSON)."""
    fields = dict(fields)
    fields["encoder"] = embedding_model.EmbeddingConfig(**fields["encoder"])
    return cls(**fields)


PRESETS = {
    # The embedding network's `paper` encoder; Mahendran's 1000-500 head.
    "paper": RegressionConfig(encoder=embedding_model.preset("paper"),
                              head_units=(1000, 500)),
    # The embedding network's `cpu` encoder (4x narrower); head 4x narrower.
    "cpu": RegressionConfig(encoder=embedding_model.preset("cpu"),
                            head_units=(250, 125)),
}


def preset(name, **overrides):
  """The named preset with some fields replaced (None values are ignored)."""
  if name not in PRESETS:
    raise ValueError(f"unknown regression preset {name!r}; choose from"
                     f" {', '.join(sorted(PRESETS))}")
  overrides = {k: v for k, v in overrides.items() if v is not None}
  return dataclasses.replace(PRESETS[name], **overrides)


def build_pose_head(config):
  """1 x 1 x latent bottleneck -> axis-angle [B, 3] (Mahendran's network)."""
  latent = keras.Input((1, 1, config.encoder.latent_size), name="latent")
  x = keras.layers.Flatten(name="flatten")(latent)
  for i, units in enumerate(config.head_units):
    x = keras.layers.Dense(units, use_bias=False, name=f"fc{i}")(x)
    x = embedding_model.batch_norm_relu(x, f"fc{i}")
  x = keras.layers.Dense(3, activation="tanh", name="axis_angle_fc")(x)
  # pi tanh bounds each component by pi, as the authors' code.
  y = keras.layers.Rescaling(math.pi, name="axis_angle")(x)
  return keras.Model(latent, y, name="pose_head")


def build_regression_model(config, image_size=64, image_channels=1):
  """Image [B, D, D, 1] -> axis-angle vector [B, 3] of its canonical pose."""
  image = keras.Input((image_size, image_size, image_channels), name="image")
  latent = embedding_model.build_encoder(config.encoder, image_size,
                                         image_channels)(image)
  y = build_pose_head(config)(latent)
  return keras.Model(image, y, name="pose_regression")


def _safe_norm(vectors):
  """|v| over the last axis, with a finite gradient at v = 0."""
  return tf.sqrt(tf.maximum(tf.reduce_sum(tf.square(vectors), axis=-1),
                            _MIN_SQUARED_NORM))


def rotation_matrices(axis_angle):
  """Axis-angle vectors [..., 3] -> rotation matrices [..., 3, 3].

  Below an angle of 1e-12 the axis is y / 1e-12 (not unit length), which
  keeps the matrix exact to first order, I + [y]x, and the gradient finite.
  """
  axis_angle = tf.convert_to_tensor(axis_angle)
  angle = _safe_norm(axis_angle)[..., None]
  return tfg_transformation.rotation_matrix_3d.from_axis_angle(
      axis_angle / angle, angle)


def axis_angle_vectors(rotations):
  """Rotation matrices [..., 3, 3] -> axis-angle vectors [..., 3], |y| <= pi."""
  axis, angle = tfg_transformation.axis_angle.from_rotation_matrix(
      tf.convert_to_tensor(rotations))
  return axis * angle


def geodesic_distance(rotations1, rotations2):
  """Angle in radians of R1^T R2, in [0, pi] (module docstring)."""
  rotations1 = tf.convert_to_tensor(rotations1)
  rotations2 = tf.cast(rotations2, rotations1.dtype)
  m = tf.linalg.matmul(rotations1, rotations2, transpose_a=True)
  cosine = (tf.linalg.trace(m) - 1.0) / 2.0
  skew = tf.stack([m[..., 2, 1] - m[..., 1, 2], m[..., 0, 2] - m[..., 2, 0],
                   m[..., 1, 0] - m[..., 0, 1]], axis=-1)
  return tf.atan2(_safe_norm(skew) / 2.0, cosine)


def rmse_loss(predicted_axis_angle, rotations):
  """RMSE over the components of y vs the targets' axis-angle, [B]."""
  predicted_axis_angle = tf.convert_to_tensor(predicted_axis_angle)
  targets = axis_angle_vectors(tf.cast(rotations,
                                       predicted_axis_angle.dtype))
  # sqrt(mean of squares) = |y - y*| / sqrt(3), with the safe norm's gradient.
  return _safe_norm(predicted_axis_angle - targets) / math.sqrt(3.0)


def geodesic_loss(predicted_axis_angle, rotations):
  """Geodesic angle (radians) between the predicted and true rotations, [B]."""
  predicted = rotation_matrices(predicted_axis_angle)
  return geodesic_distance(predicted, tf.cast(rotations, predicted.dtype))


def switch_step(config, total_steps):
  """The first step trained with the geodesic loss."""
  return int(round(config.loss_switch_fraction * total_steps))


def make_loss_fn(step, first_geodesic_step):
  """sph_embed.training.loop's loss_fn for the scheduled losses.

  Args:
    step: a scalar integer variable holding the current training step (the
      optimizer's `iterations`), read at every call.
    first_geodesic_step: steps before it use `rmse_loss`, later ones
      `geodesic_loss` (`switch_step`).

  Returns:
    loss_fn(model, batch) -> (per-example loss [B], {"rmse": [B],
    "geodesic_degrees": [B]}), batch with "image" and "rotation" [B, 3, 3].
  """

  def loss_fn(model, batch):
    predicted = model(batch["image"], training=True)
    rmse = rmse_loss(predicted, batch["rotation"])
    geodesic = geodesic_loss(predicted, batch["rotation"])
    use_geodesic = tf.cast(step, tf.int64) >= first_geodesic_step
    loss = tf.where(use_geodesic, geodesic, rmse)
    return loss, {"rmse": rmse, "geodesic_degrees": geodesic * (180 / math.pi)}

  return loss_fn


def predict_rotations(model, images, batch_size=64):
  """Predicted canonical rotations [N, 3, 3] (float64) of images [N, D, D, 1].

  The model runs in inference mode, `batch_size` images at a time.
  """
  images = np.asarray(images, dtype=np.float32)
  out = []
  for start in range(0, len(images), batch_size):
    y = model(images[start:start + batch_size], training=False)
    out.append(rotation_matrices(y).numpy().astype(np.float64))
  return np.concatenate(out) if out else np.zeros((0, 3, 3))
