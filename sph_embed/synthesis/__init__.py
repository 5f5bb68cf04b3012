"""Novel view synthesis (paper §3.2.4, appendix A.3): the synthesis network
(spherical embedding -> image), exact rotation of embeddings, and the
PSNR/SSIM metrics with their controls.

`rotate` is NumPy only; `model`, `metrics`, `training` and `export` (the
shipped module: both networks in one SavedModel) import TensorFlow.
"""
