"""The quick demo: the shipped modules on a small held-out set, then the report.

The library side of tools/demo.py.  It does, in one process and without
training, what the main job (tools/pipeline.py) does after its training
stages, so a fresh clone shows the system's results in a few minutes:

  1. a small synthetic test set of instances no network was trained on
     (the main job's held-out seeds), in random 3DOF poses and, for the
     same instances, upright 2DOF poses (data/, data_2dof/);
  2. the shipped pose embedding module embeds the views and the shipped
     teacher gives the maps of the rotated meshes (embeddings_test*.npz);
  3. relative pose by SO(3) correlation (IB/CB image, image-to-mesh, the
     teacher bound) and, when a regression module is given, by the
     regression baseline on the same pairs, and when an Image2Sphere module
     is given, by the argmax of its distributions (with plots of a view's
     distribution per category): the pose_<ib|cb>_<mode>[_2dof].csv tables;
  4. the shipped synthesis module's turntables of one view per category
     (synthesis/);
  5. the report (report/index.html, report.md).

The work directory is the report's input as for the main job, so
tools/make_report.py can rebuild the report from it.
"""

import dataclasses
import os

from absl import logging

from sph_embed.baselines import export as regression_export
from sph_embed.baselines import image2sphere_export
from sph_embed.data import dataset
from sph_embed.data import sources
from sph_embed.data import views
from sph_embed.embedding import export as embedding_export
from sph_embed.embedding import inference as embedding_inference
from sph_embed.embedding import view_averaging
from sph_embed.pose import embeddings_io
from sph_embed.report import absolute_poses
from sph_embed.report import correlate_embeddings
from sph_embed.report import html_report
from sph_embed.report import synthesize_views
from sph_embed.synthesis import export as synthesis_export
from sph_embed.teacher import export as teacher_export

# The main job's view settings (tools/build_dataset.py's defaults).
_IMAGE_SIZE = 64
_SPHERE_SIZE = 64
# The protocols and modes the main job scores (tools/pipeline.py).
CORRELATIONS = (("ib", "image"), ("cb", "image"), ("ib", "mesh"),
                ("ib", "teacher"), ("cb", "teacher"))


@dataclasses.dataclass(frozen=True)
class Modules:
  """Paths of the modules the demo runs (a baseline None: none)."""
  teacher: str
  pose_embedding: str
  pose_regression: str | None
  synthesis: str
  image2sphere: str | None = None


def shipped_modules(repo_root):
  """The modules shipped in <repo_root>/hub_modules."""
  root = os.path.join(repo_root, "hub_modules")
  return Modules(
      teacher=os.path.join(root, "teacher_synthetic"),
      pose_embedding=os.path.join(root, "pose_embedding_synthetic"),
      pose_regression=os.path.join(root, "pose_regression_synthetic"),
      synthesis=os.path.join(root, "synthesis_synthetic"),
      image2sphere=os.path.join(root, "image2sphere_synthetic"))


@dataclasses.dataclass(frozen=True)
class DemoConfig:
  """What the demo builds and scores."""
  categories: tuple = ("airplane", "car", "chair", "sofa", "bed", "toilet")
  test_instances: int = 3
  views_per_instance: int = 4
  pairs: int = 2
  upsample: int = 4
  turntable_steps: int = 24
  # Each view's maps averaged with its mirror image's, as the main job
  # (embedding.view_averaging).
  view_mirror: bool = True


def _build_test_set(output_dir, config, dof):
  """Held-out synthetic instances only (no train split)."""
  categories, instances = sources.synthetic_instances(
      config.categories, 0, config.test_instances)
  view_config = views.ViewConfig(
      views_per_instance=config.views_per_instance, dof=dof,
      anisotropic_scale=0.0, image_size=_IMAGE_SIZE,
      sphere_size=_SPHERE_SIZE, seed=0)
  dataset.build(instances, categories, output_dir, view_config,
                {"kind": "synthetic", "train_instances": 0,
                 "test_instances": config.test_instances},
                command_line="tools/demo.py", num_workers=0, progress=False)


def _check_modules(modules):
  """Loads every module first, so a missing one fails before any work.

  Raises:
    ValueError naming the module's flag (tools/demo.py's flags are the
    fields of `Modules`) and the problem, e.g. a module of another kind.
  """
  loaders = {
      "teacher": lambda path: teacher_export.load_teacher_layer(path, "pose"),
      "pose_embedding": embedding_export.load_embedding,
      "pose_regression": regression_export.load_regression,
      "synthesis": synthesis_export.load_synthesis,
      "image2sphere": lambda path: image2sphere_export.load_predictor(
          module=path)}
  loaded = []
  for flag, load in loaders.items():
    path = getattr(modules, flag)
    try:
      loaded.append(load(path) if path else None)
    except ValueError as e:
      raise ValueError(f"--{flag}: {e}") from None
  return tuple(loaded)


def run(work_dir, modules, config=DemoConfig()):
  """Builds the test sets, scores the shipped modules, writes the report.

  Args:
    work_dir: a new (or empty) directory for the data, tables and report.
    modules: `Modules`.
    config: `DemoConfig`.

  Returns:
    The report directory.

  Raises:
    ValueError naming the module or directory at fault.
  """
  if os.path.isdir(work_dir) and os.listdir(work_dir):
    raise ValueError(f"{work_dir}: exists and is not empty; give a new"
                     " directory")
  (teacher, embedding, regression, synthesis,
   image2sphere_loaded) = _check_modules(modules)
  baselines = []
  if regression:
    baselines.append(("regression", regression.image_size,
                      absolute_poses.rotation_predictor(regression.predict)))
  image2sphere = None
  if image2sphere_loaded:
    image2sphere, spec = image2sphere_loaded
    baselines.append(("image2sphere", spec["image_size"],
                      absolute_poses.image2sphere_predictor(image2sphere)))
  os.makedirs(work_dir, exist_ok=True)
  for dof, suffix in ((3, ""), (2, "_2dof")):
    data_dir = os.path.join(work_dir, f"data{suffix}")
    logging.info("demo: %dDOF held-out views -> %s", dof, data_dir)
    _build_test_set(data_dir, config, dof)
    arrays = embedding_inference.embed_split(
        view_averaging.averaged_over_views(embedding,
                                           mirror=config.view_mirror),
        teacher, data_dir, "test", batch_size=64)
    embeddings = os.path.join(work_dir, f"embeddings_test{suffix}.npz")
    embeddings_io.save_embeddings(embeddings, **arrays)
    for protocol, mode in CORRELATIONS:
      rows, _, _ = correlate_embeddings.run(
          embeddings, protocol, config.pairs, config.upsample, mode,
          output=os.path.join(work_dir, f"pose_{protocol}_{mode}{suffix}.csv"),
          progress=False)
      logging.info("demo: %dDOF %s %s: overall median %.1f deg", dof,
                   protocol.upper(), mode, rows[-1].median)
    for mode, image_size, predict in baselines:
      for protocol in ("ib", "cb"):
        # The per-view absolute errors once per split, with the IB pass.
        absolute = (os.path.join(work_dir, f"absolute_{mode}{suffix}.csv")
                    if protocol == "ib" else None)
        _, _, table = absolute_poses.run(
            predict, image_size, data_dir, "test", protocol, config.pairs,
            output=os.path.join(work_dir,
                                f"pose_{protocol}_{mode}{suffix}.csv"),
            absolute_output=absolute)
        if mode == "image2sphere" and protocol == "ib" and dof == 3:
          # As the main job: one view's distribution per category.
          absolute_poses.write_distribution_plots(
              image2sphere, data_dir, "test", table,
              absolute_poses.first_views(table, 1),
              os.path.join(work_dir, "distributions_image2sphere"))
  synthesize_views.write_samples(
      synthesis, os.path.join(work_dir, "data"), "test",
      os.path.join(work_dir, "synthesis"),
      rotations=synthesize_views.turntable(config.turntable_steps, "y"))
  return html_report.write_report(work_dir)
