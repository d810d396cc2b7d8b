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
