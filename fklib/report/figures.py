"""Every figure of the project, and the one helper that saves them (150 dpi PNG, written atomically).

- :func:`save_figure`, :func:`figure_path`, :func:`save_paper_figure` -- where and how a figure is written
  (``results/figures/fig<N>.png`` in the paper's numbering, or a name).
- Paper figures: :func:`localization_figure` (Fig. 1), :func:`gt_figure` (Fig. 5),
  :func:`attention_figure` (Fig. 6), :func:`parsing_comparison_figure` (Fig. 7); robustness and
  the upsampling study in :mod:`fklib.report.robustness_figures` (Figs. 8-10, heatmaps, spectra).
- Others: :func:`curves_figure` (training curves), :func:`parsing_gallery`, :func:`result_figure`
  and :func:`figure_png` (the teaching demo).

Colour maps and overlays (numpy only) come from :mod:`fklib.colors`.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np

from .. import paths
from ..colors import colorize_parsing, overlay
from ..degrade import describe_degradation


def _plt():
    """pyplot on the Agg backend (headless)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _show(ax, img, title: str | None = None, cmap: str | None = None, fontsize: int = 7):
    im = ax.imshow(img, cmap=cmap, vmin=0 if cmap else None, vmax=1 if cmap else None, interpolation="nearest")
    if title:
        ax.set_title(title, fontsize=fontsize)
    ax.set_xticks([])
    ax.set_yticks([])
    return im


def gt_figure(rows: list[tuple[str, np.ndarray, np.ndarray, np.ndarray, np.ndarray]]):
    """Paper Fig. 5: per row (label, real, fake, gray-scale map, binary map). Returns the figure."""
    plt = _plt()
    fig, axes = plt.subplots(len(rows), 4, figsize=(6.4, 1.65 * len(rows)), squeeze=False)
    for r, (label, real, fake, gray, binary) in enumerate(rows):
        titles = ("real X", "fake X'", "gray map M", "binary map B") if r == 0 else (None,) * 4
        for c, (img, cmap) in enumerate(((real, None), (fake, None), (gray, "gray"), (binary, "gray"))):
            _show(axes[r, c], img, titles[c], cmap)
        axes[r, 0].set_ylabel(label, fontsize=7)
    fig.tight_layout()
    return fig


def save_figure(fig, path: str | Path, dpi: int = 150) -> Path:
    """Save a matplotlib figure as PNG (temp file + rename) and close it."""
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.part.png")
    fig.savefig(tmp, dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    os.replace(tmp, path)
    return path


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
    """Two rows per column: the face, and its parsing blended over it. Returns the figure."""
    plt = _plt()
    n = len(images)
    fig, axes = plt.subplots(2, n, figsize=(1.6 * n, 3.4))
    axes = np.asarray(axes).reshape(2, n)
    for j in range(n):
        blend = (0.45 * images[j] + 0.55 * colorize_parsing(maps[j])).astype(np.uint8)
        for i, img in enumerate((images[j], blend)):
            axes[i, j].imshow(img)
            axes[i, j].axis("off")
        if titles:
            axes[0, j].set_title(titles[j], fontsize=7)
    return fig


def attention_figure(image: np.ndarray, parsing: np.ndarray, region: np.ndarray, attention: np.ndarray,
                     title: str = ""):
    """Paper Fig. 6: input, face parsing map, region map of the modified property, face attention map."""
    plt = _plt()
    fig, axes = plt.subplots(1, 4, figsize=(8, 2.3))
    panels = ((image, None, "input"), (colorize_parsing(parsing), None, "face parsing"),
              (region.astype(float), "gray", "region of the property"), (attention, "gray", "face attention"))
    for ax, (img, cmap, label) in zip(axes, panels):
        ax.imshow(img, cmap=cmap, vmin=0 if cmap else None, vmax=1 if cmap else None)
        ax.set_title(label, fontsize=8)
        ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=9)
    return fig


def localization_figure(rows: list[dict], columns=("real", "fake", "gt", "pred", "overlay")):
    """Paper Fig. 1: one row per example (dict with ``label``, ``real``, ``fake``, ``gt``, ``pred``);
    the prediction with a colorbar and the overlay of prediction and fake. Returns the figure."""
    plt = _plt()
    names = {"real": "real", "fake": "fake (input)", "gt": "ground truth", "pred": "prediction",
             "overlay": "overlay"}
    fig, axes = plt.subplots(len(rows), len(columns), figsize=(1.45 * len(columns) + 0.6, 1.45 * len(rows)),
                             squeeze=False)
    for r, row in enumerate(rows):
        for c, col in enumerate(columns):
            title = names[col] if r == 0 else None
            if col == "overlay":
                _show(axes[r, c], overlay(row["fake"], row["pred"]), title)
            elif col in ("gt", "pred"):
                im = _show(axes[r, c], row[col], title, "jet" if col == "pred" else "gray")
                if col == "pred":
                    cb = fig.colorbar(im, ax=axes[r, c], fraction=0.046, pad=0.03, ticks=[0, 0.5, 1])
                    cb.ax.tick_params(labelsize=5)
            else:
                _show(axes[r, c], row[col], title)
        axes[r, 0].set_ylabel(row["label"], fontsize=6)
    fig.tight_layout()
    return fig


def parsing_comparison_figure(real, fake, gt, pred_no_fp, pred_fp, region, title: str = ""):
    """Paper Fig. 7: real, fake, GT, prediction without / with face parsing; second row: the
    in-region area (red) used for the similarity metrics. Returns the figure."""
    plt = _plt()
    fig, axes = plt.subplots(2, 5, figsize=(8, 3.5))
    top = (("real", real, None), ("fake", fake, None), ("ground truth", gt, "gray"),
           ("no FP", pred_no_fp, "gray"), ("with FP", pred_fp, "gray"))
    for c, (label, img, cmap) in enumerate(top):
        _show(axes[0, c], img, label, cmap, 8)
        shade = np.asarray(img if img.ndim == 3 else np.repeat(np.asarray(img)[..., None] * 255, 3, 2), float) / 255
        red = shade.copy()
        red[region] = 0.5 * red[region] + 0.5 * np.array([1.0, 0.0, 0.0])
        _show(axes[1, c], red.clip(0, 1))
    axes[1, 0].set_ylabel("region", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def curves_figure(history, metrics=("train_loss", "val_coss", "val_psnr", "val_ssim", "val_acc"), title: str = ""):
    """Training curves: one panel per column of a history frame (per epoch). Returns the figure."""
    plt = _plt()
    metrics = [m for m in metrics if m in history.columns]
    fig, axes = plt.subplots(1, len(metrics), figsize=(2.3 * len(metrics), 2.2), squeeze=False)
    for ax, m in zip(axes[0], metrics):
        ax.plot(history["epoch"], history[m], marker="o", ms=2)
        ax.set_title(m, fontsize=8)
        ax.set_xlabel("epoch", fontsize=7)
        ax.tick_params(labelsize=6)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def result_figure(result: dict):
    """Five panels: real, fake (degraded input), GT (gray), prediction (jet, colorbar), overlay.

    The title carries the metrics and p(fake). A plain :class:`matplotlib.figure.Figure` (no
    pyplot state: nothing to close); :func:`figure_png` renders it.
    """
    from matplotlib.figure import Figure

    meta = result["meta"]
    degraded = describe_degradation(result["degradation"]) != "none"
    fig = Figure(figsize=(9.0, 2.25), dpi=100)
    axes = fig.subplots(1, 5)
    if result["real"] is not None:
        _show(axes[0], result["real"], "real X")
    else:
        _show(axes[0], np.ones((8, 8, 3)), "real X (none: entire synthesis)")
    input_name = "real" if meta["label"] == 0 else "fake"
    _show(axes[1], result["image"], f"{input_name} X' (degraded)" if degraded else f"{input_name} X' (input)")
    _show(axes[2], result["gt"], "ground truth (eq. 4)", "gray")
    im = _show(axes[3], result["pred"], "prediction", "jet")
    cb = fig.colorbar(im, ax=axes[3], fraction=0.046, pad=0.03, ticks=[0, 0.5, 1])
    cb.ax.tick_params(labelsize=6)
    _show(axes[4], overlay(np.asarray(result["image"]), result["pred"]), "overlay")
    m = result["metrics"]
    p = "n/a" if result["probability"] is None else f"{result['probability']:.2f}"
    fig.suptitle(f"{meta['property']} ({meta['identity']}), degradation: {describe_degradation(result['degradation'])}"
                 f" — COSS {m['coss']:.3f}, PSNR {m['psnr']:.2f} dB, SSIM {m['ssim']:.3f}, p(fake) {p}",
                 fontsize=8)
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.02, top=0.80, wspace=0.15)
    return fig


def figure_png(fig, dpi: int = 80) -> bytes:
    """PNG bytes of a figure (works with any matplotlib backend, also headless)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()
