"""Spherical embedding -> image: the synthesis network (paper appendix A.3).

The embedding network (`sph_embed.embedding.model`) reversed in domain,
built from the same pieces:

- encoder, T x T x C DH map (T = 32, the teacher's `synthesis` maps):
  `build_encoder` with pole-crossing spherical padding at every k > 1 conv
  (circular in longitude, half a turn round across the poles), down to a
  1 x 1 x latent_size bottleneck.  T = 32: 16, 16, 8, 4, 2, then 1.
- decoder to a D x D image (D = 64): `build_decoder` on the image grid
  (reflect padding, 'same' transposed convs), 4, 8, 16, 32, 64, then a
  sigmoid to [0, 1].

The network decodes band-limited embeddings (see `sph_embed.synthesis.
rotate`): `decode` band-limits or rotates, then runs it.
"""

import dataclasses

import tensorflow as tf

from sph_embed.embedding import model as embedding_model
from sph_embed.synthesis import rotate

keras = tf.keras

EMBEDDING_SIZE = 32
IMAGE_SIZE = 64


@dataclasses.dataclass(frozen=True)
class SynthesisConfig(embedding_model.EmbeddingConfig):
  """Widths of the synthesis network: the embedding network's fields.

  A.3: "the same structure as the embedding", so the same widths (the
  encoder's base_filters .. max_filters, the latent_size bottleneck, the
  decoder's mirror of them).
  """


PRESETS = {
    # As the original: 64 -> 256 channels, 1024 latent units.
    "paper": SynthesisConfig(base_filters=64, max_filters=256,
                             latent_size=1024, blocks_per_layer=2),
    # Same depth, 4x narrower: trains on a 2-core CPU.
    "cpu": SynthesisConfig(base_filters=16, max_filters=64, latent_size=256,
                           blocks_per_layer=2),
}


def preset(name, **overrides):
  """The named preset with some fields replaced (None values are ignored)."""
  if name not in PRESETS:
    raise ValueError(f"unknown synthesis preset {name!r}; choose from"
                     f" {', '.join(sorted(PRESETS))}")
  overrides = {k: v for k, v in overrides.items() if v is not None}
  return dataclasses.replace(PRESETS[name], **overrides)


def build_synthesis_model(config, channels, embedding_size=EMBEDDING_SIZE,
                          image_size=IMAGE_SIZE, image_channels=1):
  """Embedding [B, T, T, C] -> image [B, D, D, image_channels] in [0, 1]."""
  embedding = keras.Input((embedding_size, embedding_size, channels),
                          name="embedding")
  latent = embedding_model.build_encoder(
      config, embedding_size, channels,
      pad_fn=embedding_model.spherical_pad)(embedding)
  logits = embedding_model.build_decoder(config, image_size, image_channels,
                                         domain="image")(latent)
  image = keras.layers.Activation("sigmoid", name="image")(logits)
  return keras.Model(embedding, image, name="synthesis")


def decode(model, embeddings, rotations=None):
  """Images decoded from embeddings [B, T, T, C], rotated first if asked.

  Args:
    model: a synthesis model.
    embeddings: [B, T, T, C] DH maps.
    rotations: None for the plain reconstruction (the band-limited
      embeddings decoded), or one [3, 3] rotation or [B, 3, 3] applied to
      the embeddings first: the view of the object rotated by R.

  Returns:
    [B, D, D, image_channels] float32 NumPy images in [0, 1].
  """
  if rotations is None:
    inputs = rotate.band_limit(embeddings)
  else:
    inputs = rotate.rotate_embeddings(embeddings, rotations)
  # predict_on_batch runs a cached graph: ~10x faster than an eager call.
  return model.predict_on_batch(inputs)
