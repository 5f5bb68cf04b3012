"""The tiny regression problem the training-loop tests train on.

Deterministic data order and seeded weights, so that runs can be compared
step for step (resume, signals, several workers).
"""

import numpy as np
import tensorflow as tf


def data():
  """(x [40, 5], y [40, 1]) float32: a fixed linear regression problem."""
  rng = np.random.default_rng(0)
  x = rng.normal(size=(40, 5)).astype(np.float32)
  y = (x @ rng.normal(size=(5, 1))).astype(np.float32)
  return x, y


def dataset(start_step, seed=3):
  """Repeated, shuffled global batches of 8 from `start_step` on."""
  data_set = tf.data.Dataset.from_tensor_slices(dict(zip("xy", data())))
  data_set = data_set.shuffle(40, seed=seed).repeat().batch(
      8, drop_remainder=True)
  return data_set.skip(start_step)


def loss_fn(model, batch):
  """Squared error per example; no extra metrics."""
  error = model(batch["x"])[:, 0] - batch["y"][:, 0]
  return error**2, {}


def model_and_optimizer(strategy, learning_rate=0.05):
  """A seeded 5 -> 4 -> 1 MLP and Adam, made in `strategy`'s scope."""
  with strategy.scope():
    tf.keras.utils.set_random_seed(7)
    model = tf.keras.Sequential([tf.keras.Input((5,)),
                                 tf.keras.layers.Dense(4, activation="relu"),
                                 tf.keras.layers.Dense(1)])
    optimizer = tf.keras.optimizers.Adam(learning_rate)
  return model, optimizer
