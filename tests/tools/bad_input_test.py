"""The tools on bad inputs: one line naming the flag and the file, exit
status non-zero, nothing computed first, no input or run file replaced, and
no silently meaningless result.
"""

import csv
import os
import shutil
import tempfile
import zipfile

import numpy as np
from absl.testing import absltest
import trimesh

from sph_embed.pose import embeddings_io
from tests import mesh_test_util
from tests.tools import correlate_test


def _run_tool(name, *args):
  return mesh_test_util.run_script(os.path.join("tools", name), *args)


def _read(path):
  with open(path, "rb") as f:
    return f.read()


class _ToolTestCase(absltest.TestCase):

  def setUp(self):
    super().setUp()
    self.dir = tempfile.mkdtemp(prefix="bad_input_test_")
    self.addCleanup(shutil.rmtree, self.dir, ignore_errors=True)

  def path(self, *names):
    return os.path.join(self.dir, *names)

  def assert_one_line_error(self, result, *patterns):
    """Non-zero exit; stderr's last line says `tool: error:` + patterns."""
    self.assertNotEqual(result.returncode, 0, result.stdout)
    self.assertNotIn("Traceback", result.stderr)
    last = result.stderr.strip().splitlines()[-1]
    self.assertRegex(last, r"^\w+\.py: error: ")
    for pattern in patterns:
      self.assertRegex(last, pattern)

  def write_embeddings(self, name, zero=False):
    maps, poses, category, instance = correlate_test.synthetic_views(
        [("car", "a"), ("car", "b")], views=2, n=8, channels=1, seed=1)
    if zero:
      maps = np.zeros_like(maps)
    path = self.path(name)
    embeddings_io.save_embeddings(path, maps, poses, category, instance,
                                  targets=maps)
    return path


class CorrelateTest(_ToolTestCase):

  def test_output_onto_its_own_input_is_refused_and_the_input_kept(self):
    embeddings = self.write_embeddings("v.npz")
    before = _read(embeddings)
    for flags in ([], ["--overwrite"]):
      result = _run_tool("correlate.py", f"--embeddings={embeddings}",
                         f"--output={embeddings}", "--upsample=1", *flags)
      self.assert_one_line_error(result, "--output=.*v.npz: is also the"
                                 " input --embeddings")
      self.assertEqual(_read(embeddings), before)

  def test_directory_as_output_fails_before_computing(self):
    embeddings = self.write_embeddings("v.npz")
    result = _run_tool("correlate.py", f"--embeddings={embeddings}",
                       f"--output={self.dir}", "--upsample=1")
    self.assert_one_line_error(result, f"--output={self.dir}: is a"
                               " directory")
    self.assertNotIn("pairs", result.stderr)  # Nothing was correlated.

  def test_existing_output_needs_overwrite(self):
    embeddings = self.write_embeddings("v.npz")
    output = self.path("pose.csv")
    with open(output, "w", encoding="utf-8") as f:
      f.write("earlier results\n")
    result = _run_tool("correlate.py", f"--embeddings={embeddings}",
                       f"--output={output}", "--upsample=1")
    self.assert_one_line_error(result, "pose.csv: already exists; pass"
                               " --overwrite")
    self.assertEqual(_read(output), b"earlier results\n")
    result = _run_tool("correlate.py", f"--embeddings={embeddings}",
                       f"--output={output}", "--upsample=1", "--overwrite")
    self.assertEqual(result.returncode, 0, result.stderr)
    self.assertTrue(_read(output).startswith(b"index1,index2"))
    self.assertEqual(os.stat(output).st_mode & 0o044, 0o044)  # Readable.

  def test_all_zero_embeddings_are_refused_or_marked_meaningless(self):
    # Issue 30: they were scored as a normal table (exit 0).
    embeddings = self.write_embeddings("zero.npz", zero=True)
    output = self.path("pose.csv")
    result = _run_tool("correlate.py", f"--embeddings={embeddings}",
                       "--upsample=1", f"--output={output}")
    self.assert_one_line_error(
        result, "zero.npz: 'embeddings' of 4 of 4 views are all zero over the"
        " sphere: .* meaningless; pass --allow_constant_embeddings")
    self.assertFalse(os.path.exists(output))
    result = _run_tool("correlate.py", f"--embeddings={embeddings}",
                       "--upsample=1", f"--output={output}",
                       "--allow_constant_embeddings")
    self.assertEqual(result.returncode, 0, result.stderr)
    table = result.stdout[result.stdout.index("category"):].splitlines()
    self.assertTrue(table[0].endswith("meaningless"), table[0])
    self.assertEqual([line.split()[-1] for line in table[2:4]],
                     ["yes", "yes"])   # car, overall.
    self.assertRegex(result.stdout, "meaningless = yes: (.|\n)*WARNING: "
                     ".*zero.npz: 'embeddings' of 4 of 4 views are all zero")
    with open(output, encoding="utf-8") as f:
      rows = list(csv.DictReader(f))
    self.assertLen(rows, 2)   # One pair per instance of two views.
    self.assertEqual({row["meaningless"] for row in rows}, {"1"})

  def test_text_file_named_npz_is_not_an_npz_archive(self):
    text = mesh_test_util.write_file(self.dir, "table.npz", "a,b\n1,2\n")
    result = _run_tool("correlate.py", f"--embeddings={text}")
    self.assert_one_line_error(result, "table.npz: not an .npz archive")
    self.assertNotIn("pickle", result.stderr)

  def test_output_in_a_special_directory_fails_before_computing(self):
    # Issue 30: /proc passed os.access as root; the write failed at the end.
    embeddings = self.write_embeddings("v.npz")
    result = _run_tool("correlate.py", f"--embeddings={embeddings}",
                       "--output=/proc/pose.csv", "--upsample=1")
    self.assert_one_line_error(result, "--output=/proc/pose.csv: directory"
                               " /proc is not writable")
    self.assertNotIn("pairs", result.stderr)

  def test_damaged_npz_member_is_a_one_line_error(self):
    embeddings = self.write_embeddings("v.npz")
    with zipfile.ZipFile(embeddings) as archive:
      member = archive.getinfo("embeddings.npy")
    content = bytearray(_read(embeddings))
    start = member.header_offset + 30 + len(member.filename) + 40
    content[start:start + 16] = bytes(16)
    with open(embeddings, "wb") as f:
      f.write(content)
    result = _run_tool("correlate.py", f"--embeddings={embeddings}",
                       "--upsample=1")
    self.assert_one_line_error(result, "v.npz: key 'embeddings': damaged in"
                               " the archive")


class SaveEmbeddingsTest(_ToolTestCase):

  def test_output_onto_the_runs_model_spec_is_refused(self):
    spec = self.path("embedding_model.json")
    with open(spec, "w", encoding="utf-8") as f:
      f.write('{"version": 1}\n')
    result = _run_tool("save_embeddings.py", f"--model_dir={self.dir}",
                       f"--output={spec}", "--overwrite")
    self.assert_one_line_error(result, "--output=.*embedding_model.json:")
    self.assertEqual(_read(spec), b'{"version": 1}\n')

  def test_directory_as_output_fails_before_loading_the_model(self):
    result = _run_tool("save_embeddings.py",
                       f"--model_dir={self.path('no_such_run')}",
                       f"--output={self.dir}")
    self.assert_one_line_error(result, f"--output={self.dir}: is a"
                               " directory")

  def test_output_in_a_special_directory_fails_before_loading_the_model(self):
    result = _run_tool("save_embeddings.py",
                       f"--model_dir={self.path('no_such_run')}",
                       "--output=/proc/embeddings.npz")
    self.assert_one_line_error(result, "--output=/proc/embeddings.npz:"
                               " directory /proc is not writable")


class BuildDatasetTest(_ToolTestCase):

  def test_output_dir_that_is_a_file_is_a_one_line_error(self):
    output = self.path("data")
    with open(output, "w", encoding="utf-8") as f:
      f.write("a file")
    result = _run_tool("build_dataset.py", f"--output_dir={output}",
                       "--categories=car", "--train_instances=1",
                       "--test_instances=0", "--num_workers=0")
    self.assert_one_line_error(result, "--output_dir=.*data: is a file, not"
                               " a directory")

  def test_mesh_with_far_outlier_vertex_is_reported_for_that(self):
    mesh = trimesh.creation.box((1.0, 0.5, 0.3))
    vertices = mesh.vertices.copy()
    vertices[0] = (1e10, 1e10, 1e10)
    trimesh.Trimesh(vertices, mesh.faces, process=False).export(
        self.path("spike.off"))
    mesh.export(self.path("box.off"))
    list_file = mesh_test_util.write_file(self.dir, "list.txt",
                                          "box.off box\nspike.off box\n")
    result = _run_tool("build_dataset.py", f"--output_dir={self.path('out')}",
                       "--source=list", f"--input={list_file}",
                       "--test_fraction=0", "--views_per_instance=1",
                       "--image_size=32", "--sphere_size=16",
                       "--num_workers=0")
    self.assertEqual(result.returncode, 0, result.stderr)
    self.assertRegex(result.stdout, "spike.off: .*surface area .* vertices"
                     r" far from the rest \(coordinates up to 1e\+10\)")
    self.assertNotIn("front of the camera", result.stdout)


class ReproduceTest(_ToolTestCase):

  def test_bad_set_stops_before_any_stage_and_writes_nothing(self):
    # Issue 30: written to config.json, the dataset stage ran, then FATAL.
    work = self.path("work")
    result = _run_tool("reproduce.py", "--experiment=furniture_3dof",
                       f"--data={self.path('list.txt')}", f"--work_dir={work}",
                       "--set=embedding.max_stepz=5",
                       "--set=regression.max_steps=abc")
    self.assert_one_line_error(
        result, "stage 'embedding' .train_embedding.py.: Unknown command line"
        " flag 'max_stepz'.*; stage 'regression' .train_regression.py.: flag"
        " --max_steps=abc: invalid literal for int")
    self.assertFalse(os.path.exists(work))

if __name__ == "__main__":
  absltest.main()
