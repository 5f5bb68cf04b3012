"""Runs the repository's own tools in order, as a user would.

The orchestrators (tools/pipeline.py, tools/reproduce.py) build each stage
as a command line of a tool in tools/ (`tool_command`) and run it as a
subprocess (`run_stage`), so that each stage is exactly what a user would
type, resumes as that tool resumes, and no TensorFlow is imported here.
"""

import os
import shlex
import subprocess
import sys
import time

from absl import logging

from sph_embed.common import cli

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


def tool_command(name, **flag_values):
  """Command line of tools/<name> with --flag=value arguments.

  Booleans become --flag / --noflag, lists comma-joined values; None values
  are left out (the tool's default).
  """
  args = [sys.executable, os.path.join(REPO, "tools", name)]
  for key, value in flag_values.items():
    if value is None:
      continue
    if isinstance(value, bool):
      args.append(f"--{key}" if value else f"--no{key}")
    elif isinstance(value, (list, tuple)):
      args.append(f"--{key}={','.join(str(v) for v in value)}")
    else:
      args.append(f"--{key}={value}")
  return args


def run_stage(step, args, summary=None, progress=""):
  """Runs one step (logged as "[<progress> step]"); stops if it fails.

  The step's log and progress bars (stderr) stream to the terminal; its
  stdout (the tools print their results there) is echoed and, with
  `summary`, appended to that file under the step's name and command.

  Raises:
    cli.ToolError naming the step and its command when it fails.
  """
  label = f"{progress} {step}".strip()
  logging.info("[%s] %s", label, " ".join(args))
  start = time.monotonic()
  result = subprocess.run(args, cwd=REPO, check=False, stdout=subprocess.PIPE,
                          text=True)
  print(result.stdout, end="", flush=True)
  if result.returncode:
    raise cli.ToolError(f"step '{step}' failed (exit code"
                        f" {result.returncode}; its error is above):"
                        f" {shlex.join(args)}")
  seconds = time.monotonic() - start
  logging.info("[%s] done in %.0f s", label, seconds)
  if summary:
    with open(summary, "a", encoding="utf-8") as f:
      f.write(f"## {step} ({seconds:.0f} s)\n\n    {shlex.join(args)}\n\n")
      f.write("".join(f"    {line}\n" for line in result.stdout.splitlines()))
      f.write("\n")
  return seconds


_FLAG_ERROR = "FATAL Flags parsing error: "   # absl's prefix.


def check_flags(stages, tools):
  """Parses the flags of every stage that runs one of `tools`, up front.

  Each such command runs at once with absl's --only_check_args (the tool
  parses its flags and exits), so that an unknown flag or a value of the
  wrong type stops the run in seconds, not after the stages before it.

  Args:
    stages: [(name, command, summarised)] as `run_all` takes them.
    tools: file names in tools/, e.g. ("train_embedding.py",).

  Raises:
    cli.ToolError naming each failing stage, its tool and absl's message.
  """
  running = [
      (name, args, subprocess.Popen(
          args + ["--only_check_args"], cwd=REPO, stdout=subprocess.DEVNULL,
          stderr=subprocess.PIPE, text=True))
      for name, args, _ in stages if os.path.basename(args[1]) in tools]
  failures = []
  for name, args, process in running:
    _, stderr = process.communicate()
    if process.returncode:
      lines = stderr.strip().splitlines() or ["(no message)"]
      message = next((line[len(_FLAG_ERROR):] for line in lines
                      if line.startswith(_FLAG_ERROR)), lines[-1])
      failures.append(f"stage '{name}' ({os.path.basename(args[1])}):"
                      f" {message}")
  if failures:
    raise cli.ToolError("; ".join(failures))


def run_all(stages, summary):
  """Runs [(name, command, summarised)] in order, numbered k/N."""
  for number, (name, args, summarised) in enumerate(stages, 1):
    run_stage(name, args, summary if summarised else None,
              f"{number}/{len(stages)}")
