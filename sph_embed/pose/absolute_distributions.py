"""Scores of per-view pose distributions on the Euler grid (NumPy, no TF).

A model of absolute pose with a distribution (the Image2Sphere baseline,
sph_embed.baselines.image2sphere.predict) gives each view the probability
mass of every point of the Euler grid of size M, in the order of
`distributions.grid_rotations(M)`.  Its log-likelihood is scored in the
Implicit-PDF / Image2Sphere convention of `distributions`: the density of
the cell nearest the true rotation (`distributions.nearest_cell`),
mass / v_cell with v the cell's Haar share (`distributions.beta_weights`),
relative to a uniform density of volume pi^2 (uniform: -2.29).  Relative
poses from the argmax rotations are scored by
`relative_from_absolute.evaluate`.
"""

import numpy as np

from sph_embed.pose import distributions


def log_likelihoods(probabilities, true_rotations, grid_size):
  """The log-likelihood of each view's true rotation: [N].

  Args:
    probabilities: [N, G] masses on the Euler grid (sum 1 per view),
      G = M^2 (M/2 + 1).
    true_rotations: [N, 3, 3].
    grid_size: M.

  A mass that underflowed to 0 counts as the smallest normal float32 (the
  score is then about -90 or less, not -inf).
  """
  probabilities = np.asarray(probabilities)
  shape = distributions.grid_rotations(grid_size).shape[:3]
  if probabilities.ndim != 2 or probabilities.shape[1] != np.prod(shape):
    raise ValueError(f"probabilities: expected [N, {np.prod(shape)}] for an"
                     f" Euler grid of size {grid_size}, got shape"
                     f" {probabilities.shape}")
  true_rotations = np.asarray(true_rotations, np.float64)
  if true_rotations.shape != (len(probabilities), 3, 3):
    raise ValueError(f"true_rotations: expected [{len(probabilities)}, 3, 3],"
                     f" got shape {true_rotations.shape}")
  alpha, beta, gamma = distributions.nearest_cell(true_rotations, grid_size)
  cell = np.ravel_multi_index((alpha, beta, gamma), shape)
  mass = probabilities[np.arange(len(probabilities)), cell].astype(np.float64)
  mass = np.maximum(mass, np.finfo(np.float32).tiny)
  return distributions.log_likelihood(
      np.log(mass) - np.log(distributions.beta_weights(grid_size)[beta]))
