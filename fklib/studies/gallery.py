"""Notebook 06, paper Fig. 1: the universal model on the best, median and worst test fake of every GAN."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..checkpoint import LoadedLocator
from ..data import load_set
from ..metrics import coss, psnr, ssim
from ..metrics.classification import map_peak
from ..models.inference import ImagePredictor

#: The sets of Fig. 1, one block of rows each: STGAN, the main JPEG test sets of real GANs (the released
#: StarGAN-128, AttGAN and AttentionGAN: where the model is weakest) and InterFaceGAN's whole faces.
GALLERY_SETS = ("stgan", "stargan128", "attgan_attentiongan", "interfacegan")
#: How each set's rows are named in the figure.
SET_LABELS = {"stgan": "STGAN", "stargan128": "StarGAN-128 (released)", "attgan_attentiongan": "AttGAN / AttentionGAN",
              "stargan": "StarGAN-256 (perturbed)", "attgan": "AttGAN sample rows", "interfacegan": "InterFaceGAN"}
#: Test fakes ranked per set (evenly spaced over the set; the figure says how many): enough for a best, median and
#: worst, without predicting the 2,760 StarGAN-128 fakes one by one.
RANKED_PER_SET = 600
#: Which test fakes of each set are shown, by the model's COSS against their ground truth.
GALLERY_RANKS = ("best", "median", "worst")


def gallery(locator: LoadedLocator, sets=GALLERY_SETS, split: str = "test",
            limit: int | None = None) -> tuple[list[dict], pd.DataFrame]:
    """Fig. 1's rows and their numbers: a real test face (its ground truth is all zero), then for each set
    its best, median and worst test fake by the model's COSS (so a reader sees the typical case and the
    failures, not a lucky pick): the real source (``None`` for a whole-image synthesis), the fake (the
    input), its GT map, the prediction at the image's size, its COSS / PSNR / SSIM, and p(fake) with the
    model's stored decision threshold (the figure prints the call and marks a wrong one).

    ``limit``: rank at most this many fakes per set (evenly spaced over the set's order, so every property is
    there; ``None``: all).

    Returns:
        ``(rows, stats)``: rows of ``label``, ``real``, ``fake``, ``gt``, ``pred``, ``metrics`` for
        :func:`fklib.report.figures.localization_figure`; one stats row per shown image (``set``,
        ``rank``, ``property``, ``identity``, ``coss``, ``psnr``, ``ssim``, ``fake_probability``, ``called_fake``,
        ``gt_mean``, ``pred_mean``, ``n_ranked``).
    """
    threshold, floor = locator.rule.effective_threshold, locator.rule.peak_floor
    predictor = ImagePredictor(locator.model, locator.size)
    rows, stats = [], []

    def add(set_name, rank, it, pred, prob, n):
        gt = it.gt_map()
        peak = float(map_peak(pred[None])[0])
        called = locator.rule.call(prob, pred, peak) == 1.0
        m = {"coss": coss(pred, gt), "psnr": psnr(pred, gt), "ssim": ssim(pred, gt)}
        real = it.image if it.label == 0 else it.reference  # None: a whole-image synthesis has no source
        what = it.property if set_name != "attgan_attentiongan" or it.label == 0 else f"{it.gan} {it.property}"
        rows.append({"label": f"{SET_LABELS.get(set_name, set_name)}\n{rank}: {what}", "real": real, "fake": it.image, "gt": gt,
                     "pred": pred, "metrics": None if it.label == 0 else m,
                     "probability": prob, "threshold": threshold, "true_label": it.label, "called_fake": called,
                     "peak_floor": floor, "peak": peak if floor is not None else None})
        stats.append({"set": set_name, "rank": rank, "property": it.property, "identity": it.identity, **m,
                      "fake_probability": prob, "called_fake": called, "gt_mean": float(gt.mean()), "pred_mean": float(pred.mean()),
                      "n_ranked": n})

    for k, set_name in enumerate(sets):
        items = load_set(set_name, split=split)
        if k == 0:
            real = next((it for it in items if it.label == 0), None)
            if real is not None:
                add(set_name, "real", real, *predictor.predict_array(np.asarray(real.image)), 1)
        fakes = [it for it in items if it.label == 1]
        if limit is not None and len(fakes) > limit:
            fakes = [fakes[int(i)] for i in np.linspace(0, len(fakes) - 1, limit).round()]
        if not fakes:
            continue
        scored = []
        for it in fakes:
            pred, prob = predictor.predict_array(np.asarray(it.image))
            scored.append((coss(pred, it.gt_map()), it, pred, prob))
        order = sorted(range(len(scored)), key=lambda i: (scored[i][0], i))
        at = {"best": order[-1], "median": order[len(order) // 2], "worst": order[0]}
        for rank in GALLERY_RANKS:
            _, it, pred, prob = scored[at[rank]]
            add(set_name, rank, it, pred, prob, len(scored))
    return rows, pd.DataFrame(stats)


def gallery_sentence(stats: pd.DataFrame) -> str:
    """Notebook 06's reading of Fig. 1, from :func:`gallery`'s stats rows: the median and worst test fake per GAN,
    and whether the real face is called real."""
    fakes, real = stats[stats["rank"] != "real"], stats[stats["rank"] == "real"]
    name = lambda r: SET_LABELS.get(r.set, r.set)  # noqa: E731
    text = ("Median test fake per set (of the fakes ranked): "
            + ", ".join(f"{name(r)} COSS {r.coss:.3f} (p(fake) {r.fake_probability:.2f}, of {r.n_ranked})"
                        for r in fakes[fakes["rank"] == "median"].itertuples())
            + "; worst: " + ", ".join(f"{name(r)} {r.coss:.3f}" for r in fakes[fakes["rank"] == "worst"].itertuples()))
    if not len(real):
        return text + "."
    r = real.iloc[0]
    return (text + f". On the real face the mean predicted fakeness is {r['pred_mean']:.3f} (p(fake) "
            f"{r['fake_probability']:.2f}): it is called {'fake, wrongly' if r['called_fake'] else 'real'}.")
