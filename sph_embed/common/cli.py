"""The tools' exit convention: one line on stderr and status 1 for an error.

Every program in tools/ ends with

  if __name__ == "__main__":
    cli.run(main)

instead of `app.run(main)`.  Then:
- status 0: success (main returned None or 0);
- status 1: the tool stopped; stderr ends with ONE line
    <tool>: error: <message>
  where the message names the flag or file and the problem (and, where
  there is one, what to do).  The same status as absl's own flag-parsing
  errors (an unknown flag, a missing --required flag, a value out of
  bounds), so a script needs to tell only 0 from non-zero;
- any other status main returns (e.g. build_dataset.py --strict: 1 when
  files were skipped) is passed on.

What counts as an error in the user's inputs, reported as that one line:
`ToolError` (raised by a tool for a bad combination of flags), absl's
`app.UsageError`, `ValueError` (the library's error types for bad inputs
derive from it: DataError, MeshError, ModuleError, OutputError, ...) and
`OSError` (a missing, unreadable or unwritable file; the message of an
OSError names its file).  Library errors that are not ValueErrors
(dataset.BuildError, ...) are listed by the tool: `cli.run(main,
errors=(dataset.BuildError,))`.  The traceback of a reported error is
logged at debug level: run with --verbosity=1 to see it.  Any other
exception is a bug and keeps its full traceback.

Standard library and absl only (no TensorFlow).
"""

import os
import sys

from absl import app
from absl import logging

EXIT_ERROR = 1


class ToolError(Exception):
  """An error in a tool's inputs; its message names the flag or file."""


def error_message(error):
  """The one-line message of a reported error."""
  if (isinstance(error, OSError) and error.filename is not None
      and error.strerror):
    message = f"{error.filename}: {error.strerror}"  # No "[Errno 2]".
  else:
    message = str(error) or type(error).__name__
  return " ".join(message.split())  # One line, whatever the message held.


def run(main, errors=()):
  """app.run(main) with the convention of the module docstring.

  Args:
    main: the tool's main(argv); returns None, 0 or another exit status.
    errors: further exception types reported as bad inputs.
  """
  reported = (ToolError, app.UsageError, ValueError, OSError) + tuple(errors)
  program = os.path.basename(sys.argv[0])

  def guarded_main(argv):
    try:
      return main(argv)
    except reported as e:
      logging.debug("%s failed", program, exc_info=True)
      print(f"{program}: error: {error_message(e)}", file=sys.stderr,
            flush=True)
      return EXIT_ERROR

  app.run(guarded_main)
