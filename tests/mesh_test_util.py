"""Helpers shared by the data tests: real sample meshes, small meshes, tiny
datasets."""

import os
import shutil
import tempfile
import unittest

import trimesh

from sph_embed.data import dataset
from sph_embed.data import sources
from sph_embed.data import views

# Real ModelNet40/ShapeNet files, kept next to the repository (never copied
# into it); see ../shared/meshes/SOURCES.md.
SHARED_MESHES = os.environ.get(
    "SPH_EMBED_SHARED_MESHES",
    os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir,
                 os.pardir, "shared", "meshes"))
MODELNET_SAMPLES = ("bed_0001", "chair_0890", "stool_0002", "flower_pot_0002")
SHAPENET_SAMPLE = os.path.join("shapenet", "03001627_21bfb150", "model.obj")

TINY_CONFIG = views.ViewConfig(views_per_instance=2, image_size=32,
                               sphere_size=16, seed=5)


def shared_mesh(relative_path):
  """Path of a shared sample mesh; skips the test if it is absent."""
  path = os.path.join(SHARED_MESHES, relative_path)
  if not os.path.isfile(path):
    raise unittest.SkipTest(
        f"real sample mesh {path} not found (set SPH_EMBED_SHARED_MESHES to"
        " the folder described by ../shared/meshes/SOURCES.md)")
  return path


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
  categories, instances = sources.synthetic_instances(categories, train, test)
  kwargs.setdefault("num_workers", 0)
  kwargs.setdefault("examples_per_shard", 2)
  return dataset.build(instances, categories, output_dir, config,
                       {"kind": "synthetic"}, progress=False, **kwargs)
