"""The test run's order (tests/conftest.py): long files first, so that the
two xdist processes of tools/bootstrap.sh start on them."""

import os
import types

import tensorflow as tf

from tests import conftest
from tests import mesh_test_util


def _item(name, module):
  return types.SimpleNamespace(name=name, module=module)


class LongFilesFirstTest(tf.test.TestCase):

  def test_long_files_go_first_and_each_group_keeps_its_order(self):
    short = types.SimpleNamespace()
    long = types.SimpleNamespace(RUNS_LONG=True)
    items = [_item("a", short), _item("b", long), _item("test_session", long),
             _item("c", short), _item("d", long), _item("e", None)]
    conftest.pytest_collection_modifyitems(None, items)
    self.assertEqual([item.name for item in items], ["b", "d", "a", "c", "e"])

  def test_the_test_command_keeps_the_collection_order(self):
    # xdist's default reorders files by their number of tests.
    with open(os.path.join(mesh_test_util.REPO_ROOT, "tools",
                           "bootstrap.sh"), encoding="utf-8") as f:
      self.assertIn("--dist loadfile --no-loadscope-reorder", f.read())


if __name__ == "__main__":
  tf.test.main()
