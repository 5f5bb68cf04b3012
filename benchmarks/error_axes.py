"""Which near-symmetry do the badly wrong pairs fall for? (issue 28)

For the pairs of a tools/correlate.py CSV off by more than --min_error_deg,
the axis of the error in the object's canonical frame (z up, front +x;
sph_embed.pose.evaluation.error_axes_in_object_frame), counted per
category by the canonical axis it is within 25 degrees of: a half-turn
about z is front for back, about x upside down and left for right, about y
upside down and front for back; "other" is none of them (a sofa's L
turned about its diagonal).

  python3 benchmarks/error_axes.py --csv=runs/pipeline/pose_ib_image.csv \
      --embeddings=runs/pipeline/embeddings_test.npz
"""

from absl import app
from absl import flags
import numpy as np

from sph_embed.common import cli
from sph_embed.pose import embeddings_io
from sph_embed.pose import evaluation
from sph_embed.report import pose_csvs

_CSV = flags.DEFINE_string("csv", None, "A pose_<protocol>_<mode>.csv of"
                           " tools/correlate.py.", required=True)
_EMBEDDINGS = flags.DEFINE_string(
    "embeddings", None, "The embeddings file it scored (its views' poses).",
    required=True)
_MIN_ERROR = flags.DEFINE_float("min_error_deg", 150.0,
                                "Pairs off by more than this are counted.")

_NEAR = np.cos(np.radians(25.0))  # |axis . e| above this: near e.


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  results = pose_csvs.read_pose_csv(_CSV.value)
  poses = embeddings_io.load_embeddings(_EMBEDDINGS.value)["rotations"]
  if results.pairs.max() >= len(poses):
    raise app.UsageError(f"--embeddings: {_EMBEDDINGS.value} has"
                         f" {len(poses)} views; --csv pairs index up to"
                         f" {results.pairs.max()}")
  wrong = results.errors > _MIN_ERROR.value
  axes = np.abs(evaluation.error_axes_in_object_frame(
      results.estimated[wrong], results.truth[wrong],
      poses[results.pairs[wrong, 1]]))
  near = axes > _NEAR
  print(f"{_CSV.value}: pairs off by more than {_MIN_ERROR.value:g} deg,"
        " by the axis of their error in the object frame")
  print(f"{'category':<10}{'wrong':>12}{'z (up)':>8}{'x':>6}{'y':>6}"
        f"{'other':>7}")
  groups = [(c, results.categories == c)
            for c in dict.fromkeys(results.categories)]
  groups.append(("overall", np.ones(len(results.errors), bool)))
  for name, members in groups:
    rows = members[wrong]
    counts = near[rows].sum(axis=0)
    other = int(rows.sum() - near[rows].any(axis=1).sum())
    print(f"{name:<10}{f'{rows.sum()} / {members.sum()}':>12}{counts[2]:>8}"
          f"{counts[0]:>6}{counts[1]:>6}{other:>7}")
  return 0


if __name__ == "__main__":
  cli.run(main)
