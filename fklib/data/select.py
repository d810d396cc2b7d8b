"""Choosing items: capped per property, or a seeded property-stratified subsample (pure functions)."""

from __future__ import annotations

import numpy as np

from .readers import REAL


def limit_items(items, n: int) -> list:
    """The first ``n`` items of each property (reals count as the property ``Real``), in order."""
    seen: dict[str, int] = {}
    out = []
    for it in items:
        k = it.property
        if seen.get(k, 0) < n:
            seen[k] = seen.get(k, 0) + 1
            out.append(it)
    return out


def stratified_items(items, fakes_per_property: int | None, max_reals: int | None = None, seed: int = 0) -> list:
    """A seeded subsample: ``fakes_per_property`` fakes of every property and ``max_reals`` reals.

    ``None`` keeps all of that kind. The choice within a property is a seeded random draw
    (:func:`numpy.random.default_rng`); the kept items stay in their original order.
    """
    items = list(items)
    rng = np.random.default_rng(seed)
    groups: dict[str, list[int]] = {}
    for i, it in enumerate(items):
        groups.setdefault(REAL if it.label == 0 else it.property, []).append(i)
    keep: list[int] = []
    for key in sorted(groups):
        idx = groups[key]
        cap = max_reals if key == REAL else fakes_per_property
        if cap is not None and len(idx) > cap:
            idx = sorted(rng.choice(idx, cap, replace=False).tolist())
        keep += idx
    return [items[i] for i in sorted(keep)]
