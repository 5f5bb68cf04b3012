"""The rows of recipes compared at one time budget, as CSV.

benchmarks/time_to_accuracy.py (sph_embed.experiments.time_to_accuracy)
writes one row per scored checkpoint of each recipe; the report's section
"Pose error vs minutes of training" reads them.
"""

from sph_embed.common import files

CSV_NAME = "time_to_accuracy.csv"
CSV_FIELDS = ("recipe", "step", "minutes", "pairs", "median_deg", "acc15",
              "acc30")


def write_csv(path, rows):
  """The rows as CSV (atomically)."""
  files.write_csv_rows(path, CSV_FIELDS, rows)


def read_csv(path):
  """The rows `write_csv` wrote; ValueError naming the file otherwise."""
  return files.read_csv_rows(
      path, {key: (str if key == "recipe" else
                   int if key in ("step", "pairs") else float)
             for key in CSV_FIELDS}, "a time-to-accuracy CSV")
