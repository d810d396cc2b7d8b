"""Shared fixtures: synthetic images written to tmp folders, and the fetched data folder."""

from __future__ import annotations

import contextlib
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fklib import paths


def save_png(path: Path, arr: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)
    return path


def random_rgb(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    return rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture(scope="session")
def data_root() -> Path:
    """The fetched ``data/`` folder. Missing data fails under CI (scripts/test.sh fetches it first)."""
    root = paths.data_dir()
    if not (root / "stgan_celeba128" / "strips").is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"{root}: data not fetched; run `python -m fklib.data fetch` first")
        pytest.skip(f"{root}: data not fetched (python -m fklib.data fetch)")
    return root


def tree_snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """name -> (size, mtime_ns) of every file under ``folder``: to prove nothing was written."""
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


@contextlib.contextmanager
def read_only(path: Path):
    """``path`` (a folder or file) cannot be written while the block runs: ``chattr +i`` for root (who
    writes through permissions), ``chmod a-w`` for anyone else; skips the test where neither works."""
    path = Path(path)
    mode = path.stat().st_mode
    if os.geteuid() == 0:
        if subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode != 0:
            pytest.skip(f"no way to make {path} read-only for root here (chattr +i failed)")
    else:
        path.chmod(mode & ~0o222)
    try:
        yield path
    finally:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", str(path)], check=True)
        path.chmod(mode)


@contextlib.contextmanager
def umask(mask: int):
    """The process umask set to ``mask`` while the block runs."""
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    """The permission bits of ``path`` (``0o644``, ...)."""
    return stat.S_IMODE(Path(path).stat().st_mode)


def one_error_line(err: str) -> str:
    """The single ``error: ...`` line of a command's stderr (no traceback, no second error line)."""
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, err
    return lines[0]


def kill_once_started(code: str, args: list[str], marker: Path, what: str, timeout: float = 300) -> None:
    """Run ``python -c code *args`` with this checkout on the path, wait until it creates ``marker`` (the
    moment to kill it), then SIGKILL it; fail naming ``what`` when it never gets there."""
    env = {**os.environ, "PYTHONPATH": str(paths.project_root())}
    proc = subprocess.Popen([sys.executable, "-c", code, *args], env=env)
    try:
        deadline = time.time() + timeout
        while not marker.exists() and proc.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        assert marker.exists(), f"the {what} never reached the point to kill it"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
