"""The report's page: sections held as HTML and Markdown, and the text of
index.html and report.md made from them."""

import dataclasses
import html

REPORT_DIR = "report"  # <work_dir>/report/index.html


@dataclasses.dataclass(frozen=True)
class Inputs:
  """What a section builder reads and where it writes its figures."""
  work_dir: str        # absolute
  staging: str         # the report directory being written
  results: list        # pose_csvs.PoseResults of every pose CSV, in order
  experiment: dict     # the run's experiment.json, or None
  notes: list          # str: what is not shown and why (builders add)


@dataclasses.dataclass
class Section:
  """One <h2> section: its HTML and its Markdown, part by part."""
  title: str
  html: list = dataclasses.field(default_factory=list)
  markdown: list = dataclasses.field(default_factory=list)

  def text(self, text):
    self.html.append(f"<p>{html.escape(text)}</p>")
    self.markdown.append(text)

  def table(self, header, rows):
    self.html.append(_html_table(header, rows))
    self.markdown.append(_markdown_table(header, rows))

  def image(self, name, alt):
    self.html.append(f'<img src="{html.escape(name)}" alt="{html.escape(alt)}">')
    self.markdown.append(f"![{alt}]({name})")


def _markdown_table(header, rows):
  lines = ["| " + " | ".join(header) + " |",
           "|" + "|".join("---" for _ in header) + "|"]
  lines += ["| " + " | ".join(cells) + " |" for cells in rows]
  return "\n".join(lines)


def _html_table(header, rows):
  head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
  body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells)
                 + "</tr>\n" for cells in rows)
  return (f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}"
          "</tbody>\n</table>")


_CSS = """
body { font-family: sans-serif; max-width: 75em; margin: 1em auto;
       padding: 0 1em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1em; }
th, td { border: 1px solid #bbb; padding: 0.2em 0.6em; text-align: right; }
th { background: #eee; }
td:first-child, th:first-child { text-align: left; }
img { max-width: 100%; display: block; margin: 0.5em 0 1.5em; }
.result { display: flex; flex-wrap: wrap; gap: 2em; align-items: flex-start; }
h2 { border-bottom: 2px solid #ccc; margin-top: 1.5em; }
"""


def render_html(title, intro, sections):
  """index.html: `title`, the `intro` paragraphs, then the sections."""
  body = [f"<h1>{html.escape(title)}</h1>"]
  body += [f"<p>{html.escape(line)}</p>" for line in intro]
  for section in sections:
    body.append(f"<h2>{html.escape(section.title)}</h2>")
    body += section.html
  return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">"
          f"\n<title>{html.escape(title)}</title>\n<style>{_CSS}</style>\n"
          "</head>\n<body>\n" + "\n".join(body) + "\n</body>\n</html>\n")


def render_markdown(title, intro, sections):
  """report.md: the same as render_html, in Markdown."""
  parts = [f"# {title}", *intro]
  for section in sections:
    parts.append(f"## {section.title}")
    parts += section.markdown
  return "\n\n".join(parts) + "\n"
