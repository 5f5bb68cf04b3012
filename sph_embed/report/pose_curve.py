"""Relative-pose error of an embedding run at each of its kept checkpoints.

The library side of tools/pose_curve.py: for every checkpoint of a
tools/train_embedding.py run (the main job keeps one every eighth of its
steps), the pose head embeds a split's views and the views' pairs are
aligned by SO(3) correlation exactly as tools/correlate.py does (same
pairs, same upsampling and refinement), giving the median error and
acc@15 / acc@30 against the training step: how far the network is from
converged, and what more steps would buy.
"""

import os

from absl import logging
import numpy as np
import tensorflow as tf

from sph_embed.common import files
from sph_embed.data import input_pipeline
from sph_embed.embedding import training as embedding_training
from sph_embed.embedding import view_averaging
from sph_embed.pose import correlation
from sph_embed.pose import evaluation as pose_evaluation
from sph_embed.report import correlate_embeddings
from sph_embed.training import checkpoints as checkpoint_lib

CSV_FIELDS = ("step", "pairs", "median_deg", "acc15", "acc30")


def kept_checkpoints(model_dir):
  """[(step, checkpoint prefix)] of the run's kept checkpoints, by step.

  Raises:
    ValueError naming the run when it has none.
  """
  state = tf.train.get_checkpoint_state(os.path.join(model_dir,
                                                     "checkpoints"))
  prefixes = list(state.all_model_checkpoint_paths) if state else []
  found = sorted((int(p.rsplit("-", 1)[1]), p) for p in prefixes
                 if os.path.exists(p + ".index"))
  if not found:
    raise ValueError(f"{model_dir}: no checkpoints (train it with"
                     " tools/train_embedding.py)")
  return found


def _split_views(data_dir, split, batch_size):
  """(images [N, S, S, 1], rotations, category, instance) in split order."""
  parts = {"image": [], "rotation": [], "category": [], "instance": []}
  for batch in input_pipeline.make_dataset(data_dir, split, batch_size,
                                           shuffle=False, deterministic=True):
    for key, values in parts.items():
      values.append(batch[key].numpy())
  images, rotations, category, instance = (np.concatenate(parts[key])
                                           for key in parts)
  return (images, rotations, category.astype(str), instance.astype(str))


def measure(model_dir, data_dir, split="test", protocol="ib", pairs=3,
            seed=0, upsample=4, batch_size=32, output_key=None,
            view_turns=1, view_mirror=False):
  """One row {step, pairs, median_deg, acc15, acc30} per kept checkpoint.

  Args:
    model_dir: a tools/train_embedding.py run.
    data_dir: the dataset whose `split` is scored.
    split, protocol, pairs, seed: the pairs, as tools/correlate.py forms
      them (pose.evaluation.make_pairs).
    upsample: the maps' upsampling before correlation (correlate's
      --upsample; the main job uses 4).
    batch_size: views per forward pass.
    output_key: the head scored (default: the run's first, `pose`).
    view_turns, view_mirror: average each view's maps over this many turns
      of the view, and their mirror images
      (sph_embed.embedding.view_averaging; tools/save_embeddings.py).
  """
  checkpoints = kept_checkpoints(model_dir)
  images, rotations, category, instance = _split_views(data_dir, split,
                                                       batch_size)
  index_pairs, skipped = pose_evaluation.make_pairs(category, instance,
                                                    protocol, pairs, seed)
  correlate_embeddings.check_pairs(f"{data_dir} ({split})", protocol,
                                   index_pairs, skipped)
  truth = pose_evaluation.true_relative_rotations(rotations, index_pairs)
  pair_categories = category[index_pairs[:, 0]]
  # One network, traced once; each checkpoint is restored into it.
  spec = embedding_training.read_model_spec(model_dir)
  network = embedding_training.build_model(spec)
  model, _ = embedding_training.head_of(network, spec, output_key, model_dir)
  averaged = view_averaging.averaged_over_views(model, view_turns,
                                                view_mirror)
  embed = tf.function(lambda batch: averaged(batch, training=False))
  rows = []
  for step, prefix in checkpoints:
    checkpoint_lib.restore_weights(network, model_dir, prefix,
                                   "embedding network")
    maps = np.concatenate([embed(images[i:i + batch_size]).numpy()
                           for i in range(0, len(images), batch_size)])
    estimated = correlation.align_pairs(maps, maps, index_pairs, upsample,
                                        refine=True).rotations
    overall = pose_evaluation.summarize(
        pair_categories, pose_evaluation.pose_errors(estimated, truth))[-1]
    acc15, acc30 = overall.accuracy  # pose_evaluation.THRESHOLDS
    rows.append({"step": step, "pairs": overall.pairs,
                 "median_deg": overall.median, "acc15": acc15,
                 "acc30": acc30})
    logging.info("step %d: median %.2f deg over %d pairs", step,
                 overall.median, overall.pairs)
  return rows


def write_csv(path, rows):
  """The rows as CSV (atomically)."""
  files.write_csv_rows(path, CSV_FIELDS, rows)


def read_csv(path):
  """The rows `write_csv` wrote.

  Raises:
    ValueError naming the file: unreadable, other columns, a bad value.
  """
  return files.read_csv_rows(
      path, {key: int if key in ("step", "pairs") else float
             for key in CSV_FIELDS}, "a pose-vs-steps CSV")
