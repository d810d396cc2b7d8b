"""What every command shares: one exit-status convention, one-line errors, and interrupts.

Exit status of every command (``python -m fklib ...``, ``python -m fklib.data ...``,
``python -m fklib.pipeline``, ``python -m fklib.parsing ...``):

- ``0`` -- done;
- ``1`` -- any failure: bad arguments (usage), bad input, a failed run; one line ``error: ...`` naming the
  file, folder, argument or config field (:data:`EXIT_ERROR`);
- ``130`` -- interrupted by Ctrl-C (SIGINT), ``143`` -- stopped by SIGTERM (128 + the signal's number):
  one line ``interrupted; ...`` saying what was done and how to go on; the partial file being written
  is removed, finished files are kept.

:class:`ArgumentParser` turns argparse's usage errors (exit 2, usage text) into a :class:`UsageError`
(a ``ValueError``), so that they get the same one line and status 1; :func:`run` runs a command's
work under that convention.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Callable

#: Exit status of any failure (usage, bad input, a failed run).
EXIT_ERROR = 1


class UsageError(ValueError):
    """A command line argparse refused (unknown option, missing or invalid argument)."""


class ArgumentParser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` whose usage errors raise :class:`UsageError` (one line, exit 1 through
    :func:`run`) instead of printing the usage and exiting 2; ``--help`` still prints and exits 0."""

    def error(self, message: str):  # noqa: D102 - argparse's hook
        raise UsageError(f"{self.prog}: {message} (see {self.prog} --help)")


def run(work: Callable[[], int], errors: tuple[type[BaseException], ...] = (FileNotFoundError, ValueError),
        prefix: str = "error: ") -> int:
    """``work()``'s exit status under the convention of this module.

    An exception of ``errors`` prints ``<prefix><message>`` (one line) and gives :data:`EXIT_ERROR`.
    While ``work`` runs, SIGTERM raises ``KeyboardInterrupt`` like Ctrl-C does (so every ``finally``
    removes its partial file); either prints ``interrupted; <what>`` -- ``<what>`` is the interrupt's
    message when the work re-raised it with one (``raise KeyboardInterrupt("3 of 10 images written")``) --
    and gives 130 (SIGINT) or 143 (SIGTERM).
    """
    received = [signal.SIGINT]

    def on_term(signum, _frame):
        received[0] = signum
        raise KeyboardInterrupt

    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, on_term) if main_thread else None
    try:
        return work()
    except KeyboardInterrupt as stop:
        what = str(stop.args[0]) if stop.args else ""
        print(f"interrupted; {what}" if what else "interrupted", file=sys.stderr, flush=True)
        return 128 + int(received[0])
    except errors as err:
        print(f"{prefix}{err}", file=sys.stderr)
        return EXIT_ERROR
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)
