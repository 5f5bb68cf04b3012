"""Image2Sphere baseline (Klee et al., ICLR 2023): a pose distribution per view.

The network (`build_image2sphere_model`), on this project's spherical
machinery (sph_embed.sphere.so3, so3_layers):

  image [B, D, D, 1]
  -> the embedding network's ResNet encoder up to its last feature map
     (sph_embed.embedding.model.build_encoder, without the 1 x 1
     bottleneck): 2 x 2 for every D, i.e. stride 32 at D = 64, as
     Image2Sphere's ResNet (7 x 7 at 224 x 224)
  -> 1 x 1 conv to `sphere_channels`
  -> orthographic projection onto the visible hemisphere
     (`HemisphereProjection`: fixed bilinear interpolation at the DH grid
     points of the hemisphere facing the camera, tapered to 0 at the
     rim), ReLU
  -> spherical convolution S2 -> SO(3) with a localised filter
     (so3_layers.SphereToSO3Conv), degree <= lmax
  -> pointwise ReLU on an Euler grid (so3_layers.SO3Activation)
  -> group convolution SO(3) -> SO(3) with a localised filter, 1 channel
     (so3_layers.SO3Conv)
  = flat SO(3) Fourier coefficients [B, S] of f, the log of an
    unnormalised density: p(R) = exp(f(R)) / Z with respect to the Haar
    measure (the model's output).

Projection geometry.  The camera looks down -z from +z (image right = +x,
image up = +y; sph_embed.sphere.rotations): the visible hemisphere is
z > 0, and its point (x, y, z) sits at image position
coverage * (x, y), in units where the image spans [-1, 1]^2; its feature
is bilinearly interpolated from the feature map (pixel centres at
-1 + (2j + 1) / w across, 1 - (2i + 1) / h down; clamped at the border).
An in-plane roll of the image is a rotation about z of the hemisphere.

The distribution lives on the Euler grid of sph_embed.pose.distributions
(so3_layers.EulerGrid): p_i = exp(f_i) / sum_j exp(f_j) v_j with v_j the
grid point's Haar share, so the mass of grid point i is p_i v_i.  The
loss is Image2Sphere's cross-entropy on the grid cell of the true rotation,
written as -log p at that cell (the same gradients: on a grid whose cells
are not equal, -log(mass) = -log p - log v_i and log v_i is a constant);
the cell is the grid point nearest the truth (largest tr(R_i^T R)), as
Image2Sphere's.  Its negative minus log(pi^2) is the log-likelihood of
Implicit-PDF / Image2Sphere (sph_embed.pose.distributions' convention).

Tensors: images [B, D, D, 1]; rotations [B, 3, 3] acting on column
vectors; `tf.keras` is tf_keras (sph_embed/__init__.py).
"""

import dataclasses
import math

import numpy as np
import tensorflow as tf

from sph_embed.baselines import regression
from sph_embed.embedding import model as embedding_model
from sph_embed.sphere import dh_grid
from sph_embed.sphere import so3
from sph_embed.sphere import so3_layers

keras = tf.keras

# log(pi^2): the log-likelihood of Implicit-PDF / Image2Sphere is log p
# relative to a uniform density on SO(3) of volume pi^2
# (sph_embed.pose.distributions.LOG_PI_SQUARED; the pose layer is above
# this one, so the constant is restated).
LOG_PI_SQUARED = math.log(math.pi ** 2)
# The encoder layer whose output is projected: its final BN + ReLU, just
# before the embedding network's bottleneck.
ENCODER_FEATURES_LAYER = "final_preact_relu"


@dataclasses.dataclass(frozen=True)
class Image2SphereConfig:
  """Widths and resolutions of the Image2Sphere network.

  Attributes:
    encoder: the encoder's widths (the embedding network's config; only
      its encoder, without the bottleneck, is built).
    sphere_channels: channels of the hemisphere signal (Image2Sphere: 512).
    so3_channels: channels between the two convolutions (Image2Sphere: 8).
    lmax: maximum degree L of the spherical and SO(3) signals (6).
    sphere_size: DH grid of the projected hemisphere signal (its SHT).
    coverage: the hemisphere's rim lands at this fraction of the image's
      half-width (Image2Sphere: 0.9).
    taper_degrees: colatitude from which the hemisphere signal tapers
      linearly to 0 at the rim (Image2Sphere: 75).
    activation_grid_size: Euler grid of the SO(3) activation; >= 4L would
      make its linear part exact, 16 (2,304 points) costs a third of 24 and
      is about the size of Image2Sphere's (e3nn, resolution 10: ~10^3
      points), which is aliased too.
    train_grid_size: Euler grid of the training distribution (48: 7.5
      degree steps, Image2Sphere's training grid's bin width).
    eval_grid_size: Euler grid of predictions (96: 3.75 degrees).
  """
  encoder: embedding_model.EmbeddingConfig = dataclasses.field(
      default_factory=lambda: embedding_model.preset("paper"))
  sphere_channels: int = 512
  so3_channels: int = 8
  lmax: int = 6
  sphere_size: int = 32
  coverage: float = 0.9
  taper_degrees: float = 75.0
  activation_grid_size: int = 16
  train_grid_size: int = 48
  eval_grid_size: int = 96

  def __post_init__(self):
    name = type(self).__name__
    if not isinstance(self.encoder, embedding_model.EmbeddingConfig):
      raise ValueError(f"{name}.encoder must be an EmbeddingConfig, got"
                       f" {self.encoder!r}")
    for field in ("sphere_channels", "so3_channels", "lmax"):
      value = getattr(self, field)
      if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name}.{field} must be a positive integer, got"
                         f" {value!r}")
    try:
      dh_grid.validate_grid_size(self.sphere_size)
    except dh_grid.GridError:
      raise ValueError(f"{name}.sphere_size must be a power of two >= 4,"
                       f" got {self.sphere_size!r}") from None
    if self.lmax > self.sphere_size // 2 - 1:
      raise ValueError(f"{name}.lmax ({self.lmax}) must be below"
                       f" sphere_size / 2 = {self.sphere_size // 2}")
    for field in ("activation_grid_size", "train_grid_size",
                  "eval_grid_size"):
      value = getattr(self, field)
      if (not isinstance(value, int) or isinstance(value, bool) or value % 2
          or value < 2 * self.lmax + 2):
        raise ValueError(f"{name}.{field} must be an even integer >= 2 lmax"
                         f" + 2 = {2 * self.lmax + 2}, got {value!r}")
    if not 0 < self.coverage <= 1:
      raise ValueError(f"{name}.coverage must be in (0, 1], got"
                       f" {self.coverage!r}")
    if not 0 <= self.taper_degrees < 90:
      raise ValueError(f"{name}.taper_degrees must be in [0, 90), got"
                       f" {self.taper_degrees!r}")

  @classmethod
  def from_dict(cls, fields):
    """The config of `dataclasses.asdict` output (e.g. read from JSON)."""
    fields = dict(fields)
    fields["encoder"] = embedding_model.EmbeddingConfig(**fields["encoder"])
    return cls(**fields)


PRESETS = {
    # The embedding network's `paper` encoder; Image2Sphere's widths.
    "paper": Image2SphereConfig(encoder=embedding_model.preset("paper")),
    # The embedding network's `cpu` encoder (4x narrower), 4x fewer sphere
    # channels.
    "cpu": Image2SphereConfig(encoder=embedding_model.preset("cpu"),
                              sphere_channels=128),
}


def preset(name, **overrides):
  """The named preset with some fields replaced (None values are ignored)."""
  if name not in PRESETS:
    raise ValueError(f"unknown image2sphere preset {name!r}; choose from"
                     f" {', '.join(sorted(PRESETS))}")
  overrides = {k: v for k, v in overrides.items() if v is not None}
  return dataclasses.replace(PRESETS[name], **overrides)


def hemisphere_projection(feature_height, feature_width, sphere_size,
                          coverage=0.9, taper_degrees=75.0):
  """Interpolation weights [n * n, h * w] from a feature map to DH points.

  Row (j, k) of the n x n DH grid (row-major) holds the bilinear weights of
  its point's image position (module docstring) times the taper
  t(theta) = clip((90 - theta) / (90 - taper), 0, 1) (degrees); rows of
  points at or below the equator (theta >= 90 degrees) are zero.
  """
  directions = dh_grid.directions(sphere_size).reshape(-1, 3)
  colatitude = np.degrees(np.arccos(np.clip(directions[:, 2], -1.0, 1.0)))
  taper = np.clip((90.0 - colatitude) / (90.0 - taper_degrees), 0.0, 1.0)
  # Continuous (row, column) pixel coordinates, pixel centres at integers.
  column = (coverage * directions[:, 0] + 1) * feature_width / 2 - 0.5
  row = (1 - coverage * directions[:, 1]) * feature_height / 2 - 0.5
  weights = np.zeros((len(directions), feature_height, feature_width))
  points = np.arange(len(directions))
  row0, row_fraction = _interpolation(row, feature_height)
  column0, column_fraction = _interpolation(column, feature_width)
  for d_row, w_row in ((0, 1 - row_fraction), (1, row_fraction)):
    for d_column, w_column in ((0, 1 - column_fraction),
                               (1, column_fraction)):
      np.add.at(weights, (points,
                          np.minimum(row0 + d_row, feature_height - 1),
                          np.minimum(column0 + d_column, feature_width - 1)),
                w_row * w_column)
  return (weights.reshape(len(directions), -1) * taper[:, None]).astype(
      np.float32)


def _interpolation(coordinate, size):
  """(lower index, fraction) of coordinates clamped to [0, size - 1]."""
  clamped = np.clip(coordinate, 0.0, size - 1.0)
  lower = np.minimum(np.floor(clamped).astype(np.int64), max(size - 2, 0))
  return lower, clamped - lower


class HemisphereProjection(keras.layers.Layer):
  """Feature map [B, h, w, C] -> DH maps [B, n, n, C] on the visible
  hemisphere (`hemisphere_projection`; zero on the far side)."""

  def __init__(self, sphere_size, coverage=0.9, taper_degrees=75.0,
               **kwargs):
    kwargs.setdefault("dtype", "float32")
    super().__init__(**kwargs)
    self.sphere_size = int(sphere_size)
    self.coverage = float(coverage)
    self.taper_degrees = float(taper_degrees)

  def build(self, input_shape):
    shape = tf.TensorShape(input_shape)
    if shape.rank != 4 or shape[1] is None or shape[2] is None:
      raise ValueError(f"{self.name}: expected a feature map [batch, height,"
                       f" width, channels] of static size, got {shape}")
    self._weights = tf.constant(hemisphere_projection(
        shape[1], shape[2], self.sphere_size, self.coverage,
        self.taper_degrees))
    super().build(input_shape)

  def call(self, inputs):
    inputs = tf.cast(inputs, tf.float32)
    pixels = tf.reshape(inputs, (-1, inputs.shape[1] * inputs.shape[2],
                                 inputs.shape[3]))
    points = tf.einsum("qp,bpc->bqc", self._weights, pixels)
    n = self.sphere_size
    return tf.reshape(points, (-1, n, n, inputs.shape[3]))

  def get_config(self):
    config = super().get_config()
    config.update(sphere_size=self.sphere_size, coverage=self.coverage,
                  taper_degrees=self.taper_degrees)
    return config


def build_feature_encoder(config, image_size=64, image_channels=1):
  """The embedding network's encoder up to its last feature map (no
  bottleneck): [B, D, D, C] -> [B, 2, 2, F]."""
  encoder = embedding_model.build_encoder(config.encoder, image_size,
                                          image_channels)
  return keras.Model(encoder.input,
                     encoder.get_layer(ENCODER_FEATURES_LAYER).output,
                     name="encoder")


def build_image2sphere_model(config, image_size=64, image_channels=1):
  """Image [B, D, D, 1] -> flat SO(3) Fourier coefficients [B, S] of the
  log density (module docstring)."""
  image = keras.Input((image_size, image_size, image_channels), name="image")
  x = build_feature_encoder(config, image_size, image_channels)(image)
  x = keras.layers.Conv2D(config.sphere_channels, 1, name="sphere_features")(x)
  x = HemisphereProjection(config.sphere_size, config.coverage,
                           config.taper_degrees, name="projection")(x)
  x = keras.layers.ReLU(name="projection_relu", dtype="float32")(x)
  x = so3_layers.SphereToSO3Conv(config.so3_channels, config.lmax,
                                 name="s2_conv")(x)
  x = so3_layers.SO3Activation(config.activation_grid_size,
                               name="so3_activation")(x)
  x = so3_layers.SO3Conv(1, name="so3_conv")(x)
  fourier = keras.layers.Reshape((so3.flat_size(config.lmax),),
                                 name="fourier", dtype="float32")(x)
  return keras.Model(image, fourier, name="image2sphere")


class GridDistribution:
  """The model's distribution on one Euler grid (TensorFlow).

  Attributes:
    grid: so3_layers.EulerGrid.
    rotations: [G, 3, 3] float32 constant, the grid points in grid order.
  """

  def __init__(self, grid_size, lmax):
    self.grid = so3_layers.EulerGrid(grid_size, lmax)
    with tf.init_scope():
      self.rotations = tf.constant(
          so3.euler_grid_rotations(grid_size).reshape(-1, 3, 3), tf.float32)

  def log_density(self, fourier):
    """log p on the grid points: [B, S] -> [B, G]."""
    return self.grid.log_density(fourier)

  def nearest(self, rotations):
    """Index [B] of the grid point nearest each rotation [B, 3, 3]
    (largest tr(R_i^T R))."""
    rotations = tf.reshape(tf.cast(rotations, tf.float32), (-1, 9))
    return tf.argmax(tf.matmul(rotations, tf.reshape(self.rotations, (-1, 9)),
                               transpose_b=True), axis=-1)

  def scores(self, fourier, rotations):
    """(-log p at the truth's cell [B], geodesic error of the argmax in
    radians [B], argmax rotations [B, 3, 3])."""
    log_density = self.log_density(fourier)
    cell = self.nearest(rotations)
    negative_log_density = -tf.gather(log_density, cell, batch_dims=1)
    predicted = tf.gather(self.rotations, tf.argmax(log_density, axis=-1))
    error = regression.geodesic_distance(predicted, rotations)
    return negative_log_density, error, predicted


def make_loss_fn(distribution):
  """sph_embed.training.loop's loss_fn: -log p at the true rotation's cell.

  Args:
    distribution: GridDistribution on the training grid.

  Returns:
    loss_fn(model, batch) -> (per-example loss [B], {"log_likelihood": [B],
    "geodesic_degrees": [B]}), batch with "image" and "rotation" [B, 3, 3].
  """

  def loss_fn(model, batch):
    fourier = model(batch["image"], training=True)
    loss, error, _ = distribution.scores(fourier, batch["rotation"])
    return loss, {"log_likelihood": -loss - LOG_PI_SQUARED,
                  "geodesic_degrees": error * (180 / math.pi)}

  return loss_fn


@dataclasses.dataclass(frozen=True)
class Predictions:
  """Absolute poses predicted for N images on an Euler grid of size M.

  Attributes:
    rotations: [N, 3, 3] float64, the grid point of largest density
      (Image2Sphere's prediction).
    probabilities: [N, G] float32, the mass p_i v_i of each grid point
      (sums to 1), G = M^2 (M/2 + 1) in the order of
      sph_embed.pose.distributions.grid_rotations(M); None unless asked.
    grid_size: M.
  """
  rotations: np.ndarray
  probabilities: np.ndarray | None
  grid_size: int


class Predictor:
  """Predicts with one Image2Sphere network on one Euler grid of size M.

  The grid's tables and the traced forward pass are made once, so callers
  that predict batch by batch reuse them: `predictor.rotations` is the
  images -> rotations [b, 3, 3] callable of
  sph_embed.report.absolute_poses.rotation_predictor.
  """

  def __init__(self, model, grid_size):
    lmax = so3.lmax_of_flat_size(model.output_shape[-1])
    distribution = GridDistribution(grid_size, lmax)
    self.grid_size = grid_size
    self._grid_rotations = so3.euler_grid_rotations(grid_size).reshape(
        -1, 3, 3)

    @tf.function(reduce_retracing=True)
    def forward(images):
      log_density = distribution.log_density(model(images, training=False))
      return (tf.argmax(log_density, axis=-1),
              tf.exp(log_density + distribution.grid.log_weights))

    self._forward = forward

  def __call__(self, images, probabilities=True):
    """Predictions of images [b, D, D, 1] (one forward pass)."""
    index, masses = self._forward(np.asarray(images, dtype=np.float32))
    return Predictions(rotations=self._grid_rotations[index.numpy()],
                       probabilities=masses.numpy() if probabilities else None,
                       grid_size=self.grid_size)

  def rotations(self, images):
    """The argmax rotations [b, 3, 3] (float64) of images [b, D, D, 1]."""
    return self(images, probabilities=False).rotations


def predict(model, images, grid_size, batch_size=32, probabilities=True):
  """Predicted absolute poses (and distributions) of images [N, D, D, 1].

  Args:
    model: an Image2Sphere network (`build_image2sphere_model`).
    images: [N, D, D, 1] in [0, 1].
    grid_size: the Euler grid's size M (e.g. the config's eval_grid_size);
      probabilities take 4 M^2 (M/2 + 1) bytes per image (1.8 MB at 96).
    batch_size: images per forward pass.
    probabilities: whether to keep every image's probabilities.

  Returns:
    Predictions.
  """
  predictor = Predictor(model, grid_size)
  parts = [predictor(images[start:start + batch_size], probabilities)
           for start in range(0, len(images), batch_size)]
  size = predictor.grid_size
  count = size * size * (size // 2 + 1)
  return Predictions(
      rotations=np.concatenate([np.zeros((0, 3, 3))]
                               + [p.rotations for p in parts]),
      probabilities=(np.concatenate(
          [np.zeros((0, count), np.float32)]
          + [p.probabilities for p in parts]) if probabilities else None),
      grid_size=size)
