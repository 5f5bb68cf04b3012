"""Rotation matrices, ZYZ Euler angles, sampling and geodesic errors (NumPy).

Conventions (DESIGN §1): 3 x 3 matrices act on column vectors; rotating a
mesh by R maps each vertex v to R v; ZYZ Euler angles give
R(alpha, beta, gamma) = Rz(alpha) Ry(beta) Rz(gamma), which is scipy's
intrinsic 'ZYZ'.  The relative pose of views in poses R1, R2 is
R_rel = R2 R1^T.

The camera (see sph_embed.data.render) sits on the +z axis looking at the
origin, image right = +x, image up = +y, so an in-plane roll of the image is
a left-multiplied Rz and a world vector v appears in the image along
(v_x, v_y).  The viewing direction of a pose R, i.e. where the camera sits
in the object's frame, is R^T e_z.

2DOF poses (DESIGN §1, "Views"): the viewing direction is uniform on the
sphere, and the object is upright in the image with no roll: its canonical
up axis e_z (meshes enter the pipeline z up, see sph_embed.data.meshes)
appears along the image's +y axis, i.e. (R e_z)_x = 0 and (R e_z)_y >= 0.
For the viewing direction d = (sin t cos p, sin t sin p, cos t) that pose is
R = Rz(-pi/2) Ry(-t) Rz(-p) (`upright_rotations`); then R e_z =
(0, sin t, cos t).  Looking straight down or up (t = 0 or pi) the up axis
points at the camera and the roll is left at that formula's value.
"""

import warnings

import numpy as np
from scipy import stats
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
      direction with the object upright in the image (`upright_rotations`).
    seed: int, None or np.random.Generator.
  """
  rng = np.random.default_rng(seed)
  if dof == 3:
    return transform.Rotation.random(count, random_state=rng).as_matrix()
  if dof == 2:
    directions = stats.uniform_direction(3).rvs(count, random_state=rng)
    return upright_rotations(np.reshape(directions, (count, 3)))
  raise ValueError(f"dof must be 2 or 3, got {dof!r}")


def upright_rotations(view_directions):
  """2DOF poses seeing the object from `view_directions`, upright.

  Args:
    view_directions: [..., 3] unit vectors: where the camera sits in the
      object's canonical (z-up) frame.

  Returns:
    [..., 3, 3] rotations R with R^T e_z = direction and the up axis e_z
    seen along the image's +y axis: R = Rz(-pi/2) Ry(-t) Rz(-p) for the
    direction's colatitude t and longitude p (module docstring).
  """
  directions = np.asarray(view_directions, dtype=np.float64)
  colatitude = np.arccos(np.clip(directions[..., 2], -1.0, 1.0))
  longitude = np.arctan2(directions[..., 1], directions[..., 0])
  # R^T = Rz(p) Ry(t) Rz(pi/2): its third column (the camera) is the
  # direction, and its first (image right) is horizontal.
  return np.swapaxes(matrix_from_zyz(longitude, colatitude, np.pi / 2),
                     -1, -2)


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
