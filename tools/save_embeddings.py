"""Writes the embeddings of a dataset split to one .npz file.

Runs a trained embedding network (tools/train_embedding.py) over every view
of a split and writes, through sph_embed.pose.embeddings_io (schema in README.md,
"Embeddings file (.npz)"): the predicted maps (`embeddings`), the teacher's
maps of the same rotated meshes (`targets`), the poses (`rotations`),
`category`, `instance` and, unless --noimages, the views (`images`).  The
file is what tools/correlate.py reads:

  python3 tools/save_embeddings.py --model_dir=runs/embedding_pose \
      --split=test --output=runs/embedding_pose/test_embeddings.npz

--module=DIR embeds with an exported pose embedding module
(tools/export_model.py --kind=pose_embedding) instead of a run's checkpoint;
give exactly one of --model_dir and --module.  The file is the same either
way.  The dataset and teacher default to those the network was trained with
(the run's embedding_model.json, which a module's manifest keeps under
`embedding_network.spec`); give --data_dir and --hub_module where those
paths do not exist (e.g. a module made on another machine).  --output is
checked before computing: a .npz in an existing directory, not a file of
the run; an existing file is replaced only with --overwrite.

--view_turns=4 and --view_mirror average each view's maps over its turned
and mirrored copies, each copy's maps brought back to the view's frame
(sph_embed.embedding.view_averaging): one forward pass per copy.
"""

from absl import app
from absl import flags

from sph_embed.common import cli
from sph_embed.common import outputs
from sph_embed.data import input_pipeline
from sph_embed.embedding import export as embedding_export
from sph_embed.embedding import inference as embedding_inference
from sph_embed.embedding import training as embedding_training
from sph_embed.embedding import view_averaging
from sph_embed.pose import embeddings_io
from sph_embed.teacher import export as teacher_export

_MODEL_DIR = flags.DEFINE_string(
    "model_dir", None, "Model directory written by tools/train_embedding.py"
    " (or give --module).")
_MODULE = flags.DEFINE_string(
    "module", None, "Pose embedding module written by tools/export_model.py"
    " --kind=pose_embedding (or give --model_dir).")
_OUTPUT = flags.DEFINE_string("output", None, "Output .npz file.",
                              required=True)
_SPLIT = flags.DEFINE_enum("split", "test", ["train", "test"],
                           "Dataset split to embed.")
_DATA_DIR = flags.DEFINE_string(
    "data_dir", None, "Dataset directory (default: the training dataset).")
_HUB_MODULE = flags.DEFINE_string(
    "hub_module", None, "Teacher module for the targets (default: the one "
    "the model was trained with; a shipped one when that was another "
    "checkout's hub_modules/<name>).")
_CHECKPOINT = flags.DEFINE_string(
    "checkpoint", None, "Checkpoint path prefix (default: the newest in "
    "--model_dir/checkpoints); --model_dir only.")
_BATCH_SIZE = flags.DEFINE_integer("batch_size", 64,
                                   "Examples per forward pass.")
_MAX_EXAMPLES = flags.DEFINE_integer(
    "max_examples", 0, "Embed only the first this many examples; 0 = all.")
_VIEW_TURNS = flags.DEFINE_integer(
    "view_turns", 1, "1, 2 or 4: average each view's maps over this many"
    " evenly spaced turns of the view about the camera axis (1: the"
    " network's maps as they are).")
_VIEW_MIRROR = flags.DEFINE_bool(
    "view_mirror", False, "Also average over each view's mirror image (the"
    " view transposed, lit as the training views), twice the copies.")
_IMAGES = flags.DEFINE_bool("images", True, "Also store the views (uint8).")
_OVERWRITE = outputs.define_overwrite_flag()
flags.adopt_module_key_flags(outputs)  # Listed by --help.


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  if bool(_MODEL_DIR.value) == bool(_MODULE.value):
    raise app.UsageError("give exactly one of --model_dir (a training run)"
                         " and --module (a pose embedding module)")
  if _MODULE.value and _CHECKPOINT.value:
    raise app.UsageError("--checkpoint applies to --model_dir only (a module"
                         " holds one set of weights)")
  if _BATCH_SIZE.value < 1:
    raise app.UsageError(f"--batch_size must be >= 1, got {_BATCH_SIZE.value}")
  if _MAX_EXAMPLES.value < 0:
    raise app.UsageError(f"--max_examples must be >= 0, got"
                         f" {_MAX_EXAMPLES.value}")
  try:
    view_averaging.validate_turns(_VIEW_TURNS.value, "--view_turns")
  except ValueError as e:
    raise app.UsageError(str(e)) from None
  # Before computing; never onto a file of the run (embedding_model.json).
  outputs.check_output_file(_OUTPUT.value, "output", (".npz",),
                            overwrite=_OVERWRITE.value)
  model, spec = embedding_export.load_embedder(
      _MODEL_DIR.value or None, _MODULE.value or None, _CHECKPOINT.value)
  data_dir = _DATA_DIR.value or spec["data_dir"]
  hub_module = (_HUB_MODULE.value
                or embedding_export.recorded_teacher(spec))
  metadata = input_pipeline.read_metadata(data_dir)
  try:
    teacher, target_shape = embedding_training.load_teacher(
        hub_module, spec["output_key"])
  except teacher_export.ModuleError as e:
    raise app.UsageError(f"--hub_module: {e}") from None
  embedding_inference.check_compatible(spec, metadata, data_dir,
                                       target_shape, hub_module)
  embedder = view_averaging.averaged_over_views(model, _VIEW_TURNS.value,
                                                _VIEW_MIRROR.value)
  with input_pipeline.naming_damaged_shards(data_dir):
    arrays = embedding_inference.embed_split(
        embedder, teacher, data_dir, _SPLIT.value, _BATCH_SIZE.value,
        _MAX_EXAMPLES.value or None, with_images=_IMAGES.value)
  embeddings_io.save_embeddings(_OUTPUT.value, **arrays)
  print(f"wrote {_OUTPUT.value}: {arrays['embeddings'].shape[0]} views of"
        f" {len(set(arrays['instance']))} instances, maps"
        f" {list(arrays['embeddings'].shape[1:])} ({spec['output_key']})")
  copies = len(view_averaging.copies(_VIEW_TURNS.value, _VIEW_MIRROR.value))
  if copies > 1:
    print(f"each view's maps are the mean over {copies} copies of it"
          f" (--view_turns={_VIEW_TURNS.value},"
          f" --{'' if _VIEW_MIRROR.value else 'no'}view_mirror)")
  errors = embedding_inference.map_errors(arrays["embeddings"],
                                          arrays["targets"])
  print(f"{_SPLIT.value} split, embeddings vs teacher maps: relative error"
        f" {errors['relative_error']:.4f}; relative L2"
        f" {errors['relative_l2']:.4f} (predicting the split's mean map:"
        f" {errors['relative_l2_mean_map']:.4f}); channel means removed"
        f" {errors['relative_l2_centered']:.4f}")


if __name__ == "__main__":
  cli.run(main)
