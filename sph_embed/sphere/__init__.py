"""Sphere math: the Driscoll-Healy grid, rotations, spherical harmonic
transforms (NumPy reference `sht_numpy`, TensorFlow `sht_tf`), the
spherical Keras layers and pooling built on them, and SO(3) Fourier
machinery (`so3`: Wigner-D layout and the Euler grid; `so3_layers`: the
Image2Sphere convolutions).

Lowest layer: imports nothing else from sph_embed.  `dh_grid`, `rotations`,
`sht_numpy` and `so3` are NumPy only; `sht_tf`, `layers`,
`centered_pooling` and `so3_layers` import TensorFlow.
"""
