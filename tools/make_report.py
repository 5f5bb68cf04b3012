"""Writes the HTML + Markdown report of a pipeline run.

Reads <work_dir> as tools/pipeline.py leaves it (pose_*.csv tables,
embeddings_test.npz, data/, TensorBoard events, distributions/,
synthesis/) and writes <work_dir>/report/index.html and report.md, with
the figures beside them, so the page opens from disk
(sph_embed.report.html_report says which sections appear when).

  python3 tools/make_report.py --work_dir=runs/pipeline [--overwrite]
"""

from absl import flags

from sph_embed.common import cli
from sph_embed.common import outputs
from sph_embed.report import html_report

_WORK_DIR = flags.DEFINE_string(
    "work_dir", None, "Run directory of tools/pipeline.py.", required=True)
_OVERWRITE = outputs.define_overwrite_flag("an existing <work_dir>/report/")
flags.adopt_module_key_flags(outputs)  # Listed by --help.


def main(argv):
  if len(argv) > 1:
    raise cli.ToolError(f"unexpected arguments: {argv[1:]}")
  report_dir = html_report.write_report(_WORK_DIR.value, _OVERWRITE.value)
  print(f"wrote {report_dir}/index.html and {report_dir}/report.md")


if __name__ == "__main__":
  cli.run(main)
