"""Tests for sph_embed.common.outputs: output paths refused before computing."""

import os
import shutil
import subprocess
import sys
import tempfile

from absl.testing import absltest

from sph_embed.common import outputs

_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
_NOBODY = 65534


def _touch(path, text="x"):
  with open(path, "w", encoding="utf-8") as f:
    f.write(text)
  return path


def _check_as_unprivileged_user(call):
  """Runs `outputs.<call>` where permissions apply; returns its stderr.

  root passes every permission check, so as root the check runs in a child
  that drops to user nobody after importing.
  """
  code = ("import os, sys; from sph_embed.common import outputs\n"
          "if os.geteuid() == 0:\n"
          f"  os.setgid({_NOBODY}); os.setuid({_NOBODY})\n"
          "try:\n"
          f"  outputs.{call}\n"
          "except outputs.OutputError as e:\n"
          "  sys.exit(str(e))\n")
  result = subprocess.run([sys.executable, "-c", code], cwd=_ROOT,
                          capture_output=True, text=True, check=False)
  return result.stderr.strip()


class CheckOutputFileTest(absltest.TestCase):

  def setUp(self):
    super().setUp()
    self.dir = tempfile.mkdtemp(prefix="outputs_test_")
    self.addCleanup(shutil.rmtree, self.dir, ignore_errors=True)

  def path(self, name):
    return os.path.join(self.dir, name)

  def test_new_file_in_existing_directory_is_accepted(self):
    self.assertEqual(outputs.check_output_file(self.path("a.csv"), "output",
                                               (".csv",)),
                     self.path("a.csv"))

  def test_input_as_output_is_refused_even_with_overwrite(self):
    embeddings = _touch(self.path("v.npz"))
    for given in (embeddings, os.path.relpath(embeddings)):
      with self.assertRaisesRegex(
          outputs.OutputError, "--output=.*v.npz: is also the input"
          " --embeddings"):
        outputs.check_output_file(given, "output", (".npz",),
                                  inputs={"embeddings": embeddings},
                                  overwrite=True)

  def test_directory_as_output_is_refused(self):
    with self.assertRaisesRegex(outputs.OutputError,
                                f"--output={self.dir}: is a directory"):
      outputs.check_output_file(self.dir, "output", (".csv",))

  def test_wrong_extension_is_refused(self):
    with self.assertRaisesRegex(outputs.OutputError,
                                "b.txt: expected a .csv file"):
      outputs.check_output_file(self.path("b.txt"), "output", (".csv",))

  def test_missing_parent_directory_is_refused(self):
    with self.assertRaisesRegex(outputs.OutputError,
                                "directory .*nowhere does not exist"):
      outputs.check_output_file(self.path("nowhere/c.csv"), "output",
                                (".csv",))

  def test_existing_output_needs_overwrite(self):
    _touch(self.path("d.csv"))
    with self.assertRaisesRegex(outputs.OutputError,
                                "d.csv: already exists; pass --overwrite"):
      outputs.check_output_file(self.path("d.csv"), "output", (".csv",))
    outputs.check_output_file(self.path("d.csv"), "output", (".csv",),
                              overwrite=True)

  def test_files_of_a_run_are_refused_even_with_overwrite(self):
    os.mkdir(self.path("checkpoints"))
    for name in ("embedding_model.json", "teacher_spec.json", "dataset.json",
                 "checkpoints/ckpt-3.index", "checkpoints/e.npz",
                 "train-00000-of-00002.tfrecord"):
      with self.assertRaisesRegex(outputs.OutputError,
                                  "is a file of a run, module or dataset"):
        outputs.check_output_file(self.path(name), "output", (),
                                  overwrite=True)

  def test_read_only_directory_is_refused(self):
    os.chmod(self.dir, 0o755)  # Others may enter, not write.
    read_only = self.path("read_only")
    os.mkdir(read_only, 0o555)
    message = _check_as_unprivileged_user(
        f"check_output_file({os.path.join(read_only, 'e.csv')!r}, 'output',"
        " ('.csv',))")
    self.assertRegex(message, "read_only is not writable")

  def test_special_directory_is_refused(self):
    # Issue 30: /proc passes os.access as root, then refuses the file.
    with self.assertRaisesRegex(outputs.OutputError, "--output=/proc/x.csv:"
                                " directory /proc is not writable"):
      outputs.check_output_file("/proc/x.csv", "output", (".csv",))


class CheckOutputDirTest(absltest.TestCase):

  def setUp(self):
    super().setUp()
    self.dir = tempfile.mkdtemp(prefix="outputs_test_")
    self.addCleanup(shutil.rmtree, self.dir, ignore_errors=True)

  def test_new_and_existing_directories_are_accepted(self):
    for path in (self.dir, os.path.join(self.dir, "new", "deeper")):
      self.assertEqual(outputs.check_output_dir(path, "model_dir"), path)

  def test_file_is_refused(self):
    path = _touch(os.path.join(self.dir, "run"))
    with self.assertRaisesRegex(outputs.OutputError,
                                "--model_dir=.*run: is a file, not a"
                                " directory"):
      outputs.check_output_dir(path, "model_dir")
    with self.assertRaisesRegex(outputs.OutputError,
                                "run is a file, so the directory cannot be"
                                " created"):
      outputs.check_output_dir(os.path.join(path, "sub"), "model_dir")

  def test_read_only_directory_is_refused(self):
    os.chmod(self.dir, 0o755)
    read_only = os.path.join(self.dir, "read_only")
    os.mkdir(read_only, 0o555)
    message = _check_as_unprivileged_user(
        f"check_output_dir({read_only!r}, 'output_dir')")
    self.assertRegex(message, "--output_dir=.*read_only: is not writable")
    message = _check_as_unprivileged_user(
        f"check_output_dir({os.path.join(read_only, 'new')!r},"
        " 'output_dir')")
    self.assertRegex(message, "would be created in .*read_only, which is not"
                     " writable")

  def test_special_directory_is_refused(self):
    with self.assertRaisesRegex(outputs.OutputError, "--work_dir=/proc/run:"
                                " would be created in /proc, which is not"
                                " writable"):
      outputs.check_output_dir("/proc/run", "work_dir")

  def test_replaced_directory_must_be_a_previous_output_or_empty(self):
    run = os.path.join(self.dir, "run")
    os.mkdir(run)
    _touch(os.path.join(run, "teacher_spec.json"))
    with self.assertRaisesRegex(outputs.OutputError,
                                "is not a previous output of this tool"):
      outputs.check_replaced_dir(run, "export_dir", ("manifest.json",))
    module = os.path.join(self.dir, "module")
    os.mkdir(module)
    _touch(os.path.join(module, "manifest.json"))
    outputs.check_replaced_dir(module, "export_dir", ("manifest.json",))


if __name__ == "__main__":
  absltest.main()
