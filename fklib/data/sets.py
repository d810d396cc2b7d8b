"""Whole sets as lists of :class:`~fklib.data.readers.Item`, with a decoded-array cache.

``load_set("stgan")`` reads every strip of ``data/stgan_celeba128`` (or any folder in the same
layout), optionally keeps one split, and caches the decoded arrays under ``data/cache/``:

    data/cache/<set>-<key>/arrays_<H>x<W>.npy   stacked uint8 images (memory-mapped on load)
    data/cache/<set>-<key>/maps_<H>x<W>.npy     eq.-4 maps of the partial edits (float32)
    data/cache/<set>-<key>/items.json           one record per item (array indices + metadata)

``key`` is the manifest hash of the set (:func:`~fklib.data.fetch.manifest_hash`) when the
folder holds exactly the manifest's files *with the manifest's contents* (every file's SHA-256
is checked), else a fingerprint of the files' names, sizes and modification times (a user's own
folder, or a fetched set with an edited file): an edited file never reads the cache of the
original, nor a restored one the cache of the edit. The cache is written to a temporary folder
and renamed once complete, so a failed read (a bad file) writes nothing, and a set read with
bad files skipped (``bad_files``) is never cached. Cache folders and files get the modes the umask
gives (``0755`` / ``0644`` under ``022``). A cache folder that cannot be written (read-only
``data/cache``) is read around: the set is read without caching, and one line on stderr says so.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

from .. import paths
from ..files import honour_umask
from .fetching import load_manifest, manifest_hash, sha256_file
from .readers import (RECONSTRUCTION, Item, read_attgan_attentiongan, read_attgan_grid, read_each, read_generic,
                      read_interfacegan, read_stargan128_grid, read_stargan_strip, read_stgan_strip)
from .splits import read_splits

#: short name -> folder name under ``data/`` (``generic`` has none: pass a folder).
SET_FOLDERS = {
    "stgan": "stgan_celeba128",
    "attgan": "attgan_celeba128",
    "stargan": "stargan_disrupted256",
    "interfacegan": "interfacegan_celebahq256",
    "stargan128": "stargan_celeba128",
    "attgan_attentiongan": "attgan_attentiongan_celeba128",
    "generic": None,
}
CACHE_VERSION = "2"


def set_folder_name(name: str) -> str | None:
    """Map a short or full set name to its folder name (``None`` for ``generic``)."""
    if name in SET_FOLDERS:
        return SET_FOLDERS[name]
    if name in SET_FOLDERS.values():
        return name
    raise ValueError(f"unknown set {name!r}; expected one of {sorted(SET_FOLDERS)}")


def _strip_files(folder: Path, pattern: str) -> list[Path]:
    sub = next((folder / s for s in ("strips", "results") if (folder / s).is_dir()), None)
    base = sub if sub is not None else folder
    files = sorted(base.glob(pattern))
    if not files:
        raise FileNotFoundError(f"{base}: no {pattern} strips found")
    return files


def _read_items(name: str, folder: Path, errors: list[str] | None = None) -> list[Item]:
    """Decode a whole folder with its reader (reconstructions included); bad files as in
    :func:`~fklib.data.readers.read_each` (collected into ``errors``, or raised together)."""
    if not folder.exists():
        raise FileNotFoundError(f"{folder}: no such folder (run `python -m fklib.data fetch`?)")
    if name == "stgan":
        strips = read_each(_strip_files(folder, "*.png"), read_stgan_strip, errors)
        return [it for s in strips for it in s.items(include_reconstruction=True)]
    if name == "attgan":
        grid = folder / "sample_validation.jpg"
        if not grid.exists() and folder.is_file():
            grid = folder
        return [it for g in read_each([grid], read_attgan_grid, errors) for s in g
                for it in s.items(include_reconstruction=True)]
    if name == "stargan":
        return [it for s in read_each(_strip_files(folder, "*.jpg"), read_stargan_strip, errors) for it in s.items()]
    if name == "interfacegan":
        return read_interfacegan(folder, errors=errors)
    if name == "stargan128":
        grids = read_each(_strip_files(folder, "*-images.jpg"), read_stargan128_grid, errors)
        return [it for g in grids for s in g for it in s.items()]
    if name == "attgan_attentiongan":
        return read_attgan_attentiongan(folder, errors=errors)
    return read_generic(folder, errors=errors)


def folder_fingerprint(name: str, folder: str | Path | None = None) -> str:
    """The identity of set ``name``'s folder (default ``data/<set folder>``): ``m`` + its manifest hash when it holds
    exactly the manifest's files with the manifest's contents, else ``f`` + a hash of its files' names, sizes
    and modification times (see the module doc)."""
    full = set_folder_name(name)
    short = next(k for k, v in SET_FOLDERS.items() if v == full) if full else "generic"
    return _fingerprint(short, Path(folder) if folder is not None else paths.data_dir() / full)


def _fingerprint(name: str, folder: Path) -> str:
    files = sorted(p for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else [folder]
    full = set_folder_name(name)
    if full is not None:
        manifest = load_manifest()
        want = sorted(rel for rel in manifest if rel.startswith(full + "/"))
        have = {f"{full}/{p.relative_to(folder).as_posix()}": p for p in files} if folder.is_dir() else {}
        # the manifest's key only for the manifest's bytes (an edited file is not the fetched set)
        if sorted(have) == want and all(sha256_file(p) == manifest[rel] for rel, p in have.items()):
            return "m" + manifest_hash(full + "/", manifest)[:16]
    h = hashlib.sha256(str(folder.resolve()).encode())
    for p in files:
        st = p.stat()
        h.update(f"{p.as_posix()}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return "f" + h.hexdigest()[:16]


def _write_cache(items: list[Item], target: Path) -> None:
    """Stack the distinct arrays per shape, write ``arrays_*.npy`` + ``items.json`` atomically."""
    index: dict[int, tuple[str, int]] = {}
    stacks: dict[str, list[np.ndarray]] = {}

    def ref(arr):
        if arr is None:
            return None
        if id(arr) not in index:
            key = f"{arr.shape[0]}x{arr.shape[1]}"
            stacks.setdefault(key, []).append(arr)
            index[id(arr)] = (key, len(stacks[key]) - 1)
        return list(index[id(arr)])

    maps: dict[str, list[np.ndarray]] = {}

    def map_ref(it):
        if it.reference is None:  # reals (zeros) and Entire (ones) cost nothing to rebuild
            return None
        key = f"{it.image.shape[0]}x{it.image.shape[1]}"
        maps.setdefault(key, []).append(it.gt_map())
        return [key, len(maps[key]) - 1]

    records = [{"image": ref(it.image), "reference": ref(it.reference), "map": map_ref(it), **it.meta()}
               for it in items]
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent))  # files' partial name
    try:
        for key, arrs in stacks.items():
            np.save(tmp / f"arrays_{key}.npy", np.stack(arrs))
        for key, arrs in maps.items():
            np.save(tmp / f"maps_{key}.npy", np.stack(arrs))
        (tmp / "items.json").write_text(json.dumps({"version": CACHE_VERSION, "items": records}))
        honour_umask(tmp)  # mkdtemp makes 0700
        try:
            os.rename(tmp, target)
        except OSError:  # another process finished first: keep theirs
            pass
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


#: Cache folders already said to be unwritable (one line per folder and process).
_UNCACHED: set[str] = set()


def _say_uncached(root: Path, err: OSError) -> None:
    if str(root) not in _UNCACHED:
        _UNCACHED.add(str(root))
        print(f"note: {root}: cannot write the decoded-array cache ({err.strerror or err}); reading without "
              "caching", file=sys.stderr)


def _read_cache(target: Path) -> list[Item]:
    meta = json.loads((target / "items.json").read_text())
    arrays = {p.stem.removeprefix("arrays_"): np.load(p, mmap_mode="r") for p in target.glob("arrays_*.npy")}
    maps = {p.stem.removeprefix("maps_"): np.load(p, mmap_mode="r") for p in target.glob("maps_*.npy")}

    def get(store, ref):
        return None if ref is None else store[ref[0]][ref[1]]

    return [Item(get(arrays, r["image"]), get(arrays, r["reference"]), int(r["label"]), r["set"], r["gan"],
                 r["property"], str(r["identity"]), r["source"], get(maps, r["map"])) for r in meta["items"]]


def load_set(name: str, folder: str | Path | None = None, split: str | None = None,
             splits: pd.DataFrame | str | Path | None = None, include_reconstruction: bool = False,
             cache: bool = True, cache_dir: str | Path | None = None, bad_files: list[str] | None = None) -> list[Item]:
    """Read a whole set as a list of items (real images and their GAN outputs).

    Args:
        name: a short name of :data:`SET_FOLDERS` (``stgan``, ``attgan``, ``stargan``, ``interfacegan``,
            ``stargan128``, ``attgan_attentiongan``) or ``generic``, or a full folder name.
        folder: the set's folder (default ``data/<set folder>``; required for ``generic``).
        split: keep only identities of this split (``train``/``val``/``test``); ``None`` keeps all.
        splits: a split table or CSV path (default ``results/splits.csv``); used with ``split``.
        include_reconstruction: keep STGAN/AttGAN reconstructions (property ``Reconstruction``).
        cache: use / fill the decoded-array cache.
        cache_dir: where caches live (default ``data/cache``).
        bad_files: a list that receives one message per file that could not be read (each naming
            it); those files are skipped (and nothing is cached). ``None``: bad files raise.

    Returns:
        Items in a stable order (files sorted, real image first then its edits).

    Raises:
        FileNotFoundError: no such folder.
        BadFilesError: (``bad_files=None``) files that could not be read, every one of them named.
    """
    full = set_folder_name(name)
    short = next(k for k, v in SET_FOLDERS.items() if v == full) if full else "generic"
    if folder is None:
        if full is None:
            raise ValueError("the generic layout needs a folder: load_set('generic', folder=...)")
        folder = paths.data_dir() / full
    folder = Path(folder)
    if not folder.exists():
        raise FileNotFoundError(f"{folder}: no such folder (run `python -m fklib.data fetch`?)")
    if cache:
        root = Path(cache_dir) if cache_dir is not None else paths.cache_dir()
        target = root / f"{full or 'generic'}-{_fingerprint(short, folder)}-v{CACHE_VERSION}"
        if (target / "items.json").is_file():
            items = _read_cache(target)
        else:
            found: list[str] = []
            items = _read_items(short, folder, None if bad_files is None else found)
            if found:  # some files skipped: this partial set is not the folder's, never cache it
                bad_files.extend(found)
            else:
                try:
                    _write_cache(items, target)
                    items = _read_cache(target)
                except OSError as err:  # a read-only cache: the items read above, uncached
                    _say_uncached(root, err)
    else:
        items = _read_items(short, folder, bad_files)
    if not include_reconstruction:
        items = [it for it in items if it.property != RECONSTRUCTION]
    if split is not None:
        import pandas as pd  # lazy: `locate` imports this module without pandas

        table = splits if isinstance(splits, pd.DataFrame) else read_splits(splits)
        keep = set(table[(table["set"] == (full or "generic")) & (table["split"] == split)]["identity"])
        if not keep:
            raise ValueError(f"split {split!r} of set {full or 'generic'!r} is empty in the split table")
        items = [it for it in items if it.identity in keep]
    return items


def gt_maps(items: list[Item]) -> np.ndarray:
    """The eq.-4 maps of same-sized items, stacked: ``N x H x W`` float32."""
    return np.stack([it.gt_map() for it in items]) if items else np.zeros((0, 0, 0), np.float32)
