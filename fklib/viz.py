"""Figures: one helper saves every figure (150 dpi PNG, written atomically), plus the plots themselves."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

#: A colour per CelebAMask-HQ class (0 background is black).
PARSING_PALETTE = np.array([
    [0, 0, 0], [204, 153, 128], [255, 140, 0], [120, 120, 255], [0, 200, 0], [0, 140, 0], [140, 70, 20],
    [100, 40, 10], [255, 200, 200], [230, 170, 170], [255, 0, 120], [220, 0, 0], [150, 0, 0], [90, 40, 160],
    [0, 160, 160], [255, 255, 0], [160, 160, 0], [255, 180, 90], [60, 60, 60]], dtype=np.uint8)


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


def colorize_parsing(parsing: np.ndarray) -> np.ndarray:
    """``HxW`` class indices -> ``HxWx3`` uint8 colours (:data:`PARSING_PALETTE`)."""
    return PARSING_PALETTE[np.clip(parsing, 0, len(PARSING_PALETTE) - 1)]


def parsing_gallery(images: np.ndarray, maps: np.ndarray, path: str | Path, titles: list[str] | None = None) -> Path:
    """Two rows per column: the face, and its parsing blended over it. Saved with :func:`save_figure`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(images)
    fig, axes = plt.subplots(2, n, figsize=(1.6 * n, 3.4))
    axes = np.asarray(axes).reshape(2, n)
    for j in range(n):
        overlay = (0.45 * images[j] + 0.55 * colorize_parsing(maps[j])).astype(np.uint8)
        for i, img in enumerate((images[j], overlay)):
            axes[i, j].imshow(img)
            axes[i, j].axis("off")
        if titles:
            axes[0, j].set_title(titles[j], fontsize=7)
    return save_figure(fig, path)


def attention_figure(image: np.ndarray, parsing: np.ndarray, region: np.ndarray, attention: np.ndarray,
                     path: str | Path, title: str = "") -> Path:
    """Paper Fig. 6: input, face parsing map, region map of the modified property, face attention map."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 4, figsize=(8, 2.3))
    panels = ((image, None, "input"), (colorize_parsing(parsing), None, "face parsing"),
              (region.astype(float), "gray", "region of the property"), (attention, "gray", "face attention"))
    for ax, (img, cmap, label) in zip(axes, panels):
        ax.imshow(img, cmap=cmap, vmin=0 if cmap else None, vmax=1 if cmap else None)
        ax.set_title(label, fontsize=8)
        ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=9)
    return save_figure(fig, path)


def _plt():
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


def jet(m: np.ndarray) -> np.ndarray:
    """``HxW`` values in [0, 1] -> ``HxWx3`` float RGB of the jet colour map (piecewise linear, numpy only)."""
    x = np.clip(np.asarray(m, np.float32), 0, 1)[..., None]
    centres = np.array([3.0, 2.0, 1.0], np.float32)  # red, green, blue peaks at x = 3/4, 1/2, 1/4
    return np.clip(1.5 - np.abs(4.0 * x - centres), 0, 1)


def overlay(fake: np.ndarray, pred: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """``HxWx3`` float image in [0, 1]: the map (:func:`jet` colours) blended over the uint8 image
    (Fig. 1's overlay and ``python -m fklib locate``'s)."""
    return ((1 - alpha) * np.asarray(fake, np.float32) / 255.0 + alpha * jet(pred)).clip(0, 1)


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
