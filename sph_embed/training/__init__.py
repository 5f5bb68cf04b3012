"""The training loop shared by every trainer: strategies, checkpoints with
resume, learning-rate schedules, TensorBoard scalars, progress, run specs."""
