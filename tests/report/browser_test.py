"""The report as a browser shows it: headless Chromium (Debian `chromium`,
apt-packages.txt) renders <work_dir>/report/index.html of a small hand-made
run; the test reads the DOM after loading and a screenshot."""

import html.parser
import os
import shutil
import subprocess

import numpy as np
from PIL import Image
import tensorflow as tf

from sph_embed.report import html_report
from tests import mesh_test_util
from tests.report import report_fixture

_CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# Copies each image's naturalWidth (0 for a broken image) into the DOM that
# --dump-dom prints, once everything has loaded.
_PROBE = ('<script>window.addEventListener("load", () => {'
          ' for (const img of document.images)'
          ' img.setAttribute("data-natural-width", img.naturalWidth); });'
          "</script>")


def _chromium(*args):
  """Runs headless Chromium; returns its stdout."""
  done = subprocess.run(
      [_CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
       "--hide-scrollbars", "--virtual-time-budget=10000", *args],
      capture_output=True, text=True, timeout=180, check=False)
  if done.returncode:
    raise AssertionError(f"chromium failed ({done.returncode}):"
                         f" {done.stderr[-2000:]}")
  return done.stdout


class _Dom(html.parser.HTMLParser):
  """The images, tables (cell texts) and section titles of a page."""

  def __init__(self):
    super().__init__()
    self.images, self.tables, self.titles = [], [], []
    self._cell = self._title = None

  def handle_starttag(self, tag, attrs):
    if tag == "img":
      self.images.append(dict(attrs))
    elif tag == "table":
      self.tables.append([])
    elif tag == "tr":
      self.tables[-1].append([])
    elif tag in ("td", "th"):
      self._cell = ""
    elif tag == "h2":
      self._title = ""

  def handle_endtag(self, tag):
    if tag in ("td", "th"):
      self.tables[-1][-1].append(self._cell.strip())
      self._cell = None
    elif tag == "h2":
      self.titles.append(self._title.strip())
      self._title = None

  def handle_data(self, data):
    if self._cell is not None:
      self._cell += data
    if self._title is not None:
      self._title += data


class BrowserTest(tf.test.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    if _CHROMIUM is None:
      raise AssertionError("chromium is not installed: `apt-get install"
                           " chromium` (apt-packages.txt; bash"
                           " tools/bootstrap.sh test installs it)")
    root = mesh_test_util.class_temp_dir(cls)
    work = report_fixture.make_work_dir(os.path.join(root, "run"))
    cls.report = html_report.write_report(work)
    with open(os.path.join(cls.report, "index.html"), encoding="utf-8") as f:
      page = f.read()
    probe = os.path.join(cls.report, "probe.html")
    with open(probe, "w", encoding="utf-8") as f:
      f.write(page.replace("</body>", _PROBE + "</body>"))
    cls.dom = _Dom()
    cls.dom.feed(_chromium("--dump-dom", f"file://{probe}"))
    cls.screenshot = os.path.join(root, "screenshot.png")
    _chromium(f"--screenshot={cls.screenshot}", "--window-size=1200,1600",
              f"file://{os.path.join(cls.report, 'index.html')}")

  def test_every_image_loads(self):
    self.assertGreaterEqual(len(self.dom.images), 10)
    for image in self.dom.images:
      source = image.get("src")
      self.assertTrue(source, msg=image)
      if not source.startswith("data:image/"):
        self.assertTrue(os.path.isfile(os.path.join(self.report, source)),
                        msg=source)
      self.assertGreater(int(image.get("data-natural-width", 0)), 0,
                         msg=f"{source} did not load")

  def test_tables_are_full_and_finite(self):
    # Overview + one per CSV, for relative and for absolute poses.
    self.assertLen(self.dom.tables, 1 + 4 + 1 + 2)
    for table in self.dom.tables:
      header, *rows = table
      self.assertEqual(report_fixture.table_problems(header, rows), [])

  def test_sections(self):
    self.assertEqual(self.dom.titles, [
        "Relative pose: overview",
        "Relative pose per category (paper-style tables)",
        "Absolute pose (networks trained with pose labels)",
        "Alignment examples (as the paper's Fig. 4)",
        "Correlation grid slices", "Training curves", "Pose distributions",
        "Image2Sphere: distributions of single views", "Synthesized views",
        "Not shown"])

  def test_screenshot_is_not_blank(self):
    with Image.open(self.screenshot) as image:
      self.assertEqual(image.size, (1200, 1600))
      pixels = np.asarray(image.convert("L"), dtype=np.float64)
    self.assertGreater(pixels.std(), 20.0)
    # Dark pixels (text, table rules, plots) are a real share of the page.
    self.assertGreater(np.mean(pixels < 128), 0.02)


if __name__ == "__main__":
  tf.test.main()
