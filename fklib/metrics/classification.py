"""Real/fake classification accuracy (ACC of the paper's tables) and the threshold choice.

A model with a classifier head is scored by :func:`classifier_accuracy` on its logits. A model
without one ("no cl" in Table 2) is scored by a per-image score -- the mean of its predicted
map -- thresholded at a value picked on validation data by :func:`choose_threshold`. A model
trained with a balanced decision also needs its map to agree: an image is called fake only when
the classifier says so and the map's peak (:func:`map_peak`) clears a floor, both chosen on
validation by :func:`choose_decision`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from fklib.metrics.functional import to_numpy

ArrayLike1D = Sequence[float] | np.ndarray

#: ``prob > PROB_THRESHOLD`` calls an image fake (a classifier without a stored threshold).
PROB_THRESHOLD = 0.5
#: The map's peak is this quantile of its pixels (robust to a few stray pixels; a splice of 1 % of
#: the image still reaches it).
PEAK_QUANTILE = 0.99


def map_peak(maps) -> np.ndarray:
    """The peak of each map: the :data:`PEAK_QUANTILE` quantile of its pixels (numpy's linear interpolation).

    Shape:
        maps: ``B x ...`` (e.g. B x 1 x H x W, tensor or array) -> ``(B,)`` float64.
    """
    m = to_numpy(maps)
    return np.quantile(m.reshape(len(m), -1), PEAK_QUANTILE, axis=1)


def decide(prob: ArrayLike1D | None, score: ArrayLike1D, threshold: float | None = None,
           peak: ArrayLike1D | None = None, peak_floor: float | None = None) -> np.ndarray:
    """The fake (1.0) / real (0.0) decision per image: the one rule of ``evaluate``, the studies and ``locate``.

    With a classifier, ``prob > threshold`` (the checkpoint's threshold, chosen on
    validation for balanced accuracy; :data:`PROB_THRESHOLD` when ``None``) and, when the checkpoint
    stores a ``decision_peak_floor``, also ``peak > peak_floor`` (``peak``: :func:`map_peak` of the
    map; the classifier's call stands only where the map shows a fake region); without a classifier
    (the paper's "no cl"), ``score > threshold`` with ``score`` the mean of the map and ``threshold``
    chosen on validation (``no_cl_threshold``); with neither, NaN (no detection).

    Raises:
        ValueError: a ``peak_floor`` without the ``peak`` values.
    """
    if prob is not None:
        t = PROB_THRESHOLD if threshold is None else threshold
        fake = np.asarray(prob) > t
        if peak_floor is not None:
            if peak is None:
                raise ValueError("decide: a peak floor needs the maps' peaks")
            fake = fake & (np.asarray(peak) > peak_floor)
        return fake.astype(np.float64)
    if threshold is not None:
        return (np.asarray(score) > threshold).astype(np.float64)
    return np.full(len(score), math.nan)


def _scores_labels(scores: ArrayLike1D, labels: ArrayLike1D, name: str) -> tuple[np.ndarray, np.ndarray]:
    s, lab = to_numpy(scores), to_numpy(labels)
    if s.ndim != 1 or lab.ndim != 1:
        raise ValueError(f"{name}: scores {s.shape} and labels {lab.shape} must be 1-D")
    if s.shape != lab.shape:
        raise ValueError(f"{name}: {s.size} scores and {lab.size} labels")
    if s.size == 0:
        raise ValueError(f"{name}: no samples")
    if not np.all((lab == 0) | (lab == 1)):
        raise ValueError(f"{name}: labels must be 0 (real) or 1 (fake)")
    return s, lab.astype(bool)


def accuracy(scores: ArrayLike1D, labels: ArrayLike1D, threshold: float) -> float:
    """Fraction of samples whose decision ``score > threshold`` equals the label.

    ``ACC = mean((score > threshold) == label)`` with label 1 = fake, 0 = real.

    Shape:
        - scores, labels: ``(N,)``, ``N >= 1``.

    Raises:
        ValueError: shapes differ, not 1-D, empty, or labels not in ``{0, 1}``.
    """
    s, lab = _scores_labels(scores, labels, "accuracy")
    return float(np.mean((s > threshold) == lab))


def decision_accuracy(decisions: ArrayLike1D, labels: ArrayLike1D) -> float:
    """ACC of 0/1 fake decisions (``pred_fake`` of an evaluation row): ``accuracy(decisions, labels, 0.5)``.

    ``nan`` when any decision is ``nan`` (a predictor that makes no detection, such as the
    input-blind references). This is the ACC of every table: a group's fakes together with the
    real images of the same evaluation.

    Shape:
        - decisions, labels: ``(N,)``, ``N >= 1``.
    """
    d = to_numpy(decisions).ravel()
    if d.size and np.isnan(d).any():
        return float("nan")
    return accuracy(d, labels, 0.5)


def balanced_accuracy(decisions: ArrayLike1D, labels: ArrayLike1D) -> float:
    """Balanced ACC of 0/1 fake decisions: ``(TPR + TNR) / 2``, fakes and reals weighted equally.

    ``nan`` when any decision is ``nan`` or a class is absent. A model that gives one answer to every
    input scores exactly 0.5 however unbalanced the set.

    Shape:
        - decisions, labels: ``(N,)``, ``N >= 1``.
    """
    d = to_numpy(decisions).ravel().astype(np.float64)
    y = to_numpy(labels).ravel().astype(np.float64)
    if d.shape != y.shape:
        raise ValueError(f"balanced_accuracy: {d.shape} decisions but {y.shape} labels")
    if not d.size or np.isnan(d).any() or y.min() == y.max():
        return float("nan")
    pos, neg = y == 1, y == 0
    return float(((d[pos] > 0.5).mean() + (d[neg] <= 0.5).mean()) / 2)


def detection_rates(decisions: ArrayLike1D, labels: ArrayLike1D) -> tuple[float, float]:
    """``(TPR, TNR)`` of 0/1 fake decisions: the share of fakes called fake and of reals called real.

    Each is ``nan`` when its class is absent or any decision is ``nan``; ``balanced_accuracy`` is their mean.

    Shape:
        - decisions, labels: ``(N,)``.
    """
    d = to_numpy(decisions).ravel().astype(np.float64)
    y = to_numpy(labels).ravel().astype(np.float64)
    if d.shape != y.shape:
        raise ValueError(f"detection_rates: {d.shape} decisions but {y.shape} labels")
    if d.size and np.isnan(d).any():
        return float("nan"), float("nan")
    pos, neg = y == 1, y == 0
    tpr = float((d[pos] > 0.5).mean()) if pos.any() else float("nan")
    tnr = float((d[neg] <= 0.5).mean()) if neg.any() else float("nan")
    return tpr, tnr


#: Detection metrics of a group's fakes together with the reals of the same evaluation (all from 0/1
#: decisions): ACC, balanced ACC, TPR (fakes called fake), TNR (reals called real).
DETECTION_METRICS = ("acc", "bacc", "tpr", "tnr")


def detection_value(metric: str, decisions: ArrayLike1D, labels: ArrayLike1D) -> float:
    """One of :data:`DETECTION_METRICS` of 0/1 ``decisions`` and ``labels`` (NaN where undefined)."""
    if metric == "acc":
        return decision_accuracy(decisions, labels)
    if metric == "bacc":
        return balanced_accuracy(decisions, labels)
    if metric not in DETECTION_METRICS:
        raise ValueError(f"unknown detection metric {metric!r}; expected one of {DETECTION_METRICS}")
    tpr, tnr = detection_rates(decisions, labels)
    return tpr if metric == "tpr" else tnr


def classifier_accuracy(logits: ArrayLike1D, labels: ArrayLike1D) -> float:
    """Accuracy of a classifier head: ``accuracy(sigmoid(logits), labels, 0.5)``.

    Equivalent to ``logit > 0`` except for logits so close to 0 that ``sigmoid`` rounds to
    exactly 0.5 in float64 (those count as real).

    Shape:
        - logits, labels: ``(N,)``.
    """
    from scipy.special import expit  # lazy: scipy only for this step; importing the module does not need it

    return accuracy(expit(to_numpy(logits)), labels, 0.5)


def choose_threshold(scores: ArrayLike1D, labels: ArrayLike1D, balanced: bool = False) -> float:
    """Threshold ``t`` maximising ``accuracy(scores, labels, t)`` on (validation) data, or with
    ``balanced`` the balanced accuracy ``(TPR + TNR) / 2`` of the decisions ``score > t`` (fakes and
    reals weigh the same however many of each there are; needs both classes).

    Candidates, with ``u_1 < ... < u_m`` the sorted distinct scores:

    - the midpoints ``(u_i + u_{i+1}) / 2`` between adjacent distinct scores;
    - ``np.nextafter(u_1, -inf)`` (every sample called fake);
    - ``u_m`` itself (every sample called real, since ``score > u_m`` never holds).

    Ties in accuracy go to the **lowest** candidate threshold.

    Shape:
        - scores, labels: ``(N,)``, ``N >= 1``.

    Returns:
        python float.

    Raises:
        ValueError: shapes differ, not 1-D, empty, or labels not in ``{0, 1}``.
    """
    s, lab = _scores_labels(scores, labels, "choose_threshold")
    uniq, inverse = np.unique(s, return_inverse=True)
    pos = np.bincount(inverse, weights=lab.astype(np.float64), minlength=uniq.size)
    neg = np.bincount(inverse, weights=(~lab).astype(np.float64), minlength=uniq.size)
    if balanced:
        if pos.sum() == 0 or neg.sum() == 0:
            raise ValueError("choose_threshold: balanced needs both fakes and reals")
        pos, neg = pos / pos.sum(), neg / neg.sum()
    return _best_threshold(uniq, pos, neg)[0]


def _best_threshold(uniq: np.ndarray, pos: np.ndarray, neg: np.ndarray) -> tuple[float, float]:
    """The candidate threshold of :func:`choose_threshold` (ties to the lowest) that maximises the (weighted)
    correct decisions ``score > t``, from the fakes' and reals' weight at each sorted distinct score ``uniq``;
    returns ``(t, the correct weight)``."""
    # Candidate j in 0..m: the first j distinct values are called real, the rest fake.
    neg_at_or_below = np.concatenate([[0.0], np.cumsum(neg)])
    pos_at_or_below = np.concatenate([[0.0], np.cumsum(pos)])
    correct = neg_at_or_below + (pos.sum() - pos_at_or_below)
    best = int(np.argmax(correct))  # first maximum = lowest threshold
    if best == 0:
        t = float(np.nextafter(uniq[0], -np.inf))
    elif best == uniq.size:
        t = float(uniq[-1])
    else:
        t = float((uniq[best - 1] + uniq[best]) / 2.0)
    return t, float(correct[best])


def set_balanced_weights(labels: ArrayLike1D, groups: Sequence | np.ndarray | None = None) -> np.ndarray:
    """Per-sample weights under which the weighted accuracy is ``(mean TPR over groups + mean TNR over groups) / 2``:
    each group's fakes (reals) weigh the same as any other group's fakes (reals), whatever their number;
    groups with no fake (no real) count only among the reals (fakes). ``groups=None``: one group (the
    balanced accuracy)."""
    lab = to_numpy(labels).astype(bool)
    g = np.zeros(lab.size, dtype=int) if groups is None else np.unique(np.asarray(groups, dtype=object).astype(str),
                                                                          return_inverse=True)[1]
    w = np.zeros(lab.size)
    for cls in (True, False):
        members = [k for k in np.unique(g) if np.any((g == k) & (lab == cls))]
        for k in members:
            sel = (g == k) & (lab == cls)
            w[sel] = 0.5 / (len(members) * sel.sum())
    return w


def choose_decision(probs: ArrayLike1D, peaks: ArrayLike1D, labels: ArrayLike1D,
                    groups: Sequence | np.ndarray | None = None) -> tuple[float, float | None]:
    """The ``(threshold, peak_floor)`` of :func:`decide` maximising the balanced accuracy on (validation) data.

    The balanced accuracy is over ``groups`` (e.g. the test sets; :func:`set_balanced_weights`): the mean
    TPR over the groups that have fakes and the mean TNR over those that have reals, so that no set's
    reals are traded for another's. Floors tried: none, then the midpoints between adjacent distinct
    peaks (ascending); for each, the images at or below the floor are called real and the threshold on
    ``probs`` is the best one (candidates of :func:`choose_threshold`) for the rest (an image under the
    floor gets the score -1, below every probability). Ties go to no floor, then to the lowest floor
    (the map vetoes as little as it can).

    Shape:
        probs, peaks, labels (and groups): ``(N,)``, both classes present.

    Returns:
        ``(threshold, peak_floor)``; ``peak_floor`` is ``None`` when no floor does better than none.
    """
    p, lab = _scores_labels(probs, labels, "choose_decision")
    k = to_numpy(peaks)
    if k.shape != p.shape:
        raise ValueError(f"choose_decision: {k.size} peaks and {p.size} probabilities")
    if groups is not None and len(groups) != p.size:
        raise ValueError(f"choose_decision: {len(groups)} groups and {p.size} probabilities")
    if lab.all() or not lab.any():
        raise ValueError("choose_decision: needs both fakes and reals")
    w = set_balanced_weights(lab, groups)
    uniq = np.unique(k)
    best: tuple[float, float, float | None] | None = None
    for floor in [None, *((uniq[:-1] + uniq[1:]) / 2.0)]:
        s = p if floor is None else np.where(k > floor, p, -1.0)
        uniq_s, inverse = np.unique(s, return_inverse=True)
        t, score = _best_threshold(uniq_s, np.bincount(inverse, weights=np.where(lab, w, 0.0), minlength=uniq_s.size),
                                   np.bincount(inverse, weights=np.where(lab, 0.0, w), minlength=uniq_s.size))
        if best is None or score > best[0] + 1e-12:
            best = (score, t, floor)
    return float(best[1]), (None if best[2] is None else float(best[2]))
