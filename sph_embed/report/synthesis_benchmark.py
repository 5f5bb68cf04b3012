"""Novel-view-synthesis benchmark: PSNR/SSIM against three controls.

For each view of a dataset split (the test split: held-out instances) a
random 3DOF rotation R is drawn (seeded); the truth is the example's mesh
rendered in pose R @ R0 (R0: the view's pose; sph_embed.report.
synthesize_views.composed_pose).  Compared with it
(sph_embed.synthesis.metrics):

  rotated     decode(rotate(embed(view), R)), the synthesis;
  unrotated   decode(embed(view)), no rotation (control a);
  mean_image  the module's mean training view (control b);
  input_view  the view itself (control c).

The synthesis passes when it beats every control on both metrics in every
category (`metrics.controls_not_beaten` is empty).  Library side of
benchmarks/synthesis_bench.py.
"""

import csv
import io

import numpy as np

from sph_embed.common import files
from sph_embed.data import input_pipeline
from sph_embed.data import render
from sph_embed.report import synthesize_views
from sph_embed.sphere import rotations as rotations_lib
from sph_embed.synthesis import metrics as metrics_lib
from sph_embed.synthesis import rotate


def read_split(data_dir, split, max_examples=None):
  """Views, poses, categories and instances of a split in its fixed order."""
  dataset = input_pipeline.make_dataset(data_dir, split, 64, shuffle=False,
                                        deterministic=True)
  if max_examples:
    dataset = dataset.unbatch().take(max_examples).batch(64)
  out = {"image": [], "rotation": [], "category": [], "instance": []}
  for batch in dataset:
    for key in out:
      out[key].append(batch[key].numpy())
  if not out["image"]:
    raise input_pipeline.DataError(f"{data_dir}: split {split!r} has no"
                                   " examples")
  arrays = {key: np.concatenate(values) for key, values in out.items()}
  for key in ("category", "instance"):
    arrays[key] = np.array([v.decode("utf-8") for v in arrays[key]])
  arrays["rotation"] = arrays["rotation"].astype(np.float64)
  return arrays


def run(module, data_dir, split="test", seed=0, max_examples=None,
        batch_size=32):
  """Runs the benchmark; returns a JSON-ready dict.

  Args:
    module: a sph_embed.synthesis.export.SynthesisModule.
    data_dir: dataset directory (its views must be the module's size).
    split: the split to measure (default: the held-out test split).
    seed: seed of the random rotations.
    max_examples: use only the first examples (None: all).
    batch_size: views per forward pass.

  Returns:
    dict: `categories` {category: {method: {metric: mean}}}, `examples`
    per category, `not_beaten` [[category, control, metric]], `passed`,
    and the settings.
  """
  metadata = input_pipeline.read_metadata(data_dir)
  if metadata["image_size"] != module.image_size:
    raise ValueError(f"{data_dir}: views are {metadata['image_size']} x"
                     f" {metadata['image_size']}, the module {module.path}"
                     f" takes {module.image_size} x {module.image_size}")
  split_data = read_split(data_dir, split, max_examples)
  count = len(split_data["image"])
  rotations = rotations_lib.random_rotations(count, 3, seed=seed)
  meshes = synthesize_views.example_meshes(
      metadata, split, split_data["instance"], split_data["rotation"])
  truth = np.stack([
      render.render_view(mesh, synthesize_views.composed_pose(r, pose),
                         module.image_size)
      for mesh, r, pose in zip(meshes, rotations, split_data["rotation"])])
  truth = (truth.astype(np.float32) / 255.0)[..., None]
  rotated, unrotated = [], []
  for start in range(0, count, batch_size):
    part = slice(start, start + batch_size)
    embeddings = module.embed(split_data["image"][part])
    rotated.append(module.decode(rotate.rotate_embeddings(embeddings,
                                                          rotations[part])))
    unrotated.append(module.decode(rotate.band_limit(embeddings)))
  per_image = metrics_lib.synthesis_metrics(
      truth, np.concatenate(rotated), np.concatenate(unrotated),
      module.mean_image, split_data["image"])
  means = metrics_lib.category_means(per_image, split_data["category"])
  not_beaten = metrics_lib.controls_not_beaten(means)
  categories, counts = np.unique(split_data["category"], return_counts=True)
  return {
      "module": module.path, "data_dir": data_dir, "split": split,
      "seed": seed, "rotations": "uniform 3DOF (Haar), one per view",
      "examples": {str(c): int(n) for c, n in zip(categories, counts)},
      "categories": means,
      "not_beaten": [list(item) for item in not_beaten],
      "passed": not not_beaten,
  }


def table_rows(result):
  """[header, row per category]: PSNR then SSIM of each method."""
  header = ["category", "examples"] + [
      f"{metric}_{method}" for metric in metrics_lib.METRICS
      for method in metrics_lib.METHODS]
  rows = [header]
  for category, by_method in sorted(result["categories"].items()):
    rows.append([category, str(result["examples"][category])] + [
        f"{by_method[method][metric]:.4f}" for metric in metrics_lib.METRICS
        for method in metrics_lib.METHODS])
  return rows


def markdown(result):
  """The per-category table as Markdown, with the verdict below it."""
  rows = table_rows(result)
  lines = ["| " + " | ".join(row) + " |" for row in rows]
  lines.insert(1, "|" + " --- |" * len(rows[0]))
  verdict = ("rotated synthesis beats all three controls in every category"
             if result["passed"] else
             "NOT beaten: " + ", ".join(f"{c} ({control} {metric})" for
                                        c, control, metric in
                                        result["not_beaten"]))
  return "\n".join(lines) + f"\n\n{verdict}\n"


def write(path, result):
  """Writes the result as .md (table), .csv (table) or .json (all)."""
  if path.endswith(".json"):
    files.write_json_atomic(path, result)
    return
  if path.endswith(".csv"):
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerows(table_rows(result))
    text = text.getvalue()
  else:
    text = markdown(result)
  with files.atomic_write(path) as f:
    f.write(text)
