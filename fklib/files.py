"""Small file helpers the commands share: output checks, partial files, the umask, a folder lock, JSON without NaN.

- :func:`check_out_dir` / :func:`prepare_out_dir` -- an output folder is checked (a folder, or creatable,
  and writable) before any work, naming it in one line; :func:`check_out_file` does the same for an
  output file (not a folder, its folder writable, the file itself writable). ``locate``, ``evaluate``,
  ``export``, ``pipeline`` and ``fetch`` call them before they load or compute anything.
- :func:`partial_path`, :func:`write_atomically`, :func:`remove_partials`, :func:`partial_target` --
  files (and whole folders) are written under a hidden partial name (``.<name>.<token>.part`` beside their
  target) and renamed once complete; a killed run's partial files are removed by the next run, matching only
  the names that command makes. :func:`write_atomically` is the one way to write through a partial name
  (its token: the pid; :func:`savez_atomically` for ``numpy.savez``); only ``fetch`` (its own random
  tokens, :mod:`fklib.data.fetching`), ``export`` (three files renamed together) and the decoded-array
  cache of :mod:`fklib.data.sets` name partials themselves (``tests/test_partials.py``).
- :func:`current_umask`, :func:`honour_umask` -- files made by ``mkstemp`` / ``mkdtemp`` / libraries that
  create them ``0600`` / ``0700`` get the mode a plain ``open`` / ``mkdir`` gives under the umask
  (``0644`` / ``0755`` under the usual ``022``), so a second user of a shared checkout can read them.
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
import re
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np


# --- output paths, checked before any work ---------------------------------------------------------

def _existing_ancestor(path: Path) -> Path:
    """The nearest of ``path`` and its parents that exists (``.`` for a relative path with none)."""
    for p in (path, *path.parents):
        if p.exists() or p.is_symlink():
            return p
    return Path(".")


def _unwritable(folder: Path) -> str | None:
    """Why files cannot be created in ``folder`` (or in it once created), or ``None`` when they can."""
    base = _existing_ancestor(folder)
    if not base.is_dir():
        return f"{base} is a file, not a folder"
    try:
        with tempfile.TemporaryFile(dir=base):  # the one sure test (permissions, read-only mounts, root)
            pass
    except OSError as e:
        return e.strerror or str(e)
    return None


def check_out_dir(out_dir: str | Path) -> Path:
    """``out_dir`` once it is known to be a folder this process can create (when missing) and write into;
    nothing is created.

    Raises:
        ValueError: naming it: it exists and is not a folder, lies under a file, or cannot be written.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"{out_dir}: exists and is not a folder")
    why = _unwritable(out_dir)
    if why:
        raise ValueError(f"{out_dir}: cannot write into this output folder ({why})")
    return out_dir


def prepare_out_dir(out_dir: str | Path) -> Path:
    """``out_dir``, created when missing, once it is known to be a folder this process can write into
    (:func:`check_out_dir`).

    Raises:
        ValueError: naming it: it exists and is not a folder, lies under a file, or cannot be written.
    """
    out_dir = check_out_dir(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ValueError(f"{out_dir}: cannot write into this output folder ({e.strerror or e})") from None
    why = _unwritable(out_dir)
    if why:
        raise ValueError(f"{out_dir}: cannot write into this output folder ({why})")
    return out_dir


def check_out_file(path: str | Path) -> Path:
    """``path`` once it is known to be a file this process can write (create or replace); nothing is created.

    Raises:
        ValueError: naming it: it is a folder, lies under a file, its folder cannot be written, or it is
            a file that cannot be written (read-only).
    """
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{path}: is a folder; give a file name")
    why = _unwritable(path.parent)
    if why is None and path.exists() and not os.access(path, os.W_OK):
        why = "the file is read-only"
    if why:
        raise ValueError(f"{path}: cannot write this output file ({why})")
    return path


# --- partial files ------------------------------------------------------------------------------

def partial_path(path: str | Path) -> Path:
    """The hidden partial name of ``path`` for this process: ``.<name>.<pid>.part`` beside it."""
    path = Path(path)
    return path.with_name(f".{path.name}.{os.getpid()}.part")


_PARTIAL = re.compile(r"^\.(.+)\.[A-Za-z0-9_]+\.part$")


def partial_target(path: str | Path) -> Path:
    """The file a partial file stands for (``.<name>.<token>.part`` -> ``<name>`` beside it); any other path itself."""
    path = Path(path)
    found = _PARTIAL.match(path.name)
    return path.with_name(found.group(1)) if found else path


def write_atomically(path: str | Path, write: Callable[[Path], Any]) -> Path:
    """Call ``write(tmp)`` on :func:`partial_path` of ``path``, give it the umask's mode, rename it to ``path``.

    ``write`` makes a file at ``tmp``, or a folder (it creates ``tmp`` and fills it): a complete folder
    replaces the folder ``path`` when there is one. A partial left at ``tmp`` (a killed run of the same pid)
    is removed first. The partial file or folder is removed when ``write`` fails or is interrupted
    (``KeyboardInterrupt``), so ``path`` is either its old file (folder) or the complete new one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = partial_path(path)
    _remove(tmp)
    try:
        write(tmp)
        honour_umask(tmp)
        if _is_folder(tmp) and _is_folder(path):
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        _remove(tmp)
    return path


def savez_atomically(path: str | Path, **arrays: Any) -> Path:
    """``numpy.savez`` of ``arrays`` to ``path`` through :func:`write_atomically`. Written to an open file:
    given a name, ``numpy.savez`` would add ``.npz`` to the partial name."""
    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)

    return write_atomically(path, write)


def _is_folder(path: Path) -> bool:
    return path.is_dir() and not path.is_symlink()


def _remove(path: Path) -> None:
    """Remove the file or folder ``path`` when there is one (a symlink itself, never what it points to)."""
    if _is_folder(path):
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def remove_partials(folder: str | Path, names: str) -> int:
    """Remove the partial files and folders ``.<name>.<token>.part`` in ``folder`` whose ``<name>`` matches the
    regular expression ``names`` (``<token>``: letters, digits, ``_``); return how many.

    Only a command's own partial names are matched (its targets' names), never another hidden
    ``.*.part`` of the user's. Call it where no other run of the command can be writing (under its lock,
    or for names only this run writes).
    """
    folder = Path(folder)
    if not folder.is_dir():
        return 0
    pattern = re.compile(rf"^\.(?:{names})\.[A-Za-z0-9_]+\.part$")
    removed = 0
    for p in folder.iterdir():
        if pattern.match(p.name):
            _remove(p)
            removed += 1
    return removed


# --- the umask ----------------------------------------------------------------------------------

def current_umask() -> int:
    """The process's umask (read from ``/proc/self/status`` where it can be, without changing it)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def honour_umask(path: str | Path) -> Path:
    """Give ``path`` (a file or folder) the mode a plain ``open`` (``0666``) or ``mkdir`` (``0777``) would have
    given it under the current umask: for what ``mkstemp`` / ``mkdtemp`` or a library made ``0600`` / ``0700``."""
    path = Path(path)
    base = 0o777 if stat.S_ISDIR(path.stat().st_mode) else 0o666
    os.chmod(path, base & ~current_umask())
    return path


# --- a folder lock, JSON ------------------------------------------------------------------------

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
