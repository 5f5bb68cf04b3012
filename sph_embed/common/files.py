"""Atomic writing: an output is either its old self or complete, never half.

Every file or directory the library and the tools write goes through here
(and the JSON files they read back, through `read_json_object`):

  with files.atomic_write(path) as f:      # or mode="wb"
    f.write(...)
  files.write_json_atomic(path, data)
  files.save_npz_atomic(path, embeddings=..., rotations=...)
  with files.atomic_path(path) as temp:   # for writers that take a path
    with tf.io.TFRecordWriter(temp) as writer: ...
  with files.atomic_directory(path) as staging:   # a whole directory
    tf.saved_model.save(module, staging)

The content goes to a temporary sibling in the same directory (so the final
rename stays on one file system and is atomic), named `.<name>.tmp-<random>`:
hidden, and ending in neither the output's name nor its extension, so no
glob, reader or resume check takes it for an output.  It is renamed over
the output only when the block ends normally; on any exception (Ctrl-C
included) it is deleted and an existing output is left untouched.  A
SIGKILL leaves it behind: `remove_temp_files` deletes such leftovers (the
dataset builder does so when it resumes).

Files and directories get the permissions of a normal `open` / `mkdir`
(0o666 / 0o777 less the umask), not the owner-only 0o600 / 0o700 of
`tempfile.mkstemp` / `mkdtemp`.

NumPy and the standard library only (no TensorFlow).
"""

import contextlib
import csv
import json
import os
import re
import secrets
import shutil

import numpy as np

_TEMP_INFIX = ".tmp-"
_TEMP_PATTERN = re.compile(r"\..+\.tmp-[0-9a-f]{12}")


def _temp_sibling(path, create):
  """A fresh temporary name next to `path`, made with `create(name)`.

  `create` must fail with FileExistsError on a name in use, so that two
  writers of one output never share a temporary file.
  """
  directory, name = os.path.split(path)
  while True:
    temp = os.path.join(directory,
                        f".{name}{_TEMP_INFIX}{secrets.token_hex(6)}")
    try:
      create(temp)
      return temp
    except FileExistsError:
      continue


def _create_file(path):
  # Mode 0o666 is reduced by the umask, as for open().
  os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))


def _create_directory(path):
  os.mkdir(path, 0o777)  # Reduced by the umask, as for any mkdir.


def is_temp_file(name):
  """Whether a file name is one of this module's temporary files."""
  return bool(_TEMP_PATTERN.fullmatch(os.path.basename(name)))


def remove_temp_files(directory):
  """Deletes the temporary files and directories left in `directory` by a
  killed writer; returns their names.

  Only for a directory that no other process is writing to at the time.
  """
  removed = [n for n in sorted(os.listdir(directory)) if is_temp_file(n)]
  for name in removed:
    _remove(os.path.join(directory, name))
  return removed


def _remove(path):
  if os.path.isdir(path) and not os.path.islink(path):
    shutil.rmtree(path, ignore_errors=True)
  else:
    with contextlib.suppress(FileNotFoundError):
      os.remove(path)


@contextlib.contextmanager
def atomic_path(path):
  """Yields a temporary path to write `path` through; see the module doc.

  The temporary file exists (empty, with normal permissions) when the block
  starts; the block may overwrite it by name (e.g. tf.io.TFRecordWriter).
  """
  path = os.path.abspath(os.fspath(path))
  temp = _temp_sibling(path, _create_file)
  try:
    yield temp
    os.replace(temp, path)
  except BaseException:
    _remove(temp)
    raise


@contextlib.contextmanager
def atomic_write(path, mode="w", encoding="utf-8", newline=None):
  """Opens a file object that replaces `path` when the block ends normally.

  Args:
    path: the output file.
    mode: "w" (text) or "wb" (binary).
    encoding, newline: as for open(), text mode only.
  """
  if mode not in ("w", "wb"):
    raise ValueError(f"atomic_write: mode must be 'w' or 'wb', got {mode!r}")
  text = mode == "w"
  with atomic_path(path) as temp:
    with open(temp, mode, encoding=encoding if text else None,
              newline=newline if text else None) as f:
      yield f
      f.flush()
      os.fsync(f.fileno())


def read_json_object(path, error=ValueError, missing_hint=""):
  """The JSON object (a dict) in the file `path`.

  Raises:
    `error` naming the file: missing (the message then ends with
    `missing_hint`), unreadable, not JSON, or not a JSON object.
  """
  if not os.path.isfile(path):
    raise error(f"{path}: not found" + (f"; {missing_hint}" if missing_hint
                                        else ""))
  try:
    with open(path, encoding="utf-8") as f:
      data = json.load(f)
  except (OSError, ValueError) as e:  # ValueError: not JSON, not UTF-8.
    raise error(f"{path}: cannot read ({e})") from e
  if not isinstance(data, dict):
    raise error(f"{path}: expected a JSON object, got {type(data).__name__}")
  return data


def write_json_atomic(path, data, indent=1):
  """Writes `data` as JSON (sorted keys, final newline), atomically."""
  with atomic_write(path) as f:
    json.dump(data, f, indent=indent, sort_keys=True)
    f.write("\n")


def save_npz_atomic(path, compressed=True, **arrays):
  """np.savez(_compressed) of `arrays` to exactly `path`, atomically.

  Unlike np.savez given a name, nothing is appended to `path`.
  """
  save = np.savez_compressed if compressed else np.savez
  with atomic_write(path, "wb") as f:
    save(f, **arrays)


@contextlib.contextmanager
def atomic_directory(path):
  """Yields an empty staging directory that replaces directory `path`.

  When the block ends normally the staging directory is renamed to `path`;
  an existing directory there is first moved aside and deleted after the
  rename (so `path` is briefly absent, but never half-written).  On an
  exception the staging directory is deleted and `path` is untouched.

  Raises:
    NotADirectoryError: `path` exists and is not a directory.
  """
  path = os.path.abspath(os.fspath(path))
  if os.path.lexists(path) and not os.path.isdir(path):
    raise NotADirectoryError(f"{path}: exists and is not a directory;"
                             " refusing to replace it")
  staging = _temp_sibling(path, _create_directory)
  try:
    yield staging
    if not os.path.lexists(path):
      os.rename(staging, path)
      return
    if not os.path.isdir(path):
      raise NotADirectoryError(f"{path}: exists and is not a directory;"
                               " refusing to replace it")
    old = _temp_sibling(path, _create_directory)
    os.rename(path, os.path.join(old, "replaced"))
    try:
      os.rename(staging, path)
    except BaseException:
      os.rename(os.path.join(old, "replaced"), path)
      raise
    shutil.rmtree(old, ignore_errors=True)
  except BaseException:
    _remove(staging)
    raise


def write_csv_rows(path, fields, rows):
  """Dict rows as CSV with columns `fields`, floats to 4 decimals
  (atomically)."""
  with atomic_write(path, newline="") as f:
    writer = csv.DictWriter(f, fields)
    writer.writeheader()
    for row in rows:
      writer.writerow({key: (f"{row[key]:.4f}" if isinstance(row[key], float)
                             else row[key]) for key in fields})


def read_csv_rows(path, types, what):
  """The rows of a CSV whose columns are exactly `types`' keys, each value
  converted by its type ({column: type}, in column order).

  Raises:
    ValueError naming the file as not `what`: unreadable, other columns, a
    bad value.
  """
  try:
    with open(path, encoding="utf-8", newline="") as f:
      reader = csv.DictReader(f)
      if tuple(reader.fieldnames or ()) != tuple(types):
        raise ValueError(f"columns {reader.fieldnames}, expected"
                         f" {list(types)}")
      return [{key: kind(row[key]) for key, kind in types.items()}
              for row in reader]
  except (OSError, ValueError, TypeError) as e:
    raise ValueError(f"{path}: not {what} ({e})") from None
