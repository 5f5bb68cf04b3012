"""Baselines the paper compares against (appendix B).

regression: pose regression to the canonical rotation (B.1, Mahendran et
  al. 2017), TensorFlow.  Relative poses from its per-view predictions are
  scored by sph_embed.pose.relative_from_absolute (NumPy, in the pose layer).
image2sphere: Image2Sphere (Klee et al. 2023), a single-image distribution
  over SO(3) trained with pose labels (the comparison of issue 17).
"""
