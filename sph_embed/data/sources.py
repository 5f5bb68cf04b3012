"""Mesh sources for the dataset builder: which instances, categories, splits.

Four kinds of source, each listing `Instance`s (nothing is loaded here):
* synthetic: sph_embed.data.synthetic shapes; train instances have seeds
  0 .. n-1 and test instances seeds from `TEST_SEED_START` on, so test shapes
  are never seen in training.
* ModelNet40-style tree: root/<category>/<train|test>/*.off; the split is
  the folder's.
* ShapeNet-style tree: root/<synset>/<model_id>/model.obj (ShapeNetCore v1)
  or root/<synset>/<model_id>/models/model_normalized.obj (v2); categories
  are named from the synset id (`SHAPENET_SYNSETS`, else the id itself).
* a list file: one mesh path per line, optionally followed by its category
  (default: the name of the file's folder); relative paths are relative to
  the list file; blank lines and lines starting with '#' are ignored.  A
  line with a tab is split at tabs only, so a path with spaces is written
  "path<TAB>category" (or "path<TAB>" without one).
ShapeNet and list sources have no split of their own: an instance is put in
the test split when a hash of its name falls below `test_fraction`, which
keeps the split stable when instances are added or removed.

The category order of a source (its class labels) is the order given by the
caller if any, else sorted names (synthetic:
sph_embed.data.synthetic.CATEGORIES).

Up axis: every instance records its source's up axis, and `Instance.load`
rotates the mesh into the canonical z-up frame (meshes.to_canonical_frame).
Defaults (`DEFAULT_UP_AXES`): synthetic and ModelNet z, ShapeNet y, list
files z; a list file of y-up meshes (e.g. ../shared/meshes/furniture/list.txt)
needs up_axis="y" (tools/build_dataset.py --up_axis=y).
"""

import dataclasses
import glob
import hashlib
import os
import re

from sph_embed.data import meshes
from sph_embed.data import synthetic

SPLITS = ("train", "test")
TEST_SEED_START = 1_000_000
SHAPENET_SYNSETS = {
    "02691156": "airplane", "02818832": "bed", "02828884": "bench",
    "02876657": "bottle", "02933112": "cabinet", "02958343": "car",
    "03001627": "chair", "03211117": "monitor", "03467517": "guitar",
    "03636649": "lamp", "03691459": "loudspeaker", "03797390": "mug",
    "04090263": "rifle", "04256520": "sofa", "04379243": "table",
    "04401088": "telephone", "04530566": "watercraft",
}
DEFAULT_UP_AXES = {"synthetic": "z", "modelnet": "z", "shapenet": "y",
                   "list": "z"}
_SHAPENET_MODEL_FILES = ("model.obj", os.path.join("models",
                                                   "model_normalized.obj"))


class SourceError(ValueError):
  """A source is empty, malformed or does not have the requested categories."""


@dataclasses.dataclass(frozen=True)
class Instance:
  """One object: a mesh file, or a synthetic (category, seed)."""
  category: str
  name: str  # Unique within a source.
  split: str
  path: str | None = None
  seed: int | None = None
  up_axis: str = "z"  # The mesh's up axis, turned to +z on load.

  def __post_init__(self):
    if self.up_axis not in meshes.UP_AXES:
      raise SourceError(f"instance {self.name}: up axis must be one of"
                        f" {meshes.UP_AXES}, got {self.up_axis!r}")

  def describe(self):
    """How error messages name this instance."""
    if self.path is not None:
      return self.path
    return f"synthetic {self.category} seed {self.seed}"

  def load(self):
    """The mesh in the canonical (z-up) frame, not normalised."""
    if self.path is not None:
      mesh = meshes.load_mesh(self.path)
    else:
      mesh = synthetic.make_instance(self.category, self.seed)
    return meshes.to_canonical_frame(mesh, self.up_axis)


def _select(found, categories, what):
  """Orders `found` category names as `categories` (if given) or sorted."""
  if not found:
    raise SourceError(f"{what}: no categories found")
  if not categories:
    return sorted(found)
  missing = [c for c in categories if c not in found]
  if missing:
    raise SourceError(f"{what}: unknown categories {missing}; found:"
                      f" {sorted(found)}")
  return list(categories)


def _in_test_split(name, test_fraction):
  digest = hashlib.sha256(name.encode("utf-8")).digest()
  return int.from_bytes(digest[:8], "little") / 2.0**64 < test_fraction


def carve_validation(instances, per_category):
  """A validation split carved from the train instances.

  The last `per_category` train instances of each category (by name) form
  the returned "test" split, the other train instances stay "train", and
  the source's own test instances are left out: recipes are chosen on
  these, and the real test split is scored once with the chosen one.

  Raises:
    SourceError: a category has no more than `per_category` train
      instances.
  """
  if per_category < 1:
    raise SourceError(f"validation instances must be >= 1 per category, got"
                      f" {per_category}")
  by_category = {}
  for instance in instances:
    if instance.split == "train":
      by_category.setdefault(instance.category, []).append(instance)
  carved = []
  for category, members in sorted(by_category.items()):
    if len(members) <= per_category:
      raise SourceError(f"category {category!r} has {len(members)} train"
                        f" instances: too few to carve {per_category} for"
                        " validation and keep some to train on")
    members = sorted(members, key=lambda i: i.name)
    carved += members[:-per_category]
    carved += [dataclasses.replace(i, split="test")
               for i in members[-per_category:]]
  return carved


def _check_nonempty(instances, what):
  if not instances:
    raise SourceError(f"{what}: no mesh instances found")
  return instances


def synthetic_instances(categories, train_per_category, test_per_category,
                        up_axis=DEFAULT_UP_AXES["synthetic"]):
  """(categories, instances) of the synthetic source."""
  categories = _select(set(synthetic.CATEGORIES),
                       categories or synthetic.CATEGORIES, "synthetic source")
  instances = []
  for category in categories:
    for split, start, count in (("train", 0, train_per_category),
                                ("test", TEST_SEED_START, test_per_category)):
      for seed in range(start, start + count):
        instances.append(Instance(category, f"{category}_{seed:07d}", split,
                                  seed=seed, up_axis=up_axis))
  return categories, _check_nonempty(instances, "synthetic source")


def modelnet_instances(root, categories=None,
                       up_axis=DEFAULT_UP_AXES["modelnet"]):
  """(categories, instances) of a ModelNet40-style tree."""
  if not os.path.isdir(root):
    raise SourceError(f"ModelNet root {root}: not a directory")
  found = {}
  for entry in sorted(os.listdir(root)):
    folder = os.path.join(root, entry)
    if not os.path.isdir(folder):
      continue  # E.g. a README next to the category folders.
    splits = [s for s in SPLITS if os.path.isdir(os.path.join(folder, s))]
    if not splits:
      raise SourceError(f"{folder}: not a ModelNet category folder (expected"
                        " train/ and/or test/ subfolders)")
    found[entry] = splits
  categories = _select(found, categories, f"ModelNet root {root}")
  instances = []
  for category in categories:
    for split in found[category]:
      for path in sorted(glob.glob(os.path.join(root, category, split,
                                                "*.off"))):
        name = os.path.splitext(os.path.basename(path))[0]
        instances.append(Instance(category, name, split, path=path,
                                  up_axis=up_axis))
  return categories, _check_nonempty(instances, f"ModelNet root {root}")


def shapenet_instances(root, categories=None, test_fraction=0.2,
                       up_axis=DEFAULT_UP_AXES["shapenet"]):
  """(categories, instances) of a ShapeNet-style tree.

  `categories` may name synsets by id or by name.
  """
  if not os.path.isdir(root):
    raise SourceError(f"ShapeNet root {root}: not a directory")
  synsets = {}
  for entry in sorted(os.listdir(root)):
    if not os.path.isdir(os.path.join(root, entry)):
      continue
    if not re.fullmatch(r"\d{8}", entry):
      raise SourceError(f"{os.path.join(root, entry)}: not a ShapeNet synset"
                        " folder (expected an 8-digit synset id)")
    synsets[SHAPENET_SYNSETS.get(entry, entry)] = entry
  wanted = [SHAPENET_SYNSETS.get(c, c) for c in categories or ()]
  categories = _select(synsets, wanted, f"ShapeNet root {root}")
  instances = []
  for category in categories:
    synset_dir = os.path.join(root, synsets[category])
    for model_id in sorted(os.listdir(synset_dir)):
      paths = [os.path.join(synset_dir, model_id, f)
               for f in _SHAPENET_MODEL_FILES]
      path = next((p for p in paths if os.path.isfile(p)), None)
      if path is None:
        continue  # Not a model folder (e.g. a stray file).
      split = "test" if _in_test_split(model_id, test_fraction) else "train"
      instances.append(Instance(category, model_id, split, path=path,
                                up_axis=up_axis))
  return categories, _check_nonempty(instances, f"ShapeNet root {root}")


def _list_entry(line, base, where):
  """(category, name, path) of a list file's line; None: blank or comment.

  Raises:
    SourceError naming `where` (file:line): more than path and category,
    or a path with spaces cut at a space (taken for path and category).
  """
  if not line.strip() or line.lstrip().startswith("#"):
    return None
  fields = ([f.strip() for f in line.split("\t") if f.strip()]
            if "\t" in line else line.split())
  if len(fields) > 2:
    raise SourceError(f"{where}: expected 'path [category]' (a path with"
                      f" spaces: 'path<TAB>category'), got {line!r}")
  path = os.path.join(base, fields[0])
  if (len(fields) == 2 and not os.path.exists(path)
      and os.path.isfile(os.path.join(base, line.strip()))):
    raise SourceError(f"{where}: {fields[0]!r} does not exist but"
                      f" {line.strip()!r} does: a path with spaces needs a"
                      " tab after it ('path<TAB>category', or 'path<TAB>'"
                      " for the folder's name)")
  category = (fields[1] if len(fields) == 2 else
              os.path.basename(os.path.dirname(path)))
  return category, fields[0], path


def list_instances(list_file, categories=None, test_fraction=0.2,
                   up_axis=DEFAULT_UP_AXES["list"]):
  """(categories, instances) of a list file (see the module docstring)."""
  try:
    with open(list_file, encoding="utf-8") as f:
      lines = f.read().splitlines()
  except OSError as e:
    raise SourceError(f"list file {list_file}: cannot read ({e})") from e
  base = os.path.dirname(os.path.abspath(list_file))
  entries = []
  for number, line in enumerate(lines, start=1):
    entry = _list_entry(line, base, f"{list_file}:{number}")
    if entry:
      entries.append(entry)
  _check_nonempty(entries, f"list file {list_file}")
  categories = _select({c for c, _, _ in entries}, categories,
                       f"list file {list_file}")
  instances = [
      Instance(category, name,
               "test" if _in_test_split(name, test_fraction) else "train",
               path=path, up_axis=up_axis)
      for category, name, path in entries if category in categories]
  return categories, _check_nonempty(instances, f"list file {list_file}")
