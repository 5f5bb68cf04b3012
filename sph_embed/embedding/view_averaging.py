"""Test-time view averaging: an embedding averaged over turned and mirrored
copies of the view, each copy's maps brought back to the view's frame.

The camera looks down the sphere grid's polar axis (+z) with image x right,
y up (sph_embed.data.render), so two changes of a view are changes of the
object that act on its maps by permuting longitudes only, exactly on the
pixel and Driscoll-Healy grids (n longitudes, n divisible by 4):

* a quarter turn counter-clockwise shows the object turned by R_z(90 deg),
  whose maps are shifted, (L_{R_z(g)} f)(theta, phi) = f(theta, phi - g);
* the transposed image (array rows <-> columns, i.e. the reflection
  (x, y) -> (-y, -x)) shows the object mirrored by P = that reflection,
  whose maps are f(theta, 270 deg - phi): the teacher's zonal filters
  commute with reflections as with rotations.

So each copy's maps, brought back by the inverse permutation, estimate the
same maps; their mean keeps what the network predicts consistently and
averages out the rest.  What is not exact: the lights are fixed in the
camera frame, one of them oblique along (1, -1, -1) (render.py), so a turned
view is lit from where no training view was; P keeps that light (and the
camera, and the axis light) where it is, so a mirrored view is lit exactly
as the training views.  A mirrored object is a training-like object only
for categories that are mirror-symmetric (the synthetic ones, most
furniture).
"""

import numpy as np
import tensorflow as tf

TURN_CHOICES = (1, 2, 4)


def validate_turns(turns, what="turns"):
  """Raises ValueError unless `turns` divides a full turn in quarter turns."""
  if turns not in TURN_CHOICES:
    raise ValueError(f"{what} must be one of {list(TURN_CHOICES)} (evenly"
                     f" spaced quarter turns of the view), got {turns!r}")


def copies(turns, mirror):
  """[(quarter turns, mirrored)] of the view averaged over (identity first)."""
  validate_turns(turns)
  return [(quarters, mirrored) for mirrored in (False, True)[:1 + mirror]
          for quarters in range(0, 4, 4 // turns)]


def copy_of_view(images, quarters, mirrored):
  """The view [B, h, w, 1] turned by `quarters` quarter turns
  counter-clockwise, then transposed if `mirrored`."""
  images = tf.image.rot90(images, k=quarters)
  return tf.transpose(images, [0, 2, 1, 3]) if mirrored else images


def longitudes_back(n, quarters, mirrored):
  """Longitude indices [n] bringing a copy's maps back to the view's frame:
  view_maps[..., j, :] = copy_maps[..., index[j], :]."""
  shift = quarters * n // 4
  j = np.arange(n)
  return (3 * n // 4 - j - shift) % n if mirrored else (j + shift) % n


def averaged_over_views(model, turns=1, mirror=False):
  """The embedding `model` averaged over turned (and mirrored) views.

  Args:
    model: callable images [B, h, w, 1] -> maps [B, n, n, C] (a Keras
      network or a loaded module), called with `training=False`.
    turns: 1, 2 or 4 evenly spaced quarter turns of the view.
    mirror: also average over each turned copy's mirror image.

  Returns:
    A callable with the model's signature (`model` itself for one copy).
    One forward pass of copies x B images per call.
  """
  views = copies(turns, mirror)
  if len(views) == 1:
    return model

  def embed(images, training=False):
    del training  # An average of predictions is for inference only.
    maps = model(tf.concat([copy_of_view(images, *view) for view in views],
                           axis=0), training=False)
    n = maps.shape[2]
    if n % 4:
      raise ValueError(f"view averaging: maps with {n} longitudes cannot be"
                       " turned by a quarter turn")
    back = [tf.gather(part, longitudes_back(n, *view), axis=2)
            for part, view in zip(tf.split(maps, len(views), axis=0), views)]
    return tf.add_n(back) / len(views)

  return embed
