"""Arrays kept between calls: read-only cached tables, reused work arrays."""

import numpy as np


def frozen(array):
  """Marks a cached table read-only (callers share it) and returns it."""
  array.flags.writeable = False
  return array


class WorkArrays:
  """Work arrays kept from one batch of pairs to the next.

  Fresh arrays of several MB are mapped anew and page-faulted on every
  batch, which on small VMs costs about as much as the transforms
  (BUILD_NOTES.md); reusing them avoids that.
  """

  def __init__(self):
    self._arrays = {}

  def empty(self, name, shape, dtype=np.float64):
    array = self._arrays.get(name)
    if array is None or array.shape != shape or array.dtype != dtype:
      array = self._arrays[name] = np.empty(shape, dtype)
    return array
