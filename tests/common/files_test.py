"""Tests for sph_embed.common.files: atomic files and directories, JSON
reading."""

import json
import os
import shutil
import stat
import tempfile
import unittest

import numpy as np

from sph_embed.common import files


class _Failure(Exception):
  pass


class _InTempDir(unittest.TestCase):
  """self.dir: a fresh directory; self.path: `name` in it."""

  name = None

  def setUp(self):
    super().setUp()
    self.dir = tempfile.mkdtemp(prefix="files_test_")
    self.addCleanup(shutil.rmtree, self.dir, ignore_errors=True)
    self.path = os.path.join(self.dir, self.name)


class AtomicFilesTest(_InTempDir):

  name = "out.json"

  def _listing(self):
    return sorted(os.listdir(self.dir))

  def test_writes_the_content(self):
    files.write_json_atomic(self.path, {"b": [1, 2], "a": "x"})
    with open(self.path, encoding="utf-8") as f:
      self.assertEqual(json.load(f), {"a": "x", "b": [1, 2]})
    self.assertEqual(self._listing(), ["out.json"])

  def test_an_exception_removes_the_temp_file_and_keeps_the_old_file(self):
    files.write_json_atomic(self.path, {"version": 1})
    with self.assertRaises(_Failure):
      with files.atomic_write(self.path) as f:
        f.write('{"version": ')  # Half of the new content.
        f.flush()
        temp = f.name
        self.assertTrue(os.path.isfile(temp))
        raise _Failure()
    self.assertFalse(os.path.exists(temp))
    self.assertEqual(self._listing(), ["out.json"])
    with open(self.path, encoding="utf-8") as f:
      self.assertEqual(json.load(f), {"version": 1})

  def test_keyboard_interrupt_removes_the_temp_file(self):
    with self.assertRaises(KeyboardInterrupt):
      with files.atomic_path(self.path) as temp:
        raise KeyboardInterrupt()
    self.assertFalse(os.path.exists(temp))
    self.assertEqual(self._listing(), [])

  def test_unserialisable_json_leaves_no_file(self):
    with self.assertRaises(TypeError):
      files.write_json_atomic(self.path, {"bad": object()})
    self.assertEqual(self._listing(), [])

  def test_temp_file_is_never_taken_for_the_output(self):
    with files.atomic_path(os.path.join(self.dir, "train.tfrecord")) as temp:
      name = os.path.basename(temp)
      self.assertTrue(name.startswith("."))
      self.assertFalse(name.endswith(".tfrecord"))
      self.assertTrue(files.is_temp_file(name))
    self.assertFalse(files.is_temp_file("train.tfrecord"))
    self.assertFalse(files.is_temp_file("train.tfrecord.tmp"))

  def test_normal_permissions(self):
    old = os.umask(0o022)
    try:
      files.write_json_atomic(self.path, {})
      with files.atomic_directory(os.path.join(self.dir, "module")):
        pass
    finally:
      os.umask(old)
    self.assertEqual(stat.S_IMODE(os.stat(self.path).st_mode), 0o644)
    self.assertEqual(stat.S_IMODE(os.stat(os.path.join(
        self.dir, "module")).st_mode), 0o755)

  def test_npz_is_written_to_exactly_the_path(self):
    path = os.path.join(self.dir, "embeddings.data")
    files.save_npz_atomic(path, x=np.arange(3))
    self.assertEqual(self._listing(), ["embeddings.data"])
    with np.load(path) as data:
      np.testing.assert_array_equal(data["x"], [0, 1, 2])

  def test_remove_temp_files_deletes_only_leftovers(self):
    leftover = os.path.join(self.dir, ".out.json.tmp-0123456789ab")
    os.mkdir(os.path.join(self.dir, ".module.tmp-ba9876543210"))
    for name in (leftover, self.path, os.path.join(self.dir, "x.tmp")):
      with open(name, "w", encoding="utf-8"):
        pass
    self.assertEqual(files.remove_temp_files(self.dir),
                     [".module.tmp-ba9876543210", ".out.json.tmp-0123456789ab"])
    self.assertEqual(self._listing(), ["out.json", "x.tmp"])


class ReadJsonObjectTest(_InTempDir):

  name = "spec.json"

  def _write(self, text):
    with open(self.path, "w", encoding="utf-8") as f:
      f.write(text)

  def test_reads_an_object(self):
    self._write('{"version": 2}')
    self.assertEqual(files.read_json_object(self.path), {"version": 2})

  def test_problems_name_the_file(self):
    with self.assertRaisesRegex(KeyError, "spec.json: not found; train one"):
      files.read_json_object(self.path, KeyError, "train one")
    for text, message in (("{not json", "spec.json: cannot read"),
                          ("[1, 2]", "spec.json: expected a JSON object,"
                           " got list")):
      self._write(text)
      with self.assertRaisesRegex(ValueError, message):
        files.read_json_object(self.path)
    with open(self.path, "wb") as f:
      f.write(b"\xff\xfe\x00garbage")
    with self.assertRaisesRegex(ValueError, "spec.json: cannot read"):
      files.read_json_object(self.path)


class AtomicDirectoryTest(_InTempDir):

  name = "module"

  def _write(self, name, text):
    with files.atomic_directory(self.path) as staging:
      with open(os.path.join(staging, name), "w", encoding="utf-8") as f:
        f.write(text)

  def test_replaces_an_existing_directory(self):
    self._write("old.txt", "old")
    self._write("new.txt", "new")
    self.assertEqual(os.listdir(self.path), ["new.txt"])
    self.assertEqual(os.listdir(self.dir), ["module"])

  def test_failure_midway_keeps_the_old_directory(self):
    self._write("old.txt", "old")
    with self.assertRaises(_Failure):
      with files.atomic_directory(self.path) as staging:
        with open(os.path.join(staging, "new.txt"), "w",
                  encoding="utf-8") as f:
          f.write("half")
        raise _Failure()
    self.assertEqual(os.listdir(self.path), ["old.txt"])
    self.assertEqual(os.listdir(self.dir), ["module"])

  def test_refuses_to_replace_a_file(self):
    with open(self.path, "w", encoding="utf-8") as f:
      f.write("a file")
    with self.assertRaisesRegex(NotADirectoryError,
                                "module: exists and is not a directory"):
      with files.atomic_directory(self.path):
        pass
    self.assertEqual(os.listdir(self.dir), ["module"])


if __name__ == "__main__":
  unittest.main()
