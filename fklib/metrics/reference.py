"""Reference predictors: what a results table's numbers mean without seeing fake texture.

Every results table carries four rows that do not look at the image's texture:

- ``zeros``         -- the all-zero map (the correct map of every real image);
- ``global_mean``   -- the mean GT map over the **training fakes** (label 1);
- ``property_mean`` -- the mean GT map over the training fakes of the image's property
  (e.g. ``"Bald"``); a property unseen in training falls back to ``global_mean``;
- ``layout_prior``  -- texture-blind but not input-blind: where the face's parts are. For each
  property ``p`` and face-parsing class ``c`` (the 19 CelebAMask-HQ classes, parsing of the
  fake by our face parser), ``T[p, c]`` is the mean training GT over the pixels of class ``c``
  of the training fakes of ``p`` (:class:`LayoutPrior`); at test time each pixel of the parsed
  image gets ``T[p, class]``, and the prediction is the **geometric mean** of that lookup and
  the ``property_mean`` map: ``sqrt(T[p, parsing] * property_mean_p)`` (the lookup alone knows
  the parts but not where inside a part edits land; the mean map the opposite). A class without
  a training pixel of ``p`` takes the class's mean over all training fakes, else ``p``'s overall
  mean; an unseen property takes the all-fakes table.

A locator is only useful where it beats these; one that does not beat ``layout_prior`` is
segmenting faces, not finding fakes.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from fklib.metrics.functional import MapLike, to_numpy

#: The reference predictors of every table, in table order (:meth:`References.predict`).
REFERENCE_KINDS = ("zeros", "global_mean", "property_mean", "layout_prior")
#: The input-blind ones, predicted by :meth:`ReferenceMaps.predict`.
MEAN_KINDS = ("zeros", "global_mean", "property_mean")


def zero_map(shape: tuple[int, int]) -> np.ndarray:
    """The all-zero ``HxW`` float32 map of the given ``(height, width)``."""
    if len(shape) != 2:
        raise ValueError(f"zero_map: expected (height, width), got {shape}")
    return np.zeros(tuple(int(v) for v in shape), dtype=np.float32)


class ReferenceMaps:
    """Mean GT maps of the training fakes, globally and per property.

    Build with :meth:`fit`; store with :meth:`save` / :meth:`load` (``.npz``, no pickle).

    Attributes:
        global_mean: ``HxW`` float32, the pixel-wise mean of the GT maps of all training fakes.
        property_means: property name -> ``HxW`` float32 mean over the training fakes of it.
        property_counts: property name -> number of training fakes averaged.
    """

    def __init__(self, global_mean: np.ndarray, property_means: dict[str, np.ndarray],
                 property_counts: dict[str, int]) -> None:
        global_mean = np.asarray(global_mean, dtype=np.float32)
        if global_mean.ndim != 2:
            raise ValueError(f"ReferenceMaps: global_mean must be HxW, got {global_mean.shape}")
        for name, m in property_means.items():
            if np.shape(m) != global_mean.shape:
                raise ValueError(f"ReferenceMaps: mean of {name!r} is {np.shape(m)}, expected {global_mean.shape}")
        if set(property_counts) != set(property_means):
            raise ValueError("ReferenceMaps: property_counts and property_means name different properties")
        self.global_mean = global_mean
        self.property_means = {str(k): np.asarray(v, dtype=np.float32) for k, v in property_means.items()}
        self.property_counts = {str(k): int(v) for k, v in property_counts.items()}

    @property
    def shape(self) -> tuple[int, int]:
        """``(height, width)`` of the stored maps."""
        return self.global_mean.shape  # type: ignore[return-value]

    @classmethod
    def fit(cls, maps: MapLike, labels: Sequence[int] | np.ndarray, properties: Sequence[str]) -> ReferenceMaps:
        """Average the GT maps of the training fakes, globally and per property.

        Only samples with label 1 (fake) count; the property names of real samples are ignored.

        Args:
            maps: training GT maps in ``[0, 1]``.
            labels: 1 for fake, 0 for real.
            properties: property name of each sample (e.g. ``"Bald"``).

        Shape:
            - maps: ``(N, H, W)``; labels, properties: ``(N,)``.

        Raises:
            ValueError: maps not 3-D, lengths differ, labels not in ``{0, 1}``, or no fake.
        """
        m = to_numpy(maps)
        lab = to_numpy(labels).ravel()
        props = [str(p) for p in properties]
        if m.ndim != 3:
            raise ValueError(f"ReferenceMaps.fit: maps must be NxHxW, got {m.shape}")
        if not (m.shape[0] == lab.size == len(props)):
            raise ValueError(f"ReferenceMaps.fit: {m.shape[0]} maps, {lab.size} labels, {len(props)} properties")
        if not np.all((lab == 0) | (lab == 1)):
            raise ValueError("ReferenceMaps.fit: labels must be 0 (real) or 1 (fake)")
        fake = lab == 1
        if not fake.any():
            raise ValueError("ReferenceMaps.fit: no fake (label 1) sample to average")
        global_mean = m[fake].mean(axis=0)
        means: dict[str, np.ndarray] = {}
        counts: dict[str, int] = {}
        fake_props = np.array(props, dtype=object)[fake]
        for name in sorted(set(fake_props)):
            sel = fake_props == name
            means[name] = m[fake][sel].mean(axis=0)
            counts[name] = int(sel.sum())
        return cls(global_mean, means, counts)

    def predict(self, kind: str, property: str | None = None, shape: tuple[int, int] | None = None) -> np.ndarray:
        """The reference map of ``kind`` for an image of ``property``.

        Args:
            kind: ``"zeros"``, ``"global_mean"`` or ``"property_mean"``.
            property: the image's property; needed for ``"property_mean"``. A property with no
                training fake falls back to the global mean.
            shape: ``(height, width)``; defaults to :attr:`shape`. For the mean kinds it must
                equal :attr:`shape` (maps are not resized).

        Returns:
            a fresh ``HxW`` float32 array.

        Raises:
            ValueError: unknown kind, ``property_mean`` without a property, or a shape mismatch.
        """
        if kind not in MEAN_KINDS:
            raise ValueError(f"ReferenceMaps.predict: unknown kind {kind!r}; expected one of {MEAN_KINDS}")
        shape = self.shape if shape is None else tuple(int(v) for v in shape)
        if kind == "zeros":
            return zero_map(shape)
        if shape != self.shape:
            raise ValueError(f"ReferenceMaps.predict: maps are {self.shape}, asked for {shape}")
        if kind == "global_mean":
            return self.global_mean.copy()
        if property is None:
            raise ValueError("ReferenceMaps.predict: kind 'property_mean' needs a property")
        return self.property_means.get(str(property), self.global_mean).copy()

    def save(self, path: str | Path) -> Path:
        """Write the maps to ``path`` as ``.npz`` (numpy appends ``.npz`` when missing); return the path written.

        Keys: ``global_mean`` (HxW), ``names`` (K unicode strings), ``means`` (KxHxW),
        ``counts`` (K int64).
        """
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_name(path.name + ".npz")
        names = sorted(self.property_means)
        means = (np.stack([self.property_means[n] for n in names]) if names
                 else np.zeros((0, *self.shape), dtype=np.float32))
        np.savez(path, global_mean=self.global_mean, names=np.array(names, dtype=np.str_),
                 means=means, counts=np.array([self.property_counts[n] for n in names], dtype=np.int64))
        return path

    @classmethod
    def load(cls, path: str | Path) -> ReferenceMaps:
        """Read maps written by :meth:`save` (``np.load(allow_pickle=False)``)."""
        with np.load(path, allow_pickle=False) as z:
            names = [str(n) for n in z["names"]]
            means = {n: z["means"][i] for i, n in enumerate(names)}
            counts = {n: int(z["counts"][i]) for i, n in enumerate(names)}
            return cls(z["global_mean"], means, counts)


class LayoutPrior:
    """The face-layout table ``T[p, c]``: mean training GT of property ``p``'s fakes over parsing class ``c``.

    Build with :meth:`fit`; :meth:`lookup` maps a parsing to a map (see the module doc for the
    fall-backs).

    Attributes:
        tables: property -> ``(num_classes,)`` float64 table.
        global_table: the table over all training fakes.
    """

    def __init__(self, tables: dict[str, np.ndarray], global_table: np.ndarray) -> None:
        self.tables = {str(k): np.asarray(v, dtype=np.float64) for k, v in tables.items()}
        self.global_table = np.asarray(global_table, dtype=np.float64)

    @staticmethod
    def _table(maps: np.ndarray, parsings: np.ndarray, num_classes: int, fallback: np.ndarray | None) -> np.ndarray:
        flat_c = parsings.reshape(-1).astype(np.int64)
        sums = np.bincount(flat_c, weights=maps.reshape(-1), minlength=num_classes)[:num_classes]
        counts = np.bincount(flat_c, minlength=num_classes)[:num_classes]
        overall = float(maps.mean()) if maps.size else 0.0
        table = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
        if fallback is not None:
            table = np.where(np.isnan(table), fallback, table)
        return np.where(np.isnan(table), overall, table)

    @classmethod
    def fit(cls, maps: MapLike, parsings: np.ndarray, labels: Sequence[int] | np.ndarray, properties: Sequence[str],
            num_classes: int = 19) -> LayoutPrior:
        """The tables of the fakes (label 1) among ``maps`` (``N x H x W``, GT in [0, 1]) and their
        ``parsings`` (``N x H x W`` class indices in ``0..num_classes-1``)."""
        m = to_numpy(maps)
        par = np.asarray(parsings)
        lab = to_numpy(labels).ravel()
        props = np.array([str(p) for p in properties], dtype=object)
        if m.ndim != 3 or par.shape != m.shape or lab.size != len(m) or len(props) != len(m):
            raise ValueError(f"LayoutPrior.fit: maps {m.shape}, parsings {par.shape}, {lab.size} labels and "
                             f"{len(props)} properties do not match")
        if par.size and (par.min() < 0 or par.max() >= num_classes):
            raise ValueError(f"LayoutPrior.fit: parsing classes must be in 0..{num_classes - 1}")
        fake = lab == 1
        if not fake.any():
            raise ValueError("LayoutPrior.fit: no fake (label 1) sample")
        global_table = cls._table(m[fake], par[fake], num_classes, None)
        tables = {p: cls._table(m[fake & (props == p)], par[fake & (props == p)], num_classes, global_table)
                  for p in sorted(set(props[fake]))}
        return cls(tables, global_table)

    def lookup(self, property: str | None, parsing: np.ndarray) -> np.ndarray:
        """``T[property, parsing]``: an ``HxW`` float32 map (the all-fakes table for an unseen property)."""
        table = self.tables.get(str(property), self.global_table)
        par = np.asarray(parsing).astype(np.int64)
        return table[np.clip(par, 0, len(table) - 1)].astype(np.float32)


class References:
    """All reference predictors of a table: the mean maps (:class:`ReferenceMaps`) and, when given,
    the :class:`LayoutPrior`.

    Attributes:
        kinds: the kinds this object predicts (:data:`REFERENCE_KINDS`; without ``layout_prior`` when
            no layout prior is given).
    """

    def __init__(self, maps: ReferenceMaps, layout: LayoutPrior | None = None) -> None:
        self.maps = maps
        self.layout = layout
        self.kinds = REFERENCE_KINDS if layout is not None else MEAN_KINDS

    @property
    def shape(self) -> tuple[int, int]:
        return self.maps.shape

    def predict(self, kind: str, property: str | None = None, shape: tuple[int, int] | None = None,
                parsing: np.ndarray | None = None) -> np.ndarray:
        """The ``HxW`` float32 map of ``kind`` for an image of ``property`` (``layout_prior`` needs the
        image's ``parsing``: ``sqrt(T[property, parsing] * property_mean)``)."""
        if kind != "layout_prior":
            return self.maps.predict(kind, property, shape)
        if self.layout is None or parsing is None:
            raise ValueError("References.predict: 'layout_prior' needs a fitted layout prior and the image's parsing")
        mean = self.maps.predict("property_mean", property, shape)
        lookup = self.layout.lookup(property, parsing)
        if lookup.shape != mean.shape:
            raise ValueError(f"References.predict: parsing {lookup.shape} and maps {mean.shape} differ in shape")
        return np.sqrt(lookup * mean).astype(np.float32)
