"""Baselines the paper compares against (appendix B).

regression: pose regression to the canonical rotation (B.1, Mahendran et
  al. 2017), TensorFlow;
relative_pose: relative poses from its per-view predictions for the IB/CB
  evaluation of sph_embed.pose.evaluation, NumPy only.
"""
