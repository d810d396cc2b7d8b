"""Real-world check: faces cropped from published result figures (JPEG, another StarGAN, paper framing).

:func:`figure_detection` runs a locator over the tiles of the StarGAN paper's CelebA figures
(:func:`fklib.data.figure_items`) exactly as ``python -m fklib locate`` would (each tile resized to
the model's resolution); :func:`figure_summary` gives the share of edits called fake and of inputs
called real. Detection only: the tiles are not registered with their input (no ground-truth map).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..checkpoint import LoadedLocator
from ..data import figure_items
from ..models.inference import ImagePredictor


def figure_detection(locator: LoadedLocator, items=None) -> pd.DataFrame:
    """One row per tile: its metadata, ``prob`` (the classifier's p(fake)), ``pred_fake`` (the locator's rule)."""
    predictor = ImagePredictor(locator.model, locator.size)
    rows = []
    for it in (items if items is not None else figure_items()):
        pred, prob = predictor.predict_array(np.asarray(it.image))
        rows.append({**it.meta(), "prob": prob, "map_mean": float(pred.mean()), "pred_fake": locator.rule.call(prob, pred)})
    return pd.DataFrame(rows)


def figure_summary(rows: pd.DataFrame) -> dict:
    """``edits_called_fake`` and ``reals_called_real`` (shares), with their counts."""
    edits, reals = rows[rows["label"] == 1], rows[rows["label"] == 0]
    return {"n_edits": len(edits), "n_reals": len(reals),
            "edits_called_fake": float((edits["pred_fake"] == 1).mean()) if len(edits) else float("nan"),
            "reals_called_real": float((reals["pred_fake"] == 0).mean()) if len(reals) else float("nan")}
