"""The spherical CNN teacher: model, training, evaluation, TF-Hub export."""
