"""Sphere math: the Driscoll-Healy grid, rotations, spherical harmonic
transforms (NumPy reference `sht_numpy`, TensorFlow `sht_tf`) and the
spherical Keras layers and pooling built on them.

Lowest layer: imports nothing else from sph_embed.  `dh_grid`, `rotations`
and `sht_numpy` are NumPy only; `sht_tf`, `layers` and `centered_pooling`
import TensorFlow.
"""
