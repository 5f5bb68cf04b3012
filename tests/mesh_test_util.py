"""Helpers shared by the tests: the repository root, vendored real meshes,
small meshes, tiny datasets.

Importing this module does not import TensorFlow (TF-free tests use it).
"""

import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile

import trimesh

from sph_embed.data import sources
from sph_embed.data import views

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
# Tools and subprocesses are run from here (and with it on PYTHONPATH).
REPO_ROOT = os.path.dirname(TESTS_DIR)

# Small real furniture models (CC0) vendored with the tests, so real-mesh
# tests run in a plain clone; see tests/testdata/meshes/ATTRIBUTION.md.
REAL_MESHES = os.path.join(TESTS_DIR, "testdata", "meshes")
# ModelNet-style <category>_<number>.off files (written by trimesh).
OFF_SAMPLES = ("bed_0001", "chair_0001", "sofa_0001")
# A chair as a Wavefront OBJ in a ShapeNet-style <synset>_<id> folder.
OBJ_SAMPLE = os.path.join(REAL_MESHES, "shapenet_style",
                          "03001627_osakachair", "model.obj")



def run_script(path, *args, timeout=600, env=None):
  """Runs a repository script (e.g. "tools/correlate.py") in a subprocess
  from the repository root; returns the CompletedProcess (text output)."""
  return subprocess.run([sys.executable, os.path.join(REPO_ROOT, path), *args],
                        capture_output=True, text=True, check=False,
                        cwd=REPO_ROOT, timeout=timeout, env=env)


TINY_CONFIG = views.ViewConfig(views_per_instance=2, image_size=32,
                               sphere_size=16, seed=5)


def assert_tool_error(test, result, tool, pattern):
  """`result` (run_script's) ended with exit 1 and one line
  '<tool>: error: <pattern>', no traceback."""
  test.assertEqual(result.returncode, 1, result.stdout)
  test.assertNotIn("Traceback", result.stderr)
  test.assertRegex(result.stderr.strip().splitlines()[-1],
                   f"^{tool}: error: " + pattern)


def read_scalars(logdir):
  """{tag: {step: value}} from the TensorBoard event files in `logdir`."""
  import tensorflow as tf  # Only the tests that read event files need it.
  out = {}
  for path in glob.glob(os.path.join(logdir, "events.out.tfevents.*")):
    for record in tf.data.TFRecordDataset(path):
      event = tf.compat.v1.Event.FromString(record.numpy())
      for value in event.summary.value:
        number = tf.make_ndarray(value.tensor) if value.HasField(
            "tensor") else value.simple_value
        out.setdefault(value.tag, {})[event.step] = float(number)
  return out


def off_sample(name):
  """Path of the vendored .off mesh `name` (one of OFF_SAMPLES)."""
  return os.path.join(REAL_MESHES, "modelnet_style", name + ".off")


def real_mesh_paths():
  """Every vendored real mesh: the .off samples, then the .obj sample."""
  return tuple(off_sample(name) for name in OFF_SAMPLES) + (OBJ_SAMPLE,)


def temp_dir(test_case):
  """A fresh directory deleted after the test (absl's create_tempdir needs
  parsed flags, which pytest does not provide)."""
  path = tempfile.mkdtemp(prefix="sph_embed_test_")
  test_case.addCleanup(shutil.rmtree, path, ignore_errors=True)
  return path


def class_temp_dir(test_class):
  """A fresh directory deleted after the test class (for setUpClass)."""
  path = tempfile.mkdtemp(prefix="sph_embed_test_")
  test_class.addClassCleanup(shutil.rmtree, path, ignore_errors=True)
  return path


def write_file(directory, name, text):
  path = os.path.join(directory, name)
  with open(path, "w", encoding="utf-8") as f:
    f.write(text)
  return path


def offset_ellipsoid():
  """A smooth closed mesh in the unit ball that contains the centre.

  Every ray hits it and its ray-cast map is smooth (nearly band-limited).
  """
  mesh = trimesh.creation.icosphere(subdivisions=4)
  mesh.apply_scale((0.5, 0.3, 0.4))
  mesh.apply_translation((0.2, -0.1, 0.3))
  return mesh


def build_tiny_synthetic(output_dir, categories=("chair", "car"), train=2,
                         test=1, config=TINY_CONFIG, **kwargs):
  """Builds a tiny synthetic dataset in process; returns its metadata."""
  # Imported here: the dataset builder imports TensorFlow.
  from sph_embed.data import dataset  # pylint: disable=g-import-not-at-top
  categories, instances = sources.synthetic_instances(categories, train, test)
  kwargs.setdefault("num_workers", 0)
  kwargs.setdefault("examples_per_shard", 2)
  return dataset.build(instances, categories, output_dir, config,
                       {"kind": "synthetic"}, progress=False, **kwargs)


def damaged_copy(data_dir, copy_dir, split):
  """Copies a built dataset and flips one byte in the middle of the last
  shard of `split` (its size, which the shard's record holds, is kept);
  returns that shard's path in the copy."""
  shutil.copytree(data_dir, copy_dir)
  with open(os.path.join(copy_dir, "dataset.json"), encoding="utf-8") as f:
    shard = os.path.join(copy_dir, json.load(f)["splits"][split]["shards"][-1])
  with open(shard, "r+b") as f:
    content = bytearray(f.read())
    content[len(content) // 2] ^= 0xFF
    f.seek(0)
    f.write(content)
  return shard
