"""Baselines the paper compares against (appendix B).

regression: pose regression to the canonical rotation (B.1, Mahendran et
  al. 2017), TensorFlow.  Relative poses from its per-view predictions are
  scored by sph_embed.pose.relative_from_absolute (NumPy, in the pose layer).
"""
