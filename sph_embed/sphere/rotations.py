"""Rotation matrices, ZYZ Euler angles, sampling and geodesic errors (NumPy).

Conventions (DESIGN §1): 3 x 3 matrices act on column vectors; rotating a
mesh by R maps each vertex v to R v; ZYZ Euler angles give
R(alpha, beta, gamma) = Rz(alpha) Ry(beta) Rz(gamma), which is scipy's
intrinsic 'ZYZ'.  The relative pose of views in poses R1, R2 is
R_rel = R2 R1^T.

The camera (see sph_embed.data.render) sits on the +z axis looking at the
origin, so an in-plane roll of the image is a left-multiplied Rz.  2DOF
poses therefore have no left Rz factor: R = Ry(beta) Rz(gamma), with the
viewing direction R^T z uniform on the sphere.
"""

import warnings

import numpy as np
from scipy.spatial import transform


def matrix_from_zyz(alpha, beta, gamma):
  """R = Rz(alpha) Ry(beta) Rz(gamma); angles broadcast, result [..., 3, 3]."""
  angles = np.stack(np.broadcast_arrays(alpha, beta, gamma), axis=-1)
  flat = transform.Rotation.from_euler("ZYZ", angles.reshape(-1, 3))
  return flat.as_matrix().reshape(angles.shape[:-1] + (3, 3))


def rotation_x(angle):
  """Rotation by `angle` (radians) about the x axis, [3, 3]."""
  return transform.Rotation.from_euler("x", angle).as_matrix()


def zyz_from_matrix(rotations):
  """ZYZ angles (alpha, beta, gamma) of rotation matrices [..., 3, 3]."""
  rotations = np.asarray(rotations, dtype=np.float64)
  flat = transform.Rotation.from_matrix(rotations.reshape(-1, 3, 3))
  with warnings.catch_warnings():
    # At beta = 0 or pi only alpha + gamma (resp. alpha - gamma) is defined;
    # scipy then sets gamma = 0, which still reproduces the matrix.
    warnings.filterwarnings("ignore", message="Gimbal lock detected")
    angles = flat.as_euler("ZYZ").reshape(rotations.shape[:-2] + (3,))
  return angles[..., 0], angles[..., 1], angles[..., 2]


def random_rotations(count, dof=3, seed=None):
  """Samples `count` rotation matrices [count, 3, 3] (float64).

  Args:
    count: number of rotations.
    dof: 3 for uniform (Haar) rotations on SO(3); 2 for a uniform viewing
      direction with no in-plane roll, R = Ry(beta) Rz(gamma).
    seed: int, None or np.random.Generator.
  """
  rng = np.random.default_rng(seed)
  if dof == 3:
    return transform.Rotation.random(count, random_state=rng).as_matrix()
  if dof == 2:
    beta = np.arccos(rng.uniform(-1.0, 1.0, count))
    gamma = rng.uniform(0.0, 2 * np.pi, count)
    return matrix_from_zyz(np.zeros(count), beta, gamma)
  raise ValueError(f"dof must be 2 or 3, got {dof!r}")


def geodesic_degrees(r_a, r_b):
  """Angle in degrees of r_a^T r_b (batched over leading axes)."""
  r_a = np.asarray(r_a, dtype=np.float64)
  r_b = np.asarray(r_b, dtype=np.float64)
  trace = np.einsum("...ij,...ij->...", r_a, r_b)
  return np.degrees(np.arccos(np.clip((trace - 1.0) / 2.0, -1.0, 1.0)))


def relative_rotation(r1, r2):
  """R_rel = R2 R1^T, so that R2 = R_rel R1."""
  return np.asarray(r2) @ np.swapaxes(np.asarray(r1), -1, -2)


def validate_rotations(rotations, what="rotations", atol=1e-4):
  """Raises ValueError unless `rotations` [..., 3, 3] are proper rotations."""
  rotations = np.asarray(rotations, dtype=np.float64)
  if rotations.ndim < 2 or rotations.shape[-2:] != (3, 3):
    raise ValueError(f"{what}: expected shape [..., 3, 3], got"
                     f" {rotations.shape}")
  if not np.all(np.isfinite(rotations)):
    raise ValueError(f"{what}: contains NaN or infinite values")
  eye = np.einsum("...ji,...jk->...ik", rotations, rotations)
  if (np.abs(eye - np.eye(3)).max() > atol
      or np.abs(np.linalg.det(rotations) - 1).max() > atol):
    raise ValueError(f"{what}: not orthonormal with determinant +1"
                     f" (tolerance {atol})")
  return rotations
