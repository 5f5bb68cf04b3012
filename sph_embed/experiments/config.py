"""Experiment configs: plain JSON files, overridable key by key.

A config (configs/<name>.json, or any file a user copies and edits) holds:

  name, description   what it is
  paper               the paper_results key whose numbers it reproduces
                      (sph_embed/report/paper_results.py), or null
  data                tools/build_dataset.py flags of the experiment's data
                      (the runner adds --output_dir and --input)
  teacher             {"hub_module": path} to use a trained teacher, or
                      {"data": build_dataset flags, "train":
                      tools/train_teacher.py flags} to train one on
                      --teacher_data (the paper: ModelNet40, all classes)
  embedding           tools/train_embedding.py flags (pose maps)
  regression          tools/train_regression.py flags, or null
  synthesis           {"embedding": train_embedding flags, "network":
                      train_synthesis flags} (view synthesis), or null
  evaluation          pairs, upsample, symmetric_categories, correlate
                      ([protocol, mode] pairs for tools/correlate.py),
                      regression (protocols for tools/evaluate_regression.py)

Each network section is passed to its tool as --flag=value, so any flag of
that tool may be set (e.g. "jit_compile": true on a GPU); the flags the
runner sets itself (paths between stages) are refused here.  Overrides use
dotted keys and JSON values: `embedding.max_steps=100`,
`data.categories=["chair","car"]`, `synthesis=null`.
"""

import copy
import glob
import json
import os

from sph_embed.report import paper_results

CONFIG_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                          "configs")
SECTIONS = ("name", "description", "paper", "data", "teacher", "embedding",
            "regression", "synthesis", "evaluation")
_OPTIONAL = ("regression", "synthesis")
# Flags of each tool that the runner sets (paths from stage to stage).
RUNNER_FLAGS = {
    "data": ("output_dir", "input", "overwrite"),
    "teacher.data": ("output_dir", "input", "overwrite"),
    "teacher.train": ("data_dir", "model_dir"),
    "embedding": ("data_dir", "model_dir", "hub_module", "output_key"),
    "regression": ("data_dir", "model_dir"),
    "synthesis.embedding": ("data_dir", "model_dir", "hub_module",
                            "output_key"),
    "synthesis.network": ("data_dir", "model_dir", "embedding_model_dir"),
}
EVALUATION_KEYS = ("pairs", "upsample", "symmetric_categories", "correlate",
                   "regression")
PROTOCOLS = ("ib", "cb")
MODES = ("image", "mesh", "teacher")


class ConfigError(ValueError):
  """A config file or an override is malformed; the message names it."""


def available():
  """{name: path} of the shipped configs."""
  return {os.path.splitext(os.path.basename(p))[0]: p
          for p in sorted(glob.glob(os.path.join(CONFIG_DIR, "*.json")))}


def config_path(name_or_path):
  """A shipped config's path by name, or an existing file's path."""
  shipped = available()
  if name_or_path in shipped:
    return shipped[name_or_path]
  if os.path.isfile(name_or_path):
    return name_or_path
  raise ConfigError(f"--experiment={name_or_path}: neither a shipped"
                    f" experiment ({', '.join(shipped)}) nor a config file")


def load(name_or_path, overrides=()):
  """The validated config, with `overrides` ("a.b=JSON value") applied."""
  path = config_path(name_or_path)
  try:
    with open(path, encoding="utf-8") as f:
      config = json.load(f)
  except (OSError, ValueError) as e:
    raise ConfigError(f"{path}: cannot read as JSON ({e})") from None
  if not isinstance(config, dict):
    raise ConfigError(f"{path}: expected a JSON object")
  for override in overrides:
    apply_override(config, override)
  return validate(config, path)


def _parse_value(text):
  try:
    return json.loads(text)
  except ValueError:
    return text  # A bare string, e.g. paths: teacher.hub_module=/x/y.


def apply_override(config, override):
  """Sets config[a][b] = value for "a.b=value" (value as JSON, else text)."""
  key, sep, value = override.partition("=")
  parts = key.strip().split(".")
  if not sep or not all(parts):
    raise ConfigError(f"--set={override}: expected key.path=value")
  if parts[0] not in SECTIONS:
    raise ConfigError(f"--set={override}: unknown section {parts[0]!r};"
                      f" sections: {', '.join(SECTIONS)}")
  node = config
  for i, part in enumerate(parts[:-1]):
    child = node.get(part)
    if child is None:
      child = node[part] = {}
    if not isinstance(child, dict):
      raise ConfigError(f"--set={override}: {'.'.join(parts[:i + 1])} is"
                        f" not a section (it holds {child!r})")
    node = child
  node[parts[-1]] = _parse_value(value)


def _check_flags(where, section, path):
  if not isinstance(section, dict):
    raise ConfigError(f"{path}: '{where}' must be an object of tool flags,"
                      f" got {section!r}")
  for key, value in section.items():
    if key in RUNNER_FLAGS.get(where, ()):
      raise ConfigError(f"{path}: '{where}.{key}' is set by the runner;"
                        " remove it")
    if isinstance(value, (dict, type(None))):
      raise ConfigError(f"{path}: '{where}.{key}' must be a flag value"
                        f" (number, string, bool or list), got {value!r}")


def _check_pair(entry, path):
  if (not isinstance(entry, list) or len(entry) != 2
      or entry[0] not in PROTOCOLS or entry[1] not in MODES):
    raise ConfigError(f"{path}: evaluation.correlate entries must be"
                      f" [protocol in {PROTOCOLS}, mode in {MODES}], got"
                      f" {entry!r}")


def validate(config, path):
  """Raises ConfigError naming `path` and the key at fault; returns config."""
  config = copy.deepcopy(config)
  unknown = sorted(set(config) - set(SECTIONS))
  missing = [s for s in SECTIONS if s not in config and s not in _OPTIONAL]
  if unknown:
    raise ConfigError(f"{path}: unknown keys {unknown}; known:"
                      f" {', '.join(SECTIONS)}")
  if missing:
    raise ConfigError(f"{path}: missing keys {missing}")
  for key in ("name", "description"):
    if not isinstance(config[key], str) or not config[key]:
      raise ConfigError(f"{path}: '{key}' must be a non-empty string")
  paper = config["paper"]
  if paper is not None and paper not in paper_results.PAPER_RESULTS:
    raise ConfigError(f"{path}: 'paper' must be null or one of"
                      f" {', '.join(sorted(paper_results.PAPER_RESULTS))},"
                      f" got {paper!r}")
  _check_flags("data", config["data"], path)
  if str(config["data"].get("dof", 3)) not in ("2", "3"):
    raise ConfigError(f"{path}: 'data.dof' must be 2 or 3")
  teacher = config["teacher"]
  if not isinstance(teacher, dict) or (
      set(teacher) != {"hub_module"} and set(teacher) != {"data", "train"}):
    raise ConfigError(f"{path}: 'teacher' must be {{\"hub_module\": path}}"
                      " or {\"data\": {...}, \"train\": {...}}, got"
                      f" {teacher!r}")
  if "hub_module" in teacher:
    if not isinstance(teacher["hub_module"], str):
      raise ConfigError(f"{path}: 'teacher.hub_module' must be a path")
  else:
    _check_flags("teacher.data", teacher["data"], path)
    _check_flags("teacher.train", teacher["train"], path)
  _check_flags("embedding", config["embedding"], path)
  if config.get("regression") is not None:
    _check_flags("regression", config["regression"], path)
  synthesis = config.get("synthesis")
  if synthesis is not None:
    if not isinstance(synthesis, dict) or set(synthesis) != {"embedding",
                                                             "network"}:
      raise ConfigError(f"{path}: 'synthesis' must be null or"
                        " {\"embedding\": {...}, \"network\": {...}}")
    _check_flags("synthesis.embedding", synthesis["embedding"], path)
    _check_flags("synthesis.network", synthesis["network"], path)
  _validate_evaluation(config, path)
  return config


def _validate_evaluation(config, path):
  evaluation = config["evaluation"]
  if not isinstance(evaluation, dict):
    raise ConfigError(f"{path}: 'evaluation' must be an object")
  unknown = sorted(set(evaluation) - set(EVALUATION_KEYS))
  if unknown:
    raise ConfigError(f"{path}: unknown evaluation keys {unknown}; known:"
                      f" {', '.join(EVALUATION_KEYS)}")
  for key in ("pairs", "upsample"):
    value = evaluation.get(key, 1)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
      raise ConfigError(f"{path}: 'evaluation.{key}' must be a positive"
                        f" integer, got {value!r}")
  symmetric = evaluation.get("symmetric_categories", [])
  if not isinstance(symmetric, list) or not all(
      isinstance(c, str) for c in symmetric):
    raise ConfigError(f"{path}: 'evaluation.symmetric_categories' must be a"
                      " list of category names")
  correlate = evaluation.get("correlate", [])
  if not isinstance(correlate, list) or not correlate:
    raise ConfigError(f"{path}: 'evaluation.correlate' must be a non-empty"
                      " list of [protocol, mode]")
  for entry in correlate:
    _check_pair(entry, path)
  regression = evaluation.get("regression", [])
  if not isinstance(regression, list) or any(p not in PROTOCOLS
                                             for p in regression):
    raise ConfigError(f"{path}: 'evaluation.regression' must be a list of"
                      f" protocols in {PROTOCOLS}, got {regression!r}")
  if regression and config.get("regression") is None:
    raise ConfigError(f"{path}: 'evaluation.regression' needs a"
                      " 'regression' section (or set it to [])")


def paper_summary(config):
  """Lines of the paper's medians for `config` (tools/reproduce.py --list)."""
  tables = paper_results.PAPER_RESULTS.get(config["paper"] or "", {})
  if not tables:
    return ["    (no published numbers for this data)"]
  lines = []
  for (protocol, method), rows in tables.items():
    cells = ", ".join(f"{c} {v[0]:g}" for c, v in rows.items())
    lines.append(f"    {protocol.upper()} {method}: {cells}")
  return lines
