"""Embedded synthetic shape categories: parametric families of trimesh parts.

Each category is a family of meshes built from trimesh primitives (boxes,
cylinders, spheres, cones, tori, surfaces of revolution and convex hulls),
with at least five continuous parameters drawn per instance, so no dataset
download is needed to train and test the whole system.  An instance is
determined by (category, seed).

All instances share one canonical frame, that of ModelNet40: up = +z, and
the front (airplane nose, car bonnet, where a sitter faces, a bed's foot end,
a toilet bowl's front, a screen's face) toward +x; sizes are roughly in metres
and meshes are not normalised (see meshes.normalize_mesh).

The pose categories of the paper (airplane, car, chair, sofa, bed, toilet)
have no rotational symmetry: front and back, top and bottom differ.  They are
mirror-symmetric left/right (y -> -y), which is harmless since a mirror is
not a rotation.  Parts overlap instead of being merged by boolean operations:
ray casting and rendering only see the outer surface.
"""

import functools
import math
import zlib

import numpy as np
import trimesh
from trimesh import transformations

_SECTIONS = 24  # Facets around cylinders, cones and surfaces of revolution.


# ---------------------------------------------------------------- primitives


def _transform(translation=(0.0, 0.0, 0.0), angle=0.0, axis=(0.0, 0.0, 1.0)):
  """Rotation by `angle` about `axis` (through the origin), then translation."""
  matrix = transformations.rotation_matrix(angle, axis)
  matrix[:3, 3] = translation
  return matrix


def _box(extents, center, angle=0.0, axis=(0.0, 1.0, 0.0)):
  return trimesh.creation.box(extents, _transform(center, angle, axis))


def _cylinder(radius, start, end):
  """Cylinder between the centres of its two caps."""
  return trimesh.creation.cylinder(radius, segment=np.array([start, end]),
                                   sections=_SECTIONS)


def _ellipsoid(radii, center):
  sphere = trimesh.creation.icosphere(subdivisions=2)
  sphere.apply_scale(radii)
  sphere.apply_translation(center)
  return sphere


def _hull(points):
  return trimesh.convex.convex_hull(np.asarray(points, dtype=np.float64))


def _revolved(profile, center=(0.0, 0.0, 0.0)):
  """Solid of revolution about z of a (radius, height) profile [k, 2].

  The profile runs from the bottom to the top, starting and ending at radius
  0, so the surface is closed with outward normals.
  """
  return trimesh.creation.revolve(np.asarray(profile, dtype=np.float64),
                                  sections=_SECTIONS,
                                  transform=_transform(center))


def _mirrored_y(part):
  """The part and its mirror image across the xz plane (left/right)."""
  mirror = part.copy()
  mirror.apply_transform(np.diag([1.0, -1.0, 1.0, 1.0]))
  return [part, mirror]


# ---------------------------------------------------------------- categories


def _airplane(rng):
  length = rng.uniform(1.6, 2.4)
  radius = rng.uniform(0.08, 0.14)
  span = rng.uniform(1.5, 2.4)
  chord = rng.uniform(0.18, 0.34)
  sweep = math.radians(rng.uniform(0.0, 35.0))
  dihedral = math.radians(rng.uniform(0.0, 7.0))
  wing_x = rng.uniform(-0.05, 0.12) * length
  tail_span = rng.uniform(0.3, 0.45) * span
  fin_height = rng.uniform(0.22, 0.4)
  engine_radius = rng.uniform(0.3, 0.5) * radius
  body_front, body_back = 0.32 * length, -0.3 * length
  parts = [
      _cylinder(radius, (body_back, 0, 0), (body_front, 0, 0)),
      # Rounded nose and a tail cone swept up to the fin.
      _ellipsoid((0.18 * length, radius, radius), (body_front, 0, 0)),
      _hull(np.concatenate([
          _ellipsoid((0.01, radius, radius), (body_back, 0, 0)).vertices,
          _ellipsoid((0.01, 0.3 * radius, 0.3 * radius),
                     (-0.5 * length, 0, 0.6 * radius)).vertices])),
  ]

  def wing(root_x, root_z, half_span, wing_chord, thickness):
    # Box from the root outward along +y, swept back and raised (dihedral).
    half = _box((wing_chord, half_span, thickness), (0, half_span / 2, 0))
    half.apply_transform(_transform(angle=-sweep, axis=(0, 0, 1)))
    half.apply_transform(_transform((root_x, 0, root_z), dihedral, (1, 0, 0)))
    return _mirrored_y(half)

  parts += wing(wing_x, -0.5 * radius, span / 2, chord, 0.03)
  parts += wing(-0.46 * length, 0.4 * radius, tail_span / 2, 0.55 * chord,
                0.02)
  fin = _box((0.6 * chord, 0.02, fin_height), (0, 0, fin_height / 2))
  fin.apply_transform(_transform((-0.46 * length, 0, 0.5 * radius),
                                 -sweep - 0.3, (0, 1, 0)))
  parts.append(fin)
  engine_y = 0.3 * span / 2
  engine_x = wing_x - engine_y * math.tan(sweep) + 0.2 * chord
  parts += _mirrored_y(_cylinder(
      engine_radius, (engine_x - 0.8 * chord, engine_y, -radius),
      (engine_x + 0.4 * chord, engine_y, -radius)))
  return parts


def _car(rng):
  length = rng.uniform(3.6, 4.8)
  width = rng.uniform(1.6, 2.0)
  body_height = rng.uniform(0.45, 0.7)
  clearance = rng.uniform(0.12, 0.25)
  wheel_radius = rng.uniform(0.28, 0.38)
  wheel_width = rng.uniform(0.18, 0.28)
  wheelbase = rng.uniform(0.55, 0.65) * length
  cabin_length = rng.uniform(0.4, 0.55) * length
  cabin_height = rng.uniform(0.35, 0.55)
  cabin_back = rng.uniform(0.05, 0.18) * length  # Cabin shifted to the rear.
  bonnet_drop = rng.uniform(0.1, 0.3) * body_height
  half_w, bottom, top = width / 2, clearance, clearance + body_height
  # Body: a prism whose top slopes down toward the front (bonnet).
  front, back = length / 2, -length / 2
  body = _hull([(x, y, z) for y in (-half_w, half_w) for x, z in (
      (back, bottom), (front, bottom), (front, top - bonnet_drop),
      (back, top), (back + 0.7 * length, top))])
  cabin_rear = back + cabin_back
  cabin_front = cabin_rear + cabin_length
  roof = 0.9 * half_w  # Half-width of the roof (the cabin narrows).
  cabin_corners = ((cabin_rear, top, half_w), (cabin_front, top, half_w),
                   (cabin_rear + 0.15 * cabin_length, top + cabin_height, roof),
                   (cabin_front - 0.3 * cabin_length, top + cabin_height, roof))
  cabin = _hull([(x, side * half, z) for x, z, half in cabin_corners
                 for side in (-1, 1)])
  parts = [body, cabin]
  for x in (-wheelbase / 2 - 0.02 * length, wheelbase / 2 - 0.02 * length):
    parts += _mirrored_y(_cylinder(
        wheel_radius, (x, half_w - wheel_width, wheel_radius),
        (x, half_w + 0.02, wheel_radius)))
  return parts


def _chair(rng):
  width = rng.uniform(0.4, 0.55)
  depth = rng.uniform(0.4, 0.55)
  seat_height = rng.uniform(0.4, 0.5)
  seat_thickness = rng.uniform(0.03, 0.08)
  leg = rng.uniform(0.025, 0.05)
  back_height = rng.uniform(0.35, 0.6)
  back_tilt = math.radians(rng.uniform(0.0, 20.0))
  back_thickness = rng.uniform(0.03, 0.06)
  arm_height = rng.uniform(0.18, 0.28)
  has_arms = rng.uniform() < 0.4
  seat_top = seat_height + seat_thickness / 2
  parts = [_box((depth, width, seat_thickness), (0, 0, seat_height))]
  for x in (-1, 1):
    for y in (-1, 1):
      parts.append(_box(
          (leg, leg, seat_height),
          (x * (depth - leg) / 2, y * (width - leg) / 2, seat_height / 2)))
  back = _box((back_thickness, width, back_height), (0, 0, back_height / 2))
  back.apply_transform(_transform(
      (-depth / 2 + back_thickness / 2, 0, seat_top), -back_tilt, (0, 1, 0)))
  parts.append(back)
  if has_arms:
    arm = [_box((0.8 * depth, leg, leg),
                (0, (width - leg) / 2, seat_top + arm_height)),
           _box((leg, leg, arm_height),
                (0.35 * depth, (width - leg) / 2, seat_top + arm_height / 2))]
    for part in arm:
      parts += _mirrored_y(part)
  return parts


def _sofa(rng):
  length = rng.uniform(1.6, 2.4)
  depth = rng.uniform(0.8, 1.0)
  seat_height = rng.uniform(0.38, 0.48)
  back_height = rng.uniform(0.3, 0.5)
  back_thickness = rng.uniform(0.15, 0.25)
  arm_width = rng.uniform(0.1, 0.25)
  arm_height = rng.uniform(0.12, 0.28)
  foot_height = rng.uniform(0.03, 0.1)
  cushion = rng.uniform(0.1, 0.16)
  back_tilt = math.radians(rng.uniform(0.0, 12.0))
  cushions = int(rng.integers(2, 4))
  inner = length - 2 * arm_width
  base_top = seat_height - cushion
  parts = [_box((depth, length, base_top - foot_height),
                (0, 0, (base_top + foot_height) / 2))]
  seat_depth = depth - back_thickness
  gap = 0.01
  cushion_length = (inner - (cushions - 1) * gap) / cushions
  for i in range(cushions):
    y = -inner / 2 + cushion_length / 2 + i * (cushion_length + gap)
    parts.append(_box((seat_depth - gap, cushion_length, cushion),
                      (back_thickness / 2, y, base_top + cushion / 2)))
  back = _box((back_thickness, length, back_height + cushion),
              (0, 0, (back_height + cushion) / 2))
  back.apply_transform(_transform(
      (-depth / 2 + back_thickness / 2, 0, base_top), -back_tilt, (0, 1, 0)))
  parts.append(back)
  parts += _mirrored_y(_box(
      (depth, arm_width, seat_height + arm_height - foot_height),
      (0, (length - arm_width) / 2,
       (seat_height + arm_height + foot_height) / 2)))
  for x in (-1, 1):
    parts += _mirrored_y(_cylinder(
        0.03, (x * 0.42 * depth, 0.45 * length, 0),
        (x * 0.42 * depth, 0.45 * length, foot_height)))
  return parts


def _bed(rng):
  length = rng.uniform(1.9, 2.2)
  width = rng.uniform(0.9, 1.8)
  leg_height = rng.uniform(0.05, 0.2)
  frame = rng.uniform(0.12, 0.25)
  mattress = rng.uniform(0.15, 0.3)
  head_height = rng.uniform(0.45, 0.8)
  foot_height = rng.uniform(0.05, 0.25)
  board = rng.uniform(0.04, 0.1)
  pillow = rng.uniform(0.08, 0.14)
  frame_top = leg_height + frame
  mattress_top = frame_top + mattress
  parts = [
      _box((length, width, frame), (0, 0, leg_height + frame / 2)),
      _box((length - 2 * board - 0.02, width - 0.04, mattress),
           (0, 0, frame_top + mattress / 2)),
      # Headboard at the back (-x), a lower footboard at the front (+x).
      _box((board, width + 0.04, mattress_top + head_height),
           (-(length - board) / 2, 0, (mattress_top + head_height) / 2)),
      _box((board, width + 0.04, frame_top + foot_height),
           ((length - board) / 2, 0, (frame_top + foot_height) / 2)),
  ]
  pillows = 1 if width < 1.3 else 2
  for i in range(pillows):
    y = (i + 0.5) * width / pillows - width / 2
    parts.append(_ellipsoid((0.18, 0.42 * width / pillows, pillow / 2),
                            (-length / 2 + board + 0.25, y,
                             mattress_top + pillow / 3)))
  for x in (-1, 1):
    parts += _mirrored_y(_box(
        (0.06, 0.06, leg_height),
        (x * (length / 2 - 0.05), width / 2 - 0.05, leg_height / 2)))
  return parts


def _toilet(rng):
  base_radius = rng.uniform(0.11, 0.15)
  waist_radius = rng.uniform(0.08, 0.11)
  rim_radius = rng.uniform(0.17, 0.22)
  bowl_height = rng.uniform(0.36, 0.44)
  elongation = rng.uniform(1.15, 1.4)
  tank_width = rng.uniform(0.34, 0.48)
  tank_depth = rng.uniform(0.14, 0.22)
  tank_height = rng.uniform(0.28, 0.42)
  seat_thickness = rng.uniform(0.02, 0.04)
  bowl = _revolved([(0, 0), (base_radius, 0), (waist_radius, 0.12),
                    (0.8 * rim_radius, 0.7 * bowl_height),
                    (rim_radius, bowl_height), (0, bowl_height)])
  bowl.apply_scale((elongation, 1.0, 1.0))
  seat = trimesh.creation.torus(0.8 * rim_radius, 0.2 * rim_radius,
                                major_sections=_SECTIONS,
                                minor_sections=12)
  seat.apply_scale((elongation, 1.0, seat_thickness / (0.4 * rim_radius)))
  seat.apply_translation((0, 0, bowl_height + seat_thickness / 2))
  back = -elongation * rim_radius
  tank_bottom = 0.75 * bowl_height
  parts = [
      bowl, seat,
      # Tank behind the bowl (-x), joined to it by a block.
      _box((tank_depth, tank_width, tank_height),
           (back - tank_depth / 2 + 0.03, 0, tank_bottom + tank_height / 2)),
      _box((tank_depth + 0.02, tank_width + 0.02, 0.025),
           (back - tank_depth / 2 + 0.03, 0,
            tank_bottom + tank_height + 0.0125)),
      _box((0.5 * elongation * rim_radius, 0.6 * tank_width, 0.5 * bowl_height),
           (back + 0.25 * elongation * rim_radius, 0, 0.5 * bowl_height)),
  ]
  return parts


def _table(rng):
  length = rng.uniform(0.8, 2.0)
  width = rng.uniform(0.5, 1.0) * length
  height = rng.uniform(0.65, 0.8)
  top = rng.uniform(0.02, 0.06)
  leg = rng.uniform(0.03, 0.08)
  inset = rng.uniform(0.02, 0.15)
  round_top = rng.uniform() < 0.3
  if round_top:
    radius = width / 2
    return [
        _cylinder(radius, (0, 0, height - top), (0, 0, height)),
        _cylinder(1.5 * leg, (0, 0, 0), (0, 0, height - top)),
        _cylinder((0.3 + inset) * radius, (0, 0, 0), (0, 0, 0.03)),
    ]
  parts = [_box((length, width, top), (0, 0, height - top / 2))]
  for x in (-1, 1):
    for y in (-1, 1):
      parts.append(_box((leg, leg, height - top),
                        (x * (length / 2 - inset - leg / 2),
                         y * (width / 2 - inset - leg / 2),
                         (height - top) / 2)))
  return parts


def _lamp(rng):
  base_radius = rng.uniform(0.08, 0.15)
  base_height = rng.uniform(0.02, 0.05)
  stem_height = rng.uniform(0.3, 0.6)
  stem_radius = rng.uniform(0.008, 0.02)
  shade_bottom = rng.uniform(0.12, 0.22)
  shade_top = rng.uniform(0.4, 0.9) * shade_bottom
  shade_height = rng.uniform(0.12, 0.25)
  stem_top = base_height + stem_height
  shade_low = stem_top - 0.6 * shade_height
  # The shade is an open frustum; a thin wall makes it a closed solid.
  wall = 0.005
  shade = _revolved([(0, shade_low), (shade_bottom, shade_low),
                     (shade_top, shade_low + shade_height),
                     (shade_top - wall, shade_low + shade_height),
                     (shade_bottom - wall, shade_low + wall),
                     (0, shade_low + wall)])
  shade.invert()  # The profile above runs clockwise.
  return [
      _cylinder(base_radius, (0, 0, 0), (0, 0, base_height)),
      _cylinder(stem_radius, (0, 0, base_height), (0, 0, stem_top)),
      _ellipsoid((0.03, 0.03, 0.045), (0, 0, stem_top - 0.02)),  # Bulb.
      shade,
  ]


def _bottle(rng):
  radius = rng.uniform(0.03, 0.05)
  body = rng.uniform(0.12, 0.25)
  shoulder = rng.uniform(0.02, 0.06)
  neck_radius = rng.uniform(0.25, 0.45) * radius
  neck = rng.uniform(0.03, 0.08)
  cap = rng.uniform(0.01, 0.025)
  foot = rng.uniform(0.85, 0.98) * radius
  top = body + shoulder + neck
  return [_revolved([
      (0, 0), (foot, 0), (radius, 0.01), (radius, body),
      (neck_radius, body + shoulder), (neck_radius, top),
      (1.15 * neck_radius, top), (1.15 * neck_radius, top + cap),
      (0, top + cap)])]


def _guitar(rng):
  lower = rng.uniform(0.17, 0.22)  # Lower bout radius.
  upper = rng.uniform(0.6, 0.85) * lower
  thickness = rng.uniform(0.08, 0.12)
  neck_length = rng.uniform(0.4, 0.5)
  neck_width = rng.uniform(0.045, 0.06)
  head_angle = math.radians(rng.uniform(5.0, 15.0))
  head_length = rng.uniform(0.15, 0.2)
  # Upright, strings facing front (+x), neck up (+z).
  upper_z = lower + 0.9 * upper
  neck_bottom = upper_z + 0.5 * upper
  neck_top = upper_z + upper + neck_length
  head = _box((0.02, 1.4 * neck_width, head_length), (0, 0, head_length / 2))
  neck_x = thickness / 2 - 0.005
  head.apply_transform(_transform((neck_x - 0.01, 0, neck_top), -head_angle,
                                  (0, 1, 0)))
  return [
      _cylinder(lower, (-thickness / 2, 0, lower), (thickness / 2, 0, lower)),
      _cylinder(upper, (-thickness / 2, 0, upper_z),
                (thickness / 2, 0, upper_z)),
      _box((0.025, neck_width, neck_top - neck_bottom),
           (neck_x, 0, (neck_top + neck_bottom) / 2)),
      _box((0.015, 0.5 * lower, 0.03), (thickness / 2 + 0.005, 0, 0.6 * lower)),
      head,
  ]


def _monitor(rng):
  width = rng.uniform(0.45, 0.7)
  height = rng.uniform(0.5, 0.7) * width
  thickness = rng.uniform(0.02, 0.05)
  tilt = math.radians(rng.uniform(-5.0, 15.0))
  neck_height = rng.uniform(0.08, 0.2)
  base_width = rng.uniform(0.15, 0.3)
  base_depth = rng.uniform(0.12, 0.2)
  screen_center = base_depth * 0.1, 0, 0.02 + neck_height + height / 2
  screen = [_box((thickness, width, height), (0, 0, 0)),
            # Electronics bulge on the back (-x).
            _box((0.05, 0.5 * width, 0.5 * height), (-thickness / 2, 0, 0))]
  for part in screen:
    part.apply_transform(_transform(screen_center, -tilt, (0, 1, 0)))
  return screen + [
      _box((base_depth, base_width, 0.02), (0, 0, 0.01)),
      _box((0.03, 0.06, neck_height + 0.3 * height),
           (-thickness / 2 - 0.02, 0, 0.02 + (neck_height + 0.3 * height) / 2)),
  ]


_BUILDERS = {
    "airplane": _airplane,
    "car": _car,
    "chair": _chair,
    "sofa": _sofa,
    "bed": _bed,
    "toilet": _toilet,
    "table": _table,
    "lamp": _lamp,
    "bottle": _bottle,
    "guitar": _guitar,
    "monitor": _monitor,
}

CATEGORIES = tuple(_BUILDERS)
# Categories used for pose experiments in the paper: no rotational symmetry.
POSE_CATEGORIES = ("airplane", "car", "chair", "sofa", "bed", "toilet")


@functools.lru_cache(maxsize=None)
def _category_key(category):
  # A stable per-category stream (Python's hash() is salted per process).
  return zlib.crc32(category.encode("utf-8"))


def make_instance(category, seed):
  """The instance `seed` (int >= 0) of `category`, in the canonical frame.

  Deterministic: the same (category, seed) always gives the same mesh.

  Raises:
    ValueError: unknown category or negative seed.
  """
  if category not in _BUILDERS:
    raise ValueError(f"unknown synthetic category {category!r}; known:"
                     f" {', '.join(CATEGORIES)}")
  if int(seed) != seed or seed < 0:
    raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
  rng = np.random.default_rng([_category_key(category), int(seed)])
  mesh = trimesh.util.concatenate(_BUILDERS[category](rng))
  mesh.metadata["name"] = f"{category}_{int(seed)}"
  return mesh
