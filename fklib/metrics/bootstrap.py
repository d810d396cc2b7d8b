"""Bootstrap intervals over identities (clusters), seeded, vectorised with numpy.

Every table value is a ratio of sums over images -- a metric's mean over the fakes (``sum(x) / n``), an
ACC (``correct / n``) or a balanced ACC (the mean of two such ratios) -- and the images of one identity
are not independent (one identity gives 13 STGAN edits and a real). So identities are resampled with
replacement (the percentile bootstrap of a cluster sample): each of :data:`BOOTSTRAP_SAMPLES` draws
weighs identity ``k`` by how often it was drawn, and the value is recomputed from the weighted sums.

- :func:`cluster_weights` -- the ``(B, K)`` draw counts, from a fixed seed.
- :func:`ratio_interval`  -- the interval of ``sum(num) / sum(den)`` (a mean: ``den = 1``; an ACC).
- :func:`balanced_accuracy_interval` -- the interval of ``(TPR + TNR) / 2``.
- :func:`paired_difference` -- the mean of ``a - b`` over the same images (a model and a reference scored on
  them) with its interval, and :func:`paired_verdict` -- ``above`` / ``below`` / ``matches`` from it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["BOOTSTRAP_SAMPLES", "LEVEL", "cluster_weights", "cluster_sums", "ratio_interval",
           "balanced_accuracy_interval", "balanced_accuracy_ratio_interval", "paired_difference", "paired_verdict"]

#: Draws per interval, and the interval's coverage.
BOOTSTRAP_SAMPLES, LEVEL = 1000, 0.95


def cluster_weights(n_clusters: int, n_boot: int = BOOTSTRAP_SAMPLES, seed: int = 0) -> np.ndarray:
    """``(n_boot, n_clusters)`` counts: how often each cluster is drawn in each resample of ``n_clusters``."""
    rng = np.random.default_rng(seed)
    return rng.multinomial(n_clusters, np.full(n_clusters, 1.0 / n_clusters), size=n_boot).astype(np.float64)


def cluster_sums(clusters: Sequence, *values: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per-cluster sums of each of ``values`` (rows in the order of ``clusters``), clusters sorted."""
    keys, index = np.unique(np.asarray(clusters).astype(str), return_inverse=True)
    return tuple(np.bincount(index, weights=np.asarray(v, np.float64), minlength=len(keys)) for v in values)


def _percentiles(stat: np.ndarray, level: float) -> tuple[float, float]:
    stat = stat[np.isfinite(stat)]
    if not stat.size:
        return float("nan"), float("nan")
    lo, hi = np.percentile(stat, [50 * (1 - level), 50 * (1 + level)])
    return float(lo), float(hi)


def ratio_interval(clusters: Sequence, num: np.ndarray, den: np.ndarray | None = None,
                   n_boot: int = BOOTSTRAP_SAMPLES, level: float = LEVEL, seed: int = 0) -> tuple[float, float]:
    """Percentile interval of ``sum(num) / sum(den)`` with the clusters resampled (``den``: ones = a mean).

    Rows whose ``num`` is NaN are left out. Returns ``(nan, nan)`` with fewer than 2 clusters.

    Shape:
        - clusters, num, den: ``(N,)``.
    """
    num = np.asarray(num, np.float64)
    den = np.ones_like(num) if den is None else np.asarray(den, np.float64)
    ok = np.isfinite(num)
    clusters = np.asarray(clusters)[ok]
    if len(np.unique(clusters.astype(str))) < 2:
        return float("nan"), float("nan")
    n, d = cluster_sums(clusters, num[ok], den[ok])
    w = cluster_weights(len(n), n_boot, seed)
    with np.errstate(invalid="ignore", divide="ignore"):
        return _percentiles((w @ n) / (w @ d), level)


def balanced_accuracy_interval(clusters: Sequence, decisions: np.ndarray, labels: np.ndarray,
                               n_boot: int = BOOTSTRAP_SAMPLES, level: float = LEVEL,
                               seed: int = 0) -> tuple[float, float]:
    """Percentile interval of ``(TPR + TNR) / 2`` of 0/1 ``decisions`` with the clusters resampled."""
    d, y = np.asarray(decisions, np.float64), np.asarray(labels, np.float64)
    if len(np.unique(np.asarray(clusters).astype(str))) < 2 or np.isnan(d).any():
        return float("nan"), float("nan")
    tp, pos, tn, neg = cluster_sums(clusters, d * y, y, (1 - d) * (1 - y), 1 - y)
    w = cluster_weights(len(tp), n_boot, seed)
    with np.errstate(invalid="ignore", divide="ignore"):
        return _percentiles(((w @ tp) / (w @ pos) + (w @ tn) / (w @ neg)) / 2, level)


def balanced_accuracy_ratio_interval(clusters: Sequence, after: np.ndarray, before: np.ndarray, labels: np.ndarray,
                                     n_boot: int = BOOTSTRAP_SAMPLES, level: float = LEVEL,
                                     seed: int = 0) -> tuple[float, float]:
    """Percentile interval of bACC(``after``) / bACC(``before``) (γ of Figs. 8 and 10) of 0/1 decisions of the
    same images, with the clusters resampled (both decisions of an image are drawn together)."""
    a, b, y = (np.asarray(v, np.float64) for v in (after, before, labels))
    if len(np.unique(np.asarray(clusters).astype(str))) < 2 or np.isnan(a).any() or np.isnan(b).any():
        return float("nan"), float("nan")
    tpa, tna, tpb, tnb, pos, neg = cluster_sums(clusters, a * y, (1 - a) * (1 - y), b * y, (1 - b) * (1 - y), y, 1 - y)
    w = cluster_weights(len(pos), n_boot, seed)
    with np.errstate(invalid="ignore", divide="ignore"):
        p, n = w @ pos, w @ neg
        return _percentiles(((w @ tpa) / p + (w @ tna) / n) / ((w @ tpb) / p + (w @ tnb) / n), level)


def paired_difference(clusters: Sequence, a: np.ndarray, b: np.ndarray, n_boot: int = BOOTSTRAP_SAMPLES,
                      level: float = LEVEL, seed: int = 0) -> tuple[float, float, float]:
    """``(mean(a - b), lo, hi)``: the mean per-image difference of two predictors scored on the same images,
    with the percentile interval of the clusters resampled (an image's two values are drawn together, so
    what the images share cancels). Images where either value is NaN are left out.

    Shape:
        - clusters, a, b: ``(N,)``, row ``i`` of ``a`` and ``b`` the same image.
    """
    d = np.asarray(a, np.float64) - np.asarray(b, np.float64)
    ok = np.isfinite(d)
    point = float(d[ok].mean()) if ok.any() else float("nan")
    lo, hi = ratio_interval(np.asarray(clusters)[ok], d[ok], n_boot=n_boot, level=level, seed=seed)
    return point, lo, hi


def paired_verdict(lo: float, hi: float) -> str:
    """``above`` when a paired difference's interval lies above 0, ``below`` when below, else ``matches``
    (``n/a`` without an interval)."""
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return "n/a"
    return "above" if lo > 0 else "below" if hi < 0 else "matches"
