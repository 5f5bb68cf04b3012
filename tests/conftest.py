"""pytest set-up shared by all tests: quiet TF logs, headless rendering."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")


def pytest_collection_modifyitems(config, items):
  """Drops tf.test.TestCase.test_session, a helper pytest takes for a test.

  It would show as one skip per test class and hide real skips (a missing
  real sample mesh, say).
  """
  del config  # Unused.
  items[:] = [item for item in items if item.name != "test_session"]
