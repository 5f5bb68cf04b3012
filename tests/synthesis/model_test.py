"""Tests for the synthesis network (embedding -> image) and `decode`."""

from unittest import mock

import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from sph_embed.embedding import model as embedding_model
from sph_embed.sphere import layers as sph_layers
from sph_embed.sphere import rotations as rotations_lib
from sph_embed.synthesis import model as synthesis_model
from sph_embed.synthesis import rotate

TINY = synthesis_model.SynthesisConfig(base_filters=4, max_filters=8,
                                       latent_size=16, blocks_per_layer=1)
CHANNELS = 3


def smooth_embeddings(batch, seed, size=32):
  """Band-limited random maps [batch, size, size, CHANNELS] of unit scale."""
  rng = np.random.default_rng(seed)
  maps = rotate.band_limit(rng.normal(size=(batch, size, size, CHANNELS)))
  return maps / np.abs(maps).max()


def stem_output_across_the_pole_error(encoder, n):
  """max |stem conv(maps) - valid conv of the function's true samples|.

  The stem (7 x 7, stride 2) of the encoder, on a smooth function of the
  direction sampled on the n x n grid, against the same kernel applied to
  the function sampled at the padded rows' true positions (theta < 0 lies
  across the north pole).  Rows that reach below the south end (an
  unsampled pole, approximated) are left out.
  """
  pad = embedding_model.STEM_KERNEL // 2
  f = lambda x, y, z: np.stack([x + 2 * y + 0.5 * z + x * z, y - z * z,
                                x * y + z], axis=-1)
  theta = np.pi * np.arange(-pad, n + pad) / n
  phi = 2 * np.pi * np.arange(-pad, n + pad) / n
  t, p = np.meshgrid(theta, phi, indexing="ij")
  truth = f(np.sin(t) * np.cos(p), np.sin(t) * np.sin(p),
            np.cos(t))[None].astype(np.float32)
  conv = encoder.get_layer("stage0_conv")
  stem = tf.keras.Model(encoder.input, conv.output)
  ours = stem(truth[:, pad:n + pad, pad:n + pad]).numpy()
  reference = tf.nn.conv2d(truth, conv.kernel, 2, "VALID").numpy()
  rows = (n - 1 - pad) // 2 + 1    # output rows whose inputs end by row n-1
  return np.abs(ours[:, :rows] - reference[:, :rows]).max()


class ShapesTest(tf.test.TestCase, parameterized.TestCase):

  @parameterized.parameters("cpu", "paper")
  def test_preset_shapes(self, name):
    model = synthesis_model.build_synthesis_model(
        synthesis_model.preset(name), 8)
    self.assertEqual(model.input_shape, (None, 32, 32, 8))
    self.assertEqual(model.output_shape, (None, 64, 64, 1))
    encoder = model.get_layer("encoder")
    sizes = [encoder.get_layer(f"stage{i}").output.shape[1]
             for i in range(5)] + [encoder.output_shape[1]]
    self.assertEqual(sizes, [16, 16, 8, 4, 2, 1])
    self.assertEqual(encoder.output_shape[-1],
                     synthesis_model.PRESETS[name].latent_size)

  def test_outputs_are_the_sigmoid_of_the_decoder(self):
    model = synthesis_model.build_synthesis_model(TINY, CHANNELS)
    embeddings = smooth_embeddings(4, 0)
    latent = model.get_layer("encoder")(rotate.band_limit(embeddings),
                                        training=False)
    decoder = model.get_layer("decoder")
    # Scale the last (bias-free at init) kernel so that the pre-sigmoid
    # values reach +-20, far outside [0, 1].
    output_deconv = decoder.get_layer("image_decoder").get_layer(
        "output_deconv")
    logits = decoder(latent, training=False).numpy()
    output_deconv.kernel.assign(output_deconv.kernel * 20.0
                                / np.abs(logits).max())
    logits = decoder(latent, training=False).numpy()
    images = synthesis_model.decode(model, embeddings)
    self.assertEqual(images.shape, (4, 64, 64, 1))
    self.assertEqual(images.dtype, np.float32)
    # 1e-5: oneDNN's kernels on AMX CPUs differ by ~3e-6 between the two
    # calls; a missing sigmoid would differ by ~1.
    self.assertAllClose(images, tf.sigmoid(logits), atol=1e-5)
    self.assertBetween(images.min(), 0.0, 1.0)
    self.assertBetween(images.max(), 0.0, 1.0)
    self.assertGreater(np.abs(images - 0.5).max(), 0.49)   # saturated

  def test_other_sizes(self):
    model = synthesis_model.build_synthesis_model(
        TINY, 5, embedding_size=16, image_size=32)
    self.assertEqual(model(tf.zeros((2, 16, 16, 5))).shape, (2, 32, 32, 1))

  def test_bad_configuration(self):
    with self.assertRaisesRegex(ValueError, "unknown synthesis preset 'gpu'"):
      synthesis_model.preset("gpu")
    with self.assertRaisesRegex(ValueError,
                                "SynthesisConfig.latent_size must be"):
      synthesis_model.preset("cpu", latent_size=0)
    self.assertEqual(synthesis_model.preset("cpu", base_filters=None,
                                            max_filters=128).max_filters, 128)
    with self.assertRaisesRegex(ValueError, "unknown decoder domain 'torus'"):
      embedding_model.build_decoder(TINY, 64, 1, domain="torus")


class RotateThenDecodeTest(tf.test.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    tf.keras.utils.set_random_seed(0)
    cls.model = synthesis_model.build_synthesis_model(TINY, CHANNELS)
    # Raw maps: not band-limited, so `decode` has to band-limit them.
    cls.embeddings = np.random.default_rng(1).normal(
        size=(3, 32, 32, CHANNELS)).astype(np.float32)
    cls.plain = synthesis_model.decode(cls.model, cls.embeddings)

  def test_identity_reproduces_the_plain_reconstruction_exactly(self):
    self.assertAllEqual(
        synthesis_model.decode(self.model, self.embeddings, np.eye(3)),
        self.plain)
    self.assertAllEqual(
        synthesis_model.decode(self.model, self.embeddings,
                               np.broadcast_to(np.eye(3), (3, 3, 3))),
        self.plain)

  def test_rotation_then_its_inverse_reproduces_the_plain_reconstruction(self):
    rotation = rotations_lib.random_rotations(1, seed=2)[0]
    rotated = rotate.rotate_embeddings(self.embeddings, rotation)
    back = synthesis_model.decode(self.model, rotated, rotation.T)
    spread = self.plain.max() - self.plain.min()
    self.assertLess(np.abs(back - self.plain).max(), 1e-4 * spread)
    # Applying R twice instead does change the image (the check can fail).
    twice = synthesis_model.decode(self.model, rotated, rotation)
    self.assertGreater(np.abs(twice - self.plain).max(), 0.05 * spread)


class EncoderPaddingTest(tf.test.TestCase, parameterized.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.encoder = synthesis_model.build_synthesis_model(
        TINY, CHANNELS).get_layer("encoder")

  def test_every_encoder_conv_pads_across_the_poles(self):
    convs = [layer for layer in self.encoder.layers
             if isinstance(layer, tf.keras.layers.Conv2D)
             and layer.kernel_size[0] > 1 and layer.name != "bottleneck_conv"]
    self.assertLen(convs, 1 + 2 * 4)    # stem + 2 convs x 4 blocks
    for conv in convs:
      padding = conv.inbound_nodes[0].inbound_layers
      self.assertIsInstance(padding, sph_layers.SphericalPadding,
                            msg=conv.name)

  def test_stem_sees_the_function_across_the_north_pole(self):
    self.assertLess(stem_output_across_the_pole_error(self.encoder, 32),
                    1e-5)

  def test_mirror_padding_fails_the_pole_check(self):
    """Reflecting at the same longitude (the old padding) is caught."""
    def mirror(padding, name):
      return embedding_model.ReflectPadding(padding[0], name=name)
    with mock.patch.object(embedding_model.sph_layers, "SphericalPadding",
                           mirror):
      encoder = synthesis_model.build_synthesis_model(
          TINY, CHANNELS).get_layer("encoder")
    self.assertGreater(stem_output_across_the_pole_error(encoder, 32), 0.1)

  @parameterized.parameters(("stage0", 2), ("stage2", 4), ("stage4", 16))
  def test_feature_maps_commute_with_longitude_rolls(self, layer, shift):
    """Rolling the embedding by `shift` rolls the stage's maps (circular
    longitude padding, strides on the nested DH grids)."""
    features = tf.keras.Model(self.encoder.input,
                              self.encoder.get_layer(layer).output)
    maps = smooth_embeddings(2, seed=3)
    scale = features.output_shape[2] / 32
    out = features(maps, training=False).numpy()
    out_of_rolled = features(np.roll(maps, shift, axis=2),
                             training=False).numpy()
    self.assertAllClose(out_of_rolled,
                        np.roll(out, int(scale * shift), axis=2), atol=1e-5)


if __name__ == "__main__":
  tf.test.main()
