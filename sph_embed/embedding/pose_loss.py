"""A pose-aware loss term: the correlation's softmax over a coarse SO(3) grid.

The area-weighted Huber loss scores a predicted map sample by sample, so a
prediction that matches the teacher's map of the object turned half-way
round costs little more than one slightly off in the right pose, and the
correlation at test time then picks the half-turn.  This term scores the
prediction the way the correlation uses it:

  C(R) = sum_c <t_c, Lambda_R p_c> / (|t| |p|)

for every rotation R of a fixed grid `G` holding the identity, and the
cross-entropy of softmax(C / temperature) at the identity.  The target t is
the teacher's map of the same view, so the true relative rotation between
prediction and target is the identity (pairing the prediction with the
teacher's map of another view Q of the object gives the same term on the
grid rotated by Q, the teacher being equivariant).  Grid rotations within
`exclusion_degrees` of the identity are left out, so the term does not ask
the maps to tell the truth from its near neighbours, only from rotations
far from it.  `half_turns` adds 180-degree rotations about evenly spread
axes: an object seen front for back (or upside down) is the prediction
turned half-way round about one of the object's axes, which in a random
pose can be any axis, and the nearest of 512 random rotations is ~20
degrees from that half-turn.

In the harmonic domain (real 4pi-normalised harmonics, `sht_tf`), with D the
real Wigner matrices of `so3.wigner_blocks`,

  <t_c, Lambda_R p_c> = 4 pi sum_l t_c,l . D^l(R) p_c,l,

so C over the grid is one [B, S] x [S, G] product, S = sum_l (2l+1)^2, of
the per-degree cross-products M^l_mn = sum_c t_c,lm p_c,ln: cheap beside
the network's step, and the same on a GPU.  The 4 pi and the norms cancel
against |t| |p| = 4 pi |t_lm| |p_lm| (Parseval), so band-limiting both maps
to the grid's degrees is the only approximation; `correlation_on_grid_numpy`
is the reference, rotating maps on the grid with `sht_numpy.rotate_maps`.
"""

import dataclasses
import functools

import numpy as np
from scipy.spatial.transform import Rotation
import tensorflow as tf

from sph_embed.sphere import dh_grid
from sph_embed.sphere import rotations as rotations_lib
from sph_embed.sphere import sht_numpy
from sph_embed.sphere import sht_tf
from sph_embed.sphere import so3


@dataclasses.dataclass(frozen=True)
class PoseLossConfig:
  """The term's settings (tools/train_embedding.py --pose_loss_*)."""
  weight: float = 0.0  # 0: off.
  grid_rotations: int = 512  # Haar-random rotations besides the identity.
  temperature: float = 0.05  # Of the normalised correlation in [-1, 1].
  exclusion_degrees: float = 30.0  # Grid rotations this near the truth out.
  half_turns: int = 0  # 180-degree rotations about spread axes, added.

  def validate(self):
    """Returns self; ValueError starting with the bad field's name."""
    if not self.weight >= 0:
      raise ValueError(f"pose_loss_weight must be >= 0, got {self.weight}")
    if self.grid_rotations < 1:
      raise ValueError(f"pose_loss_grid_rotations must be >= 1, got"
                       f" {self.grid_rotations}")
    if not self.temperature > 0:
      raise ValueError(f"pose_loss_temperature must be > 0, got"
                       f" {self.temperature}")
    if not 0 <= self.exclusion_degrees < 180:
      raise ValueError(f"pose_loss_exclusion_degrees must be in [0, 180),"
                       f" got {self.exclusion_degrees}")
    if self.half_turns < 0:
      raise ValueError(f"pose_loss_half_turns must be >= 0, got"
                       f" {self.half_turns}")
    return self

  def spec(self):
    """The settings as a run spec records them (without `half_turns` when
    0, so that runs from before the field resume)."""
    fields = dataclasses.asdict(self)
    if not self.half_turns:
      del fields["half_turns"]
    return fields


def half_turn_axes(count):
  """[count, 3] unit axes spread evenly over the upper hemisphere (z >= 0;
  an axis and its opposite give the same half-turn): a Fibonacci lattice,
  which scipy does not provide."""
  index = np.arange(count) + 0.5
  z = 1.0 - index / count
  azimuth = np.pi * (3.0 - np.sqrt(5.0)) * index
  radius = np.sqrt(1.0 - z**2)
  return np.stack([radius * np.cos(azimuth), radius * np.sin(azimuth), z], 1)


@functools.lru_cache(maxsize=None)
def rotation_grid(count, exclusion_degrees, half_turns=0, seed=0):
  """[1 + K + half_turns, 3, 3]: the identity, then those of `count` fixed
  Haar-random rotations farther than `exclusion_degrees` from it, then
  `half_turns` half-turns about `half_turn_axes`."""
  others = Rotation.random(count, random_state=seed).as_matrix()
  far = rotations_lib.geodesic_degrees(others, np.eye(3)) > exclusion_degrees
  turns = Rotation.from_rotvec(np.pi * half_turn_axes(half_turns)).as_matrix()
  grid = np.concatenate([np.eye(3)[None], others[far],
                         turns.reshape(-1, 3, 3)])
  grid.flags.writeable = False
  return grid


@functools.lru_cache(maxsize=None)
def _grid_wigner(count, exclusion_degrees, half_turns, lmax):
  """[S, G] float32: the grid's Wigner matrices D^l(R), flat."""
  grid = rotation_grid(count, exclusion_degrees, half_turns)
  blocks = so3.wigner_blocks(grid, lmax)
  flat = np.concatenate([b.reshape(len(grid), -1) for b in blocks], axis=1)
  return flat.T.astype(np.float32)


def _cross_products(targets, predictions, lmax):
  """[B, S]: per degree l, the flat (2l+1) x (2l+1) sum_c t_lm p_ln."""
  t = sht_tf.forward(targets, lmax)          # [B, 2L+1 (m), L+1 (l), C]
  p = sht_tf.forward(predictions, lmax)
  blocks = []
  for l in range(lmax + 1):
    orders = slice(lmax - l, lmax + l + 1)
    block = tf.einsum("bmc,bnc->bmn", t[:, orders, l], p[:, orders, l])
    blocks.append(tf.reshape(block, (-1, (2 * l + 1) ** 2)))
  return tf.concat(blocks, axis=1), t, p


def correlation_on_grid(predictions, targets, config):
  """[B, G] normalised correlation of each prediction, rotated by each of
  the G rotations of `rotation_grid`, with its target (column 0: the
  identity)."""
  predictions = tf.convert_to_tensor(predictions, tf.float32)
  targets = tf.cast(targets, tf.float32)
  n, _ = sht_tf.validate_spherical_input(predictions.shape, "pose loss")
  lmax = sht_numpy.max_degree(n)
  cross, t, p = _cross_products(targets, predictions, lmax)
  wigner = tf.constant(_grid_wigner(config.grid_rotations,
                                    config.exclusion_degrees,
                                    config.half_turns, lmax))
  norms = (tf.norm(tf.reshape(t, (tf.shape(t)[0], -1)), axis=1) *
           tf.norm(tf.reshape(p, (tf.shape(p)[0], -1)), axis=1))
  return tf.matmul(cross, wigner) / (norms[:, None] + 1e-12)


def pose_cross_entropy(predictions, targets, config):
  """[B]: cross-entropy of softmax(C / temperature) over the grid at the
  identity (the true rotation between a prediction and its target)."""
  logits = correlation_on_grid(predictions, targets, config) / (
      config.temperature)
  return tf.nn.sparse_softmax_cross_entropy_with_logits(
      tf.zeros(tf.shape(logits)[:1], tf.int32), logits)


def correlation_on_grid_numpy(predictions, targets, config, fine_size=32):
  """NumPy reference of `correlation_on_grid`, by another path: both maps
  band-limited to the grid's degrees (pyshtools' transform), the prediction
  evaluated at R^T x by summing its harmonics there (`so3.real_harmonics`),
  and the products integrated on a finer DH grid with its area weights."""
  predictions = np.asarray(predictions, np.float64)
  targets = np.asarray(targets, np.float64)
  lmax = sht_numpy.max_degree(predictions.shape[1])
  directions = dh_grid.directions(fine_size)                    # [f, f, 3]
  weights = dh_grid.area_weights(fine_size)[:, :, None]
  grid = rotation_grid(config.grid_rotations, config.exclusion_degrees,
                       config.half_turns)
  harmonics = [so3.real_harmonics(directions @ rotation, lmax)  # R^T x
               for rotation in grid]
  out = np.empty((len(predictions), len(grid)))
  for b, (p, t) in enumerate(zip(predictions, targets)):
    coefficients = [sht_numpy.cilm_to_packed(sht_numpy.sht(
        np.moveaxis(maps, -1, 0), lmax)) for maps in (p, t)]  # [C, m, l]
    fine_t = np.einsum("xyml,cml->xyc", harmonics[0], coefficients[1])
    products = []
    for rotated in harmonics:
      fine_p = np.einsum("xyml,cml->xyc", rotated, coefficients[0])
      products.append(np.sum(weights * fine_t * fine_p))
    norm_p = np.sqrt(np.sum(weights * np.einsum(
        "xyml,cml->xyc", harmonics[0], coefficients[0]) ** 2))
    out[b] = np.array(products) / (np.sqrt(np.sum(weights * fine_t**2))
                                   * norm_p)
  return out
