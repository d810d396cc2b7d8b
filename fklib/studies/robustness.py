"""Notebook 05, paper §5.2 RQ5 (Figs. 8-10): the universal model under disorganization and degradations.

- :func:`robustness_items`: a fixed, seeded, property-stratified subsample of the STGAN test
  split (every test real, the profile's ``sweep_fakes_per_property`` fakes per property) for the
  degradation sweeps; the disorganization test its ``disorganization_fakes_per_property``.
- :func:`augmented_config` / :func:`ensure_augmented`: the universal model **fine-tuned** with
  random degradations (``degrade_augment``, beyond the paper): it starts from the universal
  model's ``best.pt`` (``TrainConfig.init_from``) and trains :attr:`~fklib.studies.profiles.StudyProfile.augment` epochs more at a
  fifth of the profile's learning rate. Fine-tuning instead of training from scratch keeps the
  comparison about augmentation (same start, same data) and fits the CPU budget.
- :func:`robustness_sweep` / :func:`sweep` (Fig. 10) over :func:`sweep_axes` (the paper's grid,
  :data:`fklib.degrade.PAPER_AXES`, or IMDL-BenCo's, :data:`fklib.degrade.IMDL_AXES`; fewer
  levels in ``smoke``); :func:`sweeps_and_references`: the same sweeps of several models and the reference
  predictors in one pass (each level degraded once, every model scored on the same degraded images; the
  values of :func:`sweep` and :func:`reference_sweep`); :func:`disorganization_test` / :func:`disorganization` (Fig. 8);
  :func:`disorganization_example` (Fig. 9's maps).

Every prediction and metric comes from :func:`fklib.engine.score_items`.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
import torch

from .. import paths
from ..checkpoint import DecisionRule, LoadedLocator, load_checkpoint
from ..config import TrainConfig, check_profile, resolve_device
from ..data import load_set, stratified_items
from ..data.fetching import sha256_file
from ..degrade import (DEGRADATIONS, GAMMA_METRICS, IMDL_AXES, PAPER_AXES, degrade_item, disorganize_item, gamma,
                       inverse_permutation, permute_quadrants, random_quadrant_permutation)
from ..engine import batches, fit_references, predict, score_items
from ..engine.references import fit_reference_maps
from ..metrics import MAP_METRICS, ratio_interval
from ..metrics.bootstrap import paired_difference, paired_verdict
from ..metrics.bootstrap import balanced_accuracy_ratio_interval
from ..metrics.classification import DETECTION_METRICS
from ..metrics.groups import CHANCE, LADDER, MODEL, REFERENCE_KNOWS, at_or_below_chance, group_summary
from ..models import PriorBlend
from .cache import ensure_trained, universal_model
from .common import universal_config
from .profiles import study_profile



# --- items and models ---------------------------------------------------------------------------

def robustness_items(profile: str, purpose: str = "sweep", set_name: str = "stgan", split: str = "test",
                     seed: int = 0) -> list:
    """The fixed STGAN test subsample of notebook 05 (``purpose``: ``sweep`` or ``disorganization``).

    Every property gets the same number of fakes (the profile's ``sweep_fakes_per_property`` or
    ``disorganization_fakes_per_property``), drawn with ``seed``; reals: its ``max_reals``.
    """
    check_profile(profile)
    record = study_profile(profile)
    per = {"sweep": record.sweep_fakes_per_property, "disorganization": record.disorganization_fakes_per_property}
    if purpose not in per:
        raise ValueError(f"purpose must be 'sweep' or 'disorganization', got {purpose!r}")
    return stratified_items(load_set(set_name, split=split), per[purpose], record.max_reals, seed)


def gan_sweep_items(profile: str, seed: int = 0) -> list:
    """The fixed sample of the second Fig. 10 sweep (the profile's ``gan_sweep``: a real GAN's JPEG test set -- the released
    StarGAN-128 --, the same number of fakes per property, and test reals, which the sweep degrades alike)."""
    check_profile(profile)
    spec = study_profile(profile).gan_sweep
    return stratified_items(load_set(spec["set"], split="test"), spec["fakes_per_property"], spec["max_reals"], seed)


def sweep_axes(profile: str, grid: str = "paper") -> dict[str, tuple]:
    """Degradation levels: ``grid="paper"`` (:data:`~fklib.degrade.PAPER_AXES`) or ``"imdl"``
    (:data:`~fklib.degrade.IMDL_AXES`); a profile with ``sweep_harshest_only`` (smoke) keeps the harshest level only."""
    check_profile(profile)
    axes = {"paper": PAPER_AXES, "imdl": IMDL_AXES}.get(grid)
    if axes is None:
        raise ValueError(f"grid must be 'paper' or 'imdl', got {grid!r}")
    if study_profile(profile).sweep_harshest_only:
        return {k: (v[-1],) for k, v in axes.items()}
    return dict(axes)


def augmented_config(profile: str, init_from: str | None = None) -> TrainConfig:
    """The universal model of ``profile`` fine-tuned with random degradations (beyond the paper).

    The universal config (:func:`fklib.studies.common.universal_config`) with ``degrade_augment=True``
    at the sweep's levels (``degrade_axes="paper"``, :class:`fklib.degrade.RandomDegradation`: p = 0.5,
    one of JPEG / blur / noise / low resolution at a level of the paper grid; GT maps unchanged), ``init_from`` = the universal
    run (``init_from``: the universal checkpoint's path, default its run name, i.e. its ``best.pt``), the profile's ``augment`` epochs (cpu: 3) at ``lr_factor`` (cpu: 1.0) times the
    profile's learning rate, same schedule, data, losses and heads; named ``<profile>_degrade_aug``.
    """
    check_profile(profile)
    base = universal_config(profile)
    aug = study_profile(profile).augment
    return dataclasses.replace(base, name=f"{base.name}_degrade_aug", degrade_augment=True, degrade_axes="paper",
                               degrade_p=0.5, init_from=init_from or base.name, epochs=aug["epochs"],
                               lr=base.lr * aug["lr_factor"], warmup=0,
                               samples_per_epoch=aug.get("samples_per_epoch", base.samples_per_epoch))


def ensure_augmented(profile: str, retrain: bool = False, log=print) -> Path:
    """``best.pt`` of :func:`augmented_config`, trained by :func:`fklib.studies.cache.ensure_trained`.

    The universal model is ensured first; a finished augmented run is reused only when it
    started from the universal ``best.pt`` as it is now (``init_sha256`` of its checkpoint).
    """
    log = log or (lambda *_: None)
    universal = universal_model(profile, log=log)  # the shipped model when it is the profile's
    root = paths.project_root()
    start = universal.relative_to(root) if universal.is_relative_to(root) else universal
    cfg = augmented_config(profile, init_from=str(start))
    best = cfg.checkpoint_dir() / "best.pt"
    if best.is_file() and not retrain:
        try:
            stale = load_checkpoint(best).get("init_sha256") != sha256_file(universal)
        except ValueError:
            stale = True
        if stale:
            log(f"{cfg.name}: the universal model changed since this fine-tuning: training again")
            retrain = True
    return ensure_trained(cfg, retrain=retrain, log=log)


# --- experiments --------------------------------------------------------------------------------

def _scores(model, items, size: int, device, batch_size: int, rule: DecisionRule | None, tau: float) -> pd.DataFrame:
    return score_items(model, items, size, device=device, batch_size=batch_size, rule=rule, tau=tau)


#: What :func:`degradation_summary` reports (the one cell definition, :mod:`fklib.metrics.groups`), and
#: the metrics it gives 95 % intervals over identities.
SUMMARY_METRICS = (*DETECTION_METRICS, *MAP_METRICS)
SUMMARY_INTERVALS = ("acc", "bacc", "tpr", "tnr", "coss", "psnr", "ssim", "auc")


def degradation_summary(rows: pd.DataFrame) -> dict[str, float]:
    """One cell of all ``rows`` (:func:`fklib.metrics.groups.group_summary`): ACC, bACC, TPR (fakes called
    fake), TNR (reals called real) over the reals and fakes, mean map metrics over the fakes (NaN skipped),
    ``n`` / ``n_reals``, and ``<m>_lo`` / ``<m>_hi``: 95 % bootstrap intervals over identities of
    :data:`SUMMARY_INTERVALS`."""
    out = group_summary(rows, SUMMARY_METRICS, intervals=SUMMARY_INTERVALS)
    out.pop("n", None)
    return out


def robustness_sweep(model, items, size: int, axes: Mapping[str, Sequence] | None = None,
                     device: str | torch.device = "cpu", batch_size: int = 64, seed: int = 0,
                     rule: DecisionRule | None = None, degrade_reals: bool = True, regenerate_gt: bool = False,
                     tau: float = 0.1, log=None) -> pd.DataFrame:
    """Fig. 10: mean metrics of ``model`` on degraded copies of ``items``, one row per (degradation, level).

    Every item's image is degraded at its own resolution (uint8, before the Dataset's resize;
    :func:`fklib.degrade.degrade_item`); GT maps are unchanged (reals keep zeros). ACC needs reals
    and fakes, so by default the reals are degraded too (``degrade_reals=False`` keeps them clean:
    only the fakes are degraded, the paper's wording). Noise item ``i`` uses seed ``seed + i``.
    Prediction, decision and metrics are :func:`fklib.engine.score_items`' (map metrics averaged over
    the **fakes**, ACC over reals and fakes).

    Args:
        axes: degradation -> levels (default :data:`PAPER_AXES`).
        regenerate_gt: recompute eq. 4 against the degraded fake instead (see :func:`degrade_item`).
        rule: the model's decision rule (:attr:`fklib.checkpoint.LoadedLocator.rule`; ``None``: p(fake) > 0.5).

    Returns:
        DataFrame with columns ``degradation, level, n, n_fake, acc, coss, psnr, ssim, mae, auc, f1,
        iou`` and ``gamma_<m>`` for ACC, COSS, PSNR, SSIM (relative to the undegraded run, which
        is the first row: degradation ``none``).
    """
    axes = PAPER_AXES if axes is None else axes
    items = list(items)
    labels = np.array([it.label for it in items])
    base = degradation_summary(_scores(model, items, size, device, batch_size, rule, tau))
    rows = [{"degradation": "none", "level": None, **base}]
    for name, levels in axes.items():
        if name not in DEGRADATIONS:
            raise KeyError(f"unknown degradation {name!r}; known: {sorted(DEGRADATIONS)}")
        for level in levels:
            deg = [degrade_item(it, name, level, seed + i, regenerate_gt) if (degrade_reals or it.label == 1)
                   else it for i, it in enumerate(items)]
            row = degradation_summary(_scores(model, deg, size, device, batch_size, rule, tau))
            rows.append({"degradation": name, "level": level, **row})
            if log is not None:
                log(f"{name} {level}: " + ", ".join(f"{k}={row[k]:.4f}" for k in GAMMA_METRICS))
    df = pd.DataFrame(rows)
    df.insert(2, "n", len(items))
    df.insert(3, "n_fake", int(labels.sum()))
    for m in GAMMA_METRICS:
        df[f"gamma_{m}"] = [gamma(r, base)[m] for r in rows]
    return df


def disorganization_test(model, items, size: int, seed: int = 0, device: str | torch.device = "cpu",
                         batch_size: int = 64, rule: DecisionRule | None = None, tau: float = 0.1) -> pd.DataFrame:
    """Figs. 8, 9: metrics before and after cutting each image and its GT map into four permuted quadrants.

    Item ``i`` gets :func:`~fklib.degrade.random_quadrant_permutation` of ``seed + i`` (never the
    identity), applied at the item's resolution to the image and the GT map alike.

    Returns:
        Per-image DataFrame: the item's metadata, ``perm``, ``<m>_before`` / ``<m>_after`` for
        ``correct`` (the detection was right: 1/0), ``coss``, ``psnr``, ``ssim`` (map metrics NaN
        for reals) and per-image ``gamma_<m>`` of the map metrics. Aggregate with
        :func:`summarize_disorganization`.
    """
    items = list(items)
    perms = [random_quadrant_permutation(seed + i) for i in range(len(items))]
    shuffled = [disorganize_item(it, p) for it, p in zip(items, perms)]
    res = {"before": _scores(model, items, size, device, batch_size, rule, tau),
           "after": _scores(model, shuffled, size, device, batch_size, rule, tau)}
    rows = []
    for i, it in enumerate(items):
        row = {**it.meta(), "perm": "".join(map(str, perms[i]))}
        for tag, frame in res.items():
            dec = frame["pred_fake"].iloc[i]
            row[f"pred_fake_{tag}"] = float(dec)
            row[f"correct_{tag}"] = math.nan if math.isnan(dec) else float((dec > 0.5) == (it.label == 1))
            for m in ("coss", "psnr", "ssim"):
                row[f"{m}_{tag}"] = float(frame[m].iloc[i]) if it.label == 1 else math.nan
        g = gamma({m: row[f"{m}_after"] for m in ("coss", "psnr", "ssim")},
                  {m: row[f"{m}_before"] for m in ("coss", "psnr", "ssim")}, ("coss", "psnr", "ssim"))
        row.update({f"gamma_{m}": v for m, v in g.items()})
        rows.append(row)
    return pd.DataFrame(rows)


def gamma_interval(ids, after, before) -> tuple[float, float]:
    """95 % interval over identities of γ = mean(after) / mean(before) of the same images (non-finite pairs left out)."""
    a, b = np.asarray(after, float), np.asarray(before, float)
    ok = np.isfinite(a) & np.isfinite(b)
    return ratio_interval(np.asarray(ids)[ok], a[ok], b[ok]) if ok.any() else (math.nan, math.nan)


#: What a side (before / after) of the disorganization test reports: detection and the paper's map metrics.
DISORGANIZATION_METRICS = ("acc", "bacc", "tpr", "tnr", "coss", "psnr", "ssim")


def summarize_disorganization(df: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Aggregate :func:`disorganization_test`: ``{"before": {...}, "after": {...}, "gamma": {...}, "gamma_lo":
    {...}, "gamma_hi": {...}}``.

    Each side is one cell of all the images (:func:`fklib.metrics.groups.group_summary`: ACC, bACC, TPR, TNR
    over reals and fakes, map metrics over the fakes); γ = after / before (Fig. 8) with its 95 % bootstrap
    interval over identities (the two sides of an image drawn together).
    """
    out = {}
    for tag in ("before", "after"):
        side = df.assign(pred_fake=df[f"pred_fake_{tag}"], **{m: df[f"{m}_{tag}"] for m in ("coss", "psnr", "ssim")})
        out[tag] = group_summary(side, DISORGANIZATION_METRICS, intervals=False)
    out["gamma"] = gamma(out["after"], out["before"], GAMMA_METRICS)
    ids = df["identity"].astype(str).to_numpy() if "identity" in df else np.arange(len(df)).astype(str)
    fakes = (df["label"] == 1).to_numpy()
    lo, hi = {}, {}
    lo["bacc"], hi["bacc"] = balanced_accuracy_ratio_interval(ids, df["pred_fake_after"], df["pred_fake_before"],
                                                              df["label"])
    for m in ("coss", "psnr", "ssim"):
        lo[m], hi[m] = gamma_interval(ids[fakes], df.loc[fakes, f"{m}_after"], df.loc[fakes, f"{m}_before"])
    out["gamma_lo"], out["gamma_hi"] = lo, hi
    return out


def disorganization(locators: Mapping[str, LoadedLocator], items, seed: int = 0, raw_maps: bool = True,
                    batch_size: int = 64) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fig. 8: every model on ``items`` before and after the quadrant permutation of image and GT.

    With ``raw_maps``, a model whose checkpoint blends its map with per-property prior maps
    (``PriorBlend``: where edits usually are, a location memory) is also tested without the
    blend, as ``<name> (no prior blend)``.

    Returns:
        ``(per_image, table)``: the per-image rows of :func:`disorganization_test` with a ``model``
        column, and one row per (model, metric: ACC and :data:`fklib.degrade.GAMMA_METRICS`) with ``before``,
        ``after``, ``gamma`` (= after / before; none for ACC, whose γ the figure replaces by bACC's),
        ``gamma_lo`` / ``gamma_hi`` (its 95 % interval), ``n`` (images) and ``n_fake``.
    """
    device = resolve_device("auto")
    frames, rows = [], []
    for name, locator in locators.items():
        model, cfg = locator.model, locator.config
        variants = [(name, model)]
        if raw_maps and isinstance(model, PriorBlend):
            variants.append((f"{name} (no prior blend)", model.model))
        for label, m in variants:
            df = disorganization_test(m, items, cfg.size, seed=seed, device=device, batch_size=batch_size,
                                      rule=locator.rule)
            frames.append(df.assign(model=label))
            s = summarize_disorganization(df)
            for metric in ("acc", *GAMMA_METRICS):
                rows.append({"model": label, "metric": metric, "n": len(df), "n_fake": int(df["label"].sum()),
                             "before": s["before"][metric], "after": s["after"][metric],
                             "gamma": s["gamma"].get(metric, math.nan), "gamma_lo": s["gamma_lo"].get(metric, math.nan),
                             "gamma_hi": s["gamma_hi"].get(metric, math.nan)})
    return pd.concat(frames, ignore_index=True), pd.DataFrame(rows)


#: The references of the disorganization test: maps that know only where edits usually are.
DISORGANIZATION_REFERENCES = ("property_mean", "layout_prior")


#: The flat map of the disorganization test: one value everywhere, so the permutation cannot move it (γ = 1 exactly).
CONSTANT = "constant"


def _constant_coss(gt: np.ndarray) -> float:
    """COSS of a constant map with the truth ``gt``: ``sum(gt) / (sqrt(n) |gt|)`` (NaN for an all-zero truth)."""
    g = np.asarray(gt, np.float64).ravel()
    norm = float(np.linalg.norm(g))
    return float(g.sum() / (math.sqrt(g.size) * norm)) if norm > 0 else math.nan


def disorganization_references(locator: LoadedLocator, items, seed: int = 0, kinds=DISORGANIZATION_REFERENCES,
                               batch_size: int = 64, train_items=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fig. 8's reference rows: location priors (``kinds`` of :data:`fklib.metrics.REFERENCE_KINDS`, fitted on
    ``locator``'s training fakes, or on ``train_items``) and a :data:`CONSTANT` map, scored before and after the
    same quadrant permutations as :func:`disorganization_test`. ``property_mean`` never looks at the image, so its
    map stays put while the truth moves: its γ is what a pure memory of *where* edits are loses. ``layout_prior``
    re-parses the permuted face. The constant map keeps γ = 1 by construction: a γ near 1 alone shows nothing.

    Returns:
        ``(per_image, table)`` as :func:`disorganization` (``model`` = ``<kind> (reference)``, ACC NaN; the
        constant map has COSS only: PSNR and SSIM depend on its level).
    """
    cfg = locator.config
    refs = fit_references(cfg) if train_items is None else fit_reference_maps(train_items, cfg.size)
    items = list(items)
    shuffled = [disorganize_item(it, random_quadrant_permutation(seed + i)) for i, it in enumerate(items)]
    device = resolve_device("auto")
    scored = {tag: score_items(None, its, cfg.size, device=device, batch_size=batch_size, references=refs)
              for tag, its in (("before", items), ("after", shuffled))}  # references only
    fakes = [it for it in items if it.label == 1]
    gts = {tag: [b["gt_map"][j, 0].numpy() for b in batches([it for it in its if it.label == 1], cfg.size)
                 for j in range(len(b["gt_map"]))] for tag, its in (("before", items), ("after", shuffled))}
    flat = pd.DataFrame({**{k: [it.meta()[k] for it in fakes] for k in ("source", "identity", "property")},
                         "coss_before": [_constant_coss(g) for g in gts["before"]],
                         "coss_after": [_constant_coss(g) for g in gts["after"]]})
    per_image, rows = [flat.assign(model=f"{CONSTANT} (reference)")], []
    for kind in (*kinds, CONSTANT):
        if kind == CONSTANT:
            side = {tag: flat.rename(columns={f"coss_{tag}": "coss"})[["identity", "coss"]] for tag in ("before", "after")}
            metrics = ("coss",)
        else:
            side = {tag: f[(f["predictor"] == kind) & (f["label"] == 1)].reset_index(drop=True)
                    for tag, f in scored.items()}
            metrics = ("coss", "psnr", "ssim")
            per_image.append(side["before"][["source", "identity", "property"]].assign(
                model=f"{kind} (reference)", **{f"{m}_{tag}": side[tag][m].to_numpy() for tag in side for m in metrics}))
        means = {tag: {m: float(f[m].mean()) for m in metrics} for tag, f in side.items()}
        g = gamma(means["after"], means["before"], metrics)
        ids = side["before"]["identity"].astype(str).to_numpy()
        for metric in ("acc", *GAMMA_METRICS):
            lo = hi = math.nan
            if metric in g:
                lo, hi = gamma_interval(ids, side["after"][metric], side["before"][metric])
            rows.append({"model": f"{kind} (reference)", "metric": metric, "n": len(items), "n_fake": len(fakes),
                         "before": means["before"].get(metric, math.nan), "after": means["after"].get(metric, math.nan),
                         "gamma": g.get(metric, math.nan), "gamma_lo": lo, "gamma_hi": hi})
    return pd.concat(per_image, ignore_index=True), pd.DataFrame(rows)


#: What the model's permuted map is compared with (paired, COSS after the permutation): the layout prior re-parsing
#: the permuted face (texture-blind) and the constant map (blind to everything).
DISORGANIZATION_RIVALS = ("layout_prior", CONSTANT)


def disorganization_versus(per_image: pd.DataFrame, model: str = "universal",
                           rivals: Sequence[str] = DISORGANIZATION_RIVALS) -> pd.DataFrame:
    """Paired differences of COSS *after* the permutation: ``model`` minus each rival (``<rival> (reference)`` rows
    of ``per_image``, the concatenated per-image rows of :func:`disorganization` and
    :func:`disorganization_references`), over the same fakes. One row per rival: ``model``, ``rival``,
    ``diff``, ``diff_lo``, ``diff_hi`` (95 % interval, identities resampled) and ``verdict``
    (:func:`fklib.metrics.bootstrap.paired_verdict`)."""
    ours = per_image[(per_image["model"] == model) & per_image["coss_after"].notna()]
    rows = []
    for rival in rivals:
        theirs = per_image[per_image["model"] == f"{rival} (reference)"][["source", "coss_after"]]
        both = ours[["source", "identity", "coss_after"]].merge(theirs, on="source", suffixes=("", "_rival"))
        d, lo, hi = paired_difference(both["identity"].astype(str).to_numpy(), both["coss_after"].to_numpy(),
                                      both["coss_after_rival"].to_numpy())
        rows.append({"model": model, "rival": rival, "diff": d, "diff_lo": lo, "diff_hi": hi,
                     "verdict": paired_verdict(lo, hi)})
    return pd.DataFrame(rows)


def sweep(locator: LoadedLocator, items, axes: Mapping[str, Sequence] | None = None, model_name: str | None = None,
          seed: int = 0, batch_size: int = 64, log=None) -> pd.DataFrame:
    """Fig. 10: :func:`robustness_sweep` of one loaded locator (reals degraded too, GT kept, its decision rule),
    with a leading ``model`` column (``model_name``, default the run name)."""
    cfg = locator.config
    df = robustness_sweep(locator.model, items, cfg.size, axes=axes, device=resolve_device("auto"),
                          batch_size=batch_size, seed=seed, rule=locator.rule, log=log)
    df.insert(0, "model", model_name or cfg.name)
    return df


def reference_sweep(locator: LoadedLocator, items, axes: Mapping[str, Sequence] | None = None, seed: int = 0,
                    batch_size: int = 64, train_items=None) -> pd.DataFrame:
    """The reference predictors (:data:`fklib.metrics.REFERENCE_KINDS`, fitted on ``locator``'s training
    data) through the same degradations as :func:`sweep`, in its columns with ``model`` = the reference's
    name: an input-blind map does not change with the input, so its γ is 1 and its values show what a
    metric gives for nothing (the all-zero map's PSNR, say); ``layout_prior`` parses the degraded
    image, so degradations reach it. ACC is NaN (they make no detection). ``train_items``: fit the
    references on these instead of the config's training split."""
    cfg = locator.config
    refs = fit_references(cfg) if train_items is None else fit_reference_maps(train_items, cfg.size)
    axes = PAPER_AXES if axes is None else axes
    items = list(items)

    def level_rows(its):
        scored = score_items(None, its, cfg.size, device=resolve_device("auto"), batch_size=batch_size,
                             references=refs)  # the references only: the model's own sweep is sweep()
        return {p: degradation_summary(sub) for p, sub in scored.groupby("predictor", sort=False) if p != MODEL}

    base = level_rows(items)
    out = [{"model": p, "degradation": "none", "level": None, **v} for p, v in base.items()]
    for name, levels in axes.items():
        for level in levels:
            deg = [degrade_item(it, name, level, seed + i) for i, it in enumerate(items)]
            out += [{"model": p, "degradation": name, "level": level, **v} for p, v in level_rows(deg).items()]
    df = pd.DataFrame(out)
    df.insert(3, "n", len(items))
    df.insert(4, "n_fake", int(sum(it.label for it in items)))
    for m in GAMMA_METRICS:
        df[f"gamma_{m}"] = [gamma(r, base[r["model"]])[m] for r in out]
    return df


#: The name of the table of :func:`sweep_and_references`' paired comparisons (``fig10_versus[_<set>].csv``).
VERSUS_TABLE = "fig10_versus"
#: The metrics of :func:`sweep_and_references`' paired comparisons.
VERSUS_METRICS = ("auc", "coss")


def _paired_rows(model_rows: pd.DataFrame, ref_rows: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Per fake: ``identity`` and model − reference of ``metric`` (the same images, aligned by ``source``)."""
    both = model_rows[model_rows["label"] == 1][["source", "identity", metric]].merge(
        ref_rows[ref_rows["label"] == 1][["source", metric]], on="source", suffixes=("", "_ref"))
    return both.assign(margin=both[metric] - both[f"{metric}_ref"])[["source", "identity", "margin"]]


def sweep_and_references(locator: LoadedLocator, items, axes: Mapping[str, Sequence] | None = None,
                         model_name: str | None = None, seed: int = 0, batch_size: int = 64,
                         references=LADDER, train_items=None) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Fig. 10 for one locator and the reference predictors through the same degradations, scored together:
    ``(sweep, reference_sweep, versus)``. ``sweep`` and ``reference_sweep`` are :func:`sweep`'s and
    :func:`reference_sweep`'s frames (the same values: one :func:`fklib.engine.score_items` call per level scores the
    model and the references on the same degraded images); ``versus`` holds, per level and rung of the reference
    ladder (``references``: :data:`fklib.metrics.groups.LADDER`) and metric of :data:`VERSUS_METRICS`, the paired
    difference model − reference under the same degradation (``diff``, ``diff_lo``, ``diff_hi``, ``verdict``) and
    its change from the clean images (``change`` = the per-image margin degraded minus the same image's margin
    clean, with ``change_lo`` / ``change_hi`` and ``change_verdict``: ``below`` when the model loses more than the
    reference under that degradation); 95 % intervals with identities resampled. ``train_items``: fit the references
    on these instead of the config's training split (as :func:`reference_sweep`). :func:`sweeps_and_references`
    with this one locator."""
    name = model_name or locator.config.name
    sweeps, refs_df, versus = sweeps_and_references({name: locator}, items, axes, seed=seed, batch_size=batch_size,
                                                    references=references, train_items=train_items)
    return sweeps[name], refs_df, versus


def sweeps_and_references(locators: Mapping[str, LoadedLocator], items, axes: Mapping[str, Sequence] | None = None,
                          seed: int = 0, batch_size: int = 64, with_references: bool = True, references=LADDER,
                          train_items=None, log=None) -> tuple[dict[str, pd.DataFrame], pd.DataFrame | None,
                                                               pd.DataFrame | None]:
    """Fig. 10 for several locators (and the reference predictors) in one pass: each level degrades ``items`` once
    (:func:`fklib.degrade.degrade_item`, reals too, GT kept, item ``i`` seeded ``seed + i``) and every locator is
    scored on those same degraded images, the first together with the references (one
    :func:`fklib.engine.score_items` call), the others on their own.

    Returns:
        ``(sweeps, reference_sweep, versus)``: ``sweeps`` maps each name of ``locators`` to its :func:`sweep` frame
        (``model`` = the name); ``reference_sweep`` and ``versus`` are :func:`sweep_and_references`' for the first
        locator (references fitted on its config's training fakes, or on ``train_items``), both ``None`` without
        ``with_references``. The values are those of :func:`sweep` for each locator and :func:`reference_sweep`,
        bit for bit: the same images in the same batches.
    """
    if not locators:
        raise ValueError("sweeps_and_references: no locator given")
    axes = PAPER_AXES if axes is None else axes
    unknown = [deg for deg in axes if deg not in DEGRADATIONS]
    if unknown:
        raise KeyError(f"unknown degradation {unknown[0]!r}; known: {sorted(DEGRADATIONS)}")
    names = list(locators)
    first = locators[names[0]]
    refs = None
    if with_references:
        refs = fit_references(first.config) if train_items is None else fit_reference_maps(train_items,
                                                                                            first.config.size)
    items = list(items)
    device = resolve_device("auto")

    def score(name, its):
        loc = locators[name]
        return score_items(loc.model, its, loc.config.size, device=device, batch_size=batch_size, rule=loc.rule,
                           references=refs if name == names[0] else None)

    def level_rows(scored):
        return {p: degradation_summary(sub) for p, sub in scored.groupby("predictor", sort=False)}

    levels = [("none", None)] + [(deg, level) for deg, lvls in axes.items() for level in lvls]
    summaries = {name: [] for name in names}   # name -> [(degradation, level, predictor -> summary)]
    versus, clean_margins = [], {}
    for deg, level in levels:
        its = items if deg == "none" else [degrade_item(it, deg, level, seed + i) for i, it in enumerate(items)]
        for name in names:
            scored = score(name, its)
            summaries[name].append((deg, level, level_rows(scored)))
            if log is not None:
                row = summaries[name][-1][2][MODEL]
                log(f"{name}, {deg} {level}: " + ", ".join(f"{k}={row[k]:.4f}" for k in GAMMA_METRICS))
            if name == names[0] and refs is not None:
                versus += _versus_rows(name, deg, level, scored, references, clean_margins)
    n, n_fake = len(items), int(sum(it.label for it in items))
    sweeps = {}
    for name in names:
        base = summaries[name][0][2]
        model_rows = [{"degradation": d, "level": lv, **v[MODEL]} for d, lv, v in summaries[name]]
        sweep_df = pd.DataFrame(model_rows)
        sweep_df.insert(2, "n", n)
        sweep_df.insert(3, "n_fake", n_fake)
        for m in GAMMA_METRICS:
            sweep_df[f"gamma_{m}"] = [gamma(r, base[MODEL])[m] for r in model_rows]
        sweep_df.insert(0, "model", name)
        sweeps[name] = sweep_df
    if refs is None:
        return sweeps, None, None
    ours = summaries[names[0]]
    base = ours[0][2]
    ref_rows = [{"model": p, "degradation": d, "level": lv, **v[p]} for d, lv, per in ours for p, v in
                [(p, per) for p in per if p != MODEL]]
    refs_df = pd.DataFrame(ref_rows)
    refs_df.insert(3, "n", n)
    refs_df.insert(4, "n_fake", n_fake)
    for m in GAMMA_METRICS:
        refs_df[f"gamma_{m}"] = [gamma(r, base[r["model"]])[m] for r in ref_rows]
    return sweeps, refs_df, pd.DataFrame(versus)


def _versus_rows(name: str, deg: str, level, scored: pd.DataFrame, references, clean_margins: dict) -> list[dict]:
    """:func:`sweep_and_references`' ``versus`` rows of one level: the model (``scored``'s model rows) against each
    reference of ``references`` on the same images; ``clean_margins`` keeps the clean level's per-image margins (it
    comes first) for the ``change`` columns of the degraded ones."""
    rows = []
    ours = scored[scored["predictor"] == MODEL]
    for ref in references:
        theirs = scored[scored["predictor"] == ref]
        if theirs.empty:
            continue
        for m in VERSUS_METRICS:
            margin = _paired_rows(ours, theirs, m)
            ids = margin["identity"].astype(str).to_numpy()
            d, lo, hi = paired_difference(ids, margin["margin"].to_numpy(), np.zeros(len(margin)))
            row = {"model": name, "reference": ref, "degradation": deg, "level": level, "metric": m,
                   "diff": d, "diff_lo": lo, "diff_hi": hi, "verdict": paired_verdict(lo, hi)}
            if deg == "none":
                clean_margins[(ref, m)] = margin
                row.update(change=0.0, change_lo=math.nan, change_hi=math.nan, change_verdict="n/a")
            else:
                both = margin.merge(clean_margins[(ref, m)][["source", "margin"]], on="source",
                                    suffixes=("", "_clean"))
                c, clo, chi = paired_difference(both["identity"].astype(str).to_numpy(), both["margin"].to_numpy(),
                                                both["margin_clean"].to_numpy())
                row.update(change=c, change_lo=clo, change_hi=chi, change_verdict=paired_verdict(clo, chi))
            rows.append(row)
    return rows


def versus_note(set_name: str = "STGAN") -> str:
    """The note of :func:`sweep_and_references`' ``versus`` table."""
    return (f"The model against each reference under the same degradation, on the same {set_name} test fakes: `diff` = "
            "mean over the fakes of the model's value minus the reference's (paired), `change` = that per-image margin "
            "degraded minus the same image's margin clean (below 0: the model loses more than the reference under the "
            "degradation); 95 % intervals with identities resampled; verdicts above / below / matches 0. References: "
            + "; ".join(f"`{r}`: {REFERENCE_KNOWS[r]}" for r in LADDER) + ".")


def nothing_floors(references: pd.DataFrame, model_sweep: pd.DataFrame, metrics=GAMMA_METRICS) -> dict[str, float]:
    """The γ a predictor of nothing reaches, per metric, relative to the model's clean value: the all-zero map's
    clean value (``zeros`` rows of :func:`reference_sweep`) for the map metrics, chance (0.5) for bACC;
    Fig. 10's floor lines. A metric without such a value is left out."""
    clean = model_sweep[model_sweep["degradation"] == "none"].iloc[0]
    zeros = references[(references["model"] == "zeros") & (references["degradation"] == "none")]
    out = {}
    for m in metrics:
        nothing = CHANCE.get(m, math.nan) if m in CHANCE else (float(zeros[m].iloc[0]) if len(zeros) else math.nan)
        base = float(clean[m])
        if np.isfinite(nothing) and np.isfinite(base) and base != 0:
            out[m] = nothing / base
    return out


def gamma_summary(sweeps: Mapping[str, pd.DataFrame] | pd.DataFrame, harshest: int = 2) -> pd.DataFrame:
    """Per (model, degradation): mean γ of each metric over all levels and over the ``harshest`` last levels."""
    df = pd.concat(list(sweeps.values())) if isinstance(sweeps, Mapping) else sweeps
    df = df[df["degradation"] != "none"]
    rows = []
    for (model, deg), sub in df.groupby(["model", "degradation"], sort=False):
        row = {"model": model, "degradation": deg}
        for m in GAMMA_METRICS:
            row[f"gamma_{m}_mean"] = float(sub[f"gamma_{m}"].mean())
            row[f"gamma_{m}_harsh"] = float(sub[f"gamma_{m}"].iloc[-harshest:].mean())
        rows.append(row)
    return pd.DataFrame(rows)


def predict_maps(model: torch.nn.Module, items, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(images, gt_maps, pred_maps)`` at ``size`` (``N x S x S x 3`` float, ``N x S x S``, ``N x S x S``)."""
    imgs, gts, preds = [], [], []
    for batch, out in predict(model, items, size, device=resolve_device("auto")):
        imgs.append(batch["image"].permute(0, 2, 3, 1).numpy())
        gts.append(batch["gt_map"][:, 0].numpy())
        preds.append(out.map.float().cpu()[:, 0].numpy())
    return np.concatenate(imgs), np.concatenate(gts), np.concatenate(preds)


def disorganization_example(model: torch.nn.Module, item, size: int, perm: Sequence[int] | None = None,
                            seed: int = 0) -> dict:
    """Fig. 9's maps: a fake, its GT and the prediction before and after the quadrant permutation, and
    the disorganized prediction put back in place (inverse permutation). ``perm`` defaults to
    ``random_quadrant_permutation(seed)``. Returns ``perm`` and ``rows``: (label, image, gt, pred)."""
    perm = tuple(perm) if perm is not None else random_quadrant_permutation(seed)
    imgs, gts, preds = predict_maps(model, [item, disorganize_item(item, perm)], size)
    back = permute_quadrants(preds[1], inverse_permutation(perm))
    return {"perm": perm, "rows": [("original", imgs[0], gts[0], preds[0]),
                                   (f"disorganized {''.join(map(str, perm))}", imgs[1], gts[1], preds[1]),
                                   ("put back", None, gts[0], back)]}


# --- what the robustness tables say ---------------------------------------------------------------

def _level(value) -> str:
    return "none" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:g}"


def _flag(metric: str, value: float) -> str:
    return " (at or below chance)" if at_or_below_chance(metric, value) else ""


def degradation_lines(table: pd.DataFrame, model: str = "universal", grid: str = "Fig. 10") -> list[str]:
    """One sentence per degradation axis of a sweep table (:func:`sweep` rows; ``fig10_degradation.csv``):
    pixel AUC and COSS clean -> at the mildest level -> at the harshest, and the decision at the harshest
    level as TPR / TNR with bACC and ACC beside them (a TNR near 0 hides behind an ACC of 0.7 when fakes
    outnumber reals); values at or below chance are flagged."""
    parts, clean = degradation_parts(table, model)
    if not parts:
        return []
    return [f"**{grid}, {model}** ({int(clean.n)} images, {int(clean.n_fake)} fakes): " + "; ".join(parts) + "."]


def degradation_parts(table: pd.DataFrame, model: str = "universal") -> tuple[list[str], pd.Series | None]:
    """The per-axis sentences of :func:`degradation_lines` and the clean row."""
    t = table[table["model"] == model]
    if t.empty:
        return [], None
    clean = t[t["degradation"] == "none"].iloc[0]
    lines = []
    for deg, sub in t[t["degradation"] != "none"].groupby("degradation", sort=False):
        mild, harsh = sub.iloc[0], sub.iloc[-1]
        worst = sub.loc[sub["tnr"].idxmin()] if sub["tnr"].notna().any() else harsh
        name = DEGRADATION_LABELS_TEXT.get(deg, deg)
        lines.append(
            f"{name}: pixel AUC {clean.auc:.3f} clean → {mild.auc:.3f}{_flag('auc', mild.auc)} at {_level(mild.level)} → "
            f"{harsh.auc:.3f}{_flag('auc', harsh.auc)} at {_level(harsh.level)}; COSS {clean.coss:.3f} → {harsh.coss:.3f}; "
            f"at {_level(harsh.level)} TPR {harsh.tpr:.3f}, TNR {harsh.tnr:.3f} (bACC {harsh.bacc:.3f}"
            f"{_flag('bacc', harsh.bacc)}, ACC {harsh.acc:.3f}; clean TNR {clean.tnr:.3f})"
            + (f"; lowest TNR {worst.tnr:.3f} at {_level(worst.level)} while ACC reads {worst.acc:.3f}"
               if worst.name != harsh.name else ""))
    return lines, clean


#: Readable names of the degradation axes in sentences.
DEGRADATION_LABELS_TEXT = {"jpeg": "JPEG (quality)", "blur": "blur (kernel)", "noise": "noise (variance)",
                           "lowres": "low resolution (factor)"}


def disorganization_lines(table8: pd.DataFrame, model: str = "universal", versus: pd.DataFrame | None = None) -> list[str]:
    """Fig. 8 in a sentence from its table (``fig8_disorganization.csv``): γ of bACC, COSS and SSIM with their
    intervals and the location references' γ COSS; the verdict comes from ``versus``
    (:func:`disorganization_versus`: the model's COSS after the permutation against the layout prior's and a
    constant map's on the same images) -- a γ near 1 alone proves nothing, since a constant map keeps γ = 1."""
    g = table8.set_index(["model", "metric"])
    if (model, "coss") not in g.index:
        return []

    def cell(name, m):
        if (name, m) not in g.index:
            return "–"
        r = g.loc[(name, m)]
        return f"{r.gamma:.3f} [{r.gamma_lo:.3f}, {r.gamma_hi:.3f}]" if "gamma_lo" in r and np.isfinite(r.gamma_lo) \
            else f"{r.gamma:.3f}"

    text = (f"**Disorganization (Fig. 8), {model}**: γ bACC {cell(model, 'bacc')}, COSS {cell(model, 'coss')}, "
            f"SSIM {cell(model, 'ssim')}")
    refs = [n for n in dict.fromkeys(table8["model"]) if str(n).endswith("(reference)") and (n, "coss") in g.index]
    if refs:
        text += "; references γ COSS " + ", ".join(f"{n.removesuffix(' (reference)')} {cell(n, 'coss')}" for n in refs)
    if versus is not None and len(versus):
        v = versus[versus["model"] == model].set_index("rival")
        after = g.loc[(model, "coss"), "after"]
        parts = [f"{r} {d:+.3f} [{lo:+.3f}, {hi:+.3f}]" for r, d, lo, hi in
                 zip(v.index, v["diff"], v["diff_lo"], v["diff_hi"])]
        beats_all = bool(len(v)) and (v["verdict"] == "above").all()
        text += (f". After the permutation the model's COSS is {after:.3f}; paired difference against "
                 + ", ".join(parts) + (": its map follows the moved texture better than a texture-blind layout and a "
                                       "flat map" if beats_all else
                                       ": it does not beat every map that ignores the texture, so the test does not "
                                       "show that the map follows the texture"))
    return [text + "."]


def augmentation_lines(table10: pd.DataFrame, base: str = "universal", other: str = "augmented") -> list[str]:
    """What fine-tuning with degradations changes: its cost on the clean images (pixel AUC, TNR), the lowest TNR it
    reaches on the sweep, and at each axis's harshest level bACC and pixel AUC."""
    a, b = table10[table10["model"] == base], table10[table10["model"] == other]
    if a.empty or b.empty:
        return []
    parts = []
    ca, cb = a[a["degradation"] == "none"], b[b["degradation"] == "none"]
    if len(ca) and len(cb):
        ca, cb = ca.iloc[0], cb.iloc[0]
        clean = f"clean: pixel AUC {ca.auc:.3f} → {cb.auc:.3f}, TNR {ca.tnr:.3f} → {cb.tnr:.3f}"
        degraded = b[b["degradation"] != "none"]
        if degraded["tnr"].notna().any():
            worst = degraded.loc[degraded["tnr"].idxmin()]
            clean += (f" (its lowest TNR on the sweep: {worst.tnr:.3f} at "
                      f"{DEGRADATION_LABELS_TEXT.get(worst.degradation, worst.degradation)} {_level(worst.level)})")
        parts.append(clean)
    for deg in dict.fromkeys(a.loc[a["degradation"] != "none", "degradation"]):
        x, y = a[a["degradation"] == deg].iloc[-1], b[b["degradation"] == deg]
        if y.empty:
            continue
        y = y.iloc[-1]
        parts.append(f"{deg} {_level(x.level)}: bACC {x.bacc:.3f} → {y.bacc:.3f}, pixel AUC {x.auc:.3f} → {y.auc:.3f}")
    return [f"**Augmentation** ({base} → {other}; the clean cost first, then the harshest level of each axis): "
            + "; ".join(parts) + "."] if parts else []


def robustness_verdict(table8: pd.DataFrame | None, table10: pd.DataFrame | None,
                       table_imdl: pd.DataFrame | None = None, versus8: pd.DataFrame | None = None,
                       table10_gan: pd.DataFrame | None = None, gan_set: str = "a real GAN's JPEG set") -> list[str]:
    """The robustness verdict in sentences, computed from the robustness tables (notebook 05 and
    ``results/README.md`` print the same lines): Fig. 8 with its paired comparison ``versus8``
    (:func:`disorganization_versus`, ``fig8_versus.csv``), Fig. 10 on STGAN, on a real GAN's JPEG set
    (``table10_gan``, of set ``gan_set``) and on IMDL-BenCo's grid."""
    lines = []
    if table8 is not None:
        lines += disorganization_lines(table8, versus=versus8)
    if table10 is not None:
        lines += degradation_lines(table10) + augmentation_lines(table10)
    if table10_gan is not None:
        lines += degradation_lines(table10_gan, "universal", f"Fig. 10 on {gan_set}")
    if table_imdl is not None:
        for model in dict.fromkeys(table_imdl["model"]):
            lines += degradation_lines(table_imdl, model, "IMDL-BenCo grid")
    return lines


def psnr_floor_sentence(references: pd.DataFrame, sweeps: pd.DataFrame, model: str = "universal") -> str:
    """Notebook 05's scale for Fig. 10's PSNR: what the all-zero map scores on the undegraded fakes against the
    model, and the γ PSNR a model that predicts nothing would keep (a γ near it shows nothing)."""
    z = references[(references["model"] == "zeros") & (references["degradation"] == "none")].iloc[0]
    u = sweeps[(sweeps["model"] == model) & (sweeps["degradation"] == "none")].iloc[0]
    return (f"For scale: the all-zero map alone scores PSNR {z.psnr:.2f} dB and SSIM {z.ssim:.3f} on these fakes (the "
            f"{model} model, undegraded: {u.psnr:.2f} dB / {u.ssim:.3f}"
            + (", no better than predicting nothing" if u.psnr <= z.psnr else "")
            + f"), so a model that predicts nothing keeps γ PSNR {z.psnr / u.psnr:.2f}: read γ PSNR against that floor "
            "(the grey dotted line in Fig. 10's PSNR row).")


def sweep_note_extra(set_words: str, grid: str = "paper") -> str:
    """The sentences of a degradation sweep's table note beyond :func:`fklib.report.setting_note` (whose counts
    the notebook passes from the sweep's own items): what was degraded and how, the reference rows, the γ columns."""
    levels = ("at the levels of fklib.degrade.PAPER_AXES (the paper gives none)" if grid == "paper" else
              "on IMDL-BenCo's grid (fklib.degrade.IMDL_AXES: JPEG 100-50, blur 3-23, noise variance 3-23)")
    return (f"The paper degraded 1,000 fakes; we degrade a fixed sample of {set_words} and its test reals alike (ACC "
            f"needs both), {levels}, ground truth unchanged. `augmented`: the universal model fine-tuned with random "
            "degradations (beyond the paper). γ columns = metric / metric of the `none` row. Reference rows (model = "
            "zeros, global_mean, property_mean, layout_prior; fitted on the universal model's training fakes) through "
            "the same degradations: " + "; ".join(f"`{r}`: {REFERENCE_KNOWS[r]}" for r in LADDER) + "; bacc = (tpr + "
            "tnr) / 2; the figure plots γ of bACC for the paper's ACC and γ of pixel AUC (auc / auc of the `none` "
            "row), with the layout prior under the same degradation beside the model.")
