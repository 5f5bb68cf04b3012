"""The JSON spec every trainer writes into its model directory.

The spec records what was trained from what (widths, data, teacher); a
resumed run must match the keys that define the model.
"""

import json
import os

from sph_embed.common import files
from sph_embed.common import outputs


def read_run_spec(path, version, hint, required_keys=()):
  """The JSON spec of a training run (what was trained, from what).

  Args:
    path: the spec file.
    version: the spec version this code reads.
    hint: what to do when the file is missing (ends the error message).
    required_keys: keys the spec must have (those that define the model).

  Raises:
    ValueError naming the file: missing, unreadable, another version, or
    missing required keys.
  """
  spec = files.read_json_object(path, missing_hint=hint)
  if spec.get("version") != version:
    raise ValueError(f"{path}: not a version-{version} run spec")
  missing = [k for k in required_keys if k not in spec]
  if missing:
    raise ValueError(f"{path}: missing keys {missing}")
  return spec


def write_or_check_run_spec(path, spec, keys):
  """Writes the spec of a new run, or checks that of the run being resumed.

  Args:
    path: the spec file in the model directory.
    spec: this run's spec (JSON-serialisable, with a "version").
    keys: the keys that define the model: a resume must match them (a
      key absent from both specs matches).

  Returns:
    The resumed run's spec, or None for a new run.

  Raises:
    ValueError naming the file and the keys that differ.
  """
  spec = json.loads(json.dumps(spec))  # Tuples become lists, as when read.
  outputs.check_output_dir(os.path.dirname(path) or ".", "model_dir")
  if not os.path.exists(path):
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    files.write_json_atomic(path, spec)
    return None
  previous = read_run_spec(path, spec["version"], "")
  changed = [k for k in keys if previous.get(k) != spec.get(k)]
  if changed:
    raise ValueError(
        f"{path}: the run in {os.path.dirname(path)} has a different"
        f" {', '.join(changed)} (was {[previous.get(k) for k in changed]},"
        f" now {[spec.get(k) for k in changed]}); use another --model_dir or"
        " the same settings to resume")
  return previous


def read_model_spec(model_dir, file_name, version, tool, required_keys=()):
  """The spec `file_name` of a trainer's model directory, checked.

  Args:
    model_dir: the run's directory.
    file_name: its spec file (e.g. embedding_model.json).
    version, required_keys: as `read_run_spec`.
    tool: the trainer that writes such directories (named in the error).
  """
  return read_run_spec(
      os.path.join(model_dir, file_name), version,
      f"{model_dir} is not a model directory written by {tool}",
      required_keys)
