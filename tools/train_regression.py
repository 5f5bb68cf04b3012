"""Trains the pose regression baseline: view -> its canonical rotation.

Paper appendix B.1 (Mahendran et al. 2017): the embedding network's encoder
and a 3-layer pose head regress the axis-angle vector of each view's
rotation, RMSE loss then geodesic (sph_embed.baselines.training).  The
default schedule is the embedding network's (same steps x batch):
  python3 tools/train_regression.py --data_dir=data/synthetic \
      --model_dir=runs/regression --preset=cpu

Rerunning the same command resumes from the newest checkpoint in
--model_dir.  The held-out evaluation (test split) reports the geodesic
error in degrees.
"""

from absl import app
from absl import flags

from sph_embed.baselines import regression
from sph_embed.baselines import training as regression_training
from sph_embed.common import cli
from sph_embed.data import input_pipeline
from sph_embed.training import flags as training_flags

# The embedding network's schedule (DESIGN: 200k steps of 16, drops at 80k
# and 180k): the baseline gets the same compute.
_LOOP = training_flags.define_loop_flags(
    max_steps=200_000, lr_boundaries=(80_000, 180_000), eval_every_steps=5000,
    adam_epsilon=1e-8, keep_checkpoints=2)
flags.adopt_module_key_flags(training_flags)  # Listed by --help.
_PRESET = flags.DEFINE_enum(
    "preset", "paper", sorted(regression.PRESETS),
    "Network widths: paper (the embedding network's paper encoder, 1000-500 "
    "head) or cpu (4x narrower).")
_LOSS_SWITCH_FRACTION = flags.DEFINE_float(
    "loss_switch_fraction", regression.PRESETS["paper"].loss_switch_fraction,
    "Fraction of --max_steps trained with the RMSE loss; the geodesic loss "
    "takes over after it.")


def regression_config_from_flags():
  """The RegressionConfig the flags describe; app.UsageError naming a flag."""
  try:
    return regression.preset(
        _PRESET.value, loss_switch_fraction=_LOSS_SWITCH_FRACTION.value)
  except ValueError as e:
    # The messages start with the field, which is the flag's name.
    raise app.UsageError(
        f"--{str(e).removeprefix('RegressionConfig.')}") from None


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  config = training_flags.loop_config(_LOOP)
  settings = regression_config_from_flags()
  with input_pipeline.naming_damaged_shards(config.data_dir):
    _, result = regression_training.train(config, settings)
  training_flags.print_training_summary(result, config.model_dir)


if __name__ == "__main__":
  cli.run(main)
