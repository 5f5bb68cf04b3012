"""pytest set-up shared by all tests: quiet TF logs, headless rendering."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
