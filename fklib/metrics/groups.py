"""Per-image rows -> group rows: the one place where a table cell's value, interval and verdict come from.

Every table, summary and card of the project groups per-image evaluation rows (``score_items`` /
``evaluate``: one row per predictor and image) with :func:`group_rows`, by one definition:

- A **cell** holds the images of its group: the group's fakes, and for the detection metrics the
  reals of its *context* (the predictor and the group keys that do not describe a fake, such as
  ``set`` or ``method``). ``n`` counts its fakes, ``n_reals`` its reals.
- **Detection** (:data:`fklib.metrics.classification.DETECTION_METRICS`): ``acc`` = share of the cell's
  images decided right (fakes and reals pooled), ``tpr`` = fakes called fake, ``tnr`` = reals called
  real, ``bacc`` = (TPR + TNR) / 2. A ``mean`` row (``add_mean``) is the cell of *all* the context's
  fakes with the same reals: pooled, never a mean of the groups' values.
- **Map metrics**: the mean over the cell's fakes (NaN skipped); pooled metrics (:data:`POOLED_METRICS`:
  F1 / IoU from summed pixel counts, the map level ``level_in`` / ``level_out`` from summed pixel sums)
  from the summed per-image parts.
- **Intervals** (``intervals``): 95 % cluster bootstrap over identities (:mod:`fklib.metrics.bootstrap`).
- **Beating the references** (:func:`mark_versus`, on per-image rows): the model against the *best* reference of
  the same cell (the one with the highest value), by the **paired** difference over the same images
  (:func:`paired_versus`: model minus reference per image, its mean with a 95 % interval, identities
  resampled; what the images share cancels): ``better`` when the interval lies above 0, ``worse`` below,
  ``overlaps`` (matches) otherwise; and against each rung of the reference ladder (:data:`LADDER`: the constant
  map, then the two references that know the edited property) on the compared metrics (:data:`PAIRED_METRICS`),
  with the difference and its interval. Where only aggregate values exist (no per-image rows),
  :func:`versus_references` compares point values or unpaired intervals.
- **Who knows what** (:data:`REFERENCE_KNOWS`): the words every table, summary and card use for the references.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from fklib.metrics.bootstrap import (BOOTSTRAP_SAMPLES, LEVEL, balanced_accuracy_interval, cluster_sums, cluster_weights,
                                     paired_difference, paired_verdict, ratio_interval)
from fklib.metrics.classification import DETECTION_METRICS, detection_value
from fklib.metrics.per_image import LEVEL_SUMS, PAPER_METRICS, PIXEL_COUNTS
from fklib.metrics.reference import REFERENCE_KINDS

#: The model's rows; the input-blind reference predictors (:data:`fklib.metrics.REFERENCE_KINDS`) follow.
MODEL = "model"
#: Default metrics of a paper table: the paper's, in its column order of Table 2, then the balanced ACC and
#: its two halves (our test sets are not balanced: 47 reals against 47 x 13 STGAN edits).
TABLE_METRICS = (*PAPER_METRICS, "bacc", "tpr", "tnr")
#: Pooled (micro) metrics: ``name -> (columns, numerator weights, denominator weights)``, computed from the
#: group's summed per-image parts, not a mean of per-image values. F1 / IoU from the counts ``tp``, ``fp``,
#: ``fn`` (:data:`fklib.metrics.PIXEL_COUNTS`, at ``tau``); the map level from :data:`fklib.metrics.LEVEL_SUMS`:
#: ``level_in`` = sum of the prediction / sum of the truth inside the truth's region (``gt > tau``), ``level_out``
#: the same outside it (1: the prediction has the truth's level there).
POOLED_METRICS = {"f1_pooled": (PIXEL_COUNTS, (2, 0, 0), (2, 1, 1)),
                  "iou_pooled": (PIXEL_COUNTS, (1, 0, 0), (1, 1, 1)),
                  "level_in": (LEVEL_SUMS, (1, 0, 0, 0), (0, 1, 0, 0)),
                  "level_out": (LEVEL_SUMS, (0, 0, 1, 0), (0, 0, 0, 1))}
#: Metrics whose chance or no-information level is known, and that level (a value at or below it is
#: flagged by :func:`at_or_below_chance`): pixel AUC and balanced ACC 0.5.
CHANCE = {"auc": 0.5, "bacc": 0.5}
#: The references that know the edited property (an oracle the network lacks): the input-blind per-property mean
#: map and the texture-blind face-layout prior.
STRONG_REFERENCES = ("property_mean", "layout_prior")
#: The constant map: the mean training GT map, the same for every image (it knows neither the image nor the edit).
CONSTANT = "global_mean"
#: The reference ladder a model is compared with one by one (paired differences): the constant map, then the two
#: references that know the edit.
LADDER = (CONSTANT, *STRONG_REFERENCES)
#: What each reference knows, in the words of every table, summary and card.
REFERENCE_KNOWS = {
    "zeros": "the all-zero map (knows nothing; the right map of every real image)",
    CONSTANT: "the constant map (the mean training map: knows neither the image nor the edit)",
    "property_mean": "the per-property mean map of the training fakes (knows the edited property, an oracle the "
                     "network lacks; does not look at the image)",
    "layout_prior": "the layout prior (per property and face-parsing class: knows the edited property, an oracle the "
                    "network lacks, and parses the face; blind to texture)",
}
#: Short names of the ladder's rungs in sentences and column heads.
REFERENCE_SHORT = {CONSTANT: "constant map", "property_mean": "property mean", "layout_prior": "layout prior"}
#: The map metrics compared with each strong reference by :func:`mark_versus` (difference columns).
PAIRED_METRICS = ("coss", "ssim", "auc")
#: :func:`fklib.metrics.bootstrap.paired_verdict` in the tables' words.
VERDICT_WORDS = {"above": "better", "below": "worse", "matches": "overlaps", "n/a": ""}


def _metric_columns(metrics: Sequence[str] | Mapping[str, str]) -> dict[str, str]:
    if isinstance(metrics, Mapping):
        return {str(k): str(v) for k, v in metrics.items()}
    return {str(m): str(m) for m in metrics}


def _predictor_order(names) -> list[str]:
    names = list(dict.fromkeys(names))
    first = [p for p in (MODEL, *REFERENCE_KINDS) if p in names]
    return first + [p for p in names if p not in first]


def _ids(frame: pd.DataFrame) -> np.ndarray:
    ids = frame["identity"] if "identity" in frame.columns else pd.Series(range(len(frame)), index=frame.index)
    return ids.astype(str).to_numpy()


def _pooled_parts(metric: str, group: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Per-image numerator and denominator of a pooled metric (:data:`POOLED_METRICS`)."""
    columns, wn, wd = POOLED_METRICS[metric]
    parts = group[list(columns)].to_numpy(np.float64)
    return parts @ np.asarray(wn, np.float64), parts @ np.asarray(wd, np.float64)


def _pooled_value(metric: str, group: pd.DataFrame) -> float:
    num, den = _pooled_parts(metric, group)
    ok = np.isfinite(num) & np.isfinite(den)
    total = float(den[ok].sum())
    return float(num[ok].sum()) / total if total > 0 else math.nan


def _interval(metric: str, column: str, group: pd.DataFrame, both: pd.DataFrame | None) -> tuple[float, float]:
    """95 % bootstrap interval over identities of one cell (:mod:`fklib.metrics.bootstrap`)."""
    if metric in DETECTION_METRICS:
        if both is None or both["pred_fake"].isna().any():
            return math.nan, math.nan
        if metric in ("tpr", "tnr"):  # the share of one class decided right: a ratio over that class's identities
            part = both[both["label"] == (1 if metric == "tpr" else 0)]
            if part.empty:
                return math.nan, math.nan
            right = (part["pred_fake"].to_numpy() > 0.5) == (part["label"].to_numpy() == 1)
            return ratio_interval(_ids(part), right.astype(float))
        if metric == "bacc":
            return balanced_accuracy_interval(_ids(both), both["pred_fake"].to_numpy(), both["label"].to_numpy())
        correct = (both["pred_fake"].to_numpy() > 0.5) == (both["label"].to_numpy() == 1)
        return ratio_interval(_ids(both), correct.astype(float))
    if metric in POOLED_METRICS:
        num, den = _pooled_parts(metric, group)
        ok = np.isfinite(num) & np.isfinite(den)
        if not ok.any() or not den[ok].sum() > 0:
            return math.nan, math.nan
        return ratio_interval(_ids(group)[ok], num[ok], den[ok])
    values = group[column].to_numpy(np.float64)
    if np.isinf(values).any():  # PSNR of an exact map: no finite mean to bracket
        return math.nan, math.nan
    ok = np.isfinite(values)
    if not ok.any():
        return math.nan, math.nan
    return ratio_interval(_ids(group)[ok], values[ok])


def cell_values(fakes: pd.DataFrame, reals: pd.DataFrame, metrics: Sequence[str] | Mapping[str, str] = TABLE_METRICS,
                intervals: bool | Sequence[str] = False) -> dict[str, float]:
    """The values of one cell (its ``fakes`` and the ``reals`` of its context), by the module's definition:
    ``{metric: value}`` and, with ``intervals`` (``True``: every metric, or the metrics named),
    ``<metric>_lo`` / ``<metric>_hi``; plus ``n`` and ``n_reals``."""
    out: dict[str, float] = {"n": len(fakes), "n_reals": len(reals)}
    with_interval = set(_metric_columns(metrics)) if intervals is True else set(intervals or ())
    both = pd.concat([fakes, reals]) if any(m in DETECTION_METRICS for m in _metric_columns(metrics)) else None
    for metric, column in _metric_columns(metrics).items():
        if metric in DETECTION_METRICS:
            value = detection_value(metric, both["pred_fake"], both["label"]) if len(both) else math.nan
        elif metric in POOLED_METRICS:
            value = _pooled_value(metric, fakes)
        else:
            value = float(fakes[column].mean(skipna=True)) if len(fakes) else math.nan
        out[metric] = value
        if metric in with_interval:
            out[f"{metric}_lo"], out[f"{metric}_hi"] = _interval(metric, column, fakes, both)
    return out


def group_rows(df: pd.DataFrame, by: Sequence[str] = ("gan", "property"),
               metrics: Sequence[str] | Mapping[str, str] = TABLE_METRICS,
               predictors: Sequence[str] | None = None, fake_keys: Sequence[str] = ("gan", "property"),
               add_mean: bool = False, intervals: bool = False) -> pd.DataFrame:
    """Long-format rows (one per predictor, group and metric) from per-image results (module docstring).

    Args:
        df: per-image rows with ``predictor`` (optional: ``"model"`` when absent), ``label``,
            ``pred_fake`` (for the detection metrics), the ``by`` columns and the metric columns.
        by: group keys, e.g. ``["gan", "property"]`` or ``["method", "gan", "property"]``.
        metrics: metric names (the detection metrics and :data:`POOLED_METRICS` are computed; others are
            column means over the fakes), or a mapping ``{table metric: column}`` such as
            ``{"coss": "coss_region"}`` for in-region metrics.
        predictors: keep only these predictors (default: all, model first then the references).
        fake_keys: keys describing a fake (real images carry ``gan="real"``, ``property="Real"``); the other
            ``by`` keys and ``predictor`` form the context whose reals join each cell.
        add_mean: append per context the cell of all its fakes, with the fake keys set to ``"mean"``.
        intervals: add ``lo`` and ``hi``, the 95 % bootstrap interval over identities.

    Returns:
        columns ``predictor``, ``*by``, ``n``, ``n_reals``, ``metric``, ``value`` (and ``lo``, ``hi``).
    """
    by = list(by)
    cols = _metric_columns(metrics)
    df = df if "predictor" in df.columns else df.assign(predictor=MODEL)
    missing = [c for c in ["label", *by, *(c for m, c in cols.items()
                                           if m not in (*DETECTION_METRICS, *POOLED_METRICS))] if c not in df.columns]
    for m in set(POOLED_METRICS) & set(cols):
        missing += [c for c in POOLED_METRICS[m][0] if c not in df.columns and c not in missing]
    if (set(DETECTION_METRICS) & set(cols)) and "pred_fake" not in df.columns:
        missing.append("pred_fake")
    if missing:
        raise ValueError(f"group_rows: per-image results lack column(s) {missing}")
    if predictors is not None:
        df = df[df["predictor"].isin(list(predictors))]
    context = ["predictor", *[k for k in by if k not in fake_keys]]
    fakes = df[df["label"] == 1]
    reals = df[df["label"] == 0]
    real_groups = {k if isinstance(k, tuple) else (k,): g for k, g in reals.groupby(context, sort=False, dropna=False)}

    out: list[dict] = []

    def emit(base: dict, group: pd.DataFrame, ctx: tuple):
        values = cell_values(group, real_groups.get(ctx, reals.iloc[:0]), cols, intervals)
        for metric in cols:
            row = {**base, "n": values["n"], "n_reals": values["n_reals"], "metric": metric, "value": values[metric]}
            if intervals:
                row["lo"], row["hi"] = values[f"{metric}_lo"], values[f"{metric}_hi"]
            out.append(row)

    for predictor in _predictor_order(fakes["predictor"]):
        sub = fakes[fakes["predictor"] == predictor]
        for key, group in sub.groupby(by, sort=True, dropna=False):
            key = key if isinstance(key, tuple) else (key,)
            base = {"predictor": predictor, **dict(zip(by, key))}
            emit(base, group, tuple(base[c] for c in context))
        if add_mean:
            for key, group in sub.groupby(context, sort=False, dropna=False):
                key = key if isinstance(key, tuple) else (key,)
                base = {**dict(zip(context, key)), **{k: "mean" for k in by if k in fake_keys}}
                emit(base, group, key)
    columns = ["predictor", *by, "n", "n_reals", "metric", "value", *(("lo", "hi") if intervals else ())]
    table = pd.DataFrame(out, columns=columns)
    if add_mean and len(table):  # each context's mean rows after its groups
        order = {k: i for i, k in enumerate(dict.fromkeys(map(tuple, table[context].to_numpy().tolist())))}
        key = [order[tuple(r)] for r in table[context].to_numpy().tolist()]
        is_mean = np.zeros(len(table), bool)
        for k in by:
            if k in fake_keys:
                is_mean |= (table[k] == "mean").to_numpy()
        table = table.assign(_c=key, _m=is_mean).sort_values(["_c", "_m"], kind="stable").drop(columns=["_c", "_m"])
        table = table.reset_index(drop=True)
    table["n"] = table["n"].astype(int)
    table["n_reals"] = table["n_reals"].astype(int)
    return table


def group_summary(df: pd.DataFrame, metrics: Sequence[str] | Mapping[str, str] = TABLE_METRICS,
                  intervals: bool | Sequence[str] = True) -> dict[str, float]:
    """One cell of all of ``df``'s images (its fakes and its reals): :func:`cell_values` as a dict."""
    return cell_values(df[df["label"] == 1], df[df["label"] == 0], metrics, intervals)


def versus_references(value: float, references: Mapping[str, float], lo: float | None = None, hi: float | None = None,
                      reference_lo: Mapping[str, float] | None = None,
                      reference_hi: Mapping[str, float] | None = None) -> str:
    """The one rule of "beats the references": compare with the **best** reference (highest value; higher is
    better for every metric we compare). With intervals (``lo``/``hi`` and the references'): ``"better"``
    when the model's interval lies above the best reference's, ``"worse"`` when below, ``"overlaps"``
    otherwise; without: ``"better"`` when ``value`` is above it, else ``"worse"``. ``""`` when nothing to
    compare (no finite reference or value)."""
    finite = {k: float(v) for k, v in references.items() if v is not None and np.isfinite(v)}
    if not finite or value is None or not np.isfinite(value):
        return ""
    best = max(finite, key=finite.get)
    if lo is None or hi is None or reference_lo is None or reference_hi is None:
        return "better" if value > finite[best] else "worse"
    b_lo, b_hi = reference_lo.get(best, math.nan), reference_hi.get(best, math.nan)
    if not all(np.isfinite(x) for x in (lo, hi, b_lo, b_hi)):
        return ""
    return "better" if lo > b_hi else "worse" if hi < b_lo else "overlaps"


def at_or_below_chance(metric: str, value: float) -> bool:
    """Whether ``value`` of ``metric`` is at or below its chance level (:data:`CHANCE`)."""
    level = CHANCE.get(metric)
    return level is not None and value is not None and np.isfinite(value) and value <= level


def paired_versus(per_image: pd.DataFrame, keys: Mapping[str, object], column: str, reference: str,
                  model_keys: Mapping[str, object] | None = None, model: str = MODEL) -> tuple[float, float, float]:
    """``(mean(model - reference), lo, hi)`` of ``column`` over the fakes of one cell, paired by image (``source``).

    Args:
        per_image: per-image rows of the model and the references (``predictor``, ``label``, ``source``,
            ``identity``, the key columns, ``column``).
        keys: the cell's keys (a value ``"mean"`` selects every value: a set's ``mean`` row).
        reference: the reference predictor.
        model_keys: further keys of the model's rows only (e.g. ``method``: the reference rows name none).
    """
    sel = per_image["label"] == 1
    for k, v in keys.items():
        if k in per_image.columns and v != "mean":
            sel &= per_image[k] == v
    ours = per_image[sel & (per_image["predictor"] == model)]
    for k, v in (model_keys or {}).items():
        if k in ours.columns:
            ours = ours[ours[k] == v]
    theirs = per_image[sel & (per_image["predictor"] == reference)].drop_duplicates("source")
    both = ours[["source", "identity", column]].merge(theirs[["source", column]], on="source", suffixes=("", "_ref"))
    if both.empty:
        return math.nan, math.nan, math.nan
    return paired_difference(both["identity"].astype(str).to_numpy(), both[column].to_numpy(np.float64),
                             both[f"{column}_ref"].to_numpy(np.float64))


def mark_versus(wide: pd.DataFrame, keys: Sequence[str], per_image: pd.DataFrame, model: str = MODEL,
                model_keys: Sequence[str] = ("method",)) -> pd.DataFrame:
    """Add to the model rows of a wide table the paired verdicts against the references (module docstring):
    ``<metric>_vs_ref`` (``better`` / ``worse`` / ``overlaps`` against the best reference of the row's ``keys``,
    for every per-image metric of the table) and, for :data:`PAIRED_METRICS` and each rung of :data:`LADDER`,
    ``<metric>_vs_<reference>`` with ``_lo`` / ``_hi``: the paired difference."""
    wide = wide.copy()
    refs = wide[wide["predictor"].isin(REFERENCE_KINDS)]
    metrics = [m for m in wide.columns if m in per_image.columns and m not in DETECTION_METRICS
               and m not in POOLED_METRICS and pd.api.types.is_numeric_dtype(wide[m]) and m in refs.columns
               and refs[m].notna().any() and f"{m}_lo" in wide.columns]
    for m in metrics:
        marks = pd.Series("", index=wide.index, dtype=object)
        if m in PAIRED_METRICS:
            for ref in LADDER:
                if (refs["predictor"] == ref).any():
                    for suffix in ("", "_lo", "_hi"):
                        wide[f"{m}_vs_{ref}{suffix}"] = np.nan
        for i, row in wide[wide["predictor"] == model].iterrows():
            cell = {k: row[k] for k in keys}
            same = refs
            for k in keys:
                same = same[same[k] == row[k]]
            same = same.dropna(subset=[m])
            extra = {k: row[k] for k in model_keys if k in wide.columns}
            if len(same) and np.isfinite(row[m]):
                best = str(same.loc[same[m].idxmax(), "predictor"])
                _, lo, hi = paired_versus(per_image, cell, m, best, extra, model)
                marks[i] = VERDICT_WORDS[paired_verdict(lo, hi)]
            if m in PAIRED_METRICS:
                for ref in LADDER:
                    if (same["predictor"] == ref).any():
                        d, lo, hi = paired_versus(per_image, cell, m, ref, extra, model)
                        wide.loc[i, [f"{m}_vs_{ref}", f"{m}_vs_{ref}_lo", f"{m}_vs_{ref}_hi"]] = (d, lo, hi)
        if (marks != "").any():
            wide[f"{m}_vs_ref"] = marks
    return wide


def paired_bacc_difference(clusters, a, b, labels, n_boot: int = BOOTSTRAP_SAMPLES, seed: int = 0) -> tuple[float, float, float]:
    """``(bACC(a) - bACC(b), lo, hi)``: two sets of 0/1 decisions on the **same** images (two models, or one
    model before and after something), their balanced accuracies' difference with the percentile interval of the
    clusters (identities) resampled, an image's two decisions drawn together. NaN without two clusters, a NaN
    decision, or a class missing."""
    a, b, y = (np.asarray(v, np.float64) for v in (a, b, labels))
    clusters = np.asarray(clusters).astype(str)
    if (len(np.unique(clusters)) < 2 or np.isnan(a).any() or np.isnan(b).any() or not (y == 1).any()
            or not (y == 0).any()):
        return math.nan, math.nan, math.nan

    def bacc(d, yy):
        return ((d * yy).sum() / yy.sum() + ((1 - d) * (1 - yy)).sum() / (1 - yy).sum()) / 2

    point = float(bacc(a, y) - bacc(b, y))
    tpa, tna, tpb, tnb, pos, neg = cluster_sums(clusters, a * y, (1 - a) * (1 - y), b * y, (1 - b) * (1 - y), y, 1 - y)
    w = cluster_weights(len(pos), n_boot, seed)
    with np.errstate(invalid="ignore", divide="ignore"):
        p, n = w @ pos, w @ neg
        stat = ((w @ (tpa - tpb)) / p + (w @ (tna - tnb)) / n) / 2
    stat = stat[np.isfinite(stat)]
    if not stat.size:
        return point, math.nan, math.nan
    lo, hi = np.percentile(stat, [50 * (1 - LEVEL), 50 * (1 + LEVEL)])
    return point, float(lo), float(hi)


def cell_means_difference(first: Sequence[tuple], second: Sequence[tuple], n_boot: int = BOOTSTRAP_SAMPLES,
                          seed: int = 0) -> tuple[float, float, float]:
    """``(A - B, lo, hi)`` with ``A`` the mean over the cells of ``first`` of each cell's mean value, ``B`` the same of
    ``second``; each cell ``(clusters, values)`` holds its own images (e.g. a model's per-image margin over a
    reference on one test set). The cells are independent samples: each is resampled over its own clusters
    (identities), so the interval is that of a difference between test sets, each side paired within itself. NaN
    values are left out; NaN without two clusters in every cell."""
    def draws(k: int, cell) -> tuple[float, np.ndarray] | None:
        ids, values = np.asarray(cell[0]).astype(str), np.asarray(cell[1], np.float64)
        ok = np.isfinite(values)
        ids, values = ids[ok], values[ok]
        if len(np.unique(ids)) < 2:
            return None
        total, count = cluster_sums(ids, values, np.ones_like(values))
        w = cluster_weights(len(total), n_boot, seed + k)
        return float(values.mean()), (w @ total) / (w @ count)

    sides = []
    k = 0
    for cells in (first, second):
        got = []
        for cell in cells:
            d = draws(k, cell)
            k += 1
            if d is None:
                return math.nan, math.nan, math.nan
            got.append(d)
        if not got:
            return math.nan, math.nan, math.nan
        sides.append((float(np.mean([g[0] for g in got])), np.mean([g[1] for g in got], axis=0)))
    point = sides[0][0] - sides[1][0]
    stat = sides[0][1] - sides[1][1]
    stat = stat[np.isfinite(stat)]
    if not stat.size:
        return point, math.nan, math.nan
    lo, hi = np.percentile(stat, [50 * (1 - LEVEL), 50 * (1 + LEVEL)])
    return point, float(lo), float(hi)
