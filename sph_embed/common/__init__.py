"""Plumbing shared by every layer and tool: atomic file writing, output-path
checks, the tools' exit convention.  NumPy and the standard library only (no
TensorFlow), so the pose layer and tools/correlate.py can use it.
"""
