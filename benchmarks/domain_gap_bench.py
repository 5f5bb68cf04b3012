"""The domain gap of photo-like views: 3DOF IB per category (issue 29, 5).

Builds the held-out meshes' views once per appearance (sph_embed.data.views
APPEARANCES): the same meshes in the same poses (one --seed), as plain grey
renders, as those renders prepared as a user's photograph ("framed"), and
as photo-like renders prepared so ("photo"; sph_embed/data/photo_render.py).
Embeds each with a pose embedding module and prints the IB median error and
acc@15 per category side by side (each instance's first view against its
other views, as tools/correlate.py --protocol=ib); writes everything to
<work_dir>/domain_gap_<module name>.json.  Datasets and embeddings stay in
--work_dir.

  nice -n 19 python3 benchmarks/domain_gap_bench.py \
      --work_dir=/tmp/gap_synthetic --source=synthetic
  nice -n 19 python3 benchmarks/domain_gap_bench.py \
      --work_dir=/tmp/gap_furniture --source=furniture

Sources: "synthetic", the shipped network's own kind of held-out instances
(synthetic test seeds, never trained on), painted a random colour per part:
the gap is appearance alone.  "furniture", the shared real models
(../shared/meshes/furniture, geometry only, painted alike) of the module's
categories: there plain views already measure the synthetic-to-real shape
gap and photo-like views add appearance.  Only the image network is
measured: a teacher (even the furniture one) sees ray-cast maps, which
appearance does not change; the targets it makes are not used by IB.

Whether appearance randomisation closes the gap: train on a photo-like
dataset (tools/build_dataset.py --appearance=photo), export the module and
rerun this with --module (BUILD_NOTES.md gives the commands).
"""

import os
import time

from absl import app
from absl import flags

from sph_embed.common import cli
from sph_embed.common import files
from sph_embed.data import dataset
from sph_embed.data import sources
from sph_embed.data import views
from sph_embed.embedding import export as embedding_export
from sph_embed.embedding import inference as embedding_inference
from sph_embed.embedding import training as embedding_training
from sph_embed.pose import embeddings_io
from sph_embed.report import correlate_embeddings

_WORK_DIR = flags.DEFINE_string(
    "work_dir", None, "Datasets, embeddings and domain_gap_<module>.json (a"
    " rerun, or another --module, reuses the finished datasets).", required=True)
_SOURCE = flags.DEFINE_enum("source", "synthetic", ["synthetic", "furniture"],
                            "Held-out meshes (see the module docstring).")
_FURNITURE_LIST = flags.DEFINE_string(
    "furniture_list", "../shared/meshes/furniture/list.txt",
    "--source=furniture: the list file (y up).")
_INSTANCES = flags.DEFINE_integer(
    "instances_per_category", 10, "Held-out instances per category (the"
    " first ones; furniture: fewer where a category has fewer).",
    lower_bound=1)
_VIEWS = flags.DEFINE_integer(
    "views_per_instance", 4, "Views per instance: IB pairs its first view"
    " with each other one.", lower_bound=2)
_APPEARANCES = flags.DEFINE_multi_enum(
    "appearance", list(views.APPEARANCES), views.APPEARANCES,
    "Appearances to compare (repeat the flag).")
_MODULE = flags.DEFINE_string(
    "module", "hub_modules/pose_embedding_synthetic",
    "Pose embedding module (tools/export_model.py --kind=pose_embedding).")
_SEED = flags.DEFINE_integer("seed", 0, "Seed of poses and appearance.")
_NUM_WORKERS = flags.DEFINE_integer(
    "num_workers", None, "Dataset builder processes (default: one per core).")


def _held_out(categories):
  """(categories, instances): --instances_per_category of the source's
  held-out meshes in each of the module's `categories` it has."""
  if _SOURCE.value == "synthetic":
    return sources.synthetic_instances(categories, 0, _INSTANCES.value)
  # Every furniture model is held out from a synthetic-trained network.
  _, found = sources.list_instances(_FURNITURE_LIST.value, None,
                                    test_fraction=1.0, up_axis="y")
  kept = [c for c in categories if any(i.category == c for i in found)]
  instances = []
  for category in kept:
    instances += [i for i in found if i.category == category
                  ][:_INSTANCES.value]
  return kept, instances


def _build(appearance, categories, instances, image_size):
  """The test split's directory, built (or finished) for `appearance`."""
  data_dir = os.path.join(_WORK_DIR.value, appearance)
  config = views.ViewConfig(views_per_instance=_VIEWS.value, dof=3,
                            image_size=image_size, seed=_SEED.value,
                            appearance=appearance)
  dataset.build(instances, categories, data_dir, config,
                {"kind": _SOURCE.value}, num_workers=_NUM_WORKERS.value)
  return data_dir


def _ib(data_dir, model, teacher):
  """IB summary rows of the module on the dataset's test split."""
  arrays = embedding_inference.embed_split(model, teacher, data_dir, "test",
                                           batch_size=64)
  path = os.path.join(data_dir, "test_embeddings.npz")
  embeddings_io.save_embeddings(path, **arrays)
  rows, _, _ = correlate_embeddings.run(
      path, "ib", pairs_per_instance=_VIEWS.value - 1, progress=False)
  return rows


def _table(results):
  """Median IB error (deg) / acc@15 (%) per category, one column each."""
  names = list(results)
  categories = [r["category"] for r in results[names[0]]]
  lines = ["category  " + "".join(f"{n:>18}" for n in names)]
  for index, category in enumerate(categories):
    cells = "".join(f"{row['median_deg']:>11.2f} / {row['acc15']:>4.0f}"
                    for row in (results[n][index] for n in names))
    lines.append(f"{category:<10}{cells}")
  lines.append("cells: median error (deg) / acc@15 (%)")
  return "\n".join(lines)


def _row(summary):
  return {"category": summary.name, "pairs": summary.pairs,
          "median_deg": round(summary.median, 2),
          "acc15": round(summary.accuracy[0], 1),
          "acc30": round(summary.accuracy[1], 1)}


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  os.makedirs(_WORK_DIR.value, exist_ok=True)
  model, spec = embedding_export.load_embedder(module=_MODULE.value)
  teacher, _ = embedding_training.load_teacher(
      embedding_export.recorded_teacher(spec), spec["output_key"])
  categories, instances = _held_out(spec["categories"])
  results = {}
  for appearance in _APPEARANCES.value:
    start = time.perf_counter()
    data_dir = _build(appearance, categories, instances, spec["image_size"])
    results[appearance] = [_row(r) for r in _ib(data_dir, model, teacher)]
    print(f"{appearance}: {time.perf_counter() - start:.0f} s")
  print(f"{_MODULE.value} on {len(instances)} held-out {_SOURCE.value}"
        f" instances x {_VIEWS.value} views, 3DOF IB:")
  print(_table(results))
  report = {"module": _MODULE.value, "source": _SOURCE.value,
            "instances": len(instances), "views_per_instance": _VIEWS.value,
            "seed": _SEED.value, "protocol": "ib", "results": results,
            "date": time.strftime("%Y-%m-%d"), "host_cpus": os.cpu_count()}
  # One report per module, so that modules compared in one work dir (whose
  # held-out views are built once) keep theirs.
  module_name = os.path.basename(os.path.normpath(_MODULE.value))
  path = os.path.join(_WORK_DIR.value, f"domain_gap_{module_name}.json")
  files.write_json_atomic(path, report)
  print(f"wrote {path}")
  return 0


if __name__ == "__main__":
  cli.run(main)
