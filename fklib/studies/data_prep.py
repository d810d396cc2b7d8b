"""Notebook 00, paper §4.2 and Fig. 5: the splits and examples of the ground-truth maps."""

from __future__ import annotations

import pandas as pd

from ..data import binary_map, ensure_splits, gt_map, load_set

#: The STGAN test edits of Fig. 5.
FIG5_PROPERTIES = ("Bald", "Black_Hair", "Eyeglasses", "Mouth_Slightly_Open")


def split_counts() -> pd.DataFrame:
    """Identities per set (rows) and split (columns) of ``results/splits.csv`` (written once)."""
    return ensure_splits().groupby(["set", "split"]).size().unstack(fill_value=0)


def gt_examples(properties=FIG5_PROPERTIES, threshold: float = 0.1) -> tuple[list[tuple], pd.DataFrame]:
    """Fig. 5's rows for the first STGAN test edit of each property: (label, real, fake, gray map M
    (eq. 4), binary map B = M > ``threshold``), and per row the mean and max of M, B's area and the mean of M
    outside B (the low-level redraw of the rest of the face)."""
    test = load_set("stgan", split="test")
    rows, stats = [], []
    for prop in properties:
        it = next(i for i in test if i.property == prop)
        m = gt_map(it.reference, it.image)
        b = binary_map(m, threshold)
        rows.append((f"STGAN {prop}", it.reference, it.image, m, b))
        outside = m[b == 0]
        stats.append({"property": f"STGAN {prop}", "mean M": m.mean(), "max M": m.max(), "B area": b.mean(),
                      "mean M outside B": float(outside.mean()) if outside.size else 0.0})
    return rows, pd.DataFrame(stats)


def gt_sentence(stats: pd.DataFrame) -> str:
    """Notebook 00's reading of Fig. 5 (:func:`gt_examples`' stats): how much of each edit the binary map B keeps,
    and whether the gray map M also holds the low-level redraw of the rest of the face (M above zero outside B)."""
    redraw = bool((stats["mean M outside B"] > 0).all())
    return (f"The {len(stats)} STGAN test edits change {', '.join(f'{a:.0%}' for a in stats['B area'])} of their pixels "
            "by more than 0.1 (binary map B); " + (
                f"the gray map M also keeps the low-level redraw of the whole face (mean M {stats['mean M'].min():.3f}–"
                f"{stats['mean M'].max():.3f}; outside B {stats['mean M outside B'].min():.3f}–"
                f"{stats['mean M outside B'].max():.3f}), which the binary map drops." if redraw else
                "the gray map M is zero outside the edit for some of them (no redraw of the whole face)."))
