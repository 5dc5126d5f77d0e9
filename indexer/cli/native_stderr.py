"""Silence what native libraries write straight to the process's stderr (file 2).

TensorFlow's start-up lines ("oneDNN custom operations are on", "Could not find cuda
drivers", "failed call to cuInit" on every machine without a GPU) are written by its C++
code before ``TF_CPP_MIN_LOG_LEVEL`` applies, so only redirecting file 2 hides them.
Python-level errors still surface: they are raised, not printed, inside the block.
"""

from __future__ import annotations

import contextlib
import os
import sys


@contextlib.contextmanager
def native_stderr_silenced(enabled: bool = True):
    """Within the block, file descriptor 2 points at the null device (if ``enabled``)."""
    if not enabled:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)
