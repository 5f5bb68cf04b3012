"""Tests for sph_embed.pose.embeddings_io: schema, validation, atomic writes."""

import os
import tempfile

import numpy as np
from absl.testing import absltest
from absl.testing import parameterized

from sph_embed.pose import embeddings_io
from sph_embed.sphere import rotations as rotations_lib


def example(count=3, n=16, channels=2, seed=0):
  rng = np.random.default_rng(seed)
  return {
      "embeddings": rng.normal(size=(count, n, n, channels)).astype(np.float32),
      "targets": rng.normal(size=(count, n, n, channels)).astype(np.float32),
      "rotations": rotations_lib.random_rotations(count, seed=seed).astype(
          np.float32),
      "category": np.array(["chair"] * count),
      "instance": np.array([f"c{i // 2}" for i in range(count)]),
      "images": rng.integers(0, 256, size=(count, 8, 8), dtype=np.uint8),
  }


class EmbeddingsIoTest(parameterized.TestCase):

  def setUp(self):
    super().setUp()
    tmp = tempfile.TemporaryDirectory()
    self.addCleanup(tmp.cleanup)
    self.dir = tmp.name
    self.path = os.path.join(self.dir, "views.npz")

  def write_raw(self, **arrays):
    np.savez(self.path, **arrays)
    return self.path

  def test_round_trip(self):
    data = example()
    embeddings_io.save_embeddings(self.path, **data)
    loaded = embeddings_io.load_embeddings(self.path)
    for key, value in data.items():
      np.testing.assert_array_equal(loaded[key], value)
      self.assertEqual(loaded[key].dtype, value.dtype)
    self.assertEqual(os.listdir(self.dir), ["views.npz"])

  def test_optional_keys_absent_and_casts(self):
    data = example()
    embeddings_io.save_embeddings(
        self.path, data["embeddings"].astype(np.float64),
        data["rotations"].astype(np.float64), list(data["category"]),
        list(data["instance"]))
    loaded = embeddings_io.load_embeddings(self.path)
    self.assertIsNone(loaded["targets"])
    self.assertIsNone(loaded["images"])
    self.assertEqual(loaded["embeddings"].dtype, np.float32)
    self.assertEqual(loaded["category"].dtype.kind, "U")

  @parameterized.parameters("embeddings", "rotations", "category", "instance")
  def test_missing_key(self, key):
    data = example()
    del data[key]
    self.write_raw(**data)
    with self.assertRaisesRegex(ValueError, f"views.npz: missing key '{key}'"):
      embeddings_io.load_embeddings(self.path)

  def test_wrong_dtypes(self):
    cases = {
        "embeddings": lambda d: d["embeddings"].astype(np.float64),
        "targets": lambda d: d["targets"].astype(np.float16),
        "rotations": lambda d: d["rotations"].astype(np.float64),
        "category": lambda d: np.arange(3),
        "images": lambda d: d["images"].astype(np.float32),
    }
    for key, change in cases.items():
      data = example()
      data[key] = change(data)
      self.write_raw(**data)
      with self.assertRaisesRegex(ValueError,
                                  f"views.npz: key '{key}': expected"):
        embeddings_io.load_embeddings(self.path)

  def test_object_array_is_rejected_without_pickle(self):
    data = example()
    data["instance"] = np.array(["a", "b", "c"], dtype=object)
    np.savez(self.path, **data)
    with self.assertRaisesRegex(ValueError, "key 'instance'"):
      embeddings_io.load_embeddings(self.path)

  def test_wrong_shapes(self):
    cases = {
        "embeddings": (lambda d: d["embeddings"][..., 0], "shape"),
        "rotations": (lambda d: d["rotations"][:2], r"\(3, 3, 3\)"),
        "instance": (lambda d: d["instance"][:2], r"\(3,\)"),
        "targets": (lambda d: d["targets"][..., :1], "differs"),
        "images": (lambda d: d["images"][:1], "shape"),
    }
    for key, (change, message) in cases.items():
      data = example()
      data[key] = change(data)
      self.write_raw(**data)
      with self.assertRaisesRegex(ValueError,
                                  f"views.npz: key '{key}'.*{message}"):
        embeddings_io.load_embeddings(self.path)

  def test_non_square_and_non_dh_maps(self):
    data = example()
    data["embeddings"] = np.zeros((3, 16, 32, 2), np.float32)
    self.write_raw(**data)
    with self.assertRaisesRegex(ValueError, "'embeddings'.*square"):
      embeddings_io.load_embeddings(self.path)
    data["embeddings"] = np.zeros((3, 12, 12, 2), np.float32)
    self.write_raw(**data)
    with self.assertRaisesRegex(ValueError, "'embeddings'.*power of two"):
      embeddings_io.load_embeddings(self.path)

  @parameterized.parameters("embeddings", "targets", "rotations")
  def test_nan(self, key):
    data = example()
    data[key] = data[key].copy()
    data[key].flat[5] = np.nan
    self.write_raw(**data)
    with self.assertRaisesRegex(ValueError, f"views.npz: key '{key}'.*NaN"):
      embeddings_io.load_embeddings(self.path)

  def test_not_rotations(self):
    data = example()
    data["rotations"] = data["rotations"] * 2
    self.write_raw(**data)
    with self.assertRaisesRegex(ValueError, "'rotations'.*orthonormal"):
      embeddings_io.load_embeddings(self.path)

  def test_empty_name(self):
    data = example()
    data["category"] = np.array(["chair", "", "chair"])
    self.write_raw(**data)
    with self.assertRaisesRegex(ValueError, "'category'.*empty"):
      embeddings_io.load_embeddings(self.path)

  def test_not_an_npz(self):
    # Issue 30: a text file was said to contain "pickled data".
    with open(self.path, "wb") as f:
      f.write(b"index1,index2\n0,1\n")
    with self.assertRaisesRegex(
        ValueError, "^[^\n]*views.npz: not an .npz archive .no zip header:"
        " it starts with b'index1' *\\)[^\n]*$") as raised:
      embeddings_io.load_embeddings(self.path)
    self.assertNotIn("pickle", str(raised.exception))
    with open(self.path, "wb") as f:
      f.write(b"PK\x03\x04 but not a zip archive")
    with self.assertRaisesRegex(ValueError, "views.npz: not a readable"):
      embeddings_io.load_embeddings(self.path)
    np.save(self.path + ".npy", np.zeros(3))
    with self.assertRaisesRegex(ValueError, "not an .npz archive"):
      embeddings_io.load_embeddings(self.path + ".npy")
    with self.assertRaises(FileNotFoundError):
      embeddings_io.load_embeddings(os.path.join(self.dir, "absent.npz"))

  def test_invalid_save_writes_nothing(self):
    data = example()
    data["embeddings"] = data["embeddings"].copy()
    data["embeddings"][0, 0, 0, 0] = np.inf
    with self.assertRaisesRegex(ValueError, "views.npz: key 'embeddings'"):
      embeddings_io.save_embeddings(self.path, **data)
    self.assertEqual(os.listdir(self.dir), [])

  def test_save_replaces_existing_file(self):
    embeddings_io.save_embeddings(self.path, **example(seed=1))
    second = example(count=4, seed=2)
    embeddings_io.save_embeddings(self.path, **second)
    loaded = embeddings_io.load_embeddings(self.path)
    np.testing.assert_array_equal(loaded["embeddings"], second["embeddings"])
    self.assertEqual(os.listdir(self.dir), ["views.npz"])


if __name__ == "__main__":
  absltest.main()
