"""The paper's published relative-pose numbers (Esteves et al., ICML 2019).

Median error (degrees), acc@15 and acc@30 (%) per category, keyed by
experiment (the configs of sph_embed/experiments), then by (protocol,
method) with protocol 'ib' / 'cb' and method as the report's modes:
'image' (ours, image to image), 'mesh' (ours, image to mesh) and
'regression' (the baseline).  A value is (median, acc@15, acc@30); the
tables that give only medians hold (median, None, None).

Sources (../shared/seeds/001_*.txt): Table 2 (ShapeNet, 2DOF and 3DOF,
IB and CB, ours and regression, all three numbers), Table 4 (ShapeNet
image to mesh, medians; its "im-im" row equals Table 2's CB row, so the
paper's image-to-mesh pairs are category-based), Tables 5 and 6
(ModelNet40 3DOF and 2DOF, IB and CB, medians).  ShapeNet airplanes are
scored up to a 180-degree symmetry (min(err, 180 - err)), as in the paper.
"""

SHAPENET_CATEGORIES = ("airplane", "car", "chair", "sofa")
MODELNET_CATEGORIES = ("airplane", "bed", "chair", "car", "sofa", "toilet")


def _rows(categories, *values):
  """{category: (median, acc@15, acc@30)} from a row of the paper's table."""
  if len(values) == len(categories):
    return {c: (v, None, None) for c, v in zip(categories, values)}
  assert len(values) == 3 * len(categories), values
  return {c: tuple(values[3 * i:3 * i + 3]) for i, c in enumerate(categories)}


_S, _M = SHAPENET_CATEGORIES, MODELNET_CATEGORIES

PAPER_RESULTS = {
    "shapenet_2dof": {
        ("ib", "image"): _rows(_S, 5.17, 85.3, 91.9, 3.70, 92.2, 92.5,
                               5.07, 90.6, 94.1, 4.59, 93.6, 95.2),
        ("ib", "regression"): _rows(_S, 16.9, 46.3, 68.7, 6.55, 83.5, 93.1,
                                    13.7, 53.9, 78.3, 17.3, 43.2, 69.4),
        ("cb", "image"): _rows(_S, 6.24, 79.0, 88.2, 4.73, 73.2, 73.3,
                               12.1, 59.3, 74.4, 10.8, 58.7, 70.5),
        ("cb", "regression"): _rows(_S, 20.6, 38.7, 63.7, 7.06, 82.4, 92.5,
                                    16.8, 43.7, 72.0, 19.6, 37.8, 66.5),
        ("cb", "mesh"): _rows(_S, 5.65, 4.95, 13.28, 12.34),
    },
    "shapenet_3dof": {
        ("ib", "image"): _rows(_S, 6.64, 80.9, 91.9, 3.84, 97.3, 98.8,
                               5.55, 89.1, 95.7, 5.21, 90.4, 94.8),
        ("ib", "regression"): _rows(_S, 45.4, 12.6, 31.3, 9.83, 69.0, 86.5,
                                    21.7, 31.3, 64.3, 22.2, 34.8, 61.4),
        ("cb", "image"): _rows(_S, 7.27, 76.4, 89.4, 4.59, 92.1, 93.3,
                               12.3, 59.5, 77.3, 9.66, 63.9, 76.0),
        ("cb", "regression"): _rows(_S, 44.4, 14.1, 32.1, 10.5, 66.5, 85.6,
                                    25.6, 25.1, 57.2, 24.5, 30.9, 58.1),
        ("cb", "mesh"): _rows(_S, 5.98, 4.24, 13.21, 11.43),
    },
    "modelnet40_2dof": {
        ("ib", "image"): _rows(_M, 3.33, 4.46, 7.07, 4.12, 4.52, 4.88),
        ("ib", "regression"): _rows(_M, 6.29, 12.7, 25.5, 6.84, 12.5, 9.76),
        ("cb", "image"): _rows(_M, 4.80, 6.60, 10.2, 4.82, 9.56, 10.8),
        ("cb", "regression"): _rows(_M, 7.13, 15.8, 32.2, 7.00, 13.3, 10.4),
    },
    "modelnet40_3dof": {
        ("ib", "image"): _rows(_M, 7.23, 4.93, 7.79, 3.95, 6.51, 5.17),
        ("ib", "regression"): _rows(_M, 11.8, 26.0, 43.7, 16.5, 25.3, 17.8),
        ("cb", "image"): _rows(_M, 8.81, 8.55, 15.3, 5.12, 11.0, 10.9),
        ("cb", "regression"): _rows(_M, 12.9, 29.9, 52.5, 15.2, 34.5, 17.8),
    },
}

DATASET_NAMES = {"shapenet_2dof": "ShapeNet", "shapenet_3dof": "ShapeNet",
                 "modelnet40_2dof": "ModelNet40",
                 "modelnet40_3dof": "ModelNet40"}


def medians(protocol, mode, dof):
  """{dataset name: {category: median}} of every experiment with this table.

  The reference column of runs on other data (the synthetic main job).
  """
  found = {}
  for name, tables in PAPER_RESULTS.items():
    if name.endswith(f"_{dof}dof") and (protocol, mode) in tables:
      label = DATASET_NAMES[name]
      if mode == "mesh":
        label = f"{label} (category-based)"
      found[label] = {c: v[0] for c, v in tables[(protocol, mode)].items()}
  return found
