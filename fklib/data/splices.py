"""Partial splices: a GAN output composited into its own real source inside a soft mask.

A splice keeps the real camera pixels outside the mask and the GAN's pixels inside it, so its
ground truth (eq. 4 against the real) is non-zero only where the mask is -- a region a
location prior cannot guess. Three mask kinds (:data:`SPLICE_KINDS`):

- ``blob``: irregular random blobs anywhere in the image (a smoothed Gaussian random field
  thresholded at a random area fraction, :data:`BLOB_AREA`);
- ``region``: one or two parsed face regions of the real face (:data:`REGION_GROUPS`; needs its
  face-parsing map);
- ``union``: a blob and a region together.

Every mask is feathered (Gaussian, :data:`FEATHER` of the image side) and in [0, 1]; the composite
is ``round(real * (1 - m) + fake * m)``. Used two ways:

- training augmentation (:class:`SpliceAugment`, a Dataset item transform): with probability
  ``p`` a partial edit becomes a splice of itself, the mask kind and shape drawn from torch's
  global RNG (so a seeded, resumed run repeats them); on the fly, training identities only;
- fixed test and validation sets (:func:`build_splice_set`, :data:`SPLICE_SETS`): blob splices of
  the STGAN and StarGAN test (validation) identities, seeded per item, written in the generic
  layout (``real/<id>.png``, ``fake/<gan>-splice/<property>/<id>.png``) with a ``splices.csv``
  record, readable by ``load_set("generic", folder)`` and ``python -m fklib evaluate --set generic``.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
from PIL import Image

from .. import paths
from ..files import write_atomically
from .readers import CELEBAMASK_CLASSES, Item
from .sets import load_set, set_folder_name

SPLICE_KINDS = ("blob", "region", "union")
#: Area fraction of a blob mask, drawn uniformly in this range.
BLOB_AREA = (0.06, 0.35)
#: Correlation length of the blob field, as a fraction of the image side (drawn in this range).
BLOB_SCALE = (0.05, 0.12)
#: Feather (Gaussian sigma) of every mask, as a fraction of the image side.
FEATHER = 0.012
#: Face regions a ``region`` mask picks from (CelebAMask-HQ class names).
REGION_GROUPS: dict[str, tuple[str, ...]] = {
    "hair": ("hair",), "skin": ("skin",), "nose": ("nose",), "eyes": ("l_eye", "r_eye", "l_brow", "r_brow"),
    "mouth": ("mouth", "u_lip", "l_lip"), "ears": ("l_ear", "r_ear"), "neck": ("neck",),
    "eyeglasses": ("eyeglasses",), "background": ("background",), "cloth": ("cloth",),
}
#: A region with less than this fraction of the image is not picked.
MIN_REGION = 0.01
_INDEX = {name: i for i, name in enumerate(CELEBAMASK_CLASSES)}
#: Version of the splice recipe: part of every built set's recipe record (a change rebuilds the sets).
SPLICE_VERSION = 1


def _feather(binary: np.ndarray, side: int) -> np.ndarray:
    sigma = FEATHER * side
    from scipy.ndimage import gaussian_filter  # lazy: scipy costs ~0.15 s at import, and locate never splices

    m = gaussian_filter(binary.astype(np.float32), sigma) if sigma > 0 else binary.astype(np.float32)
    return np.clip(m, 0.0, 1.0).astype(np.float32)


def blob_mask(shape: tuple[int, int], rng: np.random.Generator, area: tuple[float, float] = BLOB_AREA,
              scale: tuple[float, float] = BLOB_SCALE) -> np.ndarray:
    """Irregular random blobs: a Gaussian random field smoothed at a random scale, its top ``a``
    fraction kept (``a`` uniform in ``area``), feathered. ``HxW`` float32 in [0, 1]."""
    h, w = shape
    side = min(h, w)
    from scipy.ndimage import gaussian_filter  # lazy: as in the function above

    field = gaussian_filter(rng.standard_normal((h, w)), rng.uniform(*scale) * side, mode="wrap")
    frac = rng.uniform(*area)
    binary = field > np.quantile(field, 1.0 - frac)
    return _feather(binary, side)


def region_choices(parsing: np.ndarray) -> list[str]:
    """The :data:`REGION_GROUPS` present in a parsing map with at least :data:`MIN_REGION` of its pixels."""
    parsing = np.asarray(parsing)
    out = []
    for name, classes in REGION_GROUPS.items():
        if np.isin(parsing, [_INDEX[c] for c in classes]).mean() >= MIN_REGION:
            out.append(name)
    return out


def face_region_mask(parsing: np.ndarray, rng: np.random.Generator, max_groups: int = 2) -> np.ndarray:
    """One or two random face regions (:data:`REGION_GROUPS`) of a parsing map, feathered.

    Raises:
        ValueError: no region is large enough (see :func:`region_choices`).
    """
    parsing = np.asarray(parsing)
    choices = region_choices(parsing)
    if not choices:
        raise ValueError("face_region_mask: no face region covers enough of the image")
    n = int(rng.integers(1, min(max_groups, len(choices)) + 1))
    picked = rng.choice(len(choices), size=n, replace=False)
    classes = [_INDEX[c] for k in picked for c in REGION_GROUPS[choices[int(k)]]]
    return _feather(np.isin(parsing, classes), min(parsing.shape))


def splice_mask(kind: str, shape: tuple[int, int], rng: np.random.Generator,
                parsing: np.ndarray | None = None) -> np.ndarray:
    """A mask of ``kind`` (:data:`SPLICE_KINDS`); ``region`` and ``union`` need the real face's ``parsing``
    (of ``shape``)."""
    if kind not in SPLICE_KINDS:
        raise ValueError(f"unknown splice kind {kind!r}; expected one of {SPLICE_KINDS}")
    if kind == "blob":
        return blob_mask(shape, rng)
    if parsing is None or tuple(np.shape(parsing)) != tuple(shape):
        raise ValueError(f"splice kind {kind!r} needs a {shape} parsing map of the real face")
    region = face_region_mask(parsing, rng)
    return region if kind == "region" else np.maximum(region, blob_mask(shape, rng))


def splice(real: np.ndarray, fake: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``round(real * (1 - m) + fake * m)`` as ``HxWx3`` uint8 (``real``, ``fake`` uint8 of one size)."""
    if real.shape != fake.shape or real.dtype != np.uint8 or fake.dtype != np.uint8 or real.ndim != 3:
        raise ValueError(f"splice: real {real.shape} {real.dtype} and fake {fake.shape} {fake.dtype} must be "
                         "equal HxWx3 uint8")
    if mask.shape != real.shape[:2]:
        raise ValueError(f"splice: mask {mask.shape} does not match the images {real.shape[:2]}")
    m = np.asarray(mask, np.float32)[..., None]
    out = real.astype(np.float32) * (1.0 - m) + fake.astype(np.float32) * m
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def splice_item(item: Item, mask: np.ndarray) -> Item:
    """``item`` (a partial edit) spliced into its real source: the image is :func:`splice` of
    (reference, image, mask); the GT map is eq. 4 of the composite against the real."""
    if item.reference is None:
        raise ValueError(f"{item.source}: only a partial edit (with its real source) can be spliced")
    return replace(item, image=splice(np.asarray(item.reference), np.asarray(item.image), mask), cached_map=None)


class SpliceAugment:
    """Dataset item transform: with probability ``p`` a partial edit becomes a splice of itself.

    The mask kind is drawn uniformly from ``kinds`` (``region``/``union`` only where the real face's
    parsing is known: ``parsing(reference)`` returns it, else a ``blob``); the draw and the mask's
    seed come from torch's global RNG. Reals, whole-image syntheses and edits without a source pass
    unchanged.

    Args:
        p: probability of splicing a partial edit.
        kinds: mask kinds (:data:`SPLICE_KINDS`).
        parsing: ``reference array -> HxW parsing`` (e.g. :class:`fklib.parsing.ParsedImages`), or ``None``.
        sets: splice only the edits of these sets (``Item.set``, folder names); ``None``: every set.
    """

    def __init__(self, p: float = 0.5, kinds: Sequence[str] = SPLICE_KINDS,
                 parsing: Callable[[np.ndarray], np.ndarray] | None = None,
                 sets: Sequence[str] | None = None) -> None:
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"SpliceAugment: p must be in [0, 1], got {p}")
        bad = [k for k in kinds if k not in SPLICE_KINDS]
        if bad or not kinds:
            raise ValueError(f"SpliceAugment: kinds must be a non-empty subset of {SPLICE_KINDS}, got {list(kinds)}")
        self.p, self.kinds, self.parsing = float(p), tuple(kinds), parsing
        self.sets = None if sets is None else frozenset(sets)

    def __call__(self, item: Item) -> Item:
        if item.label != 1 or item.reference is None or (self.sets is not None and item.set not in self.sets):
            return item
        if float(torch.rand(())) >= self.p:
            return item
        kind = self.kinds[int(torch.randint(len(self.kinds), ()))]
        rng = np.random.default_rng(int(torch.randint(2**31 - 1, ())))
        parsing = None
        if kind != "blob" and self.parsing is not None:
            parsing = self.parsing(item.reference)
            if not region_choices(parsing):
                parsing = None
        if parsing is None:
            kind = "blob"
        return splice_item(item, splice_mask(kind, item.image.shape[:2], rng, parsing))


# --- fixed splice sets --------------------------------------------------------------------------

#: The committed recipe of the fixed splice sets: name -> (set, split, base seed). Blob masks only.
SPLICE_SETS = {
    "stgan_test": ("stgan", "test", 1000),
    "stargan_test": ("stargan", "test", 2000),
    "stgan_val": ("stgan", "val", 3000),
    "stargan_val": ("stargan", "val", 4000),
}


def splice_recipe(name: str) -> dict:
    """The recipe record of a fixed splice set (what :func:`build_splice_set` writes as ``recipe.json``)."""
    set_name, split, seed = SPLICE_SETS[name]
    return {"version": SPLICE_VERSION, "set": set_name, "split": split, "seed": seed, "kind": "blob",
            "blob_area": list(BLOB_AREA), "blob_scale": list(BLOB_SCALE), "feather": FEATHER}


def build_splice_set(items, folder: str | Path, seed: int, gan_suffix: str = "-splice",
                     recipe: dict | None = None) -> Path:
    """Write blob splices of every partial edit of ``items`` (and every real) in the generic layout.

    Item ``k`` (in order among the partial edits) gets ``blob_mask`` of ``default_rng(seed + k)``.
    Files: ``real/<identity>.png``, ``fake/<gan><gan_suffix>/<property>/<identity>.png``, and
    ``splices.csv`` (file, identity, property, source, mask fraction); ``recipe.json`` last. The folder
    is written under its partial name and renamed when complete, replacing an existing folder
    (:func:`fklib.files.write_atomically`).
    """
    def write(tmp: Path) -> None:
        tmp.mkdir()
        rows, k = ["file,identity,property,source,mask_fraction"], 0
        for it in items:
            if it.label == 0:
                Image.fromarray(np.asarray(it.image)).save(_mkdir(tmp / "real") / f"{it.identity}.png")
                continue
            if it.reference is None:
                continue
            mask = blob_mask(it.image.shape[:2], np.random.default_rng(seed + k))
            k += 1
            rel = Path("fake") / f"{it.gan}{gan_suffix}" / it.property / f"{it.identity}.png"
            Image.fromarray(splice(np.asarray(it.reference), np.asarray(it.image), mask)).save(
                _mkdir(tmp / rel.parent) / rel.name)
            rows.append(f"{rel.as_posix()},{it.identity},{it.property},{it.source},{float(mask.mean()):.4f}")
        (tmp / "splices.csv").write_text("\n".join(rows) + "\n")
        (tmp / "recipe.json").write_text(json.dumps(recipe or {"seed": seed}, sort_keys=True) + "\n")

    return write_atomically(folder, write)


def _mkdir(p: Path) -> Path:
    p.mkdir(parents=True, exist_ok=True)
    return p


def splice_folder(name: str, dest: str | Path | None = None) -> Path:
    """Where the fixed splice set ``name`` lives: ``<dest or data/>/splices/<name>``."""
    return Path(dest or paths.data_dir()) / "splices" / name


def ensure_splice_set(name: str, dest: str | Path | None = None) -> Path:
    """The folder of fixed splice set ``name`` (:data:`SPLICE_SETS`), built from the fetched data when
    missing or made by another recipe (``recipe.json`` differs from :func:`splice_recipe`)."""
    if name not in SPLICE_SETS:
        raise ValueError(f"unknown splice set {name!r}; known: {sorted(SPLICE_SETS)}")
    folder = splice_folder(name, dest)
    recipe = splice_recipe(name)
    record = folder / "recipe.json"
    if record.is_file() and json.loads(record.read_text()) == recipe:
        return folder
    set_name, split, seed = SPLICE_SETS[name]
    data_root = Path(dest) if dest is not None else None
    items = load_set(set_name, folder=data_root / set_folder_name(set_name) if data_root else None, split=split)
    return build_splice_set(items, folder, seed, recipe=recipe)
