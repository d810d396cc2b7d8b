"""All map metrics of one image, or of a batch of images at once (what the scoring loop records).

- :data:`MAP_METRICS` -- the per-image map metrics every evaluation row carries, in column order.
- :data:`PAPER_METRICS` -- the four columns of the paper's tables (ACC, COSS, PSNR, SSIM).
- :func:`per_image_metrics` -- all of them for one ``HxW`` prediction (numpy, float64), optionally in a region.
- :func:`batch_map_metrics` -- the same for a ``Bx1xHxW`` batch: COSS, PSNR, SSIM batched in torch
  (float64), MAE, and AUC / F1 / IoU per image (:mod:`fklib.metrics.pixel`).
- :func:`region_map_metrics` -- COSS, PSNR, SSIM of each image of a batch over the whole map and
  inside a region (paper Table 5), with the numpy per-image functions.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import torch

from fklib.metrics.functional import MapLike, as_map_pair, as_mask, coss, coss_batch, mae, psnr, psnr_batch, ssim, \
    ssim_batch
from fklib.metrics.pixel import IMDL_THRESHOLD, f1_from_stats, iou_from_stats, pixel_auc, pixel_stats

#: Per-image map metrics, in the column order of every evaluation row.
MAP_METRICS = ("coss", "psnr", "ssim", "mae", "auc", "f1", "iou", "f1_imdl", "iou_imdl")
#: The metrics of the paper's tables (Tables 2-5, Figs. 8 and 10), in the paper's column order.
PAPER_METRICS = ("acc", "coss", "psnr", "ssim")
#: Per-image confusion counts at ``tau`` (GT and prediction) that :func:`batch_map_metrics` adds to ``f1`` / ``iou``:
#: summed over a table's images they give the pooled (micro) F1 and IoU (:func:`fklib.metrics.pixel.pooled_f1_iou`).
PIXEL_COUNTS = ("tp", "fp", "fn")
#: Per-image pixel sums of the map *level* (truth region: ``gt > tau``, the binary map B of eq. 5) that
#: :func:`batch_map_metrics` always adds: the prediction's and the truth's sum inside the region and
#: outside it. Summed over a table's fakes, ``pred_in / gt_in`` says how much of the truth's level the
#: prediction reaches where the edit is (1: the same level; 0.1: a tenth) and ``pred_out / gt_out``
#: the same outside it (:data:`fklib.metrics.groups.POOLED_METRICS` ``level_in`` / ``level_out``).
LEVEL_SUMS = ("pred_in", "gt_in", "pred_out", "gt_out")
#: Map metrics that :func:`region_map_metrics` computes, whole-image and in-region (``<m>_region``).
REGION_METRICS = ("coss", "psnr", "ssim")


def per_image_metrics(pred: MapLike, gt: MapLike, mask: MapLike | None = None, tau: float = 0.1) -> dict[str, float]:
    """All per-image map metrics of one prediction, as a dict of python floats.

    Keys: :data:`MAP_METRICS` -- ``coss``, ``psnr``, ``ssim``, ``mae`` (:mod:`fklib.metrics.functional`)
    and ``auc``, ``f1``, ``iou`` (:mod:`fklib.metrics.pixel`, GT and prediction binarised at ``tau``,
    strictly greater), ``f1_imdl``, ``iou_imdl`` (the GT at ``tau``, the prediction at
    :data:`~fklib.metrics.pixel.IMDL_THRESHOLD` = 0.5, IMDL-BenCo's convention). With ``mask`` every
    metric uses only the masked pixels (SSIM: the full map averaged over the mask); ``auc`` is ``nan``
    when the (masked) binary GT lacks positives or negatives, and ``f1``, ``iou``, ``f1_imdl``,
    ``iou_imdl`` are ``nan`` when it has no positive pixel (a real image: there is nothing to find,
    so a localization score is undefined; :func:`fklib.metrics.pixel.pooled_f1_iou` still counts its
    false positives). An empty mask gives ``nan`` for all.

    Shape:
        - pred, gt, mask: ``(H, W)``.

    Raises:
        ValueError: maps not 2-D, shapes differ, or a bad mask.
    """
    p, g = as_map_pair(pred, gt, "per_image_metrics")
    m = as_mask(mask, p.shape, "per_image_metrics")
    if m is not None and not m.any():
        return dict.fromkeys(MAP_METRICS, math.nan)
    stats = pixel_stats(p, g, tau=tau, mask=m)
    imdl = pixel_stats(p, g, tau=tau, mask=m, pred_tau=IMDL_THRESHOLD)
    return {
        "coss": coss(p, g, m),
        "psnr": psnr(p, g, m),
        "ssim": ssim(p, g, m),
        "mae": mae(p, g, m),
        "auc": pixel_auc(p, g, tau=tau, mask=m),
        "f1": _localization(f1_from_stats, stats),
        "iou": _localization(iou_from_stats, stats),
        "f1_imdl": _localization(f1_from_stats, imdl),
        "iou_imdl": _localization(iou_from_stats, imdl),
    }


def _localization(fn, stats) -> float:
    """F1 or IoU of one image; ``nan`` when its binary GT has no positive pixel (``TP + FN = 0``)."""
    return math.nan if stats.tp + stats.fn == 0 else fn(stats)


def batch_map_metrics(pred: torch.Tensor, gt: torch.Tensor, tau: float = 0.1,
                      names: Sequence[str] = MAP_METRICS) -> dict[str, np.ndarray]:
    """Per-image metrics of a batch: ``{name: (B,) float64 array}`` for each of ``names``.

    ``coss``, ``psnr``, ``ssim`` are the batched torch forms (:func:`coss_batch`, :func:`psnr_batch`,
    :func:`ssim_batch`, float64); ``mae`` is the mean absolute error per image; ``auc``, ``f1`` and
    ``iou`` are :func:`pixel_auc`, :func:`f1_from_stats` and :func:`iou_from_stats` of each image
    (GT and prediction binarised at ``tau``; ``nan`` for an image whose binary GT is empty, as
    :func:`per_image_metrics`); ``f1_imdl`` / ``iou_imdl`` the same with the prediction binarised at 0.5.
    Only the metrics named are computed; with ``f1`` or ``iou`` the per-image counts
    :data:`PIXEL_COUNTS` (``tp``, ``fp``, ``fn`` at ``tau``, as floats) are returned too, for pooled F1 / IoU;
    the level sums :data:`LEVEL_SUMS` always (float64).

    Shape:
        - pred, gt: ``(B, 1, H, W)`` CPU tensors.

    Raises:
        ValueError: an unknown metric name.
    """
    unknown = [n for n in names if n not in MAP_METRICS]
    if unknown:
        raise ValueError(f"batch_map_metrics: unknown metric(s) {unknown}; known: {MAP_METRICS}")
    out: dict[str, np.ndarray] = {}
    if "coss" in names:
        out["coss"] = coss_batch(pred, gt).numpy()
    if "psnr" in names:
        out["psnr"] = psnr_batch(pred, gt).numpy()
    if "ssim" in names:
        out["ssim"] = ssim_batch(pred, gt).numpy()
    if "mae" in names:
        out["mae"] = (pred - gt).abs().flatten(1).mean(1).numpy()
    out.update(level_sums(pred, gt, tau))
    pixel = [n for n in ("auc", "f1", "iou", "f1_imdl", "iou_imdl") if n in names]
    counts = "f1" in names or "iou" in names
    if pixel:
        values: dict[str, list[float]] = {n: [] for n in (*pixel, *(PIXEL_COUNTS if counts else ()))}
        for p, g in zip(pred[:, 0].numpy(), gt[:, 0].numpy()):
            if "auc" in values:
                values["auc"].append(pixel_auc(p, g, tau))
            if counts:
                stats = pixel_stats(p, g, tau)
                for n, fn in (("f1", f1_from_stats), ("iou", iou_from_stats)):
                    if n in values:
                        values[n].append(_localization(fn, stats))
                for n, c in zip(PIXEL_COUNTS, stats):
                    values[n].append(float(c))
            if "f1_imdl" in values or "iou_imdl" in values:
                stats = pixel_stats(p, g, tau, pred_tau=IMDL_THRESHOLD)
                for n, fn in (("f1_imdl", f1_from_stats), ("iou_imdl", iou_from_stats)):
                    if n in values:
                        values[n].append(_localization(fn, stats))
        out.update({n: np.array(v, float) for n, v in values.items()})
    return {n: out[n] for n in (*names, *(PIXEL_COUNTS if counts else ()), *LEVEL_SUMS)}


def level_sums(pred: torch.Tensor, gt: torch.Tensor, tau: float = 0.1) -> dict[str, np.ndarray]:
    """:data:`LEVEL_SUMS` of each image of a batch: sums of the prediction and of the truth inside the
    truth's region (``gt > tau``) and outside it (float64).

    Shape:
        - pred, gt: ``(B, 1, H, W)`` (or ``(B, H, W)``) CPU tensors.
    """
    p = pred.reshape(len(pred), -1).double()
    g = gt.reshape(len(gt), -1).double()
    inside = g > tau
    zero = torch.zeros((), dtype=torch.float64)
    return {"pred_in": torch.where(inside, p, zero).sum(1).numpy(), "gt_in": torch.where(inside, g, zero).sum(1).numpy(),
            "pred_out": torch.where(inside, zero, p).sum(1).numpy(), "gt_out": torch.where(inside, zero, g).sum(1).numpy()}


def region_map_metrics(pred: torch.Tensor, gt: torch.Tensor, masks: Sequence[np.ndarray | None]) -> dict[str, np.ndarray]:
    """COSS, PSNR and SSIM per image of a batch, over the whole map and over each image's region.

    Keys ``coss``, ``psnr``, ``ssim`` (whole map); ``coss_region``, ``psnr_region``, ``ssim_region``
    (the *masked* definition: only the pixels of ``masks[i]`` are scored, see the ``mask`` argument of
    :func:`~fklib.metrics.functional.coss`); and ``coss_zeroed``, ``psnr_zeroed``, ``ssim_zeroed`` (the
    *zeroed* definition: both maps set to 0 outside ``masks[i]``, then the whole-image metric, so the
    agreeing zeros outside the region count: PSNR and SSIM rise with the area outside). An image
    without a region (``None`` or an empty mask) gets ``nan`` in-region values. Computed with the numpy
    per-image functions (float64).

    Shape:
        - pred, gt: ``(B, 1, H, W)`` (or ``(B, H, W)``) CPU tensors; masks: ``B`` boolean ``HxW`` or ``None``.
    """
    p_all = pred.reshape(len(pred), *pred.shape[-2:]).numpy()
    g_all = gt.reshape(len(gt), *gt.shape[-2:]).numpy()
    if len(masks) != len(p_all):
        raise ValueError(f"region_map_metrics: {len(p_all)} maps but {len(masks)} masks")
    fns = {"coss": coss, "psnr": psnr, "ssim": ssim}
    out: dict[str, list[float]] = {k: [] for k in (*REGION_METRICS, *(f"{m}_{kind}" for kind in ("region", "zeroed")
                                                                      for m in REGION_METRICS))}
    for p, g, m in zip(p_all, g_all, masks):
        ok = m is not None and bool(np.any(m))
        for name, fn in fns.items():
            out[name].append(fn(p, g))
            out[f"{name}_region"].append(fn(p, g, m) if ok else math.nan)
            out[f"{name}_zeroed"].append(fn(np.where(m, p, 0.0), np.where(m, g, 0.0)) if ok else math.nan)
    return {k: np.array(v, float) for k, v in out.items()}


def mean_metrics(rows: Mapping[str, np.ndarray], names: Sequence[str]) -> dict[str, float]:
    """NaN-skipping means of per-image metric arrays (``nan`` where nothing is left)."""
    out = {}
    for n in names:
        v = np.asarray(rows[n], dtype=np.float64)
        v = v[~np.isnan(v)]
        out[n] = float(v.mean()) if v.size else math.nan
    return out
