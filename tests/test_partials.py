"""One partial-name pattern: every "write to a partial name, then rename" goes through
:func:`fklib.files.write_atomically` (``.<name>.<pid>.part``), which :func:`fklib.files.partial_target`
maps back and :func:`fklib.files.remove_partials` recognises."""

from __future__ import annotations

import ast
import os
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fklib import files
from fklib.data.readers import Item

ROOT = Path(__file__).resolve().parent.parent
#: The only modules that rename files themselves, each for a reason (docs in :mod:`fklib.files`).
RENAMERS = {
    "fklib/files.py": "write_atomically itself",
    "fklib/data/fetching.py": "verified fetch: its own .<name>.<random>.part, cleaned by remove_stale_partials",
    "fklib/data/sets.py": "the decoded-array cache: a folder (.<name>.<random>.part) renamed into place, keeping "
                          "another process's",
    "fklib/export.py": "weights and card renamed together, after the weights are evaluated from their partial name",
}


def renames(path: Path) -> list[int]:
    """Lines of ``os.replace`` / ``os.rename`` calls and of one-argument ``.replace(x)`` / ``.rename(x)``
    calls (``Path.replace``; ``str.replace`` takes two, ``dataclasses.replace`` keywords)."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("replace", "rename")):
            continue
        on_os = isinstance(node.func.value, ast.Name) and node.func.value.id == "os"
        if on_os or (len(node.args) == 1 and not node.keywords):
            out.append(node.lineno)
    return out


def test_only_the_listed_modules_rename_files():
    found = {}
    for folder in ("fklib", "experiments", "benchmarks"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            lines = renames(path)
            if lines and rel not in RENAMERS:
                found[rel] = lines
    assert not found, f"write through fklib.files.write_atomically instead of renaming: {found}"


@pytest.fixture()
def replaced(monkeypatch) -> list[tuple[Path, Path]]:
    """Every ``(partial, target)`` renamed by :func:`fklib.files.write_atomically`."""
    seen, real = [], os.replace

    def spy(src, dst):
        seen.append((Path(src), Path(dst)))
        real(src, dst)

    monkeypatch.setattr(files.os, "replace", spy)
    return seen


def assert_one_pattern(seen: list[tuple[Path, Path]], targets: set[Path]) -> None:
    assert {dst for _, dst in seen} == targets
    for src, dst in seen:
        assert src == files.partial_path(dst) and src.name == f".{dst.name}.{os.getpid()}.part"
        assert files.partial_target(src) == dst
    for target in targets:
        assert target.exists()
        assert not [p for p in target.parent.iterdir() if p.name.endswith(".part")], "a partial left behind"


def test_report_writers_use_the_partial_name(tmp_path, replaced):
    from fklib.report.summary import write_results_readme
    from fklib.report.tables import save_table

    out = save_table(pd.DataFrame({"metric": ["coss"], "value": [0.5]}), "t", results_dir=tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # no tables to summarise
        readme = write_results_readme(tmp_path)
    import matplotlib.pyplot as plt

    from fklib.report.figures import save_figure

    fig = plt.figure(figsize=(1, 1))
    png = save_figure(fig, tmp_path / "figures" / "f.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and not plt.fignum_exists(fig.number)   # written, closed
    assert_one_pattern(replaced, {*map(Path, out.values()), readme, png})


def test_splits_and_splices_use_the_partial_name(tmp_path, replaced):
    from fklib.data.splices import build_splice_set
    from fklib.data.splits import ensure_splits

    splits = ensure_splits(tmp_path / "splits.csv")
    real = np.full((16, 16, 3), 100, np.uint8)
    fake = real.copy()
    fake[4:12, 4:12] = 200
    items = [Item(real, None, 0, "s", "real", "Real", "a", "r"), Item(fake, real, 1, "s", "stgan", "Bald", "a", "f")]
    folder = tmp_path / "splices" / "one"
    build_splice_set(items, folder, seed=1)
    (folder / "stale.txt").write_text("from the folder's older version")
    build_splice_set(items, folder, seed=1)  # a complete folder replaces the old one
    assert_one_pattern(replaced, {tmp_path / "splits.csv", folder})
    assert len(splits) and not (folder / "stale.txt").exists()
    assert sorted(p.name for p in folder.iterdir()) == ["fake", "real", "recipe.json", "splices.csv"]
    assert oct(folder.stat().st_mode & 0o777) == oct(0o777 & ~files.current_umask())


def test_savez_atomically_keeps_the_name(tmp_path, replaced):
    path = tmp_path / "cache" / "x-123.npz"
    files.savez_atomically(path, a=np.arange(3))
    assert_one_pattern(replaced, {path})
    with np.load(path) as z:
        assert z["a"].tolist() == [0, 1, 2]


def test_a_failed_folder_write_leaves_the_old_folder_and_no_partial(tmp_path):
    folder = tmp_path / "set"
    folder.mkdir()
    (folder / "old.txt").write_text("old")
    stale = files.partial_path(folder)  # a killed run of the same pid
    stale.mkdir()
    (stale / "junk").write_text("junk")

    def write(tmp: Path) -> None:
        tmp.mkdir()
        (tmp / "new.txt").write_text("new")
        raise RuntimeError("stopped")

    with pytest.raises(RuntimeError):
        files.write_atomically(folder, write)
    assert [p.name for p in tmp_path.iterdir()] == ["set"] and (folder / "old.txt").read_text() == "old"
    # the cleaner recognises the one pattern, folders included
    (tmp_path / ".set.4242.part").mkdir()
    (tmp_path / ".notes.part").write_text("mine")
    assert files.remove_partials(tmp_path, re.escape("set")) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [".notes.part", "set"]
