"""Our face parser's class maps of images, each parsed once: in memory for the process, on disk across processes.

The same image -- the ``H x W x 3`` uint8 array the model sees at the evaluation size -- is parsed by several
steps of the pipeline: the reference fits of the universal and the leave-out models (nearly the same training
fakes), the layout prior of every scored table (Table 3 and Table 4 score the same test images), the edited
regions of Table 5 (once per model, the same STGAN test images). :class:`ParseCache` parses each image once:

- **key**: the SHA-256 of the image's shape, dtype and bytes, under a folder keyed by what computes the map
  (:func:`parser_state`): the parser's weights (:func:`parser_weights_sha256`), its working size, the code of
  :func:`~fklib.parsing.parse` and of the network's modules, torch's version and :data:`CACHE_VERSION`. A
  changed parser, size or ``parse`` misses; so does any other image.
- **memory**: a least-recently-used store of at most :data:`MEMORY_BYTES` of maps shared by every
  :class:`ParseCache` of the process (a 128 px map is 16 KB: 4,096 of them), so a process never holds tens
  of thousands of maps it could read back from disk.
- **disk**: ``data/cache/parsing/<state>/<ab>/<key>.npz`` (:func:`fklib.paths.cache_dir`, git-ignored): one
  compressed ``.npz`` per image holding the ``uint8`` map (``parsing``; about 1 KB at 128 px), read with
  ``allow_pickle=False`` and written through :func:`fklib.files.write_atomically`, so another process sees
  a complete file or none. An entry that cannot be read (or does not hold a map of the image's size) is
  parsed again and replaced; a cache folder that cannot be written is read around (the maps are computed and
  kept in memory only).

Parsing is batch-invariant (an image's map does not depend on the other images of its batch:
``tests/test_parse_cache.py`` checks it), so a map read back is bit for bit the one a fresh
:func:`~fklib.parsing.parse` of the same images gives. ``FKLIB_PARSE_CACHE=0`` (:data:`PARSE_CACHE_ENV`)
turns both stores off: every call parses.
"""

from __future__ import annotations

import functools
import hashlib
import os
import sys
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .. import paths
from ..files import write_atomically
from .parser import parse

#: ``FKLIB_PARSE_CACHE=0``: no cache, every call parses.
PARSE_CACHE_ENV = "FKLIB_PARSE_CACHE"
#: Bumped when what :func:`~fklib.parsing.parse` computes changes in a way the code hash would not see.
CACHE_VERSION = "1"
#: The most bytes of maps the process keeps in memory (all :class:`ParseCache` s together).
MEMORY_BYTES = 64 * 2**20
#: Images looked up, parsed and written per step of :meth:`ParseCache.__call__` (bounds the copies made).
CHUNK = 256
#: The modules whose code decides a map besides the weights: ``parse`` and the network's building blocks.
CODE_MODULES = ("fklib.parsing.parser", "fklib.models.common", "fklib.models.efficientnet_unet", "fklib.convert")


def cache_enabled() -> bool:
    """Whether :class:`ParseCache` keeps and reads maps (:data:`PARSE_CACHE_ENV` is not ``0``)."""
    return os.environ.get(PARSE_CACHE_ENV, "1") != "0"


def parse_cache_dir() -> Path:
    """``data/cache/parsing``: the disk store of :class:`ParseCache`."""
    return paths.cache_dir() / "parsing"


def parser_weights_sha256(parser: nn.Module) -> str:
    """SHA-256 over the parser's tensors (parameters and buffers) in name order: name, dtype, shape, bytes."""
    h = hashlib.sha256()
    state = parser.state_dict()
    for name in sorted(state):
        t = state[name].detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


@functools.lru_cache(maxsize=None)
def _code_sha256(modules: tuple[str, ...]) -> str:
    """SHA-256 of the source files of ``modules`` (read once per process)."""
    h = hashlib.sha256()
    for name in modules:
        module = sys.modules.get(name)
        source = getattr(module, "__file__", None)
        h.update(name.encode() + b"|")
        h.update(Path(source).read_bytes() if source and Path(source).is_file() else b"no source")
    return h.hexdigest()


def parser_state(parser: nn.Module, size: int) -> str:
    """The name of the cache folder of ``parser`` at working size ``size``: a hash of everything but the image
    that decides a map (see the module doc)."""
    modules = tuple(dict.fromkeys((*CODE_MODULES, type(parser).__module__)))
    h = hashlib.sha256(f"{CACHE_VERSION}|{size}|torch {torch.__version__}|".encode())
    h.update(parser_weights_sha256(parser).encode())
    h.update(_code_sha256(modules).encode())
    return h.hexdigest()[:24]


def image_key(image: np.ndarray) -> str:
    """SHA-256 of an image array's shape, dtype and bytes (C order)."""
    a = np.ascontiguousarray(image)
    h = hashlib.sha256(f"{a.shape}|{a.dtype.str}|".encode())
    h.update(a.data)
    return h.hexdigest()


class _Memory:
    """A least-recently-used store of maps bounded by their total bytes."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.maps: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        self.bytes = 0

    def get(self, key: tuple[str, str]) -> np.ndarray | None:
        found = self.maps.get(key)
        if found is not None:
            self.maps.move_to_end(key)
        return found

    def put(self, key: tuple[str, str], value: np.ndarray) -> None:
        if key in self.maps or value.nbytes > self.max_bytes:
            return
        self.maps[key] = value
        self.bytes += value.nbytes
        while self.bytes > self.max_bytes:
            _, old = self.maps.popitem(last=False)
            self.bytes -= old.nbytes

    def clear(self) -> None:
        self.maps.clear()
        self.bytes = 0


_MEMORY = _Memory(MEMORY_BYTES)


def clear_memory() -> None:
    """Forget the maps kept in memory (the disk store stays): a fresh process's view of the cache."""
    _MEMORY.clear()


class ParseCache:
    """``cache(images)``: :func:`~fklib.parsing.parse` of ``parser`` at ``size``, each distinct image parsed once
    (see the module doc).

    The parser's weights are hashed when the cache is made: do not change them while it is in use.

    Args:
        parser: a face parser (:func:`fklib.parsing.load_parser`).
        size: the parser's working resolution (:func:`~fklib.parsing.parse`'s ``size``).
        folder: the disk store (default :func:`parse_cache_dir`).
        enabled: keep and read maps (default :func:`cache_enabled`); ``False``: every call parses.

    Attributes:
        counts: how many images were found in memory (``memory``), on disk (``disk``) and parsed (``parsed``).
    """

    def __init__(self, parser: nn.Module, size: int = 128, folder: str | Path | None = None,
                 enabled: bool | None = None) -> None:
        self.parser, self.size = parser, size
        self.enabled = cache_enabled() if enabled is None else enabled
        self.state = parser_state(parser, size) if self.enabled else ""
        self.folder = (Path(folder) if folder is not None else parse_cache_dir()) / self.state
        self.counts = {"memory": 0, "disk": 0, "parsed": 0}

    def path(self, key: str) -> Path:
        """The disk entry of the image whose :func:`image_key` is ``key``."""
        return self.folder / key[:2] / f"{key}.npz"

    def __call__(self, images: np.ndarray, batch_size: int = 64) -> np.ndarray:
        """Class-index maps (``N x H x W`` uint8, a fresh array) of ``N x H x W x 3`` uint8 images (or one
        ``H x W x 3`` image), equal to ``parse(parser, images, size, batch_size)``."""
        images = np.asarray(images)
        if images.ndim == 3:
            images = images[None]
        if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
            raise ValueError(f"ParseCache: expected N x H x W x 3 uint8 images, got {images.shape} {images.dtype}")
        if not self.enabled:
            self.counts["parsed"] += len(images)
            return parse(self.parser, images, size=self.size, batch_size=batch_size)
        out = np.empty(images.shape[:3], dtype=np.uint8)
        for start in range(0, len(images), CHUNK):
            self._fill(images[start:start + CHUNK], out[start:start + CHUNK], batch_size)
        return out

    def _fill(self, images: np.ndarray, out: np.ndarray, batch_size: int) -> None:
        """Write the maps of ``images`` into ``out``: from memory, from disk, else parsed (each distinct image once)
        and stored."""
        missing: dict[str, list[int]] = {}
        for j, image in enumerate(images):
            key = image_key(image)
            found = _MEMORY.get((self.state, key))
            if found is not None:
                self.counts["memory"] += 1
            else:
                found = self._read(key, image.shape[:2])
                if found is not None:
                    self.counts["disk"] += 1
                    _MEMORY.put((self.state, key), found)
            if found is not None:
                out[j] = found
            else:
                missing.setdefault(key, []).append(j)
        if not missing:
            return
        first = [rows[0] for rows in missing.values()]
        parsed = parse(self.parser, images[first], size=self.size, batch_size=batch_size)
        self.counts["parsed"] += len(first)
        for (key, rows), value in zip(missing.items(), parsed):
            value = value.copy()  # not a view that would keep the whole batch's array alive
            out[rows] = value
            _MEMORY.put((self.state, key), value)
            self._write(key, value)

    def _read(self, key: str, shape: tuple[int, int]) -> np.ndarray | None:
        """The map stored for ``key``, or ``None`` (none, unreadable, or not a uint8 map of ``shape``)."""
        path = self.path(key)
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as z:
                value = z["parsing"]
        except (OSError, ValueError, KeyError, EOFError):
            return None
        if value.dtype != np.uint8 or value.shape != tuple(shape):
            return None
        return value

    def _write(self, key: str, value: np.ndarray) -> None:
        """Store ``value`` for ``key`` (compressed ``.npz``); a store that cannot be written is left as it is."""
        def write(tmp: Path) -> None:
            with open(tmp, "wb") as f:
                np.savez_compressed(f, parsing=value)

        try:
            write_atomically(self.path(key), write)
        except OSError:  # a read-only cache: kept in memory only
            pass
