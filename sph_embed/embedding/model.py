"""Image -> spherical embedding network (`sph_embedding_residual`, DESIGN §2).

An encoder-decoder with a 1 x 1 bottleneck, built from the official
TensorFlow ResNet-v2 pieces (pre-activation building blocks, fixed padding,
batch norm with decay 0.997 / epsilon 1e-5, variance-scaling init, no conv
biases before batch norm):

- encoder, D x D image (D a power of two): log2(D) stages.  Stage 0: 7 x 7
  stride-2 conv with `base_filters`.  Stage i >= 1: a block layer of
  `blocks_per_layer` building blocks, stride 1 for i = 1 and 2 otherwise,
  min(base_filters 2^i, max_filters) filters.  Then BN + ReLU (v2 final
  pre-activation) and a 2 x 2 'valid' linear conv to 1 x 1 x latent_size.
  Every k > 1 conv reflect-pads its input by official ResNet's fixed
  amounts (the authors patched `fixed_padding` to reflect; the official
  code zero-pads stride-1 convs with 'SAME', here they reflect too).
- decoder to T x T x C (T a power of two >= 8): log2(T) - 2 stages.
  Stage 0 ("stem"): 4 x 4 stride-1 'valid' transposed conv (1 -> 4) + BN +
  ReLU.  Stage i >= 1: a stride-1 block layer, then a 3 x 3 stride-2
  transposed conv + BN + ReLU, min(base_filters 2^(stages - i - 1),
  max_filters) filters.  Last: a 7 x 7 stride-2 linear transposed conv to C
  channels (with a bias, the network's only one: targets are not centred).  From 4 x 4 on the maps live on the DH grid, and every conv
  pads spherically (`layers.SphericalPadding`: circular in longitude,
  reflect in colatitude): a plain conv pads then convolves 'valid'; a
  transposed conv pads its input, convolves 'valid' and crops to exactly
  stride x n, with the kernel centred so that input sample i lands on
  output sample stride * i (the DH grids nest: theta_i = theta'_{2i}).
  The result is exactly equivariant to longitude rolls (roll by r at n x n
  = roll by T r / n at T x T).

The synthesis network (`sph_embed.synthesis.model`) is the same shape
reversed in domain: `build_encoder` with `pad_fn=spherical_pad` reads DH
maps, and `build_decoder(..., domain="image")` writes an image (reflect
padding, 'same' transposed convs).

Tensors are [batch, lat, lon, channels]; `tf.keras` is tf_keras (see
`sph_embed/__init__.py`).
"""

import dataclasses
import math

import tensorflow as tf

from sph_embed.sphere import layers as sph_layers

keras = tf.keras

# Official TF ResNet batch-norm constants.
BATCH_NORM_DECAY = 0.997
BATCH_NORM_EPSILON = 1e-5
STEM_KERNEL = 7
BLOCK_KERNEL = 3
DECODER_START_SIZE = 4


@dataclasses.dataclass(frozen=True)
class EmbeddingConfig:
  """Widths of the embedding network.

  Attributes:
    base_filters: filters of encoder stage 0 (64 in the paper); stage i
      has min(base_filters 2^i, max_filters).
    max_filters: cap on the number of filters of any conv (256).
    latent_size: channels of the 1 x 1 bottleneck (1024).
    blocks_per_layer: building blocks per block layer (2).
  """
  base_filters: int = 64
  max_filters: int = 256
  latent_size: int = 1024
  blocks_per_layer: int = 2

  def __post_init__(self):
    for field in dataclasses.fields(self):
      value = getattr(self, field.name)
      if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{type(self).__name__}.{field.name} must be a"
                         f" positive integer, got {value!r}")
    if self.max_filters < self.base_filters:
      raise ValueError(f"{type(self).__name__}: max_filters"
                       f" ({self.max_filters})"
                       f" < base_filters ({self.base_filters})")


PRESETS = {
    # As the original: 64 -> 256 channels, 1024 latent units.
    "paper": EmbeddingConfig(base_filters=64, max_filters=256,
                             latent_size=1024, blocks_per_layer=2),
    # Same depth, 4x narrower: trains on a 2-core CPU.
    "cpu": EmbeddingConfig(base_filters=16, max_filters=64, latent_size=256,
                           blocks_per_layer=2),
}


def preset(name, **overrides):
  """The named preset with some fields replaced (None values are ignored)."""
  if name not in PRESETS:
    raise ValueError(f"unknown embedding preset {name!r}; choose from"
                     f" {', '.join(sorted(PRESETS))}")
  overrides = {k: v for k, v in overrides.items() if v is not None}
  return dataclasses.replace(PRESETS[name], **overrides)


def _log2(size, what, minimum):
  if (not isinstance(size, int) or size < minimum or size & (size - 1)):
    raise ValueError(f"{what} must be a power of two >= {minimum}, got"
                     f" {size!r}")
  return int(math.log2(size))


def num_encoder_stages(image_size):
  """log2(D): stage 0 (7 x 7 conv) plus the block layers."""
  return _log2(image_size, "image size", 4)


def num_decoder_stages(target_size):
  """log2(T) - 2: the 1 -> 4 stem plus the upsampling stages."""
  return _log2(target_size, "target size", 8) - 2


def encoder_filters(config, stage):
  return min(config.base_filters * 2 ** stage, config.max_filters)


def decoder_filters(config, num_stages, stage):
  return min(config.base_filters * 2 ** (num_stages - stage - 1),
             config.max_filters)


class ReflectPadding(keras.layers.Layer):
  """Reflect-pads height and width (the encoder's fixed padding)."""

  def __init__(self, padding, **kwargs):
    super().__init__(**kwargs)
    self.padding = tuple(int(p) for p in padding)

  def call(self, inputs):
    before, after = self.padding
    return tf.pad(inputs, [[0, 0], [before, after], [before, after], [0, 0]],
                  mode="REFLECT")

  def get_config(self):
    config = super().get_config()
    config.update(padding=self.padding)
    return config


def _fixed_padding(kernel_size):
  """(before, after) of official ResNet's fixed padding for a k x k kernel."""
  before = (kernel_size - 1) // 2
  return before, kernel_size - 1 - before


def _initializer():
  # tf.compat.v1.variance_scaling_initializer() of the official ResNet.
  return keras.initializers.VarianceScaling(
      scale=1.0, mode="fan_in", distribution="truncated_normal")


def batch_norm_relu(x, name, relu=True):
  x = keras.layers.BatchNormalization(
      momentum=BATCH_NORM_DECAY, epsilon=BATCH_NORM_EPSILON,
      name=f"{name}_bn")(x)
  return keras.layers.ReLU(name=f"{name}_relu")(x) if relu else x


def reflect_pad(x, kernel_size, name):
  return ReflectPadding(_fixed_padding(kernel_size), name=name)(x)


def spherical_pad(x, kernel_size, name):
  before_after = _fixed_padding(kernel_size)
  return sph_layers.SphericalPadding((before_after, before_after),
                                     name=name)(x)


def conv2d_fixed_padding(x, filters, kernel_size, strides, pad_fn, name):
  """Conv2D whose k > 1 kernels see `pad_fn`-padded inputs ('valid' conv)."""
  if kernel_size > 1:
    x = pad_fn(x, kernel_size, f"{name}_pad")
  return keras.layers.Conv2D(
      filters, kernel_size, strides=strides, padding="valid", use_bias=False,
      kernel_initializer=_initializer(), name=name)(x)


def spherical_conv2d_transpose(x, filters, kernel_size, strides, name,
                               use_bias=False):
  """Transposed conv on the DH grid: n x n -> strides n x strides n.

  The input is padded spherically by p = ceil(ceil((k - 1) / 2) / s) samples
  on every side, convolved 'valid', and cropped so that input sample i
  contributes to outputs s i - c .. s i - c + k - 1 with c = (k - 1) // 2
  (kernel centred on s i); every kept output then sees all of its inputs,
  so the longitude axis is exactly periodic.
  """
  n = x.shape[1]
  centre = (kernel_size - 1) // 2
  pad = -(-(kernel_size - 1 - centre) // strides)
  x = sph_layers.SphericalPadding(pad, name=f"{name}_pad")(x)
  x = keras.layers.Conv2DTranspose(
      filters, kernel_size, strides=strides, padding="valid",
      use_bias=use_bias, kernel_initializer=_initializer(), name=name)(x)
  start = centre + strides * pad
  end = x.shape[1] - start - strides * n
  return keras.layers.Cropping2D(((start, end), (start, end)),
                                 name=f"{name}_crop")(x)


def image_conv2d_transpose(x, filters, kernel_size, strides, name,
                           use_bias=False):
  """Transposed conv on an image grid: n x n -> strides n x strides n."""
  return keras.layers.Conv2DTranspose(
      filters, kernel_size, strides=strides, padding="same",
      use_bias=use_bias, kernel_initializer=_initializer(), name=name)(x)


def building_block_v2(x, filters, strides, projection, pad_fn, name):
  """Official ResNet-v2 pre-activation building block (two 3 x 3 convs)."""
  shortcut = x
  x = batch_norm_relu(x, f"{name}_preact")
  if projection:
    shortcut = conv2d_fixed_padding(x, filters, 1, strides, pad_fn,
                                    f"{name}_projection")
  x = conv2d_fixed_padding(x, filters, BLOCK_KERNEL, strides, pad_fn,
                           f"{name}_conv1")
  x = batch_norm_relu(x, f"{name}_conv1")
  x = conv2d_fixed_padding(x, filters, BLOCK_KERNEL, 1, pad_fn,
                           f"{name}_conv2")
  return keras.layers.Add(name=f"{name}_add")([x, shortcut])


def block_layer(x, filters, blocks, strides, pad_fn, name):
  """`blocks` building blocks; the first projects (as the official code)."""
  x = building_block_v2(x, filters, strides, True, pad_fn, f"{name}_block0")
  for i in range(1, blocks):
    x = building_block_v2(x, filters, 1, False, pad_fn, f"{name}_block{i}")
  return keras.layers.Identity(name=name)(x)


def build_encoder(config, image_size=64, channels=1, pad_fn=reflect_pad):
  """D x D x channels input -> 1 x 1 x latent_size (layers 'stage<i>').

  `pad_fn` pads the input of every k > 1 conv: `reflect_pad` for images,
  `spherical_pad` for DH maps (the synthesis network's encoder).
  """
  stages = num_encoder_stages(image_size)
  image = keras.Input((image_size, image_size, channels), name="image")
  x = conv2d_fixed_padding(image, config.base_filters, STEM_KERNEL, 2,
                           pad_fn, "stage0_conv")
  x = keras.layers.Identity(name="stage0")(x)
  for stage in range(1, stages):
    x = block_layer(x, encoder_filters(config, stage),
                    config.blocks_per_layer, 1 if stage == 1 else 2,
                    pad_fn, f"stage{stage}")
  x = batch_norm_relu(x, "final_preact")
  # 2 x 2 -> 1 x 1: a 'valid' linear conv, nothing to pad.
  x = keras.layers.Conv2D(config.latent_size, x.shape[1], padding="valid",
                          use_bias=False, kernel_initializer=_initializer(),
                          name="bottleneck_conv")(x)
  x = keras.layers.Identity(name="bottleneck")(x)
  return keras.Model(image, x, name="encoder")


# What a decoder pads and upsamples with, by the domain of its output: DH
# maps (pole-crossing padding, grid-aligned transposed convs) or images.
DECODER_DOMAINS = {
    "sphere": ("spherical_decoder", spherical_pad, spherical_conv2d_transpose),
    "image": ("image_decoder", reflect_pad, image_conv2d_transpose),
}


def build_upsampler(config, target_size, channels, domain):
  """The decoder after its stem: 4 x 4 x F -> T x T x C on `domain`'s grid.

  'sphere' (the embedding network): all on the sphere.  'image' (the
  synthesis network): the same layers with image padding.
  """
  if domain not in DECODER_DOMAINS:
    raise ValueError(f"unknown decoder domain {domain!r}; choose from"
                     f" {', '.join(sorted(DECODER_DOMAINS))}")
  name, pad_fn, conv_transpose_fn = DECODER_DOMAINS[domain]
  stages = num_decoder_stages(target_size)
  inputs = keras.Input(
      (DECODER_START_SIZE, DECODER_START_SIZE,
       decoder_filters(config, stages, 0)), name="stem_features")
  x = inputs
  for stage in range(1, stages):
    filters = decoder_filters(config, stages, stage)
    x = block_layer(x, filters, config.blocks_per_layer, 1, pad_fn,
                    f"up{stage}_blocks")
    x = conv_transpose_fn(x, filters, BLOCK_KERNEL, 2, f"up{stage}_deconv")
    x = batch_norm_relu(x, f"up{stage}_deconv")
  x = conv_transpose_fn(x, channels, STEM_KERNEL, 2, "output_deconv",
                        use_bias=True)
  return keras.Model(inputs, x, name=name)


def build_spherical_decoder(config, target_size, channels):
  """The decoder after its stem, all on the sphere: 4 x 4 x F -> T x T x C."""
  return build_upsampler(config, target_size, channels, "sphere")


def build_decoder(config, target_size, channels, domain="sphere",
                  name="decoder"):
  """1 x 1 x latent_size -> T x T x channels maps on `domain`'s grid."""
  stages = num_decoder_stages(target_size)
  latent = keras.Input((1, 1, config.latent_size), name="latent")
  # 1 x 1 -> 4 x 4: a dense map of the latent vector, nothing to pad.
  x = keras.layers.Conv2DTranspose(
      decoder_filters(config, stages, 0), DECODER_START_SIZE, strides=1,
      padding="valid", use_bias=False, kernel_initializer=_initializer(),
      name="stem_deconv")(latent)
  x = batch_norm_relu(x, "stem_deconv")
  x = build_upsampler(config, target_size, channels, domain)(x)
  return keras.Model(latent, x, name=name)


def build_embedding_model(config, target_size, channels, image_size=64,
                          image_channels=1):
  """Image [B, D, D, 1] -> spherical embedding [B, T, T, C]."""
  image = keras.Input((image_size, image_size, image_channels), name="image")
  latent = build_encoder(config, image_size, image_channels)(image)
  maps = build_decoder(config, target_size, channels)(latent)
  return keras.Model(image, maps, name="sph_embedding_residual")


def decoder_name(index, key):
  """The decoder of head `index`: the first is 'decoder', as in a one-head
  network, so its layers are named (and checkpointed) alike."""
  return "decoder" if index == 0 else f"decoder_{key}"


def build_multi_head_model(config, heads, image_size=64, image_channels=1):
  """Image -> {key: [B, T, T, C]}: one encoder, one decoder per head.

  The encoder dominates the step on a CPU (~90 % of a `cpu` preset
  network's step), so a second head of teacher maps costs far less than a
  second network (BUILD_NOTES.md, "The main job in 90 minutes").

  Args:
    heads: ((key, T, C), ...), at least two; keys unique.
  """
  if len(heads) < 2 or len({key for key, _, _ in heads}) != len(heads):
    raise ValueError(f"a multi-head network needs two or more heads with"
                     f" distinct keys, got {heads}")
  image = keras.Input((image_size, image_size, image_channels), name="image")
  latent = build_encoder(config, image_size, image_channels)(image)
  maps = {key: build_decoder(config, size, channels,
                             name=decoder_name(index, key))(latent)
          for index, (key, size, channels) in enumerate(heads)}
  return keras.Model(image, maps, name="sph_embedding_residual")


def head_model(model, key):
  """The one-head network (image -> head `key`'s maps) inside a
  multi-head `model`, sharing its layers and weights."""
  return keras.Model(model.inputs, model.output[key],
                     name=f"sph_embedding_residual_{key}")
