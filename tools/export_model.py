"""Exports a trained pose network as a module (SavedModel + manifest.json).

  python3 tools/export_model.py --kind=pose_embedding \
      --model_dir=runs/pipeline/embedding \
      --export_dir=hub_modules/pose_synthetic --results=results.json
  python3 tools/export_model.py --kind=pose_regression \
      --model_dir=runs/regression --export_dir=hub_modules/regression_synthetic
  python3 tools/export_model.py --kind=image2sphere \
      --model_dir=runs/image2sphere --export_dir=runs/image2sphere_module

--kind=pose_embedding: a tools/train_embedding.py --output_key=pose run ->
embed(images) (sph_embed.embedding.export; load with load_embedding(path));
--kind=pose_regression: a tools/train_regression.py run -> predict(images),
the canonical rotations (sph_embed.baselines.export; load_regression(path));
--kind=image2sphere: a tools/train_image2sphere.py run -> fourier(images),
each view's distribution over its rotation (sph_embed.baselines.
image2sphere_export; load_image2sphere(path)).
The newest checkpoint is exported.  The manifest records the run (its spec,
steps and the training command rebuilt from the spec), the training data
(read from the run's dataset.json, which must still exist: its fingerprint
goes in), for pose_embedding the teacher, this command, the date and, with
--results, the JSON object of measured results (key `results`).
--export_dir is written atomically; an existing module is replaced only with
--overwrite, and a directory that is not a module never.
"""

import shlex
import sys

from absl import app
from absl import flags

from sph_embed.baselines import export as regression_export
from sph_embed.baselines import image2sphere_export
from sph_embed.common import cli
from sph_embed.common import outputs
from sph_embed.embedding import export as embedding_export
from sph_embed.training import export as module_export

_EXPORTERS = {embedding_export.MODULE_KIND: embedding_export,
              regression_export.MODULE_KIND: regression_export,
              image2sphere_export.MODULE_KIND: image2sphere_export}

_KIND = flags.DEFINE_enum(
    "kind", None, sorted(_EXPORTERS), "What --model_dir trained: "
    "pose_embedding (tools/train_embedding.py --output_key=pose), "
    "pose_regression (tools/train_regression.py) or image2sphere "
    "(tools/train_image2sphere.py).", required=True)
_MODEL_DIR = flags.DEFINE_string("model_dir", None, "The training run.",
                                 required=True)
_EXPORT_DIR = flags.DEFINE_string("export_dir", None, "Module directory.",
                                  required=True)
_RESULTS = flags.DEFINE_string(
    "results", None, "JSON file of measured results (an object), recorded "
    "as the manifest's `results`.")
_DESCRIPTION = flags.DEFINE_string(
    "description", None, "Manifest text (default: what the kind is).")
_OVERWRITE = outputs.define_overwrite_flag("an existing --export_dir module")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  # Before computing; never onto a run or a dataset.
  module_export.check_export_dir(_EXPORT_DIR.value, "export_dir",
                                 _OVERWRITE.value)
  exporter = _EXPORTERS[_KIND.value]
  manifest = exporter.export_run(
      _MODEL_DIR.value, _EXPORT_DIR.value,
      description=_DESCRIPTION.value or exporter.DESCRIPTION,
      results_file=_RESULTS.value,
      command=shlex.join(["python3"] + sys.argv))
  entry = manifest[exporter.ENTRY_POINT]
  print(f"wrote {_EXPORT_DIR.value}: {manifest['module']} module,"
        f" {exporter.ENTRY_POINT} {entry['input']} -> {entry['output']}, step"
        f" {manifest[exporter.RUN_KEY]['steps']} of {_MODEL_DIR.value}")


if __name__ == "__main__":
  cli.run(main)
