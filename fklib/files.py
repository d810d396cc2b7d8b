"""Small file helpers the commands share: an exclusive lock on a folder, JSON without NaN.

- :func:`folder_lock` -- an exclusive advisory lock (``flock``) on a folder while a block runs:
  concurrent runs writing into one folder take turns (``locate``'s output sets, ``fetch``). The
  folder itself is locked, so no lock file is left behind.
- :func:`json_safe` -- a copy of a JSON-able value with every non-finite float (NaN, inf) as
  ``None``: strict JSON has no NaN, and ``null`` says "no value" to every parser.
"""

from __future__ import annotations

import contextlib
import fcntl
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def folder_lock(folder: str | Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``folder`` (which must exist) until the block ends.

    Another process (or thread) entering ``folder_lock`` on the same folder waits until then.
    """
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def json_safe(value: Any) -> Any:
    """``value`` with every float that is NaN or infinite replaced by ``None`` (in dicts, lists, tuples)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value
