"""The report layer: figures made from the library's results (matplotlib).

Nothing here imports TensorFlow.
"""
