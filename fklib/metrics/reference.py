"""Input-blind reference predictors: what a results table's numbers mean without looking at the image.

Every results table carries three rows that ignore the input image:

- ``zeros``         -- the all-zero map (the correct map of every real image);
- ``global_mean``   -- the mean GT map over the **training fakes** (label 1);
- ``property_mean`` -- the mean GT map over the training fakes of the image's property
  (e.g. ``"Bald"``); a property unseen in training falls back to ``global_mean``.

A locator is only useful where it beats these.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from fklib.metrics.functional import MapLike, to_numpy

#: The prediction kinds of :meth:`ReferenceMaps.predict`: the reference predictors' names in every table.
REFERENCE_KINDS = ("zeros", "global_mean", "property_mean")


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
        if kind not in REFERENCE_KINDS:
            raise ValueError(f"ReferenceMaps.predict: unknown kind {kind!r}; expected one of {REFERENCE_KINDS}")
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
