"""Experiment configs (sph_embed.experiments): files, overrides, the plan."""

import json
import os

from absl.testing import parameterized
import tensorflow as tf

from sph_embed.experiments import config as config_lib
from sph_embed.experiments import runner
from sph_embed.report import paper_results
from tests import mesh_test_util

_PAPER_EXPERIMENTS = ("modelnet40_2dof", "modelnet40_3dof", "shapenet_2dof",
                      "shapenet_3dof")


def _stage_names(config, **inputs):
  stages = runner.plan(config, runner.Inputs(work_dir="/tmp/w", data="/d",
                                             **inputs))
  return [name for name, _, _ in stages]


def _command(config, stage, **inputs):
  stages = runner.plan(config, runner.Inputs(work_dir="/tmp/w", data="/d",
                                             **inputs))
  return {name: args for name, args, _ in stages}[stage]


class ShippedConfigsTest(parameterized.TestCase, tf.test.TestCase):

  def test_every_paper_experiment_has_a_config(self):
    self.assertContainsSubset(_PAPER_EXPERIMENTS, config_lib.available())
    self.assertIn("furniture_3dof", config_lib.available())

  @parameterized.parameters(*_PAPER_EXPERIMENTS)
  def test_paper_experiment_matches_its_published_table(self, name):
    config = config_lib.load(name)
    self.assertEqual(config["paper"], name)
    dof = config["data"]["dof"]
    self.assertTrue(name.endswith(f"_{dof}dof"))
    # Every published table is produced by one of the evaluation stages.
    produced = {tuple(p) for p in config["evaluation"]["correlate"]} | {
        (p, "regression") for p in config["evaluation"]["regression"]}
    self.assertContainsSubset(set(paper_results.PAPER_RESULTS[name]),
                              produced)
    # The categories the paper reports are the ones built.
    categories = {c for table in paper_results.PAPER_RESULTS[name].values()
                  for c in table}
    self.assertEqual(categories, set(config["data"]["categories"]))

  @parameterized.parameters(*_PAPER_EXPERIMENTS)
  def test_paper_schedules(self, name):
    config = config_lib.load(name)
    self.assertEqual(config["embedding"]["preset"], "paper")
    self.assertEqual(config["embedding"]["max_steps"], 200_000)
    self.assertEqual(config["embedding"]["lr_boundaries"], [80_000, 180_000])
    self.assertEqual(config["teacher"]["train"]["lr_boundaries"],
                     [5000, 8500])
    self.assertEqual(config["teacher"]["train"]["epochs"], 15)
    self.assertEqual(config["teacher"]["data"]["source"], "modelnet")
    self.assertEqual(config["regression"]["lr_boundaries"],
                     [40_000, 75_000, 125_000])
    # RMSE for the first 100k steps, then geodesic (appendix B.1).
    self.assertAlmostEqual(config["regression"]["loss_switch_fraction"]
                           * config["regression"]["max_steps"], 100_000,
                           delta=10)
    if config["synthesis"]:
      self.assertEqual(config["synthesis"]["network"]["batch_size"], 8)

  def test_shapenet_airplanes_are_scored_up_to_symmetry(self):
    for name in ("shapenet_2dof", "shapenet_3dof"):
      config = config_lib.load(name)
      self.assertEqual(config["evaluation"]["symmetric_categories"],
                       ["airplane"])
      self.assertIn("--symmetric_categories=airplane",
                    _command(config, "relative pose IB image",
                             teacher_data="/mn"))
    self.assertNotIn("--symmetric_categories=airplane", " ".join(_command(
        config_lib.load("modelnet40_3dof"), "relative pose IB image")))
    # Narrowed to categories without airplanes: no symmetric scoring.
    narrowed = config_lib.load("shapenet_3dof", ['data.categories=["car"]'])
    self.assertNotIn("--symmetric_categories", " ".join(_command(
        narrowed, "relative pose IB image", teacher_data="/mn")))


class OverridesTest(tf.test.TestCase):

  def test_json_values_and_nested_keys(self):
    config = config_lib.load("modelnet40_3dof", [
        "embedding.max_steps=10", 'data.categories=["chair","bed"]',
        "synthesis=null", "teacher.train.preset=cpu",
        "embedding.jit_compile=true"])
    self.assertEqual(config["embedding"]["max_steps"], 10)
    self.assertEqual(config["data"]["categories"], ["chair", "bed"])
    self.assertIsNone(config["synthesis"])
    self.assertEqual(config["teacher"]["train"]["preset"], "cpu")
    self.assertIn("--jit_compile", _command(config, "embedding"))
    self.assertIn("--max_steps=10", _command(config, "embedding"))

  def test_a_bare_string_is_a_string(self):
    config = config_lib.load("furniture_3dof",
                             ["teacher.hub_module=/some/module"])
    self.assertEqual(config["teacher"]["hub_module"], "/some/module")

  def test_bad_overrides_are_named(self):
    cases = [("nokey", "expected key.path=value"),
             ("foo.bar=1", "unknown section 'foo'"),
             ("data.categories.x=1", "data.categories is not a section"),
             ("embedding.data_dir=/x", "'embedding.data_dir' is set by the"
                                       " runner"),
             ("data.dof=4", "'data.dof' must be 2 or 3"),
             ("paper=shapenet_5dof", "'paper' must be null or one of"),
             ("evaluation.correlate=[[\"ib\",\"pixels\"]]",
              "evaluation.correlate entries"),
             ("regression=null", "'evaluation.regression' needs a"),
             ("teacher={}", "'teacher' must be")]
    for override, message in cases:
      with self.assertRaisesRegex(config_lib.ConfigError, message,
                                  msg=override):
        config_lib.load("modelnet40_3dof", [override])

  def test_bad_files_are_named(self):
    directory = mesh_test_util.temp_dir(self)
    cases = [("broken.json", "{", "cannot read as JSON"),
             ("list.json", "[]", "expected a JSON object"),
             ("extra.json", json.dumps({**config_lib.load("modelnet40_3dof"),
                                        "extra": 1}), "unknown keys"),
             ("missing.json", json.dumps({"name": "x"}), "missing keys")]
    for name, text, message in cases:
      path = mesh_test_util.write_file(directory, name, text)
      with self.assertRaisesRegex(config_lib.ConfigError,
                                  f"{path}: {message}"):
        config_lib.load(path)
    with self.assertRaisesRegex(config_lib.ConfigError,
                                "neither a shipped experiment"):
      config_lib.load(os.path.join(directory, "absent.json"))


class PlanTest(parameterized.TestCase, tf.test.TestCase):

  def test_stages_in_order(self):
    names = _stage_names(config_lib.load("modelnet40_3dof"))
    self.assertEqual(names[:9], [
        "dataset", "teacher dataset", "teacher", "teacher export",
        "embedding", "regression", "synthesis embedding",
        "synthesis network", "synthesis export"])
    self.assertEqual(names[-1], "report")
    self.assertIn("relative pose CB mesh", names)
    self.assertIn("relative pose CB regression", names)

  def test_teacher_is_trained_on_modelnet(self):
    config = config_lib.load("modelnet40_3dof")
    # ModelNet experiments train the teacher on --data itself ...
    self.assertIn("--input=/d", _command(config, "teacher dataset"))
    self.assertIn("--preset=paper", _command(config, "teacher"))
    self.assertIn("--hub_module=/tmp/w/teacher_module",
                  _command(config, "embedding"))
    # ... ShapeNet ones need --teacher_data (or a trained module).
    shapenet = config_lib.load("shapenet_3dof")
    with self.assertRaisesRegex(runner.RunError, "--teacher_data"):
      runner.plan(shapenet, runner.Inputs(work_dir="/tmp/w", data="/d"))
    self.assertIn("--input=/mn", _command(shapenet, "teacher dataset",
                                          teacher_data="/mn"))
    names = _stage_names(shapenet, hub_module="/m")
    self.assertNotIn("teacher", names)
    self.assertIn("--hub_module=/m", _command(shapenet, "embedding",
                                              hub_module="/m"))

  @parameterized.parameters("modelnet40", "shapenet")
  def test_2dof_experiment_is_the_3dof_one_on_upright_views(self, source):
    # So the 3DOF runs of tests/tools/reproduce_test.py also cover the 2DOF
    # experiments' stages, which differ only in the dataset's --dof.
    three_dof = runner.plan(
        config_lib.load(f"{source}_3dof", ["synthesis=null"]),
        runner.Inputs(work_dir="/tmp/w", data="/d", hub_module="/m"))
    two_dof = runner.plan(
        config_lib.load(f"{source}_2dof"),
        runner.Inputs(work_dir="/tmp/w", data="/d", hub_module="/m"))
    self.assertEqual([name for name, _, _ in two_dof],
                     [name for name, _, _ in three_dof])
    for (name, upright, _), (_, free, _) in zip(two_dof, three_dof):
      if name == "dataset":
        self.assertIn("--dof=2", upright)
        self.assertIn("--dof=3", free)
        upright = [arg for arg in upright if arg != "--dof=2"]
        free = [arg for arg in free if arg != "--dof=3"]
      self.assertEqual(upright, free, msg=name)

  def test_shipped_teacher_path_is_the_repository_one(self):
    command = _command(config_lib.load("furniture_3dof"), "embedding")
    module = os.path.join(mesh_test_util.REPO_ROOT, "hub_modules",
                          "teacher_synthetic_furniture")
    self.assertIn(f"--hub_module={module}", command)

  def test_work_dir_holds_one_config(self):
    work = os.path.join(mesh_test_util.temp_dir(self), "run")
    config = config_lib.load("furniture_3dof")
    inputs = runner.Inputs(work_dir=work, data="/d")
    runner.prepare_work_dir(config, inputs)
    runner.prepare_work_dir(config, inputs)  # The same settings: resumes.
    other = config_lib.load("furniture_3dof", ["embedding.max_steps=5"])
    with self.assertRaisesRegex(runner.RunError,
                                "holds a run of other settings"):
      runner.prepare_work_dir(other, inputs)
    stranger = mesh_test_util.temp_dir(self)
    mesh_test_util.write_file(stranger, "notes.txt", "mine")
    with self.assertRaisesRegex(runner.RunError, "not empty"):
      runner.prepare_work_dir(config, runner.Inputs(work_dir=stranger,
                                                    data="/d"))


if __name__ == "__main__":
  tf.test.main()
