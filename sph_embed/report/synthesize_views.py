"""Novel views from one image: the library side of tools/synthesize.py.

The input is a grayscale view: a picture prepared as training views are
made (sph_embed.data.image_input), or an example of a dataset split.  Its
embedding is rotated by each requested R with the exact spectral rotation
(sph_embed.synthesis.rotate) and decoded by a synthesis module
(sph_embed.synthesis.export): the view of the object rotated by R.

Which rotation composes with the input's pose: the view of a mesh in pose
R0 (mesh rotated by R0, fixed camera, DESIGN §1) embeds to the maps of the
mesh rotated by R0, Lambda_R0 f; rotating them by R gives Lambda_R
Lambda_R0 f = Lambda_{R R0} f, the maps of the mesh in pose R @ R0
(`composed_pose`).  So R acts in the camera (world) frame, on the left:
x = image right, y = image up, z = toward the viewer; a turntable about
y spins the object about the image's vertical axis, whatever R0 is.
tests/report/synthesize_views_test.py checks this with the teacher on
ray-cast maps.  With a dataset example the true views are the example's
mesh (scaled as when the dataset was built) rendered in pose R @ R0.

Outputs: a PNG grid (row 1: input, then the synthesized views; row 2 for a
dataset example: the true renders below them) and an animated GIF (one
frame per rotation, synthesized | true side by side for a dataset example,
with a progress bar under each frame).  `write_samples` makes both for the
first examples of each category of a split, into one directory (the main
job's <work_dir>/synthesis/, which the report shows).
"""

import dataclasses
import os

from absl import logging
import numpy as np
from PIL import Image
from scipy.spatial import transform

from sph_embed.common import files
from sph_embed.data import input_pipeline
from sph_embed.data import render
from sph_embed.data import view_stream
from sph_embed.data import views
from sph_embed.sphere import rotations as rotations_lib

SAMPLES_INDEX = "samples.json"   # What write_samples wrote, and how.
AXES = {"x": (1.0, 0.0, 0.0), "y": (0.0, 1.0, 0.0), "z": (0.0, 0.0, 1.0)}
_GAP = 2          # Pixels between grid cells.
_BAR_HEIGHT = 3   # The GIF's progress bar.


def composed_pose(rotation, pose):
  """Pose of the object after rotating the view of pose `pose` by `rotation`.

  Both [..., 3, 3]; see the module docstring (R @ R0, not R0 @ R).
  """
  return np.asarray(rotation) @ np.asarray(pose)


def parse_euler(text, flag="euler"):
  """"a,b,g;a,b,g" (ZYZ Euler angles in degrees) -> rotations [k, 3, 3].

  Raises:
    ValueError naming --`flag`, the bad group and the expected format.
  """
  where = f"--{flag}={text!r}"
  groups = [g.strip() for g in (text or "").split(";")]
  if not any(groups):
    raise ValueError(f"{where}: no rotation; expected 'alpha,beta,gamma'"
                     " (ZYZ degrees), several separated by ';'")
  angles = []
  for number, group in enumerate(groups, 1):
    parts = [p.strip() for p in group.split(",")]
    try:
      values = [float(p) for p in parts]
    except ValueError:
      values = None
    if (values is None or len(values) != 3 or
        not np.all(np.isfinite(values))):
      raise ValueError(f"{where}: rotation {number} {group!r} is not three"
                       " finite numbers 'alpha,beta,gamma' (ZYZ degrees;"
                       " rotations separated by ';')")
    angles.append(values)
  angles = np.radians(np.array(angles))
  return rotations_lib.matrix_from_zyz(angles[:, 0], angles[:, 1],
                                       angles[:, 2])


def turntable(steps, axis):
  """`steps` rotations about a camera-frame axis, by 360 / steps degrees each.

  Frame i is the rotation by i * 360 / steps degrees (frame 0 is the
  identity, so a looping GIF turns smoothly).
  """
  if steps < 1:
    raise ValueError(f"--turntable={steps}: expected at least 1 step")
  if axis not in AXES:
    raise ValueError(f"--axis={axis!r}: expected one of {sorted(AXES)}")
  angles = np.radians(np.arange(steps) * 360.0 / steps)
  return transform.Rotation.from_rotvec(
      angles[:, None] * np.array(AXES[axis])).as_matrix()


@dataclasses.dataclass(frozen=True)
class Example:
  """One example of a dataset split, with its mesh."""
  image: np.ndarray   # [S, S, 1] float32 in [0, 1]
  pose: np.ndarray    # [3, 3]: the view is the mesh rotated by it
  category: str
  instance: str
  mesh: object        # trimesh.Trimesh, normalised (and scaled) as built


def view_config(metadata):
  """The views.ViewConfig a dataset was built with (from dataset.json)."""
  return views.ViewConfig(
      views_per_instance=metadata["views_per_instance"], dof=metadata["dof"],
      anisotropic_scale=metadata.get("anisotropic_scale", 0.0),
      image_size=metadata["image_size"], sphere_size=metadata["sphere_size"],
      seed=metadata.get("seed", 0))


def example_meshes(metadata, split, instance_names, poses):
  """The mesh of each example, as the dataset's builder made it.

  Args:
    metadata: the dataset's dataset.json dict.
    split: "train" or "test".
    instance_names: [N] instance of each example.
    poses: [N, 3, 3] each example's stored rotation (identifies which of
      its instance's examples it is, hence its anisotropic scaling).

  Returns:
    [N] trimesh meshes (each instance is loaded once).

  Raises:
    ValueError: the source's meshes cannot be found or do not match.
  """
  try:
    _, instances = view_stream.instances_from_metadata(metadata, split)
  except KeyError as e:
    raise ValueError(f"dataset source {metadata.get('source')}: {e} not"
                     " recorded, cannot find the examples' meshes") from None
  by_name = {instance.name: instance for instance in instances}
  config = view_config(metadata)
  made = {}
  found = []
  for name, pose in zip(instance_names, poses):
    if name not in by_name:
      raise ValueError(f"instance {name!r}: not in the dataset's {split}"
                       " source (were the source meshes moved?)")
    if name not in made:
      made[name] = views.example_meshes(by_name[name], config)
    meshes, instance_poses = made[name]
    errors = np.abs(instance_poses - np.asarray(pose)[None]).max(axis=(1, 2))
    if errors.min() > 1e-4:
      raise ValueError(f"instance {name!r}: no example of it has the stored"
                       " pose; the source differs from the one the dataset"
                       " was built from")
    found.append(meshes[int(np.argmin(errors))])
  return found


def dataset_example(data_dir, split, index):
  """Example `index` of a split, in the dataset's fixed order, with its mesh.

  Raises:
    ValueError (DataError) naming the dataset, split or index at fault.
  """
  metadata = input_pipeline.read_metadata(data_dir)
  count = metadata["splits"].get(split, {}).get("examples", 0)
  if not 0 <= index < count:
    raise ValueError(f"--index={index}: the {split!r} split of {data_dir}"
                     f" has {count} examples (indices 0..{count - 1})")
  batch = next(iter(input_pipeline.make_dataset(
      data_dir, split, 1, shuffle=False, deterministic=True).skip(index)))
  instance = batch["instance"].numpy()[0].decode("utf-8")
  pose = batch["rotation"].numpy()[0].astype(np.float64)
  mesh, = example_meshes(metadata, split, [instance], pose[None])
  return Example(image=batch["image"].numpy()[0], pose=pose,
                 category=batch["category"].numpy()[0].decode("utf-8"),
                 instance=instance, mesh=mesh)


def true_views(mesh, pose, rotations, size):
  """Renders of `mesh` in pose R @ pose for each R: [k, size, size, 1]."""
  poses = composed_pose(rotations, pose)
  return (render.render_views(mesh, poses, size).astype(np.float32)
          / 255.0)[..., None]


def synthesize(module, image, rotations):
  """decode(rotate(embed(image), R)) for each R: [k, S, S, 1] in [0, 1]."""
  embedding = module.embed(np.asarray(image)[None])
  return module.synthesize(np.repeat(embedding, len(rotations), axis=0),
                           rotations)


def _to_pil(image, zoom):
  pixels = np.round(np.clip(np.asarray(image)[..., 0], 0, 1) * 255)
  picture = Image.fromarray(pixels.astype(np.uint8), mode="L")
  return picture.resize((picture.width * zoom, picture.height * zoom),
                        Image.Resampling.NEAREST)


def grid_image(image, synthesized, truth=None, zoom=1):
  """The PNG grid: input then synthesized views; true views below them.

  Args:
    image: [S, S, 1] the input view.
    synthesized: [k, S, S, 1].
    truth: [k, S, S, 1] or None (no second row).
    zoom: integer magnification (nearest neighbour).
  """
  rows = [[image] + list(synthesized)]
  if truth is not None:
    rows.append([None] + list(truth))   # Nothing under the input.
  cell = image.shape[0] * zoom + _GAP
  sheet = Image.new("L", (cell * len(rows[0]) - _GAP, cell * len(rows) - _GAP),
                    color=64)
  for r, row in enumerate(rows):
    for c, view in enumerate(row):
      if view is not None:
        sheet.paste(_to_pil(view, zoom), (c * cell, r * cell))
  return sheet


def gif_frames(synthesized, truth=None, zoom=1):
  """One frame per rotation: synthesized (| true), over a progress bar.

  The bar also keeps identical views distinct frames (Pillow merges equal
  consecutive frames), so the GIF has exactly k frames.
  """
  frames = []
  for i, view in enumerate(synthesized):
    row = [view] if truth is None else [view, truth[i]]
    cell = view.shape[0] * zoom
    frame = Image.new("L", ((cell + _GAP) * len(row) - _GAP,
                            cell + _GAP + _BAR_HEIGHT), color=64)
    for c, part in enumerate(row):
      frame.paste(_to_pil(part, zoom), (c * (cell + _GAP), 0))
    length = round(frame.width * (i + 1) / len(synthesized))
    frame.paste(255, (0, cell + _GAP, length, frame.height))
    frames.append(frame)
  return frames


def write_png(path, picture):
  with files.atomic_write(path, "wb") as f:
    picture.save(f, format="PNG")


def write_gif(path, frames, frame_ms):
  """An animated GIF looping forever, `frame_ms` milliseconds a frame."""
  with files.atomic_write(path, "wb") as f:
    frames[0].save(f, format="GIF", save_all=True, append_images=frames[1:],
                   duration=frame_ms, loop=0)


def first_examples(data_dir, split, per_category):
  """Indices of the first `per_category` examples of each category.

  In the split's fixed order; categories in the order they first appear.
  """
  picks = {}
  offset = 0
  for batch in input_pipeline.make_dataset(data_dir, split, 256,
                                           shuffle=False, deterministic=True):
    for i, category in enumerate(batch["category"].numpy()):
      chosen = picks.setdefault(category.decode("utf-8"), [])
      if len(chosen) < per_category:
        chosen.append(offset + i)
    offset += len(batch["category"])
  return [index for chosen in picks.values() for index in chosen]


def write_samples(module, data_dir, split, output_dir, per_category=1,
                  rotations=None, zoom=2, frame_ms=120, png_columns=8):
  """Synthesized turntables of the first examples of each category.

  For each example: <category>_<index>.gif (synthesized | true, one frame
  per rotation) and <category>_<index>.png (input, then every k-th rotation
  so the row has at most `png_columns` views, true renders below), plus
  SAMPLES_INDEX listing them.  `output_dir` is replaced as a whole, once
  everything is written.

  Args:
    module: a loaded synthesis module (sph_embed.synthesis.export).
    data_dir, split: the dataset split the examples come from.
    output_dir: the directory to write.
    per_category: examples per category.
    rotations: [k, 3, 3] camera-frame rotations (default: a 24-step
      turntable about y).
    zoom, frame_ms: magnification and GIF frame duration.
    png_columns: most synthesized views in a PNG row.

  Returns:
    The SAMPLES_INDEX contents: one entry per example.
  """
  rotations = turntable(24, "y") if rotations is None else rotations
  every = max(1, -(-len(rotations) // png_columns))
  entries = []
  with files.atomic_directory(output_dir) as staging:
    for index in first_examples(data_dir, split, per_category):
      example = dataset_example(data_dir, split, index)
      synthesized = synthesize(module, example.image, rotations)
      truth = true_views(example.mesh, example.pose, rotations,
                         module.image_size)
      stem = f"{example.category}_{index:05d}"
      write_gif(os.path.join(staging, stem + ".gif"),
                gif_frames(synthesized, truth, zoom), frame_ms)
      write_png(os.path.join(staging, stem + ".png"), grid_image(
          example.image, synthesized[::every], truth[::every], zoom))
      entries.append({"category": example.category,
                      "instance": example.instance, "split": split,
                      "index": index, "gif": stem + ".gif",
                      "png": stem + ".png"})
      logging.info("%s: %s (%s), %d views", stem, example.instance, split,
                   len(rotations))
    files.write_json_atomic(os.path.join(staging, SAMPLES_INDEX), {
        "module": os.path.abspath(module.path),
        "data_dir": os.path.abspath(data_dir),
        "rotations": np.asarray(rotations).round(8).tolist(),
        "samples": entries})
  return entries
