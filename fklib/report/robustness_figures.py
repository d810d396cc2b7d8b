"""Figures of the robustness study (paper Figs. 8-10) and of the upsampling study (heatmaps, spectra)."""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from ..degrade import GAMMA_METRICS
from ..metrics.groups import MODEL
from .figures import _plt, map_colorbar, map_scale, show_map

#: Readable metric names of the figures.
METRIC_LABELS = {"acc": "ACC", "bacc": "bACC", "auc": "pixel AUC", "coss": "COSS", "psnr": "PSNR", "ssim": "SSIM"}
#: Readable degradation names and the quantity on the x axis (paper §5.2 RQ5).
DEGRADATION_LABELS = {"jpeg": ("JPEG compression", "quality"), "blur": ("Blur", "Gaussian kernel size"),
                      "noise": ("Noise", "variance (0-255 units)"), "lowres": ("Low resolution", "side reduction")}


def fig8_figure(table: pd.DataFrame):
    """Paper Fig. 8: γ (after / before disorganization) of bACC (the paper's ACC, balanced), COSS, PSNR, SSIM,
    one bar group per metric and one bar per model or reference of :func:`disorganization`'s table, with the
    95 % interval over identities as an error bar (``gamma_lo`` / ``gamma_hi``). Returns the figure."""
    plt = _plt()
    models = list(dict.fromkeys(table["model"]))
    metrics = [m for m in GAMMA_METRICS if m in set(table["metric"])]
    fig, ax = plt.subplots(figsize=(1.2 + 1.3 * len(metrics) + 0.25 * len(models) * len(metrics), 3.0))
    width = 0.8 / max(len(models), 1)
    x = np.arange(len(metrics))
    for k, name in enumerate(models):
        sub = table[table["model"] == name].set_index("metric")
        vals = [float(sub.loc[m, "gamma"]) if m in sub.index else math.nan for m in metrics]
        v = np.array(vals)
        err, tops = None, v
        if {"gamma_lo", "gamma_hi"} <= set(sub.columns):
            lo = np.array([float(sub.loc[m, "gamma_lo"]) if m in sub.index else math.nan for m in metrics])
            hi = np.array([float(sub.loc[m, "gamma_hi"]) if m in sub.index else math.nan for m in metrics])
            err = np.nan_to_num(np.vstack([v - lo, hi - v]), nan=0.0).clip(0)
            tops = np.fmax(v, hi)
        hatch = "//" if "(reference)" in str(name) else None
        bars = ax.bar(x + (k - (len(models) - 1) / 2) * width, vals, width, label=name, yerr=err, capsize=2,
                      error_kw={"lw": 0.7}, hatch=hatch, edgecolor="white" if hatch else None)
        for b, value, top in zip(bars, v, tops):
            if np.isfinite(value):   # above the error bar's cap, so no whisker crosses the number
                ax.annotate(f"{value:.2f}", (b.get_x() + b.get_width() / 2, top), xytext=(0, 2),
                            textcoords="offset points", ha="center", va="bottom", fontsize=6)
    ax.axhline(1.0, color="k", lw=0.6, ls=":")
    ax.set_xticks(x, [METRIC_LABELS.get(m, m) for m in metrics])
    highest = table["gamma_hi"] if "gamma_hi" in table.columns else table["gamma"]
    top = np.nanmax(np.fmax(table["gamma"].to_numpy(float), highest.to_numpy(float))) if len(table) else 1.0
    ax.set_ylim(0, max(1.15, top * 1.12 if np.isfinite(top) else 1.15))
    ax.set_ylabel("γ = after / before")
    ax.set_title("Disorganization test: four permuted quadrants (bars: 95 % intervals; hatched: location references, "
                 "which make no call, so no bACC)", fontsize=9)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)  # outside: covers no bar
    fig.tight_layout()
    return fig


def fig9_figure(example: dict, title: str = ""):
    """Paper Fig. 9: a fake, its GT and the prediction, before and after the quadrant permutation.

    ``example``: :func:`fklib.studies.robustness.disorganization_example` (rows: original; disorganized;
    the disorganized prediction put back in place). Two rows of input, ground truth and prediction
    (original, disorganized); the put-back prediction sits beside the original prediction, the pair to
    compare (its truth is the original one, not drawn twice). All truths and predictions are compared with
    each other, so they are one group on one scale (:func:`fklib.report.figures.map_scale`) with one colour
    bar as tall as both rows. Returns the figure.
    """
    plt = _plt()
    (label0, img0, gt0, pred0), (label1, img1, gt1, pred1), (_, _, _, back) = example["rows"]
    vmax = map_scale([gt0, gt1], [pred0, pred1, back])
    fig, axes = plt.subplots(2, 4, figsize=(9.4, 5.0))
    fig.delaxes(axes[1, 3])
    for r, (label, img, gt, pred) in enumerate(((label0, img0, gt0, pred0), (label1, img1, gt1, pred1))):
        first = r == 0
        axes[r, 0].imshow(img, interpolation="nearest")
        axes[r, 0].set_xticks([])
        axes[r, 0].set_yticks([])
        axes[r, 0].set_ylabel(label, fontsize=9)
        if first:
            axes[r, 0].set_title("input", fontsize=10)
        show_map(axes[r, 1], gt, vmax, "ground truth" if first else None, 10)
        im = show_map(axes[r, 2], pred, vmax, "prediction" if first else None, 10)
    show_map(axes[0, 3], back, vmax, "disorganized prediction,\nput back in place", 10)
    maps = [axes[0, 1], axes[0, 2], axes[0, 3], axes[1, 1], axes[1, 2]]
    map_colorbar(fig, im, maps, vmax, "99th pct of the truths and predictions shown")
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


def _level_label(level) -> str:
    if level is None or (isinstance(level, float) and math.isnan(level)):
        return "none"
    return f"{level:g}" if isinstance(level, (int, float, np.integer, np.floating)) else str(level)


#: Fig. 10's metrics, one row of panels each: the paper's ACC (balanced), then pixel AUC (the map metric that
#: falls to chance under degradation) and the paper's map metrics.
FIG10_METRICS = ("bacc", "auc", "coss", "psnr", "ssim")
#: The colour of the k-th model of Figs. 10 (line and band).
MODEL_COLOURS = ("tab:blue", "tab:orange", "tab:green", "tab:purple")


def _gamma(df: pd.DataFrame, m: str) -> np.ndarray:
    """γ of ``m`` per row of a sweep frame: its ``gamma_<m>`` column, else ``m`` over the ``none`` row's value
    (the sweep has no γ column of pixel AUC; NaN where that value is 0 or missing, as
    :func:`fklib.degrade.gamma`)."""
    if f"gamma_{m}" in df.columns:
        return df[f"gamma_{m}"].to_numpy(float)
    clean = float(df.loc[df["degradation"] == "none", m].iloc[0])
    values = df[m].to_numpy(float)
    return values / clean if np.isfinite(clean) and clean != 0 else np.full(len(values), math.nan)


#: The reference Fig. 10 draws beside the model under the same degradation, and its words in the legend.
FIG10_REFERENCE = "layout_prior"
FIG10_REFERENCE_LABEL = "layout prior under the same degradation (knows the edited property, re-parses the degraded face)"


def reference_gamma(references: pd.DataFrame, model_sweep: pd.DataFrame, m: str, deg: str,
                    reference: str = FIG10_REFERENCE) -> np.ndarray:
    """``reference``'s value of ``m`` at the clean point and each level of ``deg`` (rows of
    :func:`fklib.studies.robustness.reference_sweep`), over the model's clean value: where the model's γ curve lies
    below this one the model is below that reference under that degradation. NaN where the reference has no value
    (it makes no call: bACC)."""
    ref = references[references["model"] == reference]
    clean = float(model_sweep.loc[model_sweep["degradation"] == "none", m].iloc[0])
    if ref.empty or m not in ref or not np.isfinite(clean) or clean == 0:
        return np.array([])
    rows = pd.concat([ref[ref["degradation"] == "none"].iloc[:1], ref[ref["degradation"] == deg]])
    return rows[m].to_numpy(float) / clean


def fig10_figure(sweeps: Mapping[str, pd.DataFrame], metrics: Sequence[str] = FIG10_METRICS, title: str = "",
                 floors: Mapping[str, float] | None = None, references: pd.DataFrame | None = None):
    """Paper Fig. 10: γ = degraded / clean of bACC (the paper's ACC, balanced), pixel AUC, COSS, PSNR and SSIM
    against the level; one row of panels per metric (a shared y axis per row), one column per degradation
    (the levels of a column shared), so a panel holds one line per model.

    ``sweeps``: model name -> :func:`fklib.studies.robustness.sweep` frame (γ of a metric without a
    ``gamma_<m>`` column, pixel AUC, is its value over the ``none`` row's). Each model has a colour and a
    line style; the first model's 95 % interval over identities is a band (``<m>_lo`` / ``<m>_hi`` over the
    clean value). ``floors``: metric -> the γ a predictor of nothing reaches
    (:func:`fklib.studies.robustness.nothing_floors`: the all-zero map's value, chance for bACC and AUC, over
    the first model's clean value), drawn as a grey dotted line: a curve at its floor has lost everything; a
    row with a floor spans from it to its highest value (a row without one, from 0). ``references``: the reference
    sweep (:func:`fklib.studies.robustness.reference_sweep` rows); the layout prior under the same degradation is
    drawn as a grey dashed line over the first model's clean value (:func:`reference_gamma`), so a model curve below
    it is below the layout prior there. The x axis is the list of levels in the sweep's order (mild to harsh) after
    the undegraded point ``none`` (γ = 1). Returns the figure.
    """
    from matplotlib.lines import Line2D  # lazy: matplotlib (its backend set first, _plt) loads only when a figure is drawn
    from matplotlib.patches import Patch  # lazy: matplotlib (its backend set first, _plt) loads only when a figure is drawn

    plt = _plt()
    names = list(sweeps)
    if not names:
        raise ValueError("fig10_figure: no sweeps")
    degs = list(dict.fromkeys(d for df in sweeps.values() for d in df["degradation"] if d != "none"))
    styles = ["-", "--", ":", "-."]
    nrows, ncols = len(metrics), max(len(degs), 1)
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.6 * ncols + 0.8, 1.7 * nrows + 1.2), squeeze=False,
                             sharex="col", sharey="row")
    for r, m in enumerate(metrics):
        floor = floors.get(m, math.nan) if floors else math.nan
        shown = [1.0, floor]   # every value of the row: its y axis runs from the lowest (the floor) to the highest
        for c, deg in enumerate(degs):
            ax = axes[r, c]
            ticks = None
            for k, name in enumerate(names):
                df = sweeps[name]
                gamma = _gamma(df, m)
                none, sub = df["degradation"] == "none", df["degradation"] == deg
                if not sub.any():
                    continue
                ticks = ticks or ["none"] + [_level_label(lv) for lv in df.loc[sub, "level"]]
                x = np.arange(len(ticks))
                y = np.concatenate([gamma[none.to_numpy()][:1], gamma[sub.to_numpy()]])
                colour = MODEL_COLOURS[k % len(MODEL_COLOURS)]
                ax.plot(x, y, styles[k % len(styles)], color=colour, marker="o", ms=2.5, lw=1.3)
                shown.extend(y)
                if k == 0 and {f"{m}_lo", f"{m}_hi"} <= set(df.columns):
                    clean = float(df.loc[none, m].iloc[0])
                    band = pd.concat([df[none].iloc[:1], df[sub]])
                    if np.isfinite(clean) and clean != 0:
                        lo, hi = band[f"{m}_lo"].to_numpy(float) / clean, band[f"{m}_hi"].to_numpy(float) / clean
                        ax.fill_between(x, lo, hi, color=colour, alpha=0.18, lw=0)
                        shown.extend([*lo, *hi])
            if references is not None and ticks:
                ref = reference_gamma(references, sweeps[names[0]], m, deg)
                if len(ref) == len(ticks) and np.isfinite(ref).any():
                    ax.plot(np.arange(len(ticks)), ref, color="0.45", ls="--", lw=1.1, marker="s", ms=2.2)
                    shown.extend(ref[np.isfinite(ref)])
            if np.isfinite(floor):
                ax.axhline(floor, color="0.35", lw=1.0, ls=(0, (1, 2)))
            ax.axhline(1.0, color="k", lw=0.5, ls=":")
            ax.grid(alpha=0.3)
            ax.tick_params(labelsize=7)
            if ticks:
                ax.set_xticks(np.arange(len(ticks)), ticks)
            if r == 0:
                ax.set_title(DEGRADATION_LABELS.get(deg, (deg, "level"))[0], fontsize=9)
            if r == nrows - 1:
                ax.set_xlabel(DEGRADATION_LABELS.get(deg, (deg, "level"))[1], fontsize=8)
        low, high = np.nanmin(shown), np.nanmax(shown)
        margin = 0.08 * (high - low)
        axes[r, 0].set_ylim(0.0 if not np.isfinite(floor) else max(0.0, low - margin), high + margin)
        axes[r, 0].set_ylabel(f"γ {METRIC_LABELS.get(m, m)}", fontsize=9)
    handles = [Line2D([], [], color=MODEL_COLOURS[k % len(MODEL_COLOURS)], ls=styles[k % len(styles)], marker="o",
                      ms=2.5, label=name) for k, name in enumerate(names)]
    handles.append(Patch(color=MODEL_COLOURS[0], alpha=0.18, label=f"95 % interval of {names[0]}"))
    if references is not None and (references["model"] == FIG10_REFERENCE).any():
        handles.append(Line2D([], [], color="0.45", ls="--", lw=1.1, marker="s", ms=2.2,
                              label=f"{FIG10_REFERENCE_LABEL}, as γ of {names[0]}"))
    if floors:
        handles.append(Line2D([], [], color="0.35", lw=1.0, ls=(0, (1, 2)),
                              label=f"a map of nothing (all-zero map; bACC, AUC: chance 0.5), as γ of {names[0]}"))
    fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 3), fontsize=7.5, frameon=False)
    fig.suptitle((f"{title}\n" if title else "") + "γ = degraded / clean (1: unaffected); bACC stands for the "
                 "paper's ACC; pixel AUC against the ground truth binarised at 0.1", fontsize=9)
    fig.tight_layout(rect=(0, (0.25 + 0.2 * math.ceil(len(handles) / 3)) / fig.get_figheight(), 1, 1))
    return fig


def upsampling_figure(table: pd.DataFrame, metrics: Sequence[str] = ("bacc", "coss", "psnr", "ssim")):
    """Family x family heatmaps of the locators (rows: trained on, columns: tested on), one per metric, annotated.

    With reference rows (``predictor`` column), the heatmaps show ``model``'s rows and each panel's
    title names the best input-blind reference's mean over the pairs, for scale."""
    plt = _plt()
    refs = None
    if "predictor" in table.columns:
        refs = table[table["predictor"] != MODEL]
        table = table[table["predictor"] == MODEL]
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


def spectra_panel_figure(plain: Mapping[str, np.ndarray], laplacian: Mapping[str, np.ndarray] | None = None):
    """One figure: a column per GAN / family; row 1 the residual's spectrum, row 2 that of its Laplacian."""
    panels = {f"{k}": v for k, v in plain.items()}
    if laplacian:
        panels.update({f"{k}, Laplacian": v for k, v in laplacian.items()})
    return spectra_figure(panels, ncols=len(plain), panel=2.4)


def spectra_figure(spectra: Mapping[str, np.ndarray], ncols: int | None = None, cmap: str = "magma",
                   percentiles: tuple[float, float] = (1.0, 99.8), panel: float = 2.4):
    """One panel per name: the mean log spectrum (:func:`fklib.studies.upsampling_generators.mean_log_spectrum`).

    The panels of a row share one colour range -- the given percentiles of that row's values (the DC
    peak would otherwise flatten the rest) -- shown by a colour bar at the row's end, so the GANs of a
    row compare; each panel's title sits over its own panel. Returns a matplotlib Figure (save it
    with :func:`fklib.report.figures.save_figure`).
    """
    plt = _plt()

    names = list(spectra)
    if not names:
        raise ValueError("spectra_figure: no spectra")
    ncols = ncols or min(len(names), 4)
    nrows = math.ceil(len(names) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(panel * ncols + 1.0, (panel + 0.45) * nrows + 0.4),
                             squeeze=False, constrained_layout=True)
    for ax in axes.flat[len(names):]:
        ax.axis("off")
    for r in range(nrows):
        row = names[r * ncols:(r + 1) * ncols]
        values = np.concatenate([np.asarray(spectra[n], np.float64).ravel() for n in row])
        lo, hi = np.percentile(values, percentiles)
        im = None
        for c, name in enumerate(row):
            ax = axes[r, c]
            s = np.asarray(spectra[name], dtype=np.float64)
            im = ax.imshow(s, cmap=cmap, vmin=lo, vmax=hi, interpolation="nearest")
            ax.set_title(f"{name} ({s.shape[1]}x{s.shape[0]})", fontsize=9)
            ax.set_xticks([])
            ax.set_yticks([])
        cb = fig.colorbar(im, ax=axes[r, :].tolist(), fraction=0.03, pad=0.01)
        cb.set_label("log |FFT|", fontsize=8)
        cb.ax.tick_params(labelsize=7)
    fig.suptitle("mean log |FFT| of Gray(fake - real); one colour range per row", fontsize=10)
    return fig
