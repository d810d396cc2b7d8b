"""Pixel-level localization statistics: AUC, F1 and IoU against the binarised ground truth.

The ground-truth gray map is binarised at ``tau`` (default 0.1, **strictly greater**, as
:func:`fklib.data.binary_map`); for F1 and IoU the predicted map is binarised at the same
``tau``; AUC ranks the raw predicted scores. Per-image statistics come first, then the
reductions that pool or average them over many images.

Degenerate images (documented rules):

- AUC needs both classes: an image whose binary GT has no positive pixel (a real image) or
  no negative pixel (an "Entire" synthesis) has AUC ``nan``, and :func:`mean_excluding_nan`
  leaves it out of the mean.
- F1 and IoU follow their count formulas whenever ``TP + FP + FN > 0``; when it is 0 (binary
  GT empty **and** binarised prediction empty) :func:`f1_from_stats` and :func:`iou_from_stats`
  give ``1.0``. The per-image rows (:mod:`fklib.metrics.per_image`) instead report ``nan`` for an
  image whose binary GT is empty (a real image has nothing to localize), so per-image means are
  over images with fake pixels; the pooled counts (:func:`pooled_f1_iou`) still include its false
  positives.
- Precision: every comparison with ``tau`` is made in float32, the precision of the maps
  (:func:`above`; also :func:`fklib.data.binary_map` and :func:`fklib.losses.dffd_gt`), so a pixel
  at exactly ``tau`` (e.g. 25.5 gray levels, float32 ``0.1``) is negative everywhere; before, the
  metrics compared in float64, where float32 ``0.1`` = 0.100000001 is above 0.1.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import NamedTuple

import numpy as np

from fklib.metrics.functional import MapLike, as_map_pair, as_mask, to_numpy


class PixelStats(NamedTuple):
    """Confusion counts of one binarised prediction against one binary GT."""

    tp: int
    fp: int
    fn: int
    tn: int


#: The prediction threshold of IMDL-style benchmarks (IMDL-BenCo's F1 / IoU): ``pred > 0.5``.
IMDL_THRESHOLD = 0.5


def above(values, tau: float) -> np.ndarray:
    """``values > tau`` compared in float32 (both cast first): the one binarisation rule of the project."""
    return np.asarray(values, dtype=np.float32) > np.float32(tau)


def pixel_stats(pred: MapLike, gt: MapLike, tau: float = 0.1, mask: MapLike | None = None,
                pred_tau: float | None = None) -> PixelStats:
    """Confusion counts of ``pred > pred_tau`` against ``gt > tau``.

    Args:
        pred: predicted map in ``[0, 1]``.
        gt: ground-truth gray map in ``[0, 1]``.
        tau: binarisation threshold of the GT, and of the prediction unless ``pred_tau`` is given
            (strictly greater is positive; compared in float32, :func:`above`).
        mask: optional boolean region; only its pixels are counted.
        pred_tau: the prediction's own threshold (IMDL-style benchmarks: 0.5, :data:`IMDL_THRESHOLD`).

    Shape:
        - pred, gt, mask: ``(H, W)``.

    Returns:
        :class:`PixelStats` ``(tp, fp, fn, tn)`` of python ints.

    Raises:
        ValueError: maps not 2-D, shapes differ, or a bad mask.
    """
    p, g = as_map_pair(pred, gt, "pixel_stats")
    m = as_mask(mask, p.shape, "pixel_stats")
    pb, gb = above(p, tau if pred_tau is None else pred_tau), above(g, tau)
    if m is not None:
        pb, gb = pb[m], gb[m]
    tp = int(np.count_nonzero(pb & gb))
    fp = int(np.count_nonzero(pb & ~gb))
    fn = int(np.count_nonzero(~pb & gb))
    tn = int(pb.size - tp - fp - fn)
    return PixelStats(tp, fp, fn, tn)


def f1_from_stats(stats: PixelStats) -> float:
    """F1 score ``2 TP / (2 TP + FP + FN)``; ``1.0`` when ``TP + FP + FN = 0`` (both maps empty)."""
    tp, fp, fn, _ = stats
    denom = 2 * tp + fp + fn
    return 1.0 if denom == 0 else 2.0 * tp / denom


def iou_from_stats(stats: PixelStats) -> float:
    """Intersection over union ``TP / (TP + FP + FN)``; ``1.0`` when ``TP + FP + FN = 0`` (both maps empty)."""
    tp, fp, fn, _ = stats
    denom = tp + fp + fn
    return 1.0 if denom == 0 else tp / denom


def pixel_auc(pred: MapLike, gt: MapLike, tau: float = 0.1, mask: MapLike | None = None) -> float:
    """Exact ROC AUC of the predicted scores against the binary GT ``gt > tau``.

    The Mann-Whitney form: with ``P`` positive and ``N`` negative pixels and ``R`` the sum
    of the positives' ranks among all scores (ties get their average rank)::

        AUC = (R - P (P + 1) / 2) / (P N)

    i.e. the probability that a random positive pixel scores above a random negative one,
    ties counting one half.

    Args:
        pred: predicted map (scores; any real values).
        gt: ground-truth gray map in ``[0, 1]``.
        tau: GT binarisation threshold (strictly greater is positive).
        mask: optional boolean region; only its pixels take part.

    Shape:
        - pred, gt, mask: ``(H, W)``.

    Returns:
        python float in ``[0, 1]``; ``nan`` when the binary GT has no positive or no negative pixel.

    Raises:
        ValueError: maps not 2-D, shapes differ, or a bad mask.
    """
    p, g = as_map_pair(pred, gt, "pixel_auc")
    m = as_mask(mask, p.shape, "pixel_auc")
    if m is not None:
        p, g = p[m], g[m]
    scores, positive = p.ravel(), above(g, tau).ravel()
    n_pos = int(np.count_nonzero(positive))
    n_neg = int(positive.size - n_pos)
    if n_pos == 0 or n_neg == 0:
        return math.nan
    from scipy.stats import rankdata  # imported here: scipy.stats costs ~1 s at import

    ranks = rankdata(scores, method="average")
    rank_sum = float(ranks[positive].sum())
    return (rank_sum - n_pos * (n_pos + 1) / 2.0) / (float(n_pos) * float(n_neg))


def score_histograms(pred: MapLike, gt: MapLike, tau: float = 0.1, bins: int = 10001,
                     mask: MapLike | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Histograms of the predicted scores of positive and of negative GT pixels (for :func:`pooled_auc`).

    Binning: a score ``s`` is clipped to ``[0, 1]`` and counted in bin
    ``k = floor(s * (bins - 1) + 0.5)``, i.e. rounded to the nearest grid point
    ``k / (bins - 1)``; with the default ``bins = 10001`` the grid step is ``1e-4``.

    Shape:
        - pred, gt, mask: ``(H, W)``.
        - output: two int64 arrays of shape ``(bins,)``: ``(positives, negatives)``.

    Raises:
        ValueError: maps not 2-D, shapes differ, a bad mask, or ``bins < 2``.
    """
    if bins < 2:
        raise ValueError(f"score_histograms: bins must be >= 2, got {bins}")
    p, g = as_map_pair(pred, gt, "score_histograms")
    m = as_mask(mask, p.shape, "score_histograms")
    if m is not None:
        p, g = p[m], g[m]
    idx = np.floor(np.clip(p.ravel(), 0.0, 1.0) * (bins - 1) + 0.5).astype(np.int64)
    positive = above(g, tau).ravel()
    pos = np.bincount(idx[positive], minlength=bins).astype(np.int64)
    neg = np.bincount(idx[~positive], minlength=bins).astype(np.int64)
    return pos, neg


def auc_from_histograms(pos: np.ndarray, neg: np.ndarray) -> float:
    """ROC AUC from binned positive/negative score counts; pairs in the same bin count one half.

    ``AUC = sum_k pos[k] * (sum_{j<k} neg[j] + neg[k] / 2) / (P N)``. Compared with the exact
    AUC, only (positive, negative) pairs falling in one bin with different scores are
    miscounted (by one half each), so the error is at most half their share of all pairs.

    Shape:
        - pos, neg: ``(bins,)`` counts.

    Returns:
        python float; ``nan`` when there is no positive or no negative.
    """
    pos = to_numpy(pos)
    neg = to_numpy(neg)
    if pos.shape != neg.shape or pos.ndim != 1:
        raise ValueError(f"auc_from_histograms: pos {pos.shape} and neg {neg.shape} must be equal 1-D shapes")
    n_pos, n_neg = float(pos.sum()), float(neg.sum())
    if n_pos == 0 or n_neg == 0:
        return math.nan
    neg_below = np.cumsum(neg) - neg
    return float(np.sum(pos * (neg_below + 0.5 * neg)) / (n_pos * n_neg))


def pooled_auc(preds: Iterable[MapLike], gts: Iterable[MapLike], tau: float = 0.1, bins: int = 10001,
               masks: Iterable[MapLike | None] | None = None) -> float:
    """AUC of all pixels of many images pooled together, from summed :func:`score_histograms`.

    Binned (see :func:`score_histograms`), so memory stays ``O(bins)``. The difference from
    the exact pooled AUC is at most half the share of (positive, negative) pixel pairs whose
    different scores share a bin (grid step ``1 / (bins - 1)``); with the default 10001 bins
    and scores spread over ``[0, 1]`` it is typically well below ``1e-3`` (tested).

    Args:
        preds: predicted ``HxW`` maps (sizes may differ between images).
        gts: their ground-truth gray maps, in the same order.
        tau: GT binarisation threshold (strictly greater is positive).
        bins: number of histogram bins over ``[0, 1]``.
        masks: optional boolean region per image (``None`` entries allowed).

    Returns:
        python float; ``nan`` when the pooled binary GT has no positive or no negative pixel.

    Raises:
        ValueError: ``preds`` and ``gts`` (and ``masks``) differ in length, or no image at all.
    """
    preds, gts = list(preds), list(gts)
    masks = [None] * len(preds) if masks is None else list(masks)
    if not (len(preds) == len(gts) == len(masks)):
        raise ValueError(f"pooled_auc: {len(preds)} preds, {len(gts)} gts and {len(masks)} masks")
    if not preds:
        raise ValueError("pooled_auc: no images")
    pos = np.zeros(bins, dtype=np.int64)
    neg = np.zeros(bins, dtype=np.int64)
    for p, g, m in zip(preds, gts, masks):
        hp, hn = score_histograms(p, g, tau=tau, bins=bins, mask=m)
        pos += hp
        neg += hn
    return auc_from_histograms(pos, neg)


def pooled_f1_iou(stats: Iterable[PixelStats]) -> tuple[float, float]:
    """Pooled ``(F1, IoU)`` from the summed counts of many images (micro average).

    The counts of all images are added, then :func:`f1_from_stats` and :func:`iou_from_stats`
    apply (so ``1.0`` when the pooled ``TP + FP + FN`` is 0).

    Raises:
        ValueError: no statistics.
    """
    stats = list(stats)
    if not stats:
        raise ValueError("pooled_f1_iou: no statistics")
    total = PixelStats(*(sum(int(s[i]) for s in stats) for i in range(4)))
    return f1_from_stats(total), iou_from_stats(total)


def mean_excluding_nan(values: Sequence[float] | np.ndarray) -> float:
    """Mean of the non-``nan`` values (per-image AUCs of real images are ``nan``); ``nan`` if none remain."""
    v = to_numpy(values).ravel()
    v = v[~np.isnan(v)]
    return float(v.mean()) if v.size else math.nan
