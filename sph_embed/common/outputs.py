"""Output-path checks that every writing tool runs before computing.

A tool validates its output paths first, so that a bad path costs a second,
not an hour of computation, and so that no input or run file is replaced:

  path = outputs.check_output_file(
      _OUTPUT.value, "output", (".csv",), inputs={"embeddings": _IN.value},
      overwrite=_OVERWRITE.value)

Each problem raises `OutputError` (a ValueError, which the tools report as
one line) naming the flag, the path and what to do.  NumPy-free and
TensorFlow-free: only the standard library.
"""

import os
import re
import tempfile

from absl import flags

# Files that make a directory a run, a module or a dataset; a tool's output
# never replaces one of them (even with --overwrite): doing so breaks the
# run that owns it.
RUN_FILES = frozenset({
    "embedding_model.json", "teacher_spec.json", "results.json",
    "manifest.json", "dataset.json", "checkpoint", "saved_model.pb",
    "fingerprint.pb"})
# Checkpoint files, TFRecord shards and their records: also never outputs.
_RUN_FILE_PATTERN = re.compile(
    r"ckpt-\d+\.(index|data-\d+-of-\d+)|.*\.tfrecord(\.json)?")
# Subdirectories a run writes itself (checkpoints, TensorBoard, SavedModel).
_RUN_SUBDIRS = frozenset({"checkpoints", "variables"})


class OutputError(ValueError):
  """An output path that cannot or must not be written."""


def _flag(flag, path):
  return f"--{flag}={path}"


def _nearest_existing(path):
  """The deepest existing ancestor of `path` (or `path` itself)."""
  while not os.path.lexists(path):
    parent = os.path.dirname(path)
    if parent == path:
      break
    path = parent
  return path


def _can_create_files_in(directory):
  """Whether a file can be created in `directory`, by creating one.

  os.access trusts the permission bits, which root bypasses and special
  file systems (/proc, /sys) refuse anyway.
  """
  try:
    with tempfile.TemporaryFile(dir=directory):
      return True
  except OSError:
    return False


def _same_file(a, b):
  try:
    return os.path.samefile(a, b)
  except OSError:
    return os.path.realpath(a) == os.path.realpath(b)


def check_output_file(path, flag, extensions, inputs=None, overwrite=False):
  """Checks that a tool may write the file `path`; returns its absolute path.

  Args:
    path: the output file the user gave.
    flag: the flag's name (without dashes), for messages.
    extensions: accepted endings, e.g. (".csv",); empty: any.
    inputs: {flag name: path} of the tool's inputs, none of which may be
      the output.
    overwrite: whether an existing output file may be replaced.

  Raises:
    OutputError naming the flag, the path and what to do: empty path, a
    directory, one of the inputs, a run's own file (embedding_model.json,
    a checkpoint, ...), a wrong extension, a missing or read-only parent
    directory, or an existing file without `overwrite`.
  """
  if not path:
    raise OutputError(f"--{flag} is empty; give the file to write")
  where = _flag(flag, path)
  absolute = os.path.abspath(path)
  if os.path.isdir(absolute):
    example = os.path.join(path, "out" + (extensions or ("",))[0])
    raise OutputError(f"{where}: is a directory; give a file name inside it,"
                      f" e.g. {example}")
  for input_flag, input_path in (inputs or {}).items():
    if input_path and _same_file(absolute, input_path):
      raise OutputError(f"{where}: is also the input --{input_flag}; writing"
                        " it would destroy the input, give another name")
  name = os.path.basename(absolute)
  parent = os.path.dirname(absolute)
  if (name in RUN_FILES or _RUN_FILE_PATTERN.fullmatch(name)
      or os.path.basename(parent) in _RUN_SUBDIRS):
    raise OutputError(f"{where}: is a file of a run, module or dataset that"
                      " the tools read back; write the output elsewhere")
  if extensions and not absolute.endswith(tuple(extensions)):
    raise OutputError(f"{where}: expected a {' or '.join(extensions)} file;"
                      " give a name with that extension")
  if not os.path.isdir(parent):
    raise OutputError(f"{where}: directory {parent} does not exist; create it"
                      " first")
  if not _can_create_files_in(parent):
    raise OutputError(f"{where}: directory {parent} is not writable; choose"
                      " a writable location")
  if os.path.lexists(absolute):
    if not overwrite:
      raise OutputError(f"{where}: already exists; pass --overwrite to"
                        " replace it, or give another name")
    if not os.access(absolute, os.W_OK) and not os.path.islink(absolute):
      raise OutputError(f"{where}: exists and is read-only; make it"
                        " writable or give another name")
  return absolute


def check_output_dir(path, flag):
  """Checks that a directory can be created or written; returns it absolute.

  The directory itself may exist (runs resume, builds continue); the checks
  are those that otherwise fail later with a raw OSError.

  Raises:
    OutputError naming the flag, the path and what to do: empty path, an
    existing file (not a directory), a file on the way to it, or a
    directory (or the existing parent it would be created in) that is not
    writable.
  """
  if not path:
    raise OutputError(f"--{flag} is empty; give a directory")
  where = _flag(flag, path)
  absolute = os.path.abspath(path)
  existing = _nearest_existing(absolute)
  if not os.path.isdir(existing):
    if existing == absolute:
      raise OutputError(f"{where}: is a file, not a directory; give a"
                        " directory (a new or an existing one)")
    raise OutputError(f"{where}: {existing} is a file, so the directory"
                      " cannot be created; give another path")
  if not _can_create_files_in(existing):
    what = ("is" if existing == absolute
            else f"would be created in {existing}, which is")
    raise OutputError(f"{where}: {what} not writable; choose a writable"
                      " location or fix its permissions")
  return absolute


def check_replaced_dir(path, flag, markers):
  """Checks a directory output that replaces an existing one as a whole.

  Such a tool (the teacher exporter) replaces the directory atomically; an
  existing one may only be a previous output of the same kind (it holds
  one of `markers`) or empty, never a run, a dataset or a home directory.

  Returns:
    The absolute path.

  Raises:
    OutputError naming the flag, the path and what to do.
  """
  absolute = check_output_dir(path, flag)
  if os.path.isdir(absolute):
    names = os.listdir(absolute)
    if names and not any(m in names for m in markers):
      raise OutputError(
          f"{_flag(flag, path)}: exists and is not a previous output of this"
          f" tool (no {' or '.join(markers)}), but would be replaced as a"
          " whole; give a new or an empty directory")
  return absolute


def define_overwrite_flag(what="an existing --output file"):
  """--overwrite, defined once for every tool that writes; `what` it replaces."""
  return flags.DEFINE_bool("overwrite", False, f"Replace {what}.")
