"""Notebook 06, paper Fig. 1: the universal model on one test image per GAN / property."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..checkpoint import model_from_checkpoint
from ..data import load_set
from ..models.inference import ImagePredictor

#: (set, property) of each row; the first row feeds a real CelebA test face (its ground truth is all zero).
GALLERY_PICKS = (("stgan", "Real"), ("stgan", "Bald"), ("stgan", "Bangs"), ("stgan", "Black_Hair"),
                 ("stgan", "Eyeglasses"), ("stgan", "Mouth_Slightly_Open"), ("stgan", "Mustache"),
                 ("attgan", "Bald"), ("attgan", "Blond_Hair"), ("stargan", "Brown_Hair"), ("stargan", "Male"),
                 ("interfacegan", "Entire"))


def gallery(checkpoint: str | Path, picks=GALLERY_PICKS, split: str = "test") -> tuple[list[dict], pd.DataFrame]:
    """Fig. 1's rows and their numbers: for the first test item of each pick, the real image (the input
    itself for a real; black for a whole-image synthesis), the fake (the input), its GT map and the
    prediction at the image's size.

    Returns:
        ``(rows, stats)``: rows of ``label``, ``real``, ``fake``, ``gt``, ``pred`` for
        :func:`fklib.report.figures.localization_figure`; one stats row per pick (``fake_probability``,
        ``gt_mean``, ``pred_mean``).
    """
    model, cfg, _ = model_from_checkpoint(checkpoint)
    predictor = ImagePredictor(model, cfg.size)
    rows, stats, sets = [], [], {}
    for set_name, prop in picks:
        items = sets.setdefault(set_name, load_set(set_name, split=split))
        it = next(i for i in items if i.property == prop)
        pred, prob = predictor.predict_array(np.asarray(it.image))
        gt = it.gt_map()
        real = it.image if it.label == 0 else (it.reference if it.reference is not None else np.zeros_like(it.image))
        rows.append({"label": f"{set_name}\n{prop}", "real": real, "fake": it.image, "gt": gt, "pred": pred})
        stats.append({"set": set_name, "property": prop, "fake_probability": prob, "gt_mean": float(gt.mean()),
                      "pred_mean": float(pred.mean())})
    return rows, pd.DataFrame(stats)
