"""sph_embed: SO(3)-equivariant image embeddings (Esteves et al., ICML 2019).

Importing the package does not import TensorFlow (tools/correlate.py and the
NumPy modules work without it).  It does select legacy Keras (tf_keras) for
any later TensorFlow import, because TF-Hub's `hub.KerasLayer` does not work
inside Keras 3 models (see BUILD_NOTES.md).
"""

import os

# Must happen before anything imports tensorflow_hub or touches tf.keras.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

__version__ = "0.1.0"
