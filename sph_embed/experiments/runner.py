"""One experiment config -> the stages tools/reproduce.py runs.

Stages (each a repository tool, so each resumes as that tool does):
  dataset             tools/build_dataset.py on --data (<work>/data)
  teacher             the config's hub_module, or tools/build_dataset.py on
                      --teacher_data, tools/train_teacher.py and
                      tools/export_teacher.py (<work>/teacher_module)
  embedding           tools/train_embedding.py, pose maps
  regression          tools/train_regression.py (if configured)
  synthesis           tools/train_embedding.py (synthesis maps),
                      tools/train_synthesis.py, tools/export_synthesis.py,
                      tools/synthesize.py turntables (if configured)
  embeddings          tools/save_embeddings.py of the test split
  relative pose       tools/correlate.py per [protocol, mode];
                      tools/evaluate_regression.py per protocol
  report              <work>/experiment.json, then tools/make_report.py
The resolved config is kept as <work>/config.json: a rerun with the same
settings resumes, one with other settings is refused (use another
--work_dir), so the results of one directory come from one config.  Before
that, each tool parses the flags the config gives it (`run`).
"""

import dataclasses
import json
import os

from sph_embed.common import files
from sph_embed.common import stages as stages_lib
from sph_embed.experiments import config as config_lib

CONFIG_FILE = "config.json"
# The tools whose flags come from the config's sections (checked first).
CONFIGURED_TOOLS = ("build_dataset.py", "train_teacher.py",
                    "train_embedding.py", "train_regression.py",
                    "train_synthesis.py")
EXPERIMENT_FILE = "experiment.json"  # Read by sph_embed.report.html_report.


class RunError(ValueError):
  """The experiment cannot run as asked; the message names the flag."""


@dataclasses.dataclass(frozen=True)
class Inputs:
  """Where the experiment's meshes are, and where its results go.

  Attributes:
    work_dir: results directory.
    data: the experiment's source (a ModelNet40 / ShapeNet root or a list
      file, as tools/build_dataset.py --input).
    teacher_data: ModelNet40 root for training the teacher (default: `data`
      when the experiment's source is ModelNet).
    hub_module: a trained teacher module to use instead of the config's.
  """
  work_dir: str
  data: str
  teacher_data: str | None = None
  hub_module: str | None = None


def _resolve(path):
  """A path as given, else relative to the repository (shipped modules)."""
  if os.path.isabs(path) or os.path.exists(path):
    return os.path.abspath(path)
  return os.path.join(stages_lib.REPO, path)


def _tool(name, section, **runner_flags):
  """tools/<name> with the config section's flags and the runner's."""
  return stages_lib.tool_command(name, **{**section, **runner_flags})


def _teacher_stages(config, inputs, work):
  """(hub_module, stages) of the teacher."""
  teacher = config["teacher"]
  if inputs.hub_module:
    return _resolve(inputs.hub_module), []
  if "hub_module" in teacher:
    return _resolve(teacher["hub_module"]), []
  teacher_data = inputs.teacher_data
  if not teacher_data and config["data"].get("source") == "modelnet":
    teacher_data = inputs.data
  if not teacher_data:
    raise RunError(f"experiment {config['name']}: its teacher is trained on"
                   " ModelNet40: pass --teacher_data=<ModelNet40 root>, or"
                   " --hub_module=<a trained teacher module>")
  data_dir = os.path.join(work, "teacher_data")
  model_dir = os.path.join(work, "teacher")
  module = os.path.join(work, "teacher_module")
  return module, [
      ("teacher dataset", _tool("build_dataset.py", teacher["data"],
                                output_dir=data_dir,
                                input=os.path.abspath(teacher_data)), False),
      ("teacher", _tool("train_teacher.py", teacher["train"],
                        data_dir=data_dir, model_dir=model_dir), True),
      ("teacher export", stages_lib.tool_command(
          "export_teacher.py", model_dir=model_dir, export_dir=module,
          description=f"Spherical CNN teacher of experiment"
          f" {config['name']}, trained on {teacher_data}."), False)]


def _synthesis_stages(config, work, data_dir, hub_module):
  synthesis = config["synthesis"]
  embedding_dir = os.path.join(work, "embedding_synthesis")
  network_dir = os.path.join(work, "synthesis_network")
  module = os.path.join(work, "synthesis_module")
  network_flags = {}
  if synthesis["network"].get("embedding_source") == "teacher":
    network_flags["hub_module"] = hub_module
  return [
      ("synthesis embedding", _tool(
          "train_embedding.py", synthesis["embedding"], data_dir=data_dir,
          model_dir=embedding_dir, hub_module=hub_module,
          output_key="synthesis"), True),
      ("synthesis network", _tool(
          "train_synthesis.py", synthesis["network"], data_dir=data_dir,
          model_dir=network_dir, embedding_model_dir=embedding_dir,
          **network_flags), True),
      ("synthesis export", stages_lib.tool_command(
          "export_synthesis.py", embedding_model_dir=embedding_dir,
          synthesis_model_dir=network_dir, data_dir=data_dir,
          export_dir=module, overwrite=True), False),
      ("synthesis turntables", stages_lib.tool_command(
          "synthesize.py", module=module, data_dir=data_dir, split="test",
          per_category=1, turntable=24, axis="y",
          output_dir=os.path.join(work, "synthesis"), overwrite=True), True)]


def _evaluation_stages(config, work, data_dir, embedding_dir, regression_dir):
  evaluation = config["evaluation"]
  # Only the symmetric categories the data holds (a config narrowed to some
  # categories keeps its symmetric list).
  built = config["data"].get("categories")
  symmetric = [c for c in evaluation.get("symmetric_categories", [])
               if built is None or c in built]
  common = dict(pairs=evaluation.get("pairs", 3),
                symmetric_categories=symmetric or None)
  embeddings = os.path.join(work, "embeddings_test.npz")
  stages = [("embeddings", stages_lib.tool_command(
      "save_embeddings.py", model_dir=embedding_dir, data_dir=data_dir,
      split="test", output=embeddings, overwrite=True), True)]
  for protocol, mode in evaluation["correlate"]:
    stages.append((f"relative pose {protocol.upper()} {mode}",
                   stages_lib.tool_command(
                       "correlate.py", embeddings=embeddings,
                       protocol=protocol, mode=mode,
                       upsample=evaluation.get("upsample", 4),
                       output=os.path.join(work,
                                           f"pose_{protocol}_{mode}.csv"),
                       overwrite=True, **common), True))
  for protocol in evaluation.get("regression", []):
    stages.append((f"relative pose {protocol.upper()} regression",
                   stages_lib.tool_command(
                       "evaluate_regression.py", model_dir=regression_dir,
                       data_dir=data_dir, split="test", protocol=protocol,
                       output=os.path.join(
                           work, f"pose_{protocol}_regression.csv"),
                       overwrite=True, **common), True))
  return stages


def plan(config, inputs):
  """[(name, command, summarised)] of the experiment, in order.

  Raises:
    RunError naming the flag when an input is missing.
  """
  work = os.path.abspath(inputs.work_dir)
  data_dir = os.path.join(work, "data")
  stages = [("dataset", _tool("build_dataset.py", config["data"],
                              output_dir=data_dir,
                              input=os.path.abspath(inputs.data)), False)]
  hub_module, teacher_stages = _teacher_stages(config, inputs, work)
  stages += teacher_stages
  embedding_dir = os.path.join(work, "embedding")
  stages.append(("embedding", _tool(
      "train_embedding.py", config["embedding"], data_dir=data_dir,
      model_dir=embedding_dir, hub_module=hub_module, output_key="pose"),
                 True))
  regression_dir = os.path.join(work, "regression")
  if config.get("regression") is not None:
    stages.append(("regression", _tool(
        "train_regression.py", config["regression"], data_dir=data_dir,
        model_dir=regression_dir), True))
  if config.get("synthesis") is not None:
    stages += _synthesis_stages(config, work, data_dir, hub_module)
  stages += _evaluation_stages(config, work, data_dir, embedding_dir,
                               regression_dir)
  stages.append(("report", stages_lib.tool_command(
      "make_report.py", work_dir=work, overwrite=True), False))
  return stages


def prepare_work_dir(config, inputs):
  """Creates work_dir with config.json and experiment.json; checks a rerun.

  Raises:
    RunError naming --work_dir when it holds another config's results.
  """
  work = os.path.abspath(inputs.work_dir)
  if os.path.exists(work) and not os.path.isdir(work):
    raise RunError(f"--work_dir={inputs.work_dir}: not a directory")
  record = {"config": config, "data": os.path.abspath(inputs.data),
            "teacher_data": inputs.teacher_data and os.path.abspath(
                inputs.teacher_data),
            "hub_module": inputs.hub_module and _resolve(inputs.hub_module)}
  path = os.path.join(work, CONFIG_FILE)
  if os.path.isfile(path):
    try:
      previous = files.read_json_object(path)
    except ValueError as e:
      raise RunError(f"--work_dir={inputs.work_dir}: {e}") from None
    if previous != record:
      raise RunError(
          f"--work_dir={inputs.work_dir}: holds a run of other settings"
          f" ({path}); use another --work_dir, or delete it to start over")
  elif os.path.isdir(work) and os.listdir(work):
    raise RunError(f"--work_dir={inputs.work_dir}: not empty and not a run"
                   " of tools/reproduce.py; use a new directory")
  os.makedirs(work, exist_ok=True)
  files.write_json_atomic(path, record)
  if config["paper"]:
    files.write_json_atomic(os.path.join(work, EXPERIMENT_FILE),
                            {"name": config["name"],
                             "paper": config["paper"]})
  return work


def run(config, inputs):
  """Runs every stage; returns the results summary path (results.md).

  The flags the config gives each tool are parsed by that tool before any
  stage runs and before <work_dir>/config.json is written: a misspelt key
  or a value of the wrong type (--set=embedding.max_steps=abc) stops here.
  """
  stages = plan(config, inputs)
  stages_lib.check_flags(stages, CONFIGURED_TOOLS)
  work = prepare_work_dir(config, inputs)
  summary = os.path.join(work, "results.md")
  with files.atomic_write(summary) as f:
    f.write(f"# {config['name']}\n\n{config['description']}\n\n"
            f"Config: {os.path.join(work, CONFIG_FILE)}\n\n")
    f.write("    " + json.dumps(config, sort_keys=True) + "\n\n")
  stages_lib.run_all(stages, summary)
  return summary


def describe(name):
  """Lines of `tools/reproduce.py --list` for the shipped config `name`."""
  config = config_lib.load(name)
  data = config["data"]
  return ([f"{name}: {config['description']}",
           f"    data: --source={data.get('source')} dof"
           f" {data.get('dof', 3)}, categories"
           f" {','.join(data.get('categories', [])) or 'all'}",
           "    the paper's medians (deg):"]
          + config_lib.paper_summary(config))
