"""Figures of the robustness study (paper Figs. 8-10) and of the upsampling study (heatmaps, spectra)."""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from ..degrade import GAMMA_METRICS
from .figures import _plt, map_colorbar, map_scale, show_map

#: Readable metric names of the figures.
METRIC_LABELS = {"acc": "ACC", "bacc": "bACC", "coss": "COSS", "psnr": "PSNR", "ssim": "SSIM"}
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
        err = None
        if {"gamma_lo", "gamma_hi"} <= set(sub.columns):
            lo = np.array([float(sub.loc[m, "gamma_lo"]) if m in sub.index else math.nan for m in metrics])
            hi = np.array([float(sub.loc[m, "gamma_hi"]) if m in sub.index else math.nan for m in metrics])
            v = np.array(vals)
            err = np.nan_to_num(np.vstack([v - lo, hi - v]), nan=0.0).clip(0)
        hatch = "//" if "(reference)" in str(name) else None
        bars = ax.bar(x + (k - (len(models) - 1) / 2) * width, vals, width, label=name, yerr=err, capsize=2,
                      error_kw={"lw": 0.7}, hatch=hatch, edgecolor="white" if hatch else None)
        for b, v in zip(bars, vals):
            if np.isfinite(v):
                ax.annotate(f"{v:.2f}", (b.get_x() + b.get_width() / 2, v), ha="center", va="bottom", fontsize=6)
    ax.axhline(1.0, color="k", lw=0.6, ls=":")
    ax.set_xticks(x, [METRIC_LABELS.get(m, m) for m in metrics])
    top = np.nanmax(table["gamma"].to_numpy(float)) if len(table) else 1.0
    ax.set_ylim(0, max(1.15, top * 1.12 if np.isfinite(top) else 1.15))
    ax.set_ylabel("γ = after / before")
    ax.set_title("Disorganization test: four permuted quadrants (bars: 95 % intervals; hatched: location references)",
                 fontsize=9)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)  # outside: covers no bar
    fig.tight_layout()
    return fig


def fig9_figure(example: dict, title: str = ""):
    """Paper Fig. 9: a fake, its GT and the prediction, before and after the quadrant permutation.

    ``example``: :func:`fklib.studies.robustness.disorganization_example` (rows: original;
    disorganized; the disorganized prediction put back in place, to compare with the first row).
    The three rows are compared with each other, so all their truths and predictions are one group on
    one scale (:func:`fklib.report.figures.map_scale`) with one colour bar. Returns the figure.
    """
    plt = _plt()
    rows = example["rows"]
    vmax = map_scale([r[2] for r in rows], [r[3] for r in rows])
    fig, axes = plt.subplots(3, 3, figsize=(7.6, 6.6))
    im = None
    for r, (label, img, gt, pred) in enumerate(rows):
        for c, (arr, name) in enumerate(((img, "input"), (gt, "ground truth"), (pred, "prediction"))):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            if arr is None:
                ax.axis("off")
                continue
            if c == 0:
                ax.imshow(arr, interpolation="nearest")
                if r == 0:
                    ax.set_title(name, fontsize=10)
            else:
                im = show_map(ax, arr, vmax, name if r == 0 else None, 10)
        axes[r, 0].set_ylabel(label, fontsize=9)
        if rows[r][1] is None:
            axes[r, 0].text(0.5, 0.5, label, ha="center", va="center", fontsize=9, transform=axes[r, 0].transAxes)
    if im is not None:
        map_colorbar(fig, im, axes, vmax, "99th pct of the truths and predictions shown")
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


def _level_label(level) -> str:
    if level is None or (isinstance(level, float) and math.isnan(level)):
        return "none"
    return f"{level:g}" if isinstance(level, (int, float, np.integer, np.floating)) else str(level)


def fig10_figure(sweeps: Mapping[str, pd.DataFrame], metrics: Sequence[str] = GAMMA_METRICS, title: str = "",
                 floors: Mapping[str, float] | None = None):
    """Paper Fig. 10: γ of bACC (the paper's ACC, balanced), COSS, PSNR and SSIM against the level, one panel
    per degradation.

    ``sweeps``: model name -> :func:`sweep` frame. Colours are metrics; the first model is drawn
    solid with its 95 % interval over identities as a band (``<m>_lo`` / ``<m>_hi`` over the clean
    value), the second dashed (then dotted, dash-dotted). ``floors``: metric -> the γ a predictor of
    nothing reaches (:func:`fklib.studies.robustness.nothing_floors`: the all-zero map's value, chance
    for bACC, over the first model's clean value), drawn as a thin dotted line in the metric's colour:
    a curve at its floor has lost everything. The x axis is the list of levels in the sweep's order
    (mild to harsh) after the undegraded point ``none`` (γ = 1). Returns the figure.
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
                if k == 0 and {f"{m}_lo", f"{m}_hi"} <= set(df.columns) and len(none):
                    clean = float(none[m].iloc[0])
                    band = pd.concat([none, sub])
                    if np.isfinite(clean) and clean != 0:
                        ax.fill_between(x, band[f"{m}_lo"].to_numpy(float) / clean, band[f"{m}_hi"].to_numpy(float) / clean,
                                        color=colours.get(m), alpha=0.15, lw=0)
        top = max(1.15, *(line.get_ydata().max() * 1.05 for line in ax.lines if len(line.get_ydata())))
        for m in metrics:
            if floors and np.isfinite(floors.get(m, math.nan)) and floors[m] <= top:
                ax.axhline(floors[m], color=colours.get(m), lw=0.8, ls=(0, (1, 2)))
        ax.set_ylim(min(0.0, ax.get_ylim()[0]), top)
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
    note = ("bACC stands for the paper's ACC; shaded: 95 % intervals of the first model"
            + ("; thin dotted lines: what a map of nothing scores (all-zero map; bACC: chance 0.5) as γ of the first "
               "model" if floors else ""))
    fig.suptitle((f"{title}\n" if title else "") + note, fontsize=8)
    fig.tight_layout(rect=(0, 0.06 + 0.05 * math.ceil(len(labels) / 4) / nrows, 1, 1))
    return fig


def upsampling_figure(table: pd.DataFrame, metrics: Sequence[str] = ("bacc", "coss", "psnr", "ssim")):
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


def spectra_panel_figure(plain: Mapping[str, np.ndarray], laplacian: Mapping[str, np.ndarray] | None = None):
    """One figure: a column per GAN / family; row 1 the residual's spectrum, row 2 that of its Laplacian."""
    panels = {f"{k}": v for k, v in plain.items()}
    if laplacian:
        panels.update({f"{k}, Laplacian": v for k, v in laplacian.items()})
    return spectra_figure(panels, ncols=len(plain), panel=2.4)


def spectra_figure(spectra: Mapping[str, np.ndarray], ncols: int | None = None, cmap: str = "magma",
                   percentiles: tuple[float, float] = (1.0, 99.8), panel: float = 2.4):
    """One panel per name: the mean log spectrum (:func:`fklib.upsampling.mean_log_spectrum`).

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
