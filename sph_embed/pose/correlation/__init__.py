"""SO(3) cross-correlation of multi-channel spherical maps, relative pose.

Replaces the authors' MATLAB spherical_correlation.m / align.m (SOFT 1.0 +
S2kit).  NumPy, scipy and pyshtools only: no TensorFlow.

Conventions (DESIGN §1).  Maps are DH grids [n, n, C], channels last.  The
correlation of f1 against f2 is

  C(R) = sum_c int_{S^2} f2_c(x) (Lambda_R f1_c)(x) dx,

dx the area element (total 4 pi) and (Lambda_R f)(x) = f(R^T x).  If
f2 = Lambda_{R_rel} f1 (views in poses R1, R2: R_rel = R2 R1^T) the maximum
is at R = R_rel.  R(alpha, beta, gamma) = Rz(alpha) Ry(beta) Rz(gamma).

Maths.  With complex orthonormal harmonics Y_lm (Condon-Shortley phase, as
scipy.special.sph_harm_y), f1 = sum f_lm Y_lm, f2 = sum h_lm Y_lm, and
Lambda_R Y_lm = sum_n Y_ln D^l_nm(R), where
D^l_nm(alpha, beta, gamma) = e^{-i n alpha} d^l_nm(beta) e^{-i m gamma}
(the active Wigner D of Sakurai / Wikipedia), so
C(R) = sum_{l,n,m} conj(h_ln) f_lm D^l_nm(R).  Writing
Ry(beta) = Rz(pi/2) Ry(pi/2) Rz(beta) Ry(-pi/2) Rz(-pi/2) gives
d^l_nm(beta) = i^(m-n) sum_k Delta^l_nk Delta^l_mk e^{-i k beta} with
Delta^l = d^l(pi/2) (from pyshtools' djpi2), hence

  C(alpha, beta, gamma) = sum_{n,k,m} T_nkm e^{-i (n alpha + k beta + m gamma)},
  T_nkm = sum_c sum_l i^(m-n) Delta^l_nk Delta^l_mk f^c_lm conj(h^c_ln):

channels and degrees are summed in the Fourier domain and one inverse 3D FFT
per pair gives C on an N^3 Euler grid.  The result is proven against
Wigner's explicit formula, scipy's harmonics, a brute-force quadrature of C,
pysofft and known rotations (tests/pose/correlation_test.py).

The steps, one module each (a pair goes down the list):
  coefficients   maps -> complex coefficients f_lm, spline upsampling fused
                 into the harmonic transform;
  wigner_tables  Delta^l = d^l(pi/2) and the cached degree-product tables;
  fourier_sums   T_nkm: the channel and degree sums, batched over pairs;
  euler_grid     C on the Euler grid by inverse FFTs; grid angles and the
                 geodesic size of a grid cell;
  maxima         grid argmax, continuous refinement, separated peaks;
  alignment      the public API: align, align_pairs, align_coefficients;
  array_cache    read-only cached tables and reused work arrays.
The public functions of all of them are importable from this package.
"""

from sph_embed.pose.correlation.alignment import align
from sph_embed.pose.correlation.alignment import align_coefficients
from sph_embed.pose.correlation.alignment import align_pairs
from sph_embed.pose.correlation.alignment import Alignment
from sph_embed.pose.correlation.coefficients import complex_coefficients
from sph_embed.pose.correlation.coefficients import map_coefficients
from sph_embed.pose.correlation.coefficients import upsampled_sht
from sph_embed.pose.correlation.euler_grid import cell_radius_degrees
from sph_embed.pose.correlation.euler_grid import correlation_grid
from sph_embed.pose.correlation.euler_grid import grid_angles
from sph_embed.pose.correlation.fourier_sums import fourier_correlation
from sph_embed.pose.correlation.maxima import correlation_at
from sph_embed.pose.correlation.maxima import grid_argmax
from sph_embed.pose.correlation.maxima import peaks
from sph_embed.pose.correlation.maxima import refine_maximum
from sph_embed.pose.correlation.wigner_tables import wigner_d_half_pi

__all__ = [
    "Alignment", "align", "align_coefficients", "align_pairs",
    "cell_radius_degrees", "complex_coefficients", "correlation_at",
    "correlation_grid", "fourier_correlation", "grid_angles", "grid_argmax",
    "map_coefficients", "peaks", "refine_maximum", "upsampled_sht",
    "wigner_d_half_pi",
]
