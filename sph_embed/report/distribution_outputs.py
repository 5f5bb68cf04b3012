"""Outputs of the pose-distribution benchmark (tools/evaluate_distributions.py).

One CSV row per pair and one SO(3) plot per kept pair, from the
`pair_distributions.Benchmark` that `pair_distributions.evaluate_embeddings`
returns.
NumPy and matplotlib: no TensorFlow.
"""

import csv
import os

import numpy as np

from sph_embed.common import files
from sph_embed.report import so3_plot


def write_csv(path, bench):
  """One row per pair, written atomically (sph_embed.common.files)."""
  data, pairs, fit = bench.data, bench.pairs, bench.fit
  modes = bench.modes.masses.shape[1]
  held_out = np.array(fit.temperatures)[1 - fit.halves]
  fields = (["index1", "index2", "category", "instance1", "instance2", "half",
             "temperature", "log_likelihood", "log_likelihood_untempered",
             "coverage"]
            + [f"mode{k + 1}_{what}" for k in range(modes)
               for what in ("error_deg", "mass")])
  with files.atomic_write(path, newline="") as f:
    writer = csv.writer(f)
    writer.writerow(fields)
    for p, (i, j) in enumerate(pairs):
      writer.writerow(
          [i, j, data["category"][i], data["instance"][i],
           data["instance"][j], fit.halves[p], f"{held_out[p]:.6g}",
           f"{fit.tempered[p]:.4f}", f"{fit.untempered[p]:.6g}",
           f"{fit.coverages[p]:.4f}"]
          + [f"{v:.4f}" for k in range(modes)
             for v in (bench.errors[p, k], bench.modes.masses[p, k])])


def write_plots(directory, bench):
  """One PNG per kept pair; returns the paths."""
  os.makedirs(directory, exist_ok=True)
  data, fit = bench.data, bench.fit
  paths = []
  for p, masses in sorted(bench.modes.plotted.items()):
    i, j = bench.pairs[p]
    category = data["category"][i]
    temperature = fit.temperatures[1 - fit.halves[p]]
    path = os.path.join(directory, f"pair{p:04d}_{category}_{i}_{j}.png")
    so3_plot.plot_grid_distribution(
        masses, bench.truth[p], path,
        f"{category} {data['instance'][i]}: views {i} -> {j}, T = "
        f"{temperature:.3g}, top-1 error {bench.errors[p, 0]:.1f} deg, LL "
        f"{fit.tempered[p]:.2f}")
    paths.append(path)
  return paths
