"""tools/reproduce.py end to end at a tiny size on trees of the vendored
real meshes (ModelNet-style, ShapeNet-style and a list file), so the
real-data path runs on every change: every shipped 3DOF experiment (the
2DOF ones differ only in the dataset's --dof).

The sizes are overridden with --set (2 training steps, narrow networks, 2
views per mesh); the stages, tools and flags are the configs' own.  The
ModelNet 3DOF run also trains its teacher and the synthesis networks; the
others use the shipped teacher (--hub_module).
"""

import os
import shutil

from absl.testing import parameterized
import tensorflow as tf
import trimesh

from sph_embed.data import sources
from sph_embed.experiments import config as config_lib
from sph_embed.report import pose_csvs
from sph_embed.report import pose_tables
from tests import mesh_test_util
from tests.report import report_fixture

# Minutes of tool subprocesses: scheduled first (tests/conftest.py).
RUNS_LONG = True

_TOOL = "tools/reproduce.py"
_SHIPPED_TEACHER = os.path.join(mesh_test_util.REPO_ROOT, "hub_modules",
                                "teacher_synthetic")
_TINY_TRAINING = ["max_steps=2", "batch_size=2", "lr_boundaries=[1]",
                  "lr_values=[0.001,0.0001]", "eval_every_steps=0",
                  "log_every_steps=1", "strategy=default"]
# The same for a config with a cosine schedule (boundaries refused).
_TINY_COSINE = [entry.replace("lr_boundaries=[1]", "lr_warmup_steps=1")
                for entry in _TINY_TRAINING]
_TINY_WIDTHS = ["preset=cpu", "base_filters=4", "max_filters=8",
                "latent_size=16"]


def _set(section, entries):
  return [f"--set={section}.{entry}" for entry in entries]


def _tiny(config_name, categories):
  """--set flags shrinking experiment `config_name` to a smoke test."""
  config = config_lib.load(config_name)
  flags = [f"--set=data.categories={list(categories)!r}".replace("'", '"'),
           "--set=data.views_per_instance=2", "--set=evaluation.pairs=1",
           "--set=evaluation.upsample=1"]
  embedding = config["embedding"]
  # A warm start needs the module's widths: kept, with 2 steps of 2.
  widths = [] if embedding.get("init_from") else _TINY_WIDTHS
  training = (_TINY_COSINE if embedding.get("lr_schedule") == "cosine"
              else _TINY_TRAINING)
  flags += _set("embedding", widths + training)
  flags += _set("regression", ["preset=cpu"] + _TINY_TRAINING)
  if config["data"].get("test_fraction") is not None:
    flags.append("--set=data.test_fraction=0.5")
  return flags


def _modelnet_tree(root):
  """<category>/{train,test}/*.off: two copies of each vendored mesh each."""
  for name in mesh_test_util.OFF_SAMPLES:
    category = name.split("_")[0]
    for split, numbers in (("train", (1, 2)), ("test", (3, 4))):
      folder = os.path.join(root, category, split)
      os.makedirs(folder)
      for number in numbers:
        shutil.copy(mesh_test_util.off_sample(name),
                    os.path.join(folder, f"{category}_{number:04d}.off"))
  return root


def _shapenet_tree(root):
  """<synset>/<model>/model.obj: four copies each of a chair and a sofa."""
  sofa = os.path.join(root, "sofa.obj")
  os.makedirs(root)
  trimesh.load(mesh_test_util.off_sample("sofa_0001")).export(sofa)
  for synset, source in (("03001627", mesh_test_util.OBJ_SAMPLE),
                         ("04256520", sofa)):
    for model in range(4):
      folder = os.path.join(root, synset, f"{synset}m{model}")
      os.makedirs(folder)
      shutil.copy(source, os.path.join(folder, "model.obj"))
  os.remove(sofa)
  return root


def _list_file(root):
  """A list file of the vendored meshes, six copies each, by category.

  Six: the list source splits by a hash of the file name, and with
  test_fraction 0.5 these names put at least two of each category in the
  test split (CB needs two), which setUpClass checks.
  """
  os.makedirs(root)
  lines = []
  for name in mesh_test_util.OFF_SAMPLES:
    category = name.split("_")[0]
    for copy in range(6):
      path = os.path.join(root, f"{category}_{copy}.off")
      shutil.copy(mesh_test_util.off_sample(name), path)
      lines.append(f"{os.path.basename(path)} {category}")
  return mesh_test_util.write_file(root, "list.txt", "\n".join(lines) + "\n")


class ReproduceTest(parameterized.TestCase, tf.test.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    root = mesh_test_util.class_temp_dir(cls)
    cls.sources = {"modelnet": _modelnet_tree(os.path.join(root, "mn")),
                   "shapenet": _shapenet_tree(os.path.join(root, "sn")),
                   "list": _list_file(os.path.join(root, "list"))}
    _, instances = sources.list_instances(cls.sources["list"],
                                          test_fraction=0.5)
    for category in ("bed", "chair", "sofa"):
      assert sum(i.category == category and i.split == "test"
                 for i in instances) >= 2, category

  def _run(self, *args):
    done = mesh_test_util.run_script(_TOOL, *args, timeout=900)
    self.assertEqual(done.returncode, 0, msg=done.stderr[-4000:])
    return done

  def _check_results(self, work, config):
    expected = [f"pose_{p}_{m}.csv" for p, m in
                config["evaluation"]["correlate"]] + [
                    f"pose_{p}_regression.csv"
                    for p in config["evaluation"]["regression"]]
    found = [os.path.basename(p) for p in pose_csvs.find_pose_csvs(work)]
    self.assertCountEqual(found, expected)
    # The overview and one table per evaluation.
    return report_fixture.check_report(self, work, 1 + len(expected))

  def test_list_shows_every_experiment_with_the_papers_numbers(self):
    out = self._run("--list").stdout
    for name in config_lib.available():
      self.assertIn(f"{name}: ", out)
    self.assertIn("IB image: airplane 6.64, car 3.84, chair 5.55, sofa 5.21",
                  out)  # ShapeNet 3DOF, Table 2.
    self.assertIn("CB regression: airplane 12.9, bed 29.9", out)

  def test_modelnet_3dof_with_its_own_teacher_and_synthesis(self):
    work = os.path.join(mesh_test_util.temp_dir(self), "run")
    flags = _tiny("modelnet40_3dof", ["bed", "chair", "sofa"])
    flags += _set("teacher.data", ["views_per_instance=1"])
    flags += _set("teacher.train", [
        "preset=cpu", "stem_filters=2", "stage_filters=[4,8]",
        "head_filters=4", "blocks_per_stage=1"] + _TINY_TRAINING)
    flags += _set("synthesis.embedding", _TINY_WIDTHS + _TINY_TRAINING)
    flags += _set("synthesis.network", ["preset=cpu"] + _TINY_TRAINING)
    done = self._run("--experiment=modelnet40_3dof",
                     f"--data={self.sources['modelnet']}",
                     f"--work_dir={work}", *flags)
    self.assertRegex(done.stderr, r"\[(\d+)/\1 report\] done")
    config = config_lib.load("modelnet40_3dof")
    markdown = self._check_results(work, config)
    # The experiment's own published numbers, not "other data".
    self.assertIn(pose_tables.EXPERIMENT_PAPER_COLUMN, markdown)
    self.assertNotIn(pose_tables.PAPER_COLUMN, markdown)
    self.assertIn("7.79 / - / -", markdown)  # Table 5, chair IB.
    self.assertTrue(os.path.isfile(os.path.join(work, "teacher_module",
                                                "manifest.json")))
    self.assertTrue(os.path.isfile(os.path.join(work, "synthesis_module",
                                                "manifest.json")))
    # The rerun resumes: every stage finds its work done.
    self._run("--experiment=modelnet40_3dof",
              f"--data={self.sources['modelnet']}", f"--work_dir={work}",
              *flags)
    # Other settings in the same directory are refused.
    done = mesh_test_util.run_script(
        _TOOL, "--experiment=modelnet40_3dof",
        f"--data={self.sources['modelnet']}", f"--work_dir={work}",
        "--set=evaluation.pairs=2")
    self.assertEqual(done.returncode, 1)
    self.assertIn("holds a run of other settings", done.stderr)

  # The 2DOF experiments are these with --dof=2 for the dataset
  # (tests/experiments/config_test.py checks their plans): not run here.
  @parameterized.named_parameters(
      ("shapenet_3dof", "shapenet_3dof", "shapenet", ["chair", "sofa"]),
      ("furniture_3dof", "furniture_3dof", "list", ["bed", "sofa"]))
  def test_experiment_with_the_shipped_teacher(self, name, source,
                                               categories):
    work = os.path.join(mesh_test_util.temp_dir(self), "run")
    # The first run covers every evaluation stage; here one of each tool.
    flags = _tiny(name, categories) + [
        "--set=synthesis=null",
        '--set=evaluation.correlate=[["ib","image"],["cb","mesh"]]',
        '--set=evaluation.regression=["cb"]']
    self._run(f"--experiment={name}", f"--data={self.sources[source]}",
              f"--hub_module={_SHIPPED_TEACHER}", f"--work_dir={work}",
              *flags)
    config = config_lib.load(name, [f.split("=", 1)[1] for f in flags])
    markdown = self._check_results(work, config)
    if config["paper"]:
      self.assertIn(pose_tables.EXPERIMENT_PAPER_COLUMN, markdown)


if __name__ == "__main__":
  tf.test.main()
