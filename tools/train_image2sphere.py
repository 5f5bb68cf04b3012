"""Trains the Image2Sphere baseline: view -> distribution over its rotation.

Klee et al., ICLR 2023 (sph_embed.baselines.image2sphere): the embedding
network's encoder, an orthographic projection onto the visible hemisphere,
a spherical and an SO(3) convolution; the output is the SO(3) Fourier
series of a log density, trained by cross-entropy on the Euler grid cell
of each view's canonical rotation (sph_embed.baselines.image2sphere_training).
The default schedule is the embedding network's (same steps x batch):
  python3 tools/train_image2sphere.py --data_dir=data/synthetic \
      --model_dir=runs/image2sphere --preset=cpu

Rerunning the same command resumes from the newest checkpoint in
--model_dir.  The held-out evaluation (test split) reports the
log-likelihood of the true rotation and the geodesic error of the argmax
in degrees.
"""

from absl import app
from absl import flags

from sph_embed.baselines import image2sphere
from sph_embed.baselines import image2sphere_training
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
    "preset", "paper", sorted(image2sphere.PRESETS),
    "Network widths: paper (the embedding network's paper encoder, 512 "
    "sphere channels) or cpu (its cpu encoder, 128 sphere channels).")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  config = training_flags.loop_config(_LOOP)
  settings = image2sphere.preset(_PRESET.value)
  with input_pipeline.naming_damaged_shards(config.data_dir):
    _, result = image2sphere_training.train(config, settings)
  training_flags.print_training_summary(result, config.model_dir)


if __name__ == "__main__":
  cli.run(main)
