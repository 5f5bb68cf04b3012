"""Reproduces one of the paper's experiments from its config file.

  python3 tools/reproduce.py --list
  python3 tools/reproduce.py --experiment=modelnet40_3dof \
      --data=/data/ModelNet40 --work_dir=runs/modelnet40_3dof
  python3 tools/reproduce.py --experiment=shapenet_3dof \
      --data=/data/ShapeNetCore.v2 --teacher_data=/data/ModelNet40 \
      --work_dir=runs/shapenet_3dof

An experiment is a plain JSON file (sph_embed/experiments/configs/; copy
one and pass its path as --experiment to change it) naming the data, the
teacher, every network with its preset and schedule (the paper's on a GPU),
and the evaluation; --set=key.path=value overrides one entry (JSON
values: --set=embedding.max_steps=1000 --set=synthesis=null).  The runner
builds the data, trains (or reuses) the teacher and each network, embeds
the test split, estimates relative poses (IB / CB, image to image and to
mesh, the teacher bound, the regression baseline on the same pairs) and
writes <work_dir>/report/index.html with the paper's numbers beside ours.
Each stage is a repository tool; rerunning the same command resumes.
"""

from absl import flags

from sph_embed.common import cli
from sph_embed.experiments import config as config_lib
from sph_embed.experiments import runner

_LIST = flags.DEFINE_bool("list", False, "List the shipped experiments with"
                          " the paper's numbers, and exit.")
_EXPERIMENT = flags.DEFINE_string(
    "experiment", None, "A shipped experiment's name (--list) or the path of"
    " a config file.")
_SET = flags.DEFINE_multi_string(
    "set", [], "Override one config entry: key.path=JSON value (repeatable).")
_DATA = flags.DEFINE_string(
    "data", None, "The experiment's meshes: ModelNet40 / ShapeNet root or a"
    " list file (tools/build_dataset.py --input).")
_TEACHER_DATA = flags.DEFINE_string(
    "teacher_data", None, "ModelNet40 root the teacher is trained on"
    " (default: --data for ModelNet experiments).")
_HUB_MODULE = flags.DEFINE_string(
    "hub_module", None, "A trained teacher module to use instead of training"
    " the config's teacher.")
_WORK_DIR = flags.DEFINE_string(
    "work_dir", None, "Results directory (default: runs/<experiment>).")


def main(argv):
  if len(argv) > 1:
    raise cli.ToolError(f"unexpected arguments: {argv[1:]}")
  if _LIST.value:
    for name in config_lib.available():
      print("\n".join(runner.describe(name)))
    return
  if not _EXPERIMENT.value:
    raise cli.ToolError("--experiment is required (see --list)")
  if not _DATA.value:
    raise cli.ToolError("--data is required: the experiment's mesh root or"
                        " list file")
  config = config_lib.load(_EXPERIMENT.value, _SET.value)
  inputs = runner.Inputs(
      work_dir=_WORK_DIR.value or f"runs/{config['name']}", data=_DATA.value,
      teacher_data=_TEACHER_DATA.value, hub_module=_HUB_MODULE.value)
  summary = runner.run(config, inputs)
  print(f"results in {summary}; report in"
        f" {inputs.work_dir}/report/index.html")


if __name__ == "__main__":
  cli.run(main, errors=(config_lib.ConfigError, runner.RunError))
