"""Robustness (paper §5.2 RQ5, Figs. 8-10) and the upsampling-family study, per profile.

The experiment functions of ``notebooks/05_robustness.ipynb`` and
``notebooks/07_upsampling_study.ipynb``; the mechanics (degradations, quadrant permutation, γ,
the upsampling generators and spectra) live in :mod:`fklib.degrade` and :mod:`fklib.upsampling`.

**05 — robustness of the universal model** (``profile`` as in :mod:`fklib.reproduce`):

- :func:`robustness_items`: a fixed, seeded, property-stratified subsample of the STGAN test
  split (every test real, :data:`SWEEP_FAKES_PER_PROPERTY` fakes per property) for the
  degradation sweeps; the disorganization test uses :data:`DISORGANIZATION_FAKES_PER_PROPERTY`.
- :func:`augmented_config` / :func:`ensure_augmented`: the universal model **fine-tuned** with
  random degradations (``degrade_augment``, beyond the paper): it starts from the universal
  model's ``best.pt`` (``TrainConfig.init_from``) and trains :data:`AUGMENT` epochs more at a
  fifth of the profile's learning rate. Fine-tuning instead of training from scratch keeps the
  comparison about augmentation (same start, same data) and fits the CPU budget.
- :func:`disorganization` (Fig. 8), :func:`fig9_figure`, :func:`sweep` / :func:`fig10_figure`
  (Fig. 10), :func:`sweep_axes` (the paper's grid, :data:`fklib.degrade.PAPER_AXES`, or
  IMDL-BenCo's, :data:`fklib.degrade.IMDL_AXES`; fewer levels in ``smoke``).

**07 — upsampling families (beyond the paper)**: :func:`family_sets` builds partial fakes with
*our* small generators, one per upsampling family (:mod:`fklib.upsampling`; they are not the
paper's GANs); :func:`upsampling_configs` / :func:`upsampling_study` train one locator per
family (:data:`FAMILY_LOCATOR`, :data:`FAMILY_FACES`) and test it on every family;
:func:`upsampling_figure` draws the family x family heatmaps; :func:`spectra` gives the mean
FFT log-magnitude of (fake - real) per real GAN and per family.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
import torch

from . import paths
from .degrade import (GAMMA_METRICS, IMDL_AXES, PAPER_AXES, disorganization_test, disorganize_item,
                      random_quadrant_permutation, robustness_sweep, summarize_disorganization)
from .train import TrainConfig, load_checkpoint, model_from_checkpoint, resolve_device, train

PROFILES = ("smoke", "cpu", "paper")
#: Readable metric names of the figures.
METRIC_LABELS = {"acc": "ACC", "coss": "COSS", "psnr": "PSNR", "ssim": "SSIM"}
#: Readable degradation names and the quantity on the x axis (paper §5.2 RQ5).
DEGRADATION_LABELS = {"jpeg": ("JPEG compression", "quality"), "blur": ("Blur", "Gaussian kernel size"),
                      "noise": ("Noise", "variance (0-255 units)"), "lowres": ("Low resolution", "side reduction")}

# --------------------------------------------------------------------------------------------
# 05: items, models, experiments

#: STGAN test fakes per property in the degradation sweeps (``None``: all; with every test real).
#: cpu: 8 x 13 = 104 fakes + 47 reals = 151 images, 25 passes each of the two models (the paper
#: degraded 1,000 fakes).
SWEEP_FAKES_PER_PROPERTY = {"smoke": 1, "cpu": 8, "paper": None}
#: STGAN test fakes per property in the disorganization test (2 passes per model: cheap).
DISORGANIZATION_FAKES_PER_PROPERTY = {"smoke": 1, "cpu": None, "paper": None}
#: Test reals kept (``None``: all 47 of the STGAN test split).
MAX_REALS = {"smoke": 3, "cpu": None, "paper": None}
#: Fine-tuning of the augmented model: epochs and the factor on the profile's learning rate.
AUGMENT = {"smoke": {"epochs": 1, "lr_factor": 0.2}, "cpu": {"epochs": 3, "lr_factor": 0.2},
           "paper": {"epochs": 3, "lr_factor": 0.2}}
#: The models notebook 05 sweeps over IMDL-BenCo's grid by default (its ``imdl`` parameter: ``None``
#: this default, ``True`` both models, ``False`` none). cpu: the universal model only (about 50 s).
IMDL_MODELS = {"smoke": (), "cpu": ("universal",), "paper": ("universal", "augmented")}


def _check_profile(profile: str) -> None:
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; expected one of {PROFILES}")


def stratified_items(items, fakes_per_property: int | None, max_reals: int | None = None, seed: int = 0) -> list:
    """A seeded subsample: ``fakes_per_property`` fakes of every property and ``max_reals`` reals.

    ``None`` keeps all of that kind. The choice within a property is a seeded random draw
    (:func:`numpy.random.default_rng`); the kept items stay in their original order.
    """
    items = list(items)
    rng = np.random.default_rng(seed)
    groups: dict[str, list[int]] = {}
    for i, it in enumerate(items):
        groups.setdefault("Real" if it.label == 0 else it.property, []).append(i)
    keep: list[int] = []
    for key in sorted(groups):
        idx = groups[key]
        cap = max_reals if key == "Real" else fakes_per_property
        if cap is not None and len(idx) > cap:
            idx = sorted(rng.choice(idx, cap, replace=False).tolist())
        keep += idx
    return [items[i] for i in sorted(keep)]


def robustness_items(profile: str, purpose: str = "sweep", set_name: str = "stgan", split: str = "test",
                     seed: int = 0) -> list:
    """The fixed STGAN test subsample of notebook 05 (``purpose``: ``sweep`` or ``disorganization``).

    Every property gets the same number of fakes (:data:`SWEEP_FAKES_PER_PROPERTY` or
    :data:`DISORGANIZATION_FAKES_PER_PROPERTY`), drawn with ``seed``; reals: :data:`MAX_REALS`.
    """
    from .data import load_set

    _check_profile(profile)
    per = {"sweep": SWEEP_FAKES_PER_PROPERTY, "disorganization": DISORGANIZATION_FAKES_PER_PROPERTY}
    if purpose not in per:
        raise ValueError(f"purpose must be 'sweep' or 'disorganization', got {purpose!r}")
    return stratified_items(load_set(set_name, split=split), per[purpose][profile], MAX_REALS[profile], seed)


def sweep_axes(profile: str, grid: str = "paper") -> dict[str, tuple]:
    """Degradation levels: ``grid="paper"`` (:data:`~fklib.degrade.PAPER_AXES`) or ``"imdl"``
    (:data:`~fklib.degrade.IMDL_AXES`); ``smoke`` keeps the harshest level only."""
    _check_profile(profile)
    axes = {"paper": PAPER_AXES, "imdl": IMDL_AXES}.get(grid)
    if axes is None:
        raise ValueError(f"grid must be 'paper' or 'imdl', got {grid!r}")
    if profile == "smoke":
        return {k: (v[-1],) for k, v in axes.items()}
    return dict(axes)


def augmented_config(profile: str) -> TrainConfig:
    """The universal model of ``profile`` fine-tuned with random degradations (beyond the paper).

    The universal config (:func:`fklib.reproduce.universal_config`) with ``degrade_augment=True``
    (:class:`fklib.degrade.RandomDegradation`: p = 0.5, one of JPEG / blur / noise / low
    resolution at a level of the paper grid; GT maps unchanged), ``init_from`` = the universal
    run (its ``best.pt``), :data:`AUGMENT` epochs (cpu: 3) at ``lr_factor`` (0.2) times the
    profile's learning rate, same schedule, data, losses and heads; named ``<profile>_degrade_aug``.
    """
    from .reproduce import universal_config

    _check_profile(profile)
    base = universal_config(profile)
    aug = AUGMENT[profile]
    return dataclasses.replace(base, name=f"{base.name}_degrade_aug", degrade_augment=True, init_from=base.name,
                               epochs=aug["epochs"], lr=base.lr * aug["lr_factor"], warmup=0)


def ensure_augmented(profile: str, retrain: bool = False, log=print) -> Path:
    """``best.pt`` of :func:`augmented_config`, trained by :func:`fklib.reproduce.ensure_trained`.

    The universal model is ensured first; a finished augmented run is reused only when it
    started from the universal ``best.pt`` as it is now (``init_sha256`` of its checkpoint).
    """
    from .data.fetching import sha256_file
    from .reproduce import ensure_trained, universal_config

    log = log or (lambda *_: None)
    universal = ensure_trained(universal_config(profile), log=log)
    cfg = augmented_config(profile)
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


def load_model(checkpoint: str | Path) -> tuple[torch.nn.Module, TrainConfig]:
    """The model (eval mode; a prior-blend checkpoint comes wrapped in :class:`fklib.models.PriorBlend`) and its config."""
    model, cfg, _ = model_from_checkpoint(checkpoint)
    return model, cfg


def _models(checkpoints: Mapping[str, str | Path]) -> dict[str, tuple[torch.nn.Module, TrainConfig]]:
    return {name: load_model(ck) for name, ck in checkpoints.items()}


def disorganization(checkpoints: Mapping[str, str | Path], items, seed: int = 0, raw_maps: bool = True,
                    batch_size: int = 64) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fig. 8: every model on ``items`` before and after the quadrant permutation of image and GT.

    Item ``i`` gets permutation ``random_quadrant_permutation(seed + i)`` (never the identity;
    :func:`fklib.degrade.disorganization_test`). With ``raw_maps``, a model whose checkpoint
    blends its map with per-property prior maps (``PriorBlend``: where edits usually are, a
    location memory) is also tested without the blend, as ``<name> (no prior blend)``.

    Returns:
        ``(per_image, table)``: the per-image rows of :func:`~fklib.degrade.disorganization_test`
        with a ``model`` column, and one row per (model, metric) with ``before``, ``after``,
        ``gamma`` (= after / before of the means, :func:`~fklib.degrade.summarize_disorganization`),
        ``n`` (images) and ``n_fake``.
    """
    from .models import PriorBlend

    device = resolve_device("auto")
    frames, rows = [], []
    for name, (model, cfg) in _models(checkpoints).items():
        variants = [(name, model)]
        if raw_maps and isinstance(model, PriorBlend):
            variants.append((f"{name} (no prior blend)", model.model))
        for label, m in variants:
            df = disorganization_test(m, items, cfg.size, seed=seed, device=device, batch_size=batch_size)
            frames.append(df.assign(model=label))
            s = summarize_disorganization(df)
            for metric in GAMMA_METRICS:
                rows.append({"model": label, "metric": metric, "n": len(df), "n_fake": int(df["label"].sum()),
                             "before": s["before"][metric], "after": s["after"][metric],
                             "gamma": s["gamma"][metric]})
    return pd.concat(frames, ignore_index=True), pd.DataFrame(rows)


def sweep(checkpoint: str | Path, items, axes: Mapping[str, Sequence] | None = None, model_name: str | None = None,
          seed: int = 0, batch_size: int = 64, log=None) -> pd.DataFrame:
    """Fig. 10: :func:`fklib.degrade.robustness_sweep` of one checkpoint (reals degraded too, GT kept).

    Returns the sweep's rows (first ``none``) with a leading ``model`` column (``model_name``,
    default the run name).
    """
    model, cfg = load_model(checkpoint)
    df = robustness_sweep(model, items, cfg.size, axes=axes, device=resolve_device("auto"), batch_size=batch_size,
                          seed=seed, log=log)
    df.insert(0, "model", model_name or cfg.name)
    return df


def predict_maps(model: torch.nn.Module, items, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(images, gt_maps, pred_maps)`` at ``size`` (``N x S x S x 3`` float, ``N x S x S``, ``N x S x S``)."""
    from .evaluate import predict

    imgs, gts, preds = [], [], []
    for _, img, gt, pred, _ in predict(model, items, size, device=resolve_device("auto")):
        imgs.append(img.permute(0, 2, 3, 1).numpy())
        gts.append(gt[:, 0].numpy())
        preds.append(pred[:, 0].numpy())
    return np.concatenate(imgs), np.concatenate(gts), np.concatenate(preds)


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def fig8_figure(table: pd.DataFrame):
    """Paper Fig. 8: γ (after / before disorganization) of ACC, COSS, PSNR, SSIM, one bar group per
    metric and one bar per model of :func:`disorganization`'s table. Returns the figure."""
    plt = _plt()
    models = list(dict.fromkeys(table["model"]))
    metrics = [m for m in GAMMA_METRICS if m in set(table["metric"])]
    fig, ax = plt.subplots(figsize=(1.2 + 1.3 * len(metrics) + 0.25 * len(models) * len(metrics), 3.0))
    width = 0.8 / max(len(models), 1)
    x = np.arange(len(metrics))
    for k, name in enumerate(models):
        sub = table[table["model"] == name].set_index("metric")
        vals = [float(sub.loc[m, "gamma"]) if m in sub.index else math.nan for m in metrics]
        bars = ax.bar(x + (k - (len(models) - 1) / 2) * width, vals, width, label=name)
        for b, v in zip(bars, vals):
            if np.isfinite(v):
                ax.annotate(f"{v:.2f}", (b.get_x() + b.get_width() / 2, v), ha="center", va="bottom", fontsize=6)
    ax.axhline(1.0, color="k", lw=0.6, ls=":")
    ax.set_xticks(x, [METRIC_LABELS.get(m, m) for m in metrics])
    top = np.nanmax(table["gamma"].to_numpy(float)) if len(table) else 1.0
    ax.set_ylim(0, max(1.15, top * 1.12 if np.isfinite(top) else 1.15))
    ax.set_ylabel("γ = after / before")
    ax.set_title("Disorganization test: four permuted quadrants", fontsize=9)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig


def fig9_figure(model: torch.nn.Module, item, size: int, perm: Sequence[int] | None = None, seed: int = 0,
                title: str = ""):
    """Paper Fig. 9: a fake, its GT and the prediction, before and after the quadrant permutation.

    Rows: original; disorganized; the disorganized prediction put back in place (inverse
    permutation), to compare with the first row. ``perm`` defaults to
    ``random_quadrant_permutation(seed)``. Returns the figure.
    """
    from .degrade import inverse_permutation, permute_quadrants

    plt = _plt()
    perm = tuple(perm) if perm is not None else random_quadrant_permutation(seed)
    shuffled = disorganize_item(item, perm)
    imgs, gts, preds = predict_maps(model, [item, shuffled], size)
    back = permute_quadrants(preds[1], inverse_permutation(perm))
    rows = [("original", imgs[0], gts[0], preds[0]),
            (f"disorganized {''.join(map(str, perm))}", imgs[1], gts[1], preds[1]),
            ("put back", None, gts[0], back)]
    fig, axes = plt.subplots(3, 3, figsize=(5.2, 5.4))
    for r, (label, img, gt, pred) in enumerate(rows):
        panels = ((img, None, "input"), (gt, "gray", "ground truth"), (pred, "jet", "prediction"))
        for c, (arr, cmap, name) in enumerate(panels):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            if arr is None:
                ax.axis("off")
                continue
            ax.imshow(arr, cmap=cmap, vmin=0 if cmap else None, vmax=1 if cmap else None, interpolation="nearest")
            if r == 0:
                ax.set_title(name, fontsize=8)
        axes[r, 0].set_ylabel(label, fontsize=8)
        if rows[r][1] is None:
            axes[r, 0].text(0.5, 0.5, label, ha="center", va="center", fontsize=8, transform=axes[r, 0].transAxes)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def _level_label(level) -> str:
    if level is None or (isinstance(level, float) and math.isnan(level)):
        return "none"
    return f"{level:g}" if isinstance(level, (int, float, np.integer, np.floating)) else str(level)


def fig10_figure(sweeps: Mapping[str, pd.DataFrame], metrics: Sequence[str] = GAMMA_METRICS, title: str = ""):
    """Paper Fig. 10: γ of ACC, COSS, PSNR and SSIM against the level, one panel per degradation.

    ``sweeps``: model name -> :func:`sweep` frame. Colours are metrics; the first model is drawn
    solid, the second dashed (then dotted, dash-dotted). The x axis is the list of levels in the
    sweep's order (mild to harsh) after the undegraded point ``none`` (γ = 1). Returns the figure.
    """
    plt = _plt()
    names = list(sweeps)
    if not names:
        raise ValueError("fig10_figure: no sweeps")
    degs = list(dict.fromkeys(d for df in sweeps.values() for d in df["degradation"] if d != "none"))
    styles = ["-", "--", ":", "-."]
    colours = dict(zip(GAMMA_METRICS, ["tab:blue", "tab:orange", "tab:green", "tab:red"]))
    ncols = min(len(degs), 4) or 1
    nrows = math.ceil(len(degs) / ncols) if degs else 1
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.1 * ncols, 2.7 * nrows + 0.5), squeeze=False)
    for ax in axes.flat[len(degs):]:
        ax.axis("off")
    for ax, deg in zip(axes.flat, degs):
        ticks = None
        for k, name in enumerate(names):
            df = sweeps[name]
            none = df[df["degradation"] == "none"]
            sub = df[df["degradation"] == deg]
            if sub.empty:
                continue
            levels = ["none"] + [_level_label(lv) for lv in sub["level"]]
            ticks = ticks or levels
            x = np.arange(len(levels))
            for m in metrics:
                y = np.concatenate([none[f"gamma_{m}"].to_numpy(float)[:1], sub[f"gamma_{m}"].to_numpy(float)])
                ax.plot(x, y, styles[k % len(styles)], color=colours.get(m), marker="o", ms=2.5, lw=1.2,
                        label=f"{METRIC_LABELS.get(m, m)} · {name}")
        if ticks:
            ax.set_xticks(np.arange(len(ticks)), ticks, fontsize=7)
        label, xlabel = DEGRADATION_LABELS.get(deg, (deg, "level"))
        ax.set_title(label, fontsize=9)
        ax.set_xlabel(xlabel, fontsize=8)
        ax.axhline(1.0, color="k", lw=0.5, ls=":")
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("γ = degraded / clean", fontsize=8)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 4), fontsize=7, frameon=False)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout(rect=(0, 0.06 + 0.05 * math.ceil(len(labels) / 4) / nrows, 1, 1))
    return fig


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


# --------------------------------------------------------------------------------------------
# 07: upsampling families

#: Epochs of the family generators (:func:`fklib.upsampling.train_generator`, 500 faces, 128 px)
#: and their width. cpu: 4 epochs (about 30 s per family on 2 cores; reconstruction L1 about
#: 0.07, 0.06 after 8); smoke leaves quarter-width generators untrained (0 epochs: it only
#: proves the notebook runs; one epoch of five generators takes about a minute).
GENERATOR = {"smoke": {"epochs": 0, "base": 4}, "cpu": {"epochs": 4, "base": 16}, "paper": {"epochs": 8, "base": 16}}
#: Faces per split of the family study (each gives a real and up to three partial fakes:
#: hair, mouth, eyes); ``None``: the whole split of :func:`fklib.upsampling.face_split`
#: (700 / 100 / 200 faces).
FAMILY_FACES = {"smoke": {"train": 4, "val": 2, "test": 2},
                "cpu": {"train": 80, "val": 24, "test": 40},
                "paper": {"train": None, "val": None, "test": None}}
#: The locator trained per family, always at the faces' native 128 px (a resize would add its
#: own interpolation texture). cpu: the EfficientNet-Lite0 U-Net (ImageNet-pretrained encoder),
#: batch 8, 4 epochs (160 steps, about 50 s per family on 2 cores; on a trial, batch 16
#: for 3 epochs learned less, a from-scratch small U-Net for 10 epochs nothing, and fine-tuning
#: the universal STGAN model kept predicting its hair prior); smoke: a tiny U-Net; paper: the
#: paper's DeepLabV3-ResNet101 and its optimiser on every face.
FAMILY_LOCATOR = {
    "smoke": dict(model="unet_small", model_kwargs={"base": 8}, epochs=1, batch_size=8),
    "cpu": dict(model="efficientnet_lite0_unet", model_kwargs={}, epochs=4, batch_size=8, lr=1e-3,
                schedule="cosine", loss="l2+ssim"),
    "paper": dict(model="deeplabv3_resnet101", model_kwargs={}, epochs=10, batch_size=8),
}
FAMILY_SIZE = 128


def _generator_dirs(profile: str) -> tuple[Path, Path | None]:
    """(generator weights, redraw cache) folders: smoke keeps both under its own checkpoints folder."""
    if profile == "smoke":
        root = paths.checkpoints_dir() / "upsampling_smoke"
        return root, root / "cache"
    return paths.checkpoints_dir() / "upsampling", None


def _first_faces(items, n: int | None) -> list:
    """The items of the first ``n`` identities (in order of appearance); all when ``n`` is None."""
    if n is None:
        return list(items)
    keep: list[str] = []
    for it in items:
        if it.identity not in keep:
            if len(keep) == n:
                continue
            keep.append(it.identity)
    keep_set = set(keep)
    return [it for it in items if it.identity in keep_set]


def family_sets(profile: str, families: Sequence[str] | None = None, regions: Sequence[str] | None = None,
                splits: Sequence[str] = ("train", "val", "test"), log=print) -> dict[str, dict[str, list]]:
    """``{family: {split: [Item]}}`` of the study: :func:`fklib.upsampling.build_family_sets` with the
    profile's generators (:data:`GENERATOR`) and :data:`FAMILY_FACES` faces per split.

    ``regions`` default to hair, mouth and eyes (partial fakes); ``("whole",)`` gives the full
    redraws (for spectra). Generators are cached in ``<checkpoints>/upsampling`` (smoke: its own folder).
    """
    from .upsampling import FAMILIES, REGIONS, build_family_sets

    _check_profile(profile)
    families = tuple(families or FAMILIES)
    regions = tuple(regions or REGIONS)
    counts = FAMILY_FACES[profile]
    caps = [counts[s] for s in splits]
    max_faces = None if any(c is None for c in caps) else max(caps)
    gen_dir, cache_dir = _generator_dirs(profile)
    sets = build_family_sets(families, regions, splits, epochs=GENERATOR[profile]["epochs"], size=FAMILY_SIZE,
                             base=GENERATOR[profile]["base"], max_faces=max_faces, checkpoint_dir=gen_dir,
                             cache_dir=cache_dir, log=log)
    return {f: {s: _first_faces(v, counts[s]) for s, v in per.items()} for f, per in sets.items()}


def upsampling_configs(profile: str, families: Sequence[str] | None = None) -> dict[str, TrainConfig]:
    """One locator config per family: the profile's settings with :data:`FAMILY_LOCATOR`, 128 px,
    classifier (balanced), no property head / prior blend / attention / reconstructions;
    named ``<profile>_up_<family>``. Train with :func:`ensure_trained_on` and the family's items."""
    from .train import make_config
    from .upsampling import FAMILIES

    _check_profile(profile)
    over = dict(size=FAMILY_SIZE, sets=[], properties=None, classifier=True, cls_weight=1.0, balance_classes=True,
                property_weight=0.0, prior_blend=False, include_reconstruction=False, attention=False,
                degrade_augment=False, init_from=None, max_items=None, val_max_items=None)
    over.update(FAMILY_LOCATOR[profile])
    return {f: make_config(profile, overrides={**over, "name": f"{profile}_up_{f}"}) for f in (families or FAMILIES)}


def items_fingerprint(items) -> str:
    """SHA-256 (16 hex digits) over the items' metadata, images and references (identifies a data set)."""
    h = hashlib.sha256()
    for it in items:
        h.update(json.dumps(it.meta(), sort_keys=True).encode())
        for arr in (it.image, it.reference):
            if arr is not None:
                a = np.ascontiguousarray(arr)
                h.update(f"{a.shape}{a.dtype}".encode())
                h.update(a.tobytes())
    return h.hexdigest()[:16]


def ensure_trained_on(cfg: TrainConfig, train_items, val_items, retrain: bool = False, log=print) -> Path:
    """Like :func:`fklib.reproduce.ensure_trained` for data passed as items (``train(..., train_items=, val_items=)``).

    A finished run is reused when its config matches and ``<run>/items.json`` holds the same
    :func:`items_fingerprint` of the training and validation items; otherwise it is trained.
    """
    from .reproduce import _same_config

    log = log or (lambda *_: None)
    fp = {"train": items_fingerprint(train_items), "val": items_fingerprint(val_items),
          "n_train": len(train_items), "n_val": len(val_items)}
    folder = cfg.checkpoint_dir()
    best, sidecar = folder / "best.pt", folder / "items.json"
    if best.is_file() and sidecar.is_file() and not retrain:
        ckpt = load_checkpoint(best)
        if ("train_wall_seconds" in ckpt and _same_config(json.loads(ckpt["config"]), cfg)
                and json.loads(sidecar.read_text()) == fp):
            log(f"{cfg.name}: reusing {best} (same config and items)")
            return best
    log(f"{cfg.name}: training {cfg.model}, {cfg.epochs} epochs at {cfg.size} px on {len(train_items)} items ...")
    sidecar.unlink(missing_ok=True)
    res = train(cfg, progress=False, log=lambda *_: None, train_items=train_items, val_items=val_items)
    folder.mkdir(parents=True, exist_ok=True)
    sidecar.write_text(json.dumps(fp))
    return Path(res["best"])


MAP_METRICS = ("coss", "psnr", "ssim", "mae", "auc", "f1", "iou")


@torch.no_grad()
def score_items(model: torch.nn.Module, items, size: int, batch_size: int = 64, tau: float = 0.1) -> pd.DataFrame:
    """Per-image rows (metadata, ``prob``, ``pred_fake``, ``coss``, ``psnr``, ``ssim``, ``mae``, ``auc``, ``f1``,
    ``iou``) of a model with a classifier, as :mod:`fklib.evaluate` computes them (map metrics NaN for reals)."""
    from .evaluate import map_metrics, predict

    items = list(items)
    rows: list[dict] = [{**it.meta(), **{k: math.nan for k in MAP_METRICS}} for it in items]
    for idx, _, gt, pred, logit in predict(model, items, size, batch_size, resolve_device("auto")):
        if logit is None:
            raise ValueError("score_items: the model has no classifier")
        prob = torch.sigmoid(logit.reshape(-1)).numpy()
        idx = idx.tolist()
        fake = [j for j, i in enumerate(idx) if items[i].label == 1]
        mets = map_metrics(pred[fake], gt[fake], tau) if fake else {}
        for j, i in enumerate(idx):
            rows[i]["prob"] = float(prob[j])
            rows[i]["pred_fake"] = float(prob[j] > 0.5)
        for n, j in enumerate(fake):
            rows[idx[j]].update({k: float(v[n]) for k, v in mets.items()})
    return pd.DataFrame(rows)


def reference_scores(train_items, test_items) -> pd.DataFrame:
    """Per-image rows of the input-blind references (:class:`fklib.metrics.ReferenceMaps`: ``zeros``,
    ``global_mean``, ``property_mean`` of the GT maps of ``train_items``' fakes) on ``test_items``
    (columns of :func:`score_items`, ``predictor`` = the kind). They make no detection
    (``prob``, ``pred_fake`` NaN); COSS, PSNR and SSIM on the fakes (the other map metrics NaN,
    to save time). Test and training images must have the same size."""
    from .metrics import ReferenceMaps, coss_batch, psnr_batch, ssim_batch

    train_items = list(train_items)
    ref = ReferenceMaps.fit(np.stack([it.gt_map() for it in train_items]), [it.label for it in train_items],
                            [it.property for it in train_items])
    test_items = list(test_items)
    fakes = [i for i, it in enumerate(test_items) if it.label == 1]
    gt = torch.from_numpy(np.stack([np.asarray(test_items[i].gt_map(), np.float32) for i in fakes]))[:, None] \
        if fakes else None
    rows = []
    for kind in ("zeros", "global_mean", "property_mean"):
        mets = {}
        if fakes:
            pred = torch.from_numpy(np.stack([ref.predict(kind, test_items[i].property, gt.shape[-2:])
                                              for i in fakes]))[:, None]
            mets = {"coss": coss_batch(pred, gt).numpy(), "psnr": psnr_batch(pred, gt).numpy(),
                    "ssim": ssim_batch(pred, gt).numpy()}
        pos = {i: n for n, i in enumerate(fakes)}
        for i, it in enumerate(test_items):
            row = {"predictor": kind, **it.meta(), "prob": math.nan, "pred_fake": math.nan,
                   **{k: math.nan for k in MAP_METRICS}}
            if i in pos:
                row.update({k: float(v[pos[i]]) for k, v in mets.items()})
            rows.append(row)
    return pd.DataFrame(rows)


def cross_family_table(scores: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """``train family -> per-image rows`` (of :func:`score_items`, optionally with :func:`reference_scores`
    rows, told apart by ``predictor``) -> one row per (predictor, train family, test family).

    ``acc``: on the test family's fakes with all test reals (shared by the families);
    ``acc_fake`` / ``acc_real``: the fakes / reals detected correctly (NaN for the references,
    which make no detection); map metrics: means over the test family's fakes.
    """
    rows = []
    for train_family, frame in scores.items():
        if "predictor" not in frame.columns:
            frame = frame.assign(predictor="model")
        for predictor, df in frame.groupby("predictor", sort=False):
            reals = df[df["label"] == 0]
            fams = sorted({g.removeprefix("up_") for g in df.loc[df["label"] == 1, "gan"]}, key=_family_order)
            for test_family in fams:
                fakes = df[(df["label"] == 1) & (df["gan"] == f"up_{test_family}")]
                both = pd.concat([reals, fakes])
                detect = both["pred_fake"].notna().all()
                row = {"predictor": predictor, "train_family": train_family, "test_family": test_family,
                       "n_fake": len(fakes), "n_real": len(reals),
                       "acc": float(((both["pred_fake"] > 0.5) == (both["label"] == 1)).mean()) if detect else math.nan,
                       "acc_fake": float((fakes["pred_fake"] > 0.5).mean()) if detect else math.nan,
                       "acc_real": float((reals["pred_fake"] <= 0.5).mean()) if detect and len(reals) else math.nan}
                for m in ("coss", "psnr", "ssim", "auc", "f1", "iou"):
                    row[m] = float(fakes[m].mean())
                rows.append(row)
    order = {p: i for i, p in enumerate(("model", "zeros", "global_mean", "property_mean"))}
    out = pd.DataFrame(rows)
    if len(out):
        out = out.sort_values("predictor", key=lambda c: c.map(lambda p: order.get(p, len(order))), kind="stable")
    return out.reset_index(drop=True)


def _family_order(family: str) -> int:
    from .upsampling import FAMILIES

    return FAMILIES.index(family) if family in FAMILIES else len(FAMILIES)


def upsampling_study(profile: str, sets: Mapping[str, Mapping[str, list]] | None = None,
                     families: Sequence[str] | None = None, log=print) -> pd.DataFrame:
    """Train one locator per family (:func:`upsampling_configs`) and test each on every family.

    ``sets``: :func:`family_sets` output (built when ``None``). Each model is scored once over
    the test reals and the test fakes of all families (:func:`score_items`); the input-blind
    references of its training fakes (:func:`reference_scores`) are scored on its own family's
    test items only (the families share faces and regions, so they would barely differ); then
    :func:`cross_family_table` makes one row per (predictor, train family, test family), with
    the model's training minutes.
    """
    from .reproduce import training_summary

    sets = sets if sets is not None else family_sets(profile, families, log=log)
    families = tuple(families or sets)
    configs = upsampling_configs(profile, families)
    test = list(sets[families[0]]["test"])
    for f in families[1:]:
        test += [it for it in sets[f]["test"] if it.label == 1]
    scores, minutes = {}, {}
    for f in families:
        ck = ensure_trained_on(configs[f], sets[f]["train"], sets[f]["val"], log=log)
        model, cfg = load_model(ck)
        # references on the own family only (same faces and regions in every family: cheap and enough)
        scores[f] = pd.concat([score_items(model, test, cfg.size).assign(predictor="model"),
                               reference_scores(sets[f]["train"], sets[f]["test"])], ignore_index=True)
        minutes[f] = training_summary(ck)["minutes"]
    table = cross_family_table(scores)
    table.insert(3, "train_minutes", table["train_family"].map(minutes).where(table["predictor"] == "model"))
    return table


def upsampling_figure(table: pd.DataFrame, metrics: Sequence[str] = ("acc", "coss", "psnr", "ssim")):
    """Family x family heatmaps of the locators (rows: trained on, columns: tested on), one per metric, annotated.

    With reference rows (``predictor`` column), the heatmaps show ``model``'s rows and each panel's
    title names the best input-blind reference's mean over the pairs, for scale."""
    plt = _plt()
    refs = None
    if "predictor" in table.columns:
        refs = table[table["predictor"] != "model"]
        table = table[table["predictor"] == "model"]
    rows = list(dict.fromkeys(table["train_family"]))
    cols = list(dict.fromkeys(table["test_family"]))
    fig, axes = plt.subplots(1, len(metrics), figsize=(3.0 * len(metrics), 3.0), squeeze=False)
    for ax, m in zip(axes[0], metrics):
        grid = table.pivot(index="train_family", columns="test_family", values=m).reindex(index=rows, columns=cols)
        vals = grid.to_numpy(float)
        im = ax.imshow(vals, cmap="viridis", aspect="auto")
        for i in range(vals.shape[0]):
            for j in range(vals.shape[1]):
                if np.isfinite(vals[i, j]):
                    lo, hi = np.nanmin(vals), np.nanmax(vals)
                    dark = (vals[i, j] - lo) < 0.5 * (hi - lo) if hi > lo else True
                    ax.text(j, i, f"{vals[i, j]:.{1 if m == 'psnr' else 2}f}", ha="center", va="center",
                            fontsize=6.5, color="w" if dark else "k", fontweight="bold" if i == j else None)
        ax.set_xticks(range(len(cols)), cols, rotation=45, ha="right", fontsize=7)
        ax.set_yticks(range(len(rows)), rows, fontsize=7)
        title = METRIC_LABELS.get(m, m)
        if refs is not None and len(refs) and refs[m].notna().any():
            best = refs.groupby("predictor")[m].mean()
            title += f"\n(best blind reference: {best.idxmax()} {best.max():.{1 if m == 'psnr' else 2}f})"
        ax.set_title(title, fontsize=8)
        ax.set_xlabel("tested on", fontsize=8)
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.03).ax.tick_params(labelsize=6)
    axes[0, 0].set_ylabel("trained on", fontsize=8)
    fig.suptitle("Locator per upsampling family of our generators (not the paper's GANs)", fontsize=9)
    fig.tight_layout()
    return fig


#: Pairs per spectrum (``None``: all test fakes).
SPECTRA_ITEMS = {"smoke": 8, "cpu": 200, "paper": None}
SPECTRA_GANS = ("stgan", "attgan", "stargan")


def spectra(profile: str, family_items: Mapping[str, Sequence] | None = None, gans: Sequence[str] = SPECTRA_GANS,
            laplacian: bool = False, log=print) -> dict[str, np.ndarray]:
    """Mean log |FFT| of Gray(fake - real) (:func:`fklib.upsampling.mean_log_spectrum`) per real GAN and family.

    Real GANs: their test fakes with a real source (partial edits; StarGAN's tiles are 256 px).
    Families: whole redraws of the test faces (``family_items``: ``{family: items}``; built with
    :func:`family_sets` ``regions=("whole",)`` when ``None``) -- partial composites would show
    mostly the shape of the edited region. ``laplacian``: of the residual's Laplacian.
    """
    from .data import load_set
    from .upsampling import WHOLE, mean_log_spectrum

    n = SPECTRA_ITEMS[profile]
    out = {}
    for g in gans:
        items = [it for it in load_set(g, split="test") if it.label == 1 and it.reference is not None]
        if items:
            out[g] = mean_log_spectrum(items, max_items=n, laplacian=laplacian)
    if family_items is None:
        family_items = {f: v["test"] for f, v in family_sets(profile, regions=(WHOLE,), splits=("test",),
                                                               log=log).items()}
    for f, items in family_items.items():
        out[f] = mean_log_spectrum(items, max_items=n, laplacian=laplacian)
    return out


def spectra_panel_figure(plain: Mapping[str, np.ndarray], laplacian: Mapping[str, np.ndarray] | None = None):
    """One figure: a column per GAN / family; row 1 the residual's spectrum, row 2 that of its Laplacian."""
    from .upsampling import spectra_figure

    panels = {f"{k}": v for k, v in plain.items()}
    if laplacian:
        panels.update({f"{k}, Laplacian": v for k, v in laplacian.items()})
    return spectra_figure(panels, ncols=len(plain), panel=2.4)


def spectral_peaks(spectra_: Mapping[str, np.ndarray], periods: Sequence[int] = (2, 4, 8)) -> pd.DataFrame:
    """How far the periodic peaks of a x2 upsampling cascade stand out of a mean log spectrum.

    For a period ``p`` px the peak frequency is ``f = H / p`` cycles per image (the Nyquist
    frequency for ``p = 2``). ``peak_<p>px`` = the mean of the spectrum at the axis positions
    ``(0, ±f)`` and ``(±f, 0)`` from the centre (those inside the array) minus the median of the
    ring of radius ``f ± 1``: a log-magnitude contrast, 0 when there is no peak (ln units; 1 is a
    factor e). Square spectra only (:func:`fklib.upsampling.mean_log_spectrum`).
    """
    rows = []
    for name, s in spectra_.items():
        s = np.asarray(s, dtype=np.float64)
        h, w = s.shape
        if h != w:
            raise ValueError(f"spectral_peaks: {name} spectrum is {h}x{w}, expected square")
        c = h // 2
        yy, xx = np.mgrid[0:h, 0:w]
        rad = np.hypot(yy - c, xx - c)
        row = {"name": name, "size": h}
        for p in periods:
            f = h // p
            pts = [(c, c + f), (c, c - f), (c + f, c), (c - f, c)]
            vals = [s[y, x] for y, x in pts if 0 <= y < h and 0 <= x < w]
            ring = s[np.abs(rad - f) <= 1.0]
            row[f"peak_{p}px"] = float(np.mean(vals) - np.median(ring)) if vals and ring.size else math.nan
        rows.append(row)
    return pd.DataFrame(rows)
