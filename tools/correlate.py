"""Relative pose by SO(3) correlation of embeddings; the paper's tables.

Reads an embeddings file (README.md, "Embeddings file (.npz)"), forms pairs
of views by a protocol, estimates each pair's relative rotation R_rel
(R2 = R_rel R1) as the argmax of the channel-summed SO(3) cross-correlation
of the two views' spherical maps (sph_embed.pose.correlation), writes one CSV
row per pair and prints, per category and overall: pairs, median error
(degrees), acc@15 and acc@30 (%).  NumPy + pyshtools only (no TensorFlow).

  python3 tools/correlate.py --embeddings=test.npz --protocol=ib \
      --pairs=3 --upsample=4 --output=ib.csv

--mode=mesh aligns each first view's image embedding to the second view's
teacher map of the mesh (key `targets`); --mode=teacher aligns the teacher
maps of both views (`targets` on both sides: the bound that perfect image
embeddings would reach).  --symmetric reports
min(err, 180 - err) (the paper does this for airplanes).  Instances with a
single view (IB) and categories with a single instance (CB) are reported as
skipped.
"""

import csv
import os
import sys
import tempfile

from absl import app
from absl import flags
from absl import logging
import tqdm

from sph_embed.pose import correlation
from sph_embed.pose import embeddings_io
from sph_embed.pose import evaluation as pose_evaluation

_EMBEDDINGS = flags.DEFINE_string("embeddings", None, "Embeddings .npz file.")
_PROTOCOL = flags.DEFINE_enum("protocol", "ib", list(pose_evaluation.PROTOCOLS),
                              "ib: instance-based, cb: category-based.")
_PAIRS = flags.DEFINE_integer("pairs", 3, "Pairs per instance.", lower_bound=1)
_UPSAMPLE = flags.DEFINE_integer(
    "upsample", 4, "Spatial upsampling factor before the transform (the "
    "original used 4 on 16 x 16 maps).", lower_bound=1)
_MODE = flags.DEFINE_enum("mode", "image", ["image", "mesh", "teacher"],
                          "image: embeddings on both sides; mesh: the second"
                          " side uses `targets`; teacher: both sides do.")
_SYMMETRIC = flags.DEFINE_bool("symmetric", False,
                               "Report min(err, 180 - err).")
_SEED = flags.DEFINE_integer("seed", 0, "Seed of the pair selection.")
_OUTPUT = flags.DEFINE_string("output", None, "CSV file to write (optional).")
_REFINE = flags.DEFINE_bool("refine", True,
                            "Refine the grid argmax by continuous "
                            "maximisation of the correlation.")
_NORMALIZE = flags.DEFINE_bool("normalize", False,
                               "Per-channel normalisation (zero mean, unit "
                               "norm) before correlating.")
_GRID_SIZE = flags.DEFINE_integer(
    "grid_size", 0, "Euler grid points per angle (even, >= 2B); 0: 2B, "
    "where B is the bandwidth after upsampling.", lower_bound=0)
_BATCH = flags.DEFINE_integer("batch", 16, "Pairs per batch.", lower_bound=1)

CSV_FIELDS = (["index1", "index2", "category", "instance1", "instance2",
               "error_deg"]
              + [f"est_r{i}{j}" for i in range(3) for j in range(3)]
              + [f"true_r{i}{j}" for i in range(3) for j in range(3)])


def write_csv(path, data, pairs, errors, estimated, truth):
  """One row per pair, written atomically (temporary file + rename)."""
  directory = os.path.dirname(os.path.abspath(path))
  fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp_",
                             suffix=os.path.basename(path))
  try:
    with os.fdopen(fd, "w", newline="") as f:
      writer = csv.writer(f)
      writer.writerow(CSV_FIELDS)
      for (i, j), error, est, true in zip(pairs, errors, estimated, truth):
        writer.writerow(
            [i, j, data["category"][i], data["instance"][i],
             data["instance"][j], f"{error:.4f}"]
            + [f"{v:.7f}" for v in est.ravel()]
            + [f"{v:.7f}" for v in true.ravel()])
    os.replace(tmp, path)
  except BaseException:
    if os.path.exists(tmp):
      os.remove(tmp)
    raise


def run(path, protocol="ib", pairs_per_instance=3, upsample=4, mode="image",
        symmetric=False, seed=0, output=None, refine=True, normalize=False,
        grid_size=None, batch=16, progress=True):
  """Runs one experiment; returns (summary rows, skip messages)."""
  data = embeddings_io.load_embeddings(path)
  if mode in ("mesh", "teacher") and data["targets"] is None:
    raise ValueError(f"{path}: --mode={mode} needs key 'targets' (the teacher"
                     f" maps), which the file does not have")
  first = data["targets"] if mode == "teacher" else data["embeddings"]
  second = data["embeddings"] if mode == "image" else data["targets"]
  pairs, skipped = pose_evaluation.make_pairs(
      data["category"], data["instance"], protocol, pairs_per_instance, seed)
  for message in skipped:
    logging.warning("%s: %s", path, message)
  if not len(pairs):
    raise ValueError(f"{path}: no pairs under protocol {protocol!r} (see the"
                     f" skipped cases: {'; '.join(skipped)})")
  logging.info("%s: %d pairs (%s, %s mode)", path, len(pairs), protocol, mode)
  with tqdm.tqdm(total=len(pairs), unit="pair", disable=not progress,
                 file=sys.stderr) as bar:
    estimated = correlation.align_pairs(
        first, second, pairs, upsample, grid_size, refine,
        normalize, batch, bar.update).rotations
  truth = pose_evaluation.true_relative_rotations(data["rotations"], pairs)
  errors = pose_evaluation.pose_errors(estimated, truth, symmetric)
  if output:
    write_csv(output, data, pairs, errors, estimated, truth)
    logging.info("wrote %s", output)
  rows = pose_evaluation.summarize(data["category"][pairs[:, 0]], errors)
  return rows, skipped


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  if not _EMBEDDINGS.value:
    raise app.UsageError("--embeddings is required")
  try:
    rows, skipped = run(
        _EMBEDDINGS.value, _PROTOCOL.value, _PAIRS.value, _UPSAMPLE.value,
        _MODE.value, _SYMMETRIC.value, _SEED.value, _OUTPUT.value,
        _REFINE.value, _NORMALIZE.value, _GRID_SIZE.value or None,
        _BATCH.value)
  except (ValueError, FileNotFoundError) as e:
    sys.exit(f"correlate.py: error: {e}")
  print(f"{_EMBEDDINGS.value}: protocol {_PROTOCOL.value.upper()},"
        f" {_MODE.value} mode, upsample x{_UPSAMPLE.value}"
        f"{', symmetric errors' if _SYMMETRIC.value else ''}")
  print(pose_evaluation.format_table(rows))
  for message in skipped:
    print(f"skipped: {message}")


if __name__ == "__main__":
  app.run(main)
