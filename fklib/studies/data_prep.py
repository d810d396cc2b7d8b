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
    (eq. 4), binary map B = M > ``threshold``), and per row the mean and max of M and B's area."""
    test = load_set("stgan", split="test")
    rows, stats = [], []
    for prop in properties:
        it = next(i for i in test if i.property == prop)
        m = gt_map(it.reference, it.image)
        b = binary_map(m, threshold)
        rows.append((f"STGAN {prop}", it.reference, it.image, m, b))
        stats.append({"property": f"STGAN {prop}", "mean M": m.mean(), "max M": m.max(), "B area": b.mean()})
    return rows, pd.DataFrame(stats)
