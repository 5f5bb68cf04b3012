"""pytest set-up shared by all tests: quiet TF logs, headless rendering."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")


def _runs_long(item):
  """Whether the item's file says it runs for minutes (RUNS_LONG = True)."""
  return bool(getattr(getattr(item, "module", None), "RUNS_LONG", False))


def pytest_collection_modifyitems(config, items):
  """Drops tf.test.TestCase.test_session and puts the long files first.

  test_session is a helper pytest takes for a test: it would show as one
  skip per test class and hide real skips (a missing real sample mesh,
  say).  The files marked RUNS_LONG (minutes of tool subprocesses) go
  first, in their order: with `-n 2 --dist loadfile --no-loadscope-reorder`
  (tools/bootstrap.sh) the two processes start on them and the short files
  fill in behind, where xdist's own order (most tests first) started them
  last and left one process idle at the end.
  """
  del config  # Unused.
  items[:] = [item for item in items if item.name != "test_session"]
  items.sort(key=lambda item: not _runs_long(item))
