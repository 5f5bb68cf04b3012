"""The report's sections of figures drawn from the embeddings: the paper's
Fig. 4 alignment examples and slices of the SO(3) correlation grid.

The builder takes report_page.Inputs and returns its sections; a CSV
without figures gets a note in Inputs.notes.
"""

import os

from sph_embed.report import figures
from sph_embed.report import report_page


def alignment_and_slices(inputs):
  """An alignment figure per CSV with its embeddings file and dataset, and
  correlation slices per IB CSV whose mode correlates maps."""
  cache = {}
  alignment = report_page.Section(
      "Alignment examples (as the paper's Fig. 4)")
  alignment.text("Per row, one pair: the two input views, then view 1's mesh"
                 " rendered under the estimated relative pose (what the"
                 " method says view 2 shows) and under the true one.")
  slices = report_page.Section("Correlation grid slices")
  slices.text("C(alpha, beta, gamma) of the first pairs, Euler angles ZYZ,"
              " without the upsampling and refinement of the tables.")
  shown = []
  for results in inputs.results:
    data, problem = figures.embeddings_for(inputs.work_dir, results, cache)
    if data is None:
      inputs.notes.append(f"{results.name}: no figures ({problem}).")
      continue
    name = f"align_{results.stem}.png"
    if figures.alignment_figure(inputs.work_dir, results, data,
                                os.path.join(inputs.staging, name)):
      alignment.image(name, f"alignment, {results.title}")
      shown.append(alignment)
    else:
      inputs.notes.append(
          f"{results.name}: no alignment figure (no dataset"
          f" data{results.suffix}/dataset.json to reload meshes).")
    has_maps = (results.mode in figures.MODE_MAPS and all(
        data[key] is not None for key in figures.MODE_MAPS[results.mode]))
    if results.protocol == "ib" and has_maps:
      name = f"corr_{results.stem}.png"
      figures.correlation_slices(results, data,
                                 os.path.join(inputs.staging, name))
      slices.image(name, f"correlation slices, {results.title}")
      shown.append(slices)
  return [s for s in (alignment, slices) if any(s is t for t in shown)]
