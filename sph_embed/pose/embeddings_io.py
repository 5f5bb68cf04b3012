"""Reads and writes embeddings files (.npz) with a validated schema (NumPy).

One file holds N views.  Keys (README.md, "Embeddings file (.npz)"):

  embeddings  float32 [N, H, W, C]  spherical maps predicted from the views,
                                    DH grid (H == W, a power of two >= 4),
                                    channels last.
  targets     float32 [N, H, W, C]  optional: the teacher's maps of the
                                    rotated meshes (same shape).
  rotations   float32 [N, 3, 3]     pose R of the object in each view.
  category    str [N]               category name of each view.
  instance    str [N]               instance (mesh) id of each view.
  images      uint8 [N, h, w]       optional: the rendered input views.

Other keys are ignored.  Every problem (missing key, wrong shape or dtype,
NaN or infinite values, non-square or non-DH maps, inconsistent N, not
rotation matrices) raises ValueError naming the file and the key.  Writes
are atomic (sph_embed.common.files).
"""

import os
import zipfile
import zlib

import numpy as np

from sph_embed.common import files
from sph_embed.sphere import rotations as rotations_lib
from sph_embed.sphere import dh_grid

REQUIRED_KEYS = ("embeddings", "rotations", "category", "instance")
OPTIONAL_KEYS = ("targets", "images")
KEYS = REQUIRED_KEYS + OPTIONAL_KEYS
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")   # A member; an empty archive.
_NPY_MAGIC = b"\x93NUMPY"


def _check_float_maps(path, key, value, reference_shape=None):
  if value.dtype != np.float32:
    raise ValueError(f"{path}: key '{key}': expected dtype float32, got"
                     f" {value.dtype}")
  if value.ndim != 4:
    raise ValueError(f"{path}: key '{key}': expected shape [N, H, W, C], got"
                     f" {value.shape}")
  try:
    dh_grid.validate_maps(np.moveaxis(value, -1, 1), f"{path}: key '{key}'")
  except dh_grid.GridError as e:
    raise ValueError(str(e)) from None
  if reference_shape is not None and value.shape != reference_shape:
    raise ValueError(f"{path}: key '{key}': shape {value.shape} differs from"
                     f" 'embeddings' {reference_shape}")
  if not np.all(np.isfinite(value)):
    raise ValueError(f"{path}: key '{key}': contains NaN or infinite values")


def _check_strings(path, key, value, count):
  if value.dtype.kind != "U":
    raise ValueError(f"{path}: key '{key}': expected a str array, got dtype"
                     f" {value.dtype}")
  if value.shape != (count,):
    raise ValueError(f"{path}: key '{key}': expected shape ({count},), got"
                     f" {value.shape}")
  if np.any(value == ""):
    raise ValueError(f"{path}: key '{key}': contains empty strings")


def validate(arrays, path):
  """Checks a dict of arrays against the schema; returns the schema's keys.

  Args:
    arrays: mapping key -> np.ndarray (optional keys may be absent or None).
    path: file name used in error messages.

  Returns:
    dict with all of KEYS (None for absent optional keys).

  Raises:
    ValueError naming `path` and the offending key.
  """
  for key in REQUIRED_KEYS:
    if arrays.get(key) is None:
      raise ValueError(f"{path}: missing key '{key}' (required keys:"
                       f" {', '.join(REQUIRED_KEYS)})")
  out = {key: arrays.get(key) for key in KEYS}
  embeddings = out["embeddings"]
  _check_float_maps(path, "embeddings", embeddings)
  count = embeddings.shape[0]
  if count == 0:
    raise ValueError(f"{path}: key 'embeddings': no views (N = 0)")
  if out["targets"] is not None:
    _check_float_maps(path, "targets", out["targets"], embeddings.shape)
  rotations = out["rotations"]
  if rotations.dtype != np.float32:
    raise ValueError(f"{path}: key 'rotations': expected dtype float32, got"
                     f" {rotations.dtype}")
  if rotations.shape != (count, 3, 3):
    raise ValueError(f"{path}: key 'rotations': expected shape ({count}, 3, 3),"
                     f" got {rotations.shape}")
  rotations_lib.validate_rotations(rotations, f"{path}: key 'rotations'")
  _check_strings(path, "category", out["category"], count)
  _check_strings(path, "instance", out["instance"], count)
  images = out["images"]
  if images is not None:
    if images.dtype != np.uint8:
      raise ValueError(f"{path}: key 'images': expected dtype uint8, got"
                       f" {images.dtype}")
    if images.ndim != 3 or images.shape[0] != count:
      raise ValueError(f"{path}: key 'images': expected shape ({count}, h, w),"
                       f" got {images.shape}")
  return out


def save_embeddings(path, embeddings, rotations, category, instance,
                    targets=None, images=None):
  """Validates and writes an embeddings file atomically.

  Float inputs are cast to float32, names to str arrays, images must already
  be uint8.  See the module docstring for the schema.

  Args:
    path: output file name (conventionally ending in .npz).
    embeddings: [N, H, W, C] DH maps.
    rotations: [N, 3, 3] object poses.
    category: N category names.
    instance: N instance ids.
    targets: optional [N, H, W, C] teacher maps.
    images: optional uint8 [N, h, w] views.
  """
  path = os.fspath(path)
  arrays = {
      "embeddings": np.asarray(embeddings, dtype=np.float32),
      "rotations": np.asarray(rotations, dtype=np.float32),
      "category": np.asarray(category, dtype=str),
      "instance": np.asarray(instance, dtype=str),
  }
  if targets is not None:
    arrays["targets"] = np.asarray(targets, dtype=np.float32)
  if images is not None:
    arrays["images"] = np.asarray(images)
  validate(arrays, path)
  files.save_npz_atomic(path, **arrays)


def _check_zip_header(path):
  """ValueError unless `path` starts as a zip archive (.npz files do).

  np.load takes any other file for a pickle and says it "contains pickled
  data", which misleads for a text file or a CSV.
  """
  with open(path, "rb") as f:
    head = f.read(len(_NPY_MAGIC))
  if head == _NPY_MAGIC:
    raise ValueError(f"{path}: not an .npz archive (holds a single array)")
  if not head.startswith(_ZIP_MAGICS):
    raise ValueError(f"{path}: not an .npz archive (no zip header: it starts"
                     f" with {head!r}); write it with"
                     " tools/save_embeddings.py")


def load_embeddings(path):
  """Loads and validates an embeddings file.

  Returns:
    dict with keys embeddings, rotations, category, instance, targets,
    images (the last two None when absent).

  Raises:
    FileNotFoundError if `path` does not exist; ValueError naming the file
    and the key for anything that does not fit the schema.
  """
  path = os.fspath(path)
  _check_zip_header(path)
  try:
    data = np.load(path, allow_pickle=False)
  except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
    raise ValueError(f"{path}: not a readable .npz file: {e}") from None
  arrays = {}
  with data:
    for key in KEYS:
      if key in data.files:
        try:
          arrays[key] = data[key]
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as e:
          # A damaged member: its CRC, compression or length is wrong.
          raise ValueError(f"{path}: key '{key}': damaged in the archive"
                           f" ({type(e).__name__}: {e}); write the file"
                           " again (tools/save_embeddings.py)") from None
        except ValueError as e:
          raise ValueError(f"{path}: key '{key}': cannot be read without"
                           f" pickle (object array?): {e}") from None
  return validate(arrays, path)
