"""Every figure of the project, and the one helper that saves them (150 dpi PNG, written atomically).

- :func:`save_figure`, :func:`figure_path`, :func:`save_paper_figure` -- where and how a figure is written
  (``results/figures/fig<N>.png`` in the paper's numbering, or a name).
- Paper figures: :func:`localization_figure` (Fig. 1), :func:`gt_figure` (Fig. 5),
  :func:`attention_figure` (Fig. 6), :func:`attention_variants_figure` (Fig. 7); robustness and
  the upsampling study in :mod:`fklib.report.robustness_figures` (Figs. 8-10, heatmaps, spectra).
- Others: :func:`curves_figure` (training curves), :func:`parsing_gallery`, :func:`result_figure`
  and :func:`figure_png` (the teaching demo).

Every fakeness map is drawn by :func:`show_map` in :data:`MAP_CMAP` on the scale of its group, by one
rule (:func:`map_scale`): maps that are compared with each other -- a row of Figs. 1, 5 and 7 (a truth
and its predictions), all of Fig. 9, the demo -- share ``[0, v]`` with ``v`` the 99th percentile of
their pixels (truths and predictions pooled; an all-zero truth adds nothing), so a prediction of
amplitude 0.03 fills the scale of its row instead of vanishing on a scale set by another GAN's truth,
and the truth beside it is drawn on the same scale (an honest comparison of levels); colours follow a
square-root law (:data:`MAP_GAMMA`), so a prediction at a quarter of its truth's level still shows its
structure, and every colour bar is ticked in values. Each group has
its own labelled colour bar (:func:`map_colorbar`) and the overlay uses the same colours and scale. A prediction
that its row's scale would draw black (its 99th percentile below :data:`OWN_SCALE_BELOW` of the row's top) is drawn on
its own scale instead, written in its panel and said in the caption (:func:`prediction_scale`).
Colour maps and overlays (numpy only) come from :mod:`fklib.colors`.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from .. import paths
from ..colors import PARSING_PALETTE, colorize_parsing, overlay
from ..data.readers import CELEBAMASK_CLASSES as CLASS_NAMES
from ..degrade import describe_degradation
from ..files import write_atomically


def _plt():
    """pyplot on the Agg backend (headless)."""
    import matplotlib  # lazy: matplotlib (its backend set first, _plt) loads only when a figure is drawn

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # lazy: matplotlib (its backend set first, _plt) loads only when a figure is drawn

    return plt


def _show(ax, img, title: str | None = None, cmap: str | None = None, fontsize: int = 7):
    im = ax.imshow(img, cmap=cmap, vmin=0 if cmap else None, vmax=1 if cmap else None, interpolation="nearest")
    if title:
        ax.set_title(title, fontsize=fontsize)
    ax.set_xticks([])
    ax.set_yticks([])
    return im


# --- fakeness maps on one stated scale ---------------------------------------------------------

#: The colour map of every fakeness map (perceptually uniform, dark = 0, bright = most fake).
MAP_CMAP = "inferno"
#: A scale never ends below this (an all-zero group would give 0).
MIN_SCALE = 0.01
#: The colour scale is a power law, colour = (value / top) ** MAP_GAMMA (square root): a prediction at a
#: quarter of its truth's level is drawn at half the colour range instead of a quarter, so its structure
#: shows beside a bright truth; the colour bar is ticked in values, so levels are still read off it.
MAP_GAMMA = 0.5


def map_scale(gt_maps, others=(), q: float = 99.0) -> float:
    """The upper end of the colour scale of one group of maps compared with each other (a truth and its
    predictions): the ``q``-th percentile of their pixels pooled (``gt_maps`` and ``others``; a truth
    that is all zero -- a real image's -- is left out: it says nothing about the level), at least
    :data:`MIN_SCALE`. Maps above it are drawn at the top colour.

    Our maps average about 0.04 and rarely exceed 0.4 while a StarGAN truth reaches 0.5, so one scale per
    figure (or 0-1) draws most predictions black; per group, each row's structure is visible and its
    truth and prediction stay comparable.
    """
    values = [np.asarray(m, np.float64).ravel() for m in list(gt_maps) if m is not None]
    values = [v for v in values if v.size and np.any(v > 0)]
    values += [np.asarray(m, np.float64).ravel() for m in others if m is not None]
    values = [v for v in values if v.size]
    if not values:
        return MIN_SCALE
    return max(float(np.percentile(np.concatenate(values), q)), MIN_SCALE)


def map_norm(vmax: float):
    """The colour normalisation of every map panel: :data:`MAP_GAMMA` power law on ``[0, vmax]``."""
    from matplotlib.colors import PowerNorm  # lazy: matplotlib (its backend set first, _plt) loads only when a figure is drawn

    return PowerNorm(gamma=MAP_GAMMA, vmin=0.0, vmax=vmax, clip=True)


def map_colours(x: np.ndarray) -> np.ndarray:
    """Values in [0, 1] (``value / vmax``) -> ``...x3`` RGB in [0, 1] of :data:`MAP_CMAP` under the
    :data:`MAP_GAMMA` power law: the overlays' colours, as the colour bar's."""
    import matplotlib  # lazy: matplotlib (its backend set first, _plt) loads only when a figure is drawn

    x = np.clip(np.asarray(x, np.float64), 0, 1) ** MAP_GAMMA
    return np.asarray(matplotlib.colormaps[MAP_CMAP](x))[..., :3]


def map_overlay(image, pred, vmax: float, alpha: float = 0.5) -> np.ndarray:
    """The map blended over the image in :data:`MAP_CMAP` on ``[0, vmax]`` (the colours of the colour bar)."""
    return overlay(np.asarray(image), pred, alpha=alpha, vmax=vmax, colours=map_colours)


#: What every group colour bar says its top value is.
SCALE_RULE = "99th pct of this row's truth and predictions"


def scale_label(vmax: float, what: str = SCALE_RULE) -> str:
    return f"fakeness 0 to {vmax:.3g}, square-root scale\n({what})"


#: A prediction whose 99th percentile lies below this share of its row's top would be drawn nearly black on the
#: row's scale: it is drawn on its own scale instead (:func:`prediction_scale`), which its panel states.
OWN_SCALE_BELOW = 0.25


def prediction_scale(vmax: float, pred) -> tuple[float, bool]:
    """The scale a prediction panel is drawn on: the row's ``vmax``, or -- when the prediction's own 99th percentile
    (:func:`map_scale`) is below :data:`OWN_SCALE_BELOW` of it, so that the row's scale would draw it black -- its own,
    with ``True``."""
    own = map_scale([], [pred])
    return (own, True) if own < OWN_SCALE_BELOW * vmax else (vmax, False)


def own_scale_text(scale: float) -> str:
    """What a prediction panel drawn on its own scale says, in its corner."""
    return f"own scale\n0 to {scale:.2g}"


#: The sentence every figure with own-scale panels adds to its caption.
OWN_SCALE_NOTE = (f" A prediction whose 99th percentile is below {OWN_SCALE_BELOW:.0%} of its row's top would be drawn "
                  "black there: it is drawn on its own scale, 0 to its own 99th percentile, written in its panel "
                  "('own scale'); read its level off that number, not off the row's bar.")


def show_map(ax, m, vmax: float, title: str | None = None, fontsize: int = 9):
    """A fakeness map on the scale ``[0, vmax]`` (:data:`MAP_CMAP`); returns the image for a colour bar."""
    im = ax.imshow(np.asarray(m, np.float64), cmap=MAP_CMAP, norm=map_norm(vmax), interpolation="nearest")
    if title:
        ax.set_title(title, fontsize=fontsize)
    ax.set_xticks([])
    ax.set_yticks([])
    return im


#: The width of every map colour bar, in inches (its height is that of its group of panels).
BAR_WIDTH_IN = 0.1


def map_colorbar(fig, im, axes, vmax: float, what: str | None = None, fontsize: int = 8, label: bool = True):
    """The colour bar of one group of maps (``axes``: the group's panels), as tall as the group and
    :data:`BAR_WIDTH_IN` wide, ticked at 0, a quarter, half and ``vmax``; labelled with its scale
    (``label=False``: ticks only, for a bar per row under one figure-level note, :func:`row_scale_note`)."""
    axes = np.ravel(axes).tolist()
    boxes = [ax.get_position() for ax in axes]
    width_in = (max(b.x1 for b in boxes) - min(b.x0 for b in boxes)) * fig.get_figwidth()
    height_in = (max(b.y1 for b in boxes) - min(b.y0 for b in boxes)) * fig.get_figheight()
    cb = fig.colorbar(im, ax=axes, fraction=BAR_WIDTH_IN / width_in, pad=0.01, aspect=height_in / BAR_WIDTH_IN)
    if label:
        cb.set_label(scale_label(vmax) if what is None else scale_label(vmax, what), fontsize=fontsize)
    ticks = (0.0, vmax / 4, vmax / 2, vmax)
    cb.set_ticks(list(ticks))
    cb.ax.set_yticklabels([f"{t:.2g}" for t in ticks])
    cb.ax.tick_params(labelsize=fontsize - 1)
    return cb


def row_scale_note(fig, scale: str, extra: str = "", fontsize: int = 8):
    """The figure-level sentence that explains the per-row colour bars (one rule, :func:`map_scale`), just
    under the lowest panel. ``scale``: which panels of a row share its bar and what sets its top, in the
    figure's own words (``"each row's truth and predictions share the row's colour bar, 0 to the 99th
    percentile of their pixels"``)."""
    bottom = min(ax.get_position().y0 for ax in fig.axes)
    fig.text(0.5, bottom - 0.08 / fig.get_figheight(), f"Fakeness maps: {scale}, on a square-root scale (dark = 0, "
             "bright = most fake; the bar is ticked in values)" + extra, ha="center", va="top", fontsize=fontsize,
             wrap=True)


def no_source_panel(ax, text: str = "no real source:\nwhole image\nsynthesized", title: str | None = None,
                    fontsize: int = 9):
    """A light-grey panel that says why there is no image (instead of an unlabelled black square)."""
    _show(ax, np.full((8, 8, 3), 0.85), title, None, fontsize)
    ax.text(0.5, 0.5, text, ha="center", va="center", fontsize=fontsize - 1, transform=ax.transAxes)


def _metrics_text(m: dict | None) -> str:
    if not m:
        return ""
    parts = []
    for k, label in (("coss", "COSS"), ("psnr", "PSNR"), ("ssim", "SSIM")):
        v = m.get(k)
        if v is not None and np.isfinite(v):
            parts.append(f"{label} {v:.2f}" if k == "psnr" else f"{label} {v:.3f}")
    return "\n".join(parts)


def gt_figure(rows: list[tuple[str, np.ndarray, np.ndarray, np.ndarray, np.ndarray]]):
    """Paper Fig. 5: per row (label, real, fake, gray-scale map, binary map); each gray map on its own
    scale (:func:`map_scale`) with its colour bar beside it, the binary maps black/white; the caption speaks of
    these maps only (no prediction is drawn). Returns the figure."""
    plt = _plt()
    fig, axes = plt.subplots(len(rows), 4, figsize=(9.6, 2.1 * len(rows)), squeeze=False,
                             gridspec_kw={"wspace": 0.45})   # room for the bar's ticks between M and B
    for r, (label, real, fake, gray, binary) in enumerate(rows):
        titles = ("real X", "fake X'", "gray-scale map M", "binary map B (M > 0.1)") if r == 0 else (None,) * 4
        vmax = map_scale([gray])
        _show(axes[r, 0], real, titles[0], None, 10)
        _show(axes[r, 1], fake, titles[1], None, 10)
        im = show_map(axes[r, 2], gray, vmax, titles[2], 10)
        _show(axes[r, 3], binary, titles[3], "gray", 10)
        axes[r, 0].set_ylabel(label, fontsize=9)
        map_colorbar(fig, im, axes[r, 2], vmax, fontsize=7, label=False)
    row_scale_note(fig, "each gray-scale map M has the colour bar beside it, 0 to the 99th percentile of its pixels",
                   ".")
    return fig


def save_figure(fig, path: str | Path, dpi: int = 150) -> Path:
    """Save a matplotlib figure as PNG (:func:`fklib.files.write_atomically`) and close it."""
    import matplotlib.pyplot as plt  # lazy: matplotlib (its backend set first, _plt) loads only when a figure is drawn

    try:
        return write_atomically(Path(path), lambda tmp: fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight"))
    finally:
        plt.close(fig)


def figure_path(n_or_name: int | str, results_dir: str | Path | None = None) -> Path:
    """``<results>/figures/fig<N>.png`` for a paper figure number (``10`` or ``"10"``), else
    ``<results>/figures/<name>.png`` (``"gallery"``, ``"fig10b"``)."""
    name = str(n_or_name)
    if isinstance(n_or_name, int) or name.isdigit():
        name = f"fig{int(name)}"
    name = name.removesuffix(".png")
    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise ValueError(f"figure_path: {n_or_name!r} is not a figure number or plain name")
    folder = Path(results_dir) if results_dir is not None else paths.results_dir()
    return folder / "figures" / f"{name}.png"


def save_paper_figure(fig, n_or_name: int | str, results_dir: str | Path | None = None, dpi: int = 150) -> Path:
    """Save a matplotlib figure at :func:`figure_path` via :func:`save_figure` (atomic, 150 dpi)."""
    return save_figure(fig, figure_path(n_or_name, results_dir), dpi=dpi)


def parsing_gallery(images: np.ndarray, maps: np.ndarray, titles: list[str] | None = None):
    """Two rows per column: the face, and its parsing blended over it; under them a legend of the colours of
    all 19 classes (:data:`fklib.colors.PARSING_PALETTE`). Returns the figure."""
    from matplotlib.patches import Patch  # lazy: matplotlib (its backend set first, _plt) loads only when a figure is drawn

    plt = _plt()
    n = len(images)
    fig, axes = plt.subplots(2, n, figsize=(max(1.6 * n, 8.0), 3.4))
    axes = np.asarray(axes).reshape(2, n)
    for j in range(n):
        blend = (0.45 * images[j] + 0.55 * colorize_parsing(maps[j])).astype(np.uint8)
        for i, img in enumerate((images[j], blend)):
            axes[i, j].imshow(img)
            axes[i, j].axis("off")
        if titles:
            axes[0, j].set_title(titles[j], fontsize=7)
    handles = [Patch(facecolor=PARSING_PALETTE[c] / 255.0, edgecolor="0.5", lw=0.4, label=name)
               for c, name in enumerate(CLASS_NAMES)]
    fig.legend(handles=handles, loc="upper center", ncol=10, fontsize=7, frameon=False,
               bbox_to_anchor=(0.5, min(ax.get_position().y0 for ax in axes.flat)),
               title="face-parsing classes (blended 55 % over the face)", title_fontsize=7.5)
    return fig


def attention_figure(image: np.ndarray, parsing: np.ndarray, region: np.ndarray, attention: np.ndarray,
                     title: str = ""):
    """Paper Fig. 6: input, face parsing map (with a legend of the classes present), region map of the
    modified property, face attention map (on 0-1 with its colour bar)."""
    from matplotlib.patches import Patch  # lazy: matplotlib (its backend set first, _plt) loads only when a figure is drawn


    plt = _plt()
    fig, axes = plt.subplots(1, 4, figsize=(10.5, 2.6))
    panels = ((image, None, "input"), (colorize_parsing(parsing), None, "face parsing"),
              (region.astype(float), "gray", "region of the property (white)"),
              (attention, "viridis", "face attention (0-1)"))
    im = None
    for ax, (img, cmap, label) in zip(axes, panels):
        im = ax.imshow(img, cmap=cmap, vmin=0 if cmap else None, vmax=1 if cmap else None)
        ax.set_title(label, fontsize=8)
        ax.axis("off")
    present = [int(c) for c in np.unique(parsing) if 0 <= c < len(CLASS_NAMES)]
    handles = [Patch(color=PARSING_PALETTE[c] / 255.0, label=CLASS_NAMES[c]) for c in present]
    fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 7), fontsize=6.5, frameon=False,
               bbox_to_anchor=(0.45, -0.12))
    cb = fig.colorbar(im, ax=axes[3], fraction=0.046, pad=0.02)
    cb.set_label("attention weight", fontsize=7)
    cb.ax.tick_params(labelsize=6)
    if title:
        fig.suptitle(title, fontsize=9)
    return fig


def _panel_text(ax, text: str, fontsize: float = 7.5, colour: str = "white", where: str = "top", side: str = "left"):
    if not text:
        return
    y, va = (0.98, "top") if where == "top" else (0.02, "bottom")
    x, ha = (0.02, "left") if side == "left" else (0.98, "right")
    ax.text(x, y, text, transform=ax.transAxes, va=va, ha=ha, fontsize=fontsize, color=colour,
            bbox=dict(facecolor="black", alpha=0.6, pad=1.5, lw=0))


def decision_text(probability, threshold, label: int | None = None, called: bool | None = None,
                  peak: float | None = None) -> str:
    """``"called fake"`` and, on a second line, ``"p 0.94"``: the call, then the numbers behind it, so the
    label fits in a prediction panel (p(fake) against ``threshold``, which the figure states once; ``called``: the
    model's decision when it is more than that, :func:`fklib.metrics.decide` with a map-peak floor, and
    then the map's ``peak`` is printed too); with the true ``label``, a wrong call is marked ``WRONG`` after
    the call."""
    if probability is None or threshold is None or not np.isfinite(probability):
        return ""
    fake = probability > threshold if called is None else bool(called)
    wrong = " WRONG" if label is not None and int(fake) != int(label) else ""
    return (f"called {'fake' if fake else 'real'}{wrong}\np {probability:.2f}"
            + (f", peak {peak:.2f}" if peak is not None else ""))


def localization_figure(rows: list[dict], columns=("real", "fake", "gt", "pred", "overlay")):
    """Paper Fig. 1: one row per example (dict with ``label``, ``real`` (``None``: a whole-image
    synthesis, drawn as a labelled grey panel), ``fake``, ``gt``, ``pred`` and optionally ``metrics`` and
    ``probability``, ``threshold``, ``true_label``: printed on the prediction, the call by :func:`decision_text`); each row's truth, prediction and overlay on the row's
    scale (:func:`map_scale`) with the row's colour bar. Returns the figure."""
    plt = _plt()
    names = {"real": "real", "fake": "input (fake unless 'real')", "gt": "ground truth", "pred": "prediction",
             "overlay": "overlay on the input"}
    fig, axes = plt.subplots(len(rows), len(columns), figsize=(2.1 * len(columns) + 1.6, 2.15 * len(rows)),
                             squeeze=False)
    any_own = False
    for r, row in enumerate(rows):
        vmax = map_scale([row["gt"]], [row["pred"]])
        pscale, own = prediction_scale(vmax, row["pred"])
        any_own |= own
        im = None
        for c, col in enumerate(columns):
            title = names[col] if r == 0 else None
            ax = axes[r, c]
            if col == "overlay":
                _show(ax, map_overlay(row["fake"], row["pred"], pscale), title, None, 10)  # the prediction's colours
            elif col == "gt":
                im = show_map(ax, row[col], vmax, title, 10)
            elif col == "pred":
                show_map(ax, row[col], pscale, title, 10)
                if own:
                    _panel_text(ax, own_scale_text(pscale), 6.5, "white", "top", "right")
                _panel_text(ax, _metrics_text(row.get("metrics")))
                call = decision_text(row.get("probability"), row.get("threshold"), row.get("true_label"),
                                     row.get("called_fake"), row.get("peak"))
                _panel_text(ax, call, 7, "tomato" if "WRONG" in call else "white", "bottom")
            elif row.get(col) is None:
                no_source_panel(ax, title=title, fontsize=10)
            else:
                _show(ax, row[col], title, None, 10)
        axes[r, 0].set_ylabel(row["label"], fontsize=9)
        map_colorbar(fig, im, axes[r], vmax, fontsize=7, label=False)
    thresholds = {row.get("threshold") for row in rows if row.get("threshold") is not None}
    floors = {row.get("peak_floor") for row in rows if row.get("peak_floor") is not None}
    floor = f" and the map's peak (99th percentile) above {floors.pop():.3f}" if len(floors) == 1 else ""
    row_scale_note(fig, "each row's truth, prediction and overlay share the row's colour bar, 0 to the 99th percentile "
                        "of the row's truth and prediction",
                   "." + (OWN_SCALE_NOTE + " Its overlay uses the same scale." if any_own else "")
                   + (f" Called fake: p(fake) above the model's threshold {thresholds.pop():.2f}{floor}; a "
                      "wrong call is marked WRONG." if len(thresholds) == 1 else ""))
    return fig


def attention_variants_figure(examples: list[dict], names: dict[str, str] | None = None, title: str = "",
                              ranking: str = ""):
    """Paper Fig. 7, several identities: per row (dict with ``label``, ``real``, ``fake``, ``gt``, ``region``,
    ``preds``: model -> map, ``metrics``: model -> in-region ``coss``/``psnr``/``ssim``) the real source,
    the fake with the edited region outlined, the truth and each model's prediction with its in-region
    metrics; each row's maps on the row's scale (:func:`map_scale`) with the row's colour bar.
    ``ranking``: how the rows were chosen, printed under the title."""
    plt = _plt()
    models = list(examples[0]["preds"])
    names = names or {}
    cols = 3 + len(models)
    fig, axes = plt.subplots(len(examples), cols, figsize=(2.0 * cols + 1.6, 2.15 * len(examples)), squeeze=False)
    any_own = False
    for r, e in enumerate(examples):
        first = r == 0
        vmax = map_scale([e["gt"]], list(e["preds"].values()))
        _show(axes[r, 0], e["real"], "real source" if first else None, None, 10)
        _show(axes[r, 1], e["fake"], "fake, region outlined" if first else None, None, 10)
        if e.get("region") is not None and np.any(e["region"]):
            axes[r, 1].contour(np.asarray(e["region"], float), levels=[0.5], colors="cyan", linewidths=1.0)
        im = show_map(axes[r, 2], e["gt"], vmax, "ground truth" if first else None, 10)
        for k, m in enumerate(models):
            ax = axes[r, 3 + k]
            pscale, own = prediction_scale(vmax, e["preds"][m])
            any_own |= own
            show_map(ax, e["preds"][m], pscale, names.get(m, m) if first else None, 10)
            _panel_text(ax, _metrics_text(e.get("metrics", {}).get(m)))
            if own:
                _panel_text(ax, own_scale_text(pscale), 6.5, "white", "bottom", "right")
        axes[r, 0].set_ylabel(e["label"], fontsize=9)
        map_colorbar(fig, im, axes[r], vmax, fontsize=7, label=False)
    row_scale_note(fig, "each row's truth and predictions share the row's colour bar, 0 to the 99th percentile of "
                        "their pixels", "." + (OWN_SCALE_NOTE if any_own else ""))
    if title or ranking:
        fig.suptitle("\n".join(t for t in (title, ranking) if t), fontsize=11 if not ranking else 10)
    return fig


#: The smallest y span of a training-curve panel (a run's metrics move by hundredths: a panel scaled to a 0.002
#: change would draw it as a leap). Loss-like columns: :data:`MIN_RELATIVE_SPAN` of their mean.
MIN_SPAN = {"val_coss": 0.1, "val_ssim": 0.1, "val_acc": 0.1, "val_score": 0.1, "val_auc": 0.1, "val_psnr": 2.0}
MIN_RELATIVE_SPAN = 0.2


def span_limits(values, metric: str) -> tuple[float, float]:
    """y limits of a curve panel: the values' range, widened about its middle to at least :data:`MIN_SPAN` of the
    metric (a loss: :data:`MIN_RELATIVE_SPAN` of its mean), with a small margin."""
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    if not v.size:
        return 0.0, 1.0
    lo, hi = float(v.min()), float(v.max())
    need = MIN_SPAN.get(metric, MIN_RELATIVE_SPAN * abs(float(v.mean())) or 1.0)
    if hi - lo < need:
        mid = (hi + lo) / 2
        lo, hi = mid - need / 2, mid + need / 2
    pad = 0.06 * (hi - lo)
    return lo - pad, hi + pad


def curves_figure(history, metrics=("train_loss", "val_coss", "val_psnr", "val_ssim", "val_acc"), title: str = ""):
    """Training curves: one panel per column of a history frame (per epoch). ``history``: one frame, or the stages of
    a chain of runs in order (``[(label, frame), ...]``: each fine-tuned from the one before), drawn one after the
    other on one epoch axis, a colour and a legend entry per stage and a dotted line between stages. Each stage's
    best epoch (its frame's boolean ``best`` column: the weights it kept) is marked by a dashed line of its colour.
    Every panel spans at least :data:`MIN_SPAN` (:func:`span_limits`), so a change of 0.002 stays small. Returns the
    figure."""
    from matplotlib.ticker import MaxNLocator  # lazy: matplotlib (its backend set first, _plt) loads only when a figure is drawn

    plt = _plt()
    stages = [("", history)] if hasattr(history, "columns") else list(history)
    stages = [(label, h) for label, h in stages if h is not None and len(h)]
    metrics = [m for m in metrics if any(m in h.columns for _, h in stages)]
    fig, axes = plt.subplots(1, len(metrics), figsize=(2.9 * len(metrics), 2.9 if len(stages) > 1 else 2.6),
                             squeeze=False)
    colours = ("tab:blue", "tab:orange", "tab:green", "tab:purple", "tab:brown")
    for ax, m in zip(axes[0], metrics):
        start, values = 0, []
        for k, (label, h) in enumerate(stages):
            x = start + np.arange(1, len(h) + 1)
            colour = colours[k % len(colours)]
            if m in h.columns:
                ax.plot(x, h[m], marker="o", ms=3, color=colour, label=label or None)
                values.extend(h[m].tolist())
            if "best" in h.columns:
                for b in x[h["best"].to_numpy(bool)]:
                    ax.axvline(b, color=colour, ls="--", lw=1)
            if k:
                ax.axvline(start + 0.5, color="0.5", ls=":", lw=1)
            start += len(h)
        ax.set_ylim(*span_limits(values, m))
        ax.set_xlim(0.5, start + 0.5)
        ax.set_title(m, fontsize=10)
        ax.set_xlabel("epoch" + (" (the stages one after the other)" if len(stages) > 1 else ""), fontsize=8)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
        if start <= 3:                                 # too few epochs for a locator: tick each
            ax.set_xticks(np.arange(1, start + 1))
        ax.tick_params(labelsize=8)
    if len(stages) > 1:
        fig.legend(*axes[0][0].get_legend_handles_labels(), loc="lower center", ncol=len(stages), fontsize=8,
                   frameon=False)
        title = (f"{title}{': ' if title else ''}{len(stages)} training stages, each fine-tuned from the one before "
                 "(dashed: the epoch each kept; each stage validates on its own sets)")
    elif stages and "best" in stages[0][1].columns:
        h = stages[0][1]
        best = h.loc[h["best"], "epoch"].tolist()
        if best:
            title = f"{title}{': ' if title else ''}best epoch {best[0]} of {len(h)} (dashed)"
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0.1 if len(stages) > 1 else 0, 1, 1))
    return fig


def result_figure(result: dict):
    """Five panels: real, fake (degraded input), ground truth, prediction, overlay; truth, prediction and
    overlay on one colour scale with a colour bar (:func:`map_scale` of the truth and the prediction).

    Sized for a projector (12 x 3.4 in, 11-pt titles). The title carries the metrics and p(fake); for a
    real image (empty truth) it says what COSS means there. A plain :class:`matplotlib.figure.Figure`
    (no pyplot state: nothing to close); :func:`figure_png` renders it.
    """
    from matplotlib.figure import Figure  # lazy: matplotlib (its backend set first, _plt) loads only when a figure is drawn

    meta = result["meta"]
    degraded = describe_degradation(result["degradation"]) != "none"
    vmax = map_scale([result["gt"]], [result["pred"]])
    fig = Figure(figsize=(12.0, 3.4), dpi=100)
    axes = fig.subplots(1, 5)
    if result["real"] is not None:
        _show(axes[0], result["real"], "real X", None, 11)
    else:
        no_source_panel(axes[0], title="real X", fontsize=11)
    input_name = "real" if meta["label"] == 0 else "fake"
    _show(axes[1], result["image"], f"{input_name} X' (degraded)" if degraded else f"{input_name} X' (input)", None, 11)
    show_map(axes[2], result["gt"], vmax, "ground truth (eq. 4)", 11)
    im = show_map(axes[3], result["pred"], vmax, "prediction", 11)
    _show(axes[4], map_overlay(result["image"], result["pred"], vmax), "overlay", None, 11)
    cb = fig.colorbar(im, cax=fig.add_axes((0.945, 0.06, 0.012, 0.66)))   # its own axes: no panel shrinks
    cb.set_label(scale_label(vmax, "99th pct of truth and prediction"), fontsize=9)
    cb.set_ticks([0.0, vmax / 4, vmax / 2, vmax])
    cb.ax.tick_params(labelsize=9)
    fig.suptitle(f"{meta['property']} ({meta['identity']}), degradation: {describe_degradation(result['degradation'])}"
                 f"\n{result_metrics_text(result)}", fontsize=12)
    fig.subplots_adjust(left=0.01, right=0.93, bottom=0.02, top=0.78, wspace=0.08)
    return fig


def result_metrics_text(result: dict) -> str:
    """The demo's metrics in words; for a real image (all-zero truth) COSS is 1 only when the prediction
    is exactly zero too, so the line gives the prediction's mean instead, which is what to read there."""
    m = result["metrics"]
    p = "n/a" if result["probability"] is None else f"{result['probability']:.2f}"
    if not np.any(np.asarray(result["gt"]) > 0):
        return (f"real image: nothing to find; mean predicted fakeness {float(np.mean(result['pred'])):.3f} "
                f"(0 is perfect), PSNR {m['psnr']:.2f} dB, p(fake) {p}")
    return f"COSS {m['coss']:.3f}, PSNR {m['psnr']:.2f} dB, SSIM {m['ssim']:.3f}, p(fake) {p}"


def figure_png(fig, dpi: int = 80) -> bytes:
    """PNG bytes of a figure (works with any matplotlib backend, also headless)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()
