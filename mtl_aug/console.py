"""The package's messages on the console, through the standard `logging` module: progress and
results (INFO) on stdout, warnings and errors on stderr. The CLI installs this handler on the
`mtl_aug` logger (`mtl-aug --quiet` keeps warnings only); a program that imports the package
configures that logger as any other, e.g. logging.getLogger("mtl_aug").setLevel(logging.WARNING)."""

from __future__ import annotations

import logging
import sys


class Console(logging.Handler):
    """Each record's message on the current sys.stdout (below WARNING) or sys.stderr, looked up
    per record: a redirection made after the handler was installed is followed."""

    def emit(self, record: logging.LogRecord) -> None:
        stream = sys.stderr if record.levelno >= logging.WARNING else sys.stdout
        try:
            stream.write(self.format(record) + "\n")
            stream.flush()
        except Exception:
            self.handleError(record)


def to_console(level: int = logging.INFO) -> None:
    """Send the `mtl_aug` logger's records from `level` up to the console (once only)."""
    logger = logging.getLogger("mtl_aug")
    if not any(isinstance(h, Console) for h in logger.handlers):
        logger.addHandler(Console())
    logger.setLevel(level)
    logger.propagate = False
