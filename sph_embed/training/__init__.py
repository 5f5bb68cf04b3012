"""The training loop shared by every trainer (loop.py: strategies, checkpoints
with resume, learning-rate schedules, TensorBoard scalars, progress, run
specs, LoopConfig) and the trainers' shared flags (flags.py)."""
