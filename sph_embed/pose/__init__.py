"""Relative pose from embeddings: the `.npz` embeddings schema, the SO(3)
correlation and the instance/category-based evaluation.

NumPy, SciPy and pyshtools only: nothing here imports TensorFlow (a test
checks it), so `tools/correlate.py` runs without it.
"""
