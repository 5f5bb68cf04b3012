"""Tests for the image -> spherical embedding network."""

from unittest import mock

import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from sph_embed.embedding import model as embedding_model

TINY = embedding_model.EmbeddingConfig(base_filters=4, max_filters=8,
                                       latent_size=16, blocks_per_layer=1)


def roll_error(model, shift, seed=0):
  """max |model(roll(x, shift)) - roll(model(x), scale * shift)| / max|y|."""
  rng = np.random.default_rng(seed)
  x = rng.normal(size=(2,) + model.input_shape[1:]).astype(np.float32)
  scale = model.output_shape[2] // model.input_shape[2]
  y = model(x, training=False).numpy()
  y_of_rolled = model(np.roll(x, shift, axis=2), training=False).numpy()
  return (np.abs(y_of_rolled - np.roll(y, scale * shift, axis=2)).max() /
          np.abs(y).max())


class ShapesTest(tf.test.TestCase, parameterized.TestCase):

  @parameterized.parameters((16, 32), (32, 16))
  def test_paper_preset_output_shapes(self, target_size, channels):
    model = embedding_model.build_embedding_model(
        embedding_model.preset("paper"), target_size, channels)
    self.assertEqual(model.input_shape, (None, 64, 64, 1))
    self.assertEqual(model.output_shape,
                     (None, target_size, target_size, channels))

  def test_paper_encoder_stages(self):
    encoder = embedding_model.build_encoder(embedding_model.preset("paper"))
    shapes = [encoder.get_layer(f"stage{i}").output.shape[1:]
              for i in range(6)]
    shapes.append(encoder.get_layer("bottleneck").output.shape[1:])
    self.assertEqual([s[0] for s in shapes], [32, 32, 16, 8, 4, 2, 1])
    self.assertEqual([s[1] for s in shapes], [32, 32, 16, 8, 4, 2, 1])
    self.assertEqual([s[2] for s in shapes],
                     [64, 128, 256, 256, 256, 256, 1024])

  @parameterized.parameters(("pose", 16, 2), ("synthesis", 32, 3))
  def test_paper_decoder_stages(self, _, target_size, stages):
    decoder = embedding_model.build_decoder(embedding_model.preset("paper"),
                                            target_size, 8)
    spherical = decoder.get_layer("spherical_decoder")
    sizes = [spherical.input_shape[1]]
    sizes += [spherical.get_layer(f"up{i}_deconv_relu").output.shape[1]
              for i in range(1, stages)]
    self.assertEqual(sizes + [target_size],
                     [4 * 2 ** i for i in range(stages + 1)])
    # Filters min(64 2^(stages - i - 1), 256): 128, 64 (pose); 256, 128, 64.
    self.assertEqual(spherical.input_shape[-1], 64 * 2 ** (stages - 1))

  @parameterized.parameters((16, 5), (32, 2))
  def test_forward_pass(self, target_size, channels):
    model = embedding_model.build_embedding_model(TINY, target_size, channels)
    out = model(tf.random.uniform((3, 64, 64, 1)), training=True)
    self.assertEqual(out.shape, (3, target_size, target_size, channels))
    self.assertTrue(np.all(np.isfinite(out.numpy())))

  def test_other_image_sizes(self):
    encoder = embedding_model.build_encoder(TINY, image_size=128)
    self.assertEqual(encoder.get_layer("stage6").output.shape[1], 2)
    self.assertEqual(encoder.output_shape, (None, 1, 1, 16))

  def test_bad_configuration(self):
    with self.assertRaisesRegex(ValueError, "image size .* power of two"):
      embedding_model.build_encoder(TINY, image_size=48)
    with self.assertRaisesRegex(ValueError, "target size .* >= 8"):
      embedding_model.build_decoder(TINY, 4, 2)
    with self.assertRaisesRegex(ValueError, "unknown embedding preset 'gpu'"):
      embedding_model.preset("gpu")
    with self.assertRaisesRegex(ValueError, "latent_size must be a positive"):
      embedding_model.preset("cpu", latent_size=0)
    with self.assertRaisesRegex(ValueError, "max_filters .* < base_filters"):
      embedding_model.EmbeddingConfig(base_filters=32, max_filters=16)
    self.assertEqual(embedding_model.preset("cpu", base_filters=None,
                                            max_filters=128).max_filters, 128)


class SphericalPaddingTest(tf.test.TestCase, parameterized.TestCase):

  @parameterized.parameters(1, 2)
  def test_decoder_commutes_with_longitude_rolls(self, shift):
    """Shifting the 4 x 4 maps' content in longitude shifts the output."""
    decoder = embedding_model.build_spherical_decoder(TINY, 16, 3)
    self.assertLess(roll_error(decoder, shift), 1e-5)

  def test_zero_padding_fails_the_check(self):
    """The same check on a zero-padded decoder fails, so it can fail."""
    with mock.patch.object(embedding_model.sph_layers, "SphericalPadding",
                           tf.keras.layers.ZeroPadding2D):
      decoder = embedding_model.build_spherical_decoder(TINY, 16, 3)
    self.assertGreater(roll_error(decoder, 1), 0.1)

  @parameterized.parameters((3, 8), (7, 8), (7, 16))
  def test_transposed_conv_is_centred_and_wraps(self, kernel_size, n):
    """A spike at (row 2, lon 0) spreads to rows 4 -+ k // 2, lons 0 -+ k // 2.

    Input sample i lands on output sample 2 i (the DH grids nest), and the
    footprint wraps around the longitude seam onto the last columns.
    """
    inputs = tf.keras.Input((n, n, 1))
    outputs = embedding_model.spherical_conv2d_transpose(
        inputs, 1, kernel_size, 2, "deconv")
    model = tf.keras.Model(inputs, outputs)
    model.get_layer("deconv").kernel.assign(
        tf.ones((kernel_size, kernel_size, 1, 1)))
    spike = np.zeros((1, n, n, 1), np.float32)
    spike[0, 2, 0, 0] = 1.0
    out = model(spike).numpy()[0, :, :, 0]
    half = kernel_size // 2
    expected = np.zeros((2 * n, 2 * n))
    expected[np.ix_(np.arange(4 - half, 5 + half),
                    np.arange(-half, half + 1) % (2 * n))] = 1.0
    self.assertAllClose(out, expected)


class ReflectPaddingTest(tf.test.TestCase):

  def test_matches_numpy(self):
    x = np.arange(2 * 5 * 5 * 3, dtype=np.float32).reshape(2, 5, 5, 3)
    out = embedding_model.ReflectPadding((3, 2))(x)
    self.assertAllEqual(out, np.pad(x, [(0, 0), (3, 2), (3, 2), (0, 0)],
                                    mode="reflect"))


if __name__ == "__main__":
  tf.test.main()
