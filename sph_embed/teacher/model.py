"""The spherical CNN teacher: a residual classifier of ray-cast maps.

Architecture (paper appendix A.1, DESIGN §2), for a 64 x 64 x 1 ray-length
map on the DH grid:

  stem    SphericalConv(stem_filters) + BN + ReLU            64 x 64
  pool    area-weighted, 2 x 2 cells                          -> 32 x 32
  stage 0 `blocks_per_stage` residual bottleneck blocks       32 x 32
  pool                                                        -> 16 x 16
  stage 1 `blocks_per_stage` residual bottleneck blocks       16 x 16
  pool                                                        -> 8 x 8
  head    SphericalConv(head_filters) + BN + ReLU             8 x 8
  area-weighted global average pool, Dense(num_classes) -> logits

A residual bottleneck block with output width C:
  SphericalConv(C / 4) + BN + ReLU   -> the block's bottleneck map
  SphericalConv(C) + BN
  + shortcut (identity, or a pointwise projection + BN when the width
    changes), ReLU.
With 2 blocks per stage that is 1 + 4 + 4 + 1 = 10 spectral convolutions.
The pointwise projection, BN (a per-channel affine map at inference) and
ReLU act on each grid point alone, so they commute with rotations; only the
grid sampling of nonlinearities and the pooling break exact equivariance.

Pooling (`TeacherConfig.pooling`): 'centered' (default) averages the 2 x 2
cells centred on each coarse sample (sph_embed.sphere.centered_pooling); 'grid'
averages 2 x 2 blocks of grid samples (layers.SphericalPool), which on the
DH grid shifts the map half a fine row in colatitude per pooling and made
the trained teacher's `pose` equivariance error 3.3x larger
(BUILD_NOTES.md).

Outputs (a dict): `logits` [B, num_classes]; `synthesis`, the bottleneck map
of the last block at 32 x 32 [B, 32, 32, C0 / 4]; `pose`, the bottleneck map
of the last block at 16 x 16 [B, 16, 16, C1 / 4] (the paper takes its
targets inside the residual bottlenecks: an earlier layer for view
synthesis, a deeper one for pose).

`build_planar_control` is the same network with planar convolutions and
pooling: the non-equivariant control of the equivariance measurements.
"""

import dataclasses

import tensorflow as tf

from sph_embed.sphere import centered_pooling
from sph_embed.sphere import layers

keras = tf.keras

GRID_SIZE = 64
OUTPUT_KEYS = ("logits", "pose", "synthesis")
PLANAR_KERNEL_SIZE = 3
POOLINGS = ("centered", "grid")


@dataclasses.dataclass(frozen=True)
class TeacherConfig:
  """Widths and depth of the teacher.

  Attributes:
    stem_filters: channels of the 64 x 64 spectral convolution.
    stage_filters: block output widths at 32 x 32 and at 16 x 16; each must
      be divisible by `bottleneck_ratio`.
    blocks_per_stage: residual blocks per stage.
    head_filters: channels of the 8 x 8 spectral convolution.
    bottleneck_ratio: block width / bottleneck width (4 in the paper).
    num_anchors: anchor degrees of each localised spectral filter.
    pooling: 'centered' or 'grid' (see the module docstring).
  """
  stem_filters: int = 8
  stage_filters: tuple[int, int] = (32, 64)
  blocks_per_stage: int = 2
  head_filters: int = 128
  bottleneck_ratio: int = 4
  num_anchors: int = 8
  pooling: str = "centered"

  @classmethod
  def from_dict(cls, fields):
    """The validated config of `dataclasses.asdict` output read from JSON."""
    fields = dict(fields)
    fields["stage_filters"] = tuple(fields["stage_filters"])
    return cls(**fields).validate()

  @classmethod
  def tiny(cls):
    """A small configuration for tests."""
    return cls(stem_filters=4, stage_filters=(8, 8), blocks_per_stage=1,
               head_filters=8)

  def validate(self):
    """Raises ValueError naming the bad field."""
    positive = dict(stem_filters=self.stem_filters,
                    blocks_per_stage=self.blocks_per_stage,
                    head_filters=self.head_filters,
                    bottleneck_ratio=self.bottleneck_ratio,
                    num_anchors=self.num_anchors)
    for name, value in positive.items():
      if not isinstance(value, int) or value < 1:
        raise ValueError(f"TeacherConfig.{name} must be a positive integer,"
                         f" got {value!r}")
    if self.pooling not in POOLINGS:
      raise ValueError(f"TeacherConfig.pooling must be one of {POOLINGS},"
                       f" got {self.pooling!r}")
    if len(self.stage_filters) != 2:
      raise ValueError("TeacherConfig.stage_filters must hold 2 widths (32 x"
                       f" 32 and 16 x 16 stages), got {self.stage_filters}")
    for width in self.stage_filters:
      if (not isinstance(width, int) or width < 1 or
          width % self.bottleneck_ratio):
        raise ValueError(f"TeacherConfig.stage_filters entries must be"
                         f" positive multiples of bottleneck_ratio"
                         f" {self.bottleneck_ratio}, got {self.stage_filters}")
    return self

  @property
  def num_spectral_convs(self):
    return 2 + 4 * self.blocks_per_stage

  def output_shapes(self, num_classes):
    """{key: shape without the batch axis} of the model's outputs."""
    return {
        "logits": (num_classes,),
        "pose": (16, 16, self.stage_filters[1] // self.bottleneck_ratio),
        "synthesis": (32, 32,
                      self.stage_filters[0] // self.bottleneck_ratio),
    }


PRESETS = {
    # The shipped synthetic teacher's widths (hub_modules/teacher_synthetic):
    # sized for 2 CPU cores; pose maps 16 x 16 x 16, synthesis 32 x 32 x 8.
    "cpu": TeacherConfig(),
    # ModelNet40 widths (appendix A.1): 10 spectral convolutions, twice the
    # cpu widths; pose maps 16 x 16 x 32, synthesis 32 x 32 x 16.  The
    # paper's figure 7 with the exact widths is not in the text we have;
    # BUILD_NOTES.md ("Presets") says where these come from.
    "paper": TeacherConfig(stem_filters=16, stage_filters=(64, 128),
                           blocks_per_stage=2, head_filters=256),
}


def preset(name, **overrides):
  """The named preset with some fields replaced (None values are ignored)."""
  if name not in PRESETS:
    raise ValueError(f"unknown teacher preset {name!r}; choose from"
                     f" {', '.join(sorted(PRESETS))}")
  overrides = {k: v for k, v in overrides.items() if v is not None}
  if "stage_filters" in overrides:
    overrides["stage_filters"] = tuple(overrides["stage_filters"])
  return dataclasses.replace(PRESETS[name], **overrides).validate()


class _Ops:
  """Layer factories of one architecture: spherical (teacher) or planar."""

  def __init__(self, planar, config):
    self.planar = planar
    self.num_anchors = config.num_anchors
    self.pooling = config.pooling

  def conv(self, filters, name):
    if self.planar:
      return keras.layers.Conv2D(filters, PLANAR_KERNEL_SIZE, padding="same",
                                 use_bias=False, name=name)
    return layers.SphericalConv(filters, num_anchors=self.num_anchors,
                                use_bias=False, name=name)

  def pool(self, name):
    if self.planar:
      return keras.layers.AveragePooling2D(2, name=name)
    if self.pooling == "centered":
      return centered_pooling.CenteredSphericalPool(name=name)
    return layers.SphericalPool(name=name)

  def global_pool(self, name):
    if self.planar:
      return keras.layers.GlobalAveragePooling2D(name=name)
    return layers.SphericalGlobalAvgPool(name=name)


def _conv_bn(x, filters, ops, name, relu=True):
  x = ops.conv(filters, f"{name}_conv")(x)
  x = keras.layers.BatchNormalization(name=f"{name}_bn")(x)
  if relu:
    x = keras.layers.ReLU(name=f"{name}_relu")(x)
  return x


def _bottleneck_block(x, filters, config, ops, name):
  """Residual bottleneck block; returns (output, bottleneck map)."""
  bottleneck = _conv_bn(x, filters // config.bottleneck_ratio, ops,
                        f"{name}_reduce")
  y = _conv_bn(bottleneck, filters, ops, f"{name}_expand", relu=False)
  shortcut = x
  if x.shape[-1] != filters:
    shortcut = keras.layers.Dense(filters, use_bias=False,
                                  name=f"{name}_project")(x)
    shortcut = keras.layers.BatchNormalization(
        name=f"{name}_project_bn")(shortcut)
  y = keras.layers.Add(name=f"{name}_add")([y, shortcut])
  return keras.layers.ReLU(name=f"{name}_out")(y), bottleneck


def _build(config, num_classes, planar, name):
  config.validate()
  if not isinstance(num_classes, int) or num_classes < 2:
    raise ValueError(f"num_classes must be an integer >= 2, got"
                     f" {num_classes!r}")
  ops = _Ops(planar, config)
  inputs = keras.Input((GRID_SIZE, GRID_SIZE, 1), name="sphere")
  x = _conv_bn(inputs, config.stem_filters, ops, "stem")
  bottlenecks = []
  for stage, filters in enumerate(config.stage_filters):
    x = ops.pool(f"pool{stage}")(x)
    for block in range(config.blocks_per_stage):
      x, bottleneck = _bottleneck_block(x, filters, config, ops,
                                        f"stage{stage}_block{block}")
    bottlenecks.append(bottleneck)
  x = ops.pool("pool2")(x)
  x = _conv_bn(x, config.head_filters, ops, "head")
  x = ops.global_pool("global_pool")(x)
  logits = keras.layers.Dense(num_classes, name="logits")(x)
  outputs = {
      "logits": logits,
      "pose": keras.layers.Identity(name="pose")(bottlenecks[1]),
      "synthesis": keras.layers.Identity(name="synthesis")(bottlenecks[0]),
  }
  return keras.Model(inputs, outputs, name=name)


def build_teacher(config, num_classes):
  """The teacher as a tf.keras.Model: [B, 64, 64, 1] -> dict of outputs.

  Args:
    config: TeacherConfig.
    num_classes: number of shape categories.

  Returns:
    tf.keras.Model with outputs {"logits", "pose", "synthesis"} (see the
    module docstring).
  """
  return _build(config, num_classes, planar=False,
                name="spherical_cnn_teacher")


def build_planar_control(config, num_classes):
  """The non-equivariant control: the same network with planar layers.

  Every spectral convolution becomes a 3 x 3 zero-padded Conv2D (9 weights
  per channel pair, against the spectral filter's 8 anchors), the spherical
  pools plain 2 x 2 / global average pools; blocks, widths and outputs are
  the teacher's.  Used to put the teacher's equivariance error in context.
  """
  return _build(config, num_classes, planar=True, name="planar_cnn_control")
