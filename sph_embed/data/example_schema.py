"""The on-disk format shared by the dataset writer and reader.

A dataset directory holds TFRecord shards of tf.train.Examples and a
`METADATA_FILE` (see sph_embed.data.dataset).  Features of an example:
  image     bytes: uint8 [image_size, image_size] grayscale view, row-major
  sphere    bytes: float32 little-endian [sphere_size, sphere_size] ray-cast
            map of the rotated mesh, [colatitude, longitude]
  rotation  float [9]: the pose R, row-major (the object was rotated by R)
  label     int: index of `category` in the metadata's `categories`
  category, instance  bytes (UTF-8)
  dof       int: 2 or 3
The sizes are in the metadata; decoding checks every example against them.
"""

import numpy as np
import tensorflow as tf

METADATA_FILE = "dataset.json"
FORMAT_VERSION = 1

_FEATURES = {
    "image": tf.io.FixedLenFeature([], tf.string),
    "sphere": tf.io.FixedLenFeature([], tf.string),
    "rotation": tf.io.FixedLenFeature([9], tf.float32),
    "label": tf.io.FixedLenFeature([], tf.int64),
    "category": tf.io.FixedLenFeature([], tf.string),
    "instance": tf.io.FixedLenFeature([], tf.string),
    "dof": tf.io.FixedLenFeature([], tf.int64),
}


def _bytes_feature(value):
  return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))


def _int_feature(value):
  return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(value)]))


def serialize_example(image, sphere, rotation, label, category, instance, dof):
  """One example as a serialised tf.train.Example."""
  features = {
      "image": _bytes_feature(np.ascontiguousarray(image, np.uint8).tobytes()),
      "sphere": _bytes_feature(np.ascontiguousarray(sphere, "<f4").tobytes()),
      "rotation": tf.train.Feature(float_list=tf.train.FloatList(
          value=np.asarray(rotation, np.float32).reshape(9))),
      "label": _int_feature(label),
      "category": _bytes_feature(category.encode("utf-8")),
      "instance": _bytes_feature(instance.encode("utf-8")),
      "dof": _int_feature(dof),
  }
  example = tf.train.Example(features=tf.train.Features(feature=features))
  return example.SerializeToString()


def _decode_raw(raw, dtype, size, key):
  """[B] byte strings -> [B, size, size, 1], checking every length."""
  expected = size * size * dtype.size
  check = tf.debugging.assert_equal(
      tf.strings.length(raw), expected,
      message=(f"feature {key}: expected {size} x {size} {dtype.name}"
               f" ({expected} bytes) per example, as dataset.json says;"
               " got other lengths"))
  with tf.control_dependencies([check]):
    values = tf.io.decode_raw(raw, dtype, little_endian=True)
  return _reshape_batch(values, raw.shape[0], [size, size, 1])


def _reshape_batch(values, batch_size, shape):
  # Keeps the static batch size (reshape with -1 would lose it).
  out = tf.reshape(values, [-1] + shape)
  out.set_shape([batch_size] + shape)
  return out


def decode_batch(serialized, image_size, sphere_size):
  """Decodes a batch [B] of serialised examples.

  Returns:
    dict: `image` float32 [B, S, S, 1] in [0, 1], `sphere` float32
    [B, n, n, 1], `rotation` float32 [B, 3, 3], `label` int32 [B],
    `category` and `instance` string [B], `dof` int32 [B].

  Raises:
    tf.errors.InvalidArgumentError (when run): an example does not match the
      schema (missing feature, wrong size); the message names the feature.
  """
  parsed = tf.io.parse_example(serialized, _FEATURES)
  image = _decode_raw(parsed["image"], tf.uint8, image_size, "image")
  return {
      "image": tf.cast(image, tf.float32) / 255.0,
      "sphere": _decode_raw(parsed["sphere"], tf.float32, sphere_size,
                            "sphere"),
      "rotation": _reshape_batch(parsed["rotation"], serialized.shape[0],
                                 [3, 3]),
      "label": tf.cast(parsed["label"], tf.int32),
      "category": parsed["category"],
      "instance": parsed["instance"],
      "dof": tf.cast(parsed["dof"], tf.int32),
  }
