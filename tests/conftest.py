"""Shared fixtures: synthetic images written to tmp folders, and the fetched data folder."""

from __future__ import annotations

import os
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
