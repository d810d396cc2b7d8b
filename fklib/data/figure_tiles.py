"""Faces cropped from published figures (``stargan_figures``): a real-world detection check.

The StarGAN paper's two CelebA result figures (JPEG) show, per row, the input photo and the
GAN's edits of it, tiles side by side. The tiles are not pixel-registered with the input
(see the data README), so they give **no ground-truth map**: they test only detection (is the
input called real and are the edits called fake?), on JPEG figure crops framed as the paper laid
them out -- what a reader of a paper would feed the locator.

:data:`FIGURE_LAYOUTS` gives each figure's grid (measured once on the files of the manifest);
:func:`read_figure_tiles` cuts it into :class:`~fklib.data.Item` s: the input column as reals
(label 0), every edit as a fake (label 1, property = the column's title, ``reference=None``;
their ``gt_map`` is not meaningful and must not be scored).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import paths
from .images import load_rgb
from .readers import REAL, Item


@dataclass(frozen=True)
class FigureLayout:
    """Pixel spans of a result figure: the input column ``input_x``, the edit columns ``edits_x``
    (split evenly into ``len(edit_names)``), the rows ``rows_y`` (split evenly into ``n_rows``);
    ``inset`` pixels are cut from each tile's sides (tile borders and JPEG ringing)."""

    input_x: tuple[int, int]
    edits_x: tuple[int, int]
    rows_y: tuple[int, int]
    n_rows: int
    edit_names: tuple[str, ...]
    inset: int = 2


FIGURE_LAYOUTS = {
    "result_celeba1.jpg": FigureLayout((10, 149), (179, 1404), (26, 978), 7,
                                       ("Black_Hair", "Blond_Hair", "Brown_Hair", "Gender", "Aged", "H+G", "H+A",
                                        "G+A", "H+G+A")),
    "result_celeba2.jpg": FigureLayout((6, 152), (186, 1326), (32, 1030), 7,
                                       ("Angry", "Contemptuous", "Disgusted", "Fearful", "Happy", "Neutral", "Sad",
                                        "Surprised")),
}


def _cuts(span: tuple[int, int], n: int) -> list[tuple[int, int]]:
    edges = np.linspace(span[0], span[1], n + 1)
    return [(int(round(a)), int(round(b))) for a, b in zip(edges[:-1], edges[1:])]


def read_figure_tiles(path: str | Path, layout: FigureLayout | None = None) -> list[Item]:
    """The tiles of one result figure as items (row ``r``'s input: identity ``<stem>_row<r>``).

    Raises:
        ValueError: the figure is smaller than its layout (not the file the layout was measured on).
    """
    path = Path(path)
    layout = layout or FIGURE_LAYOUTS[path.name]
    img = load_rgb(path)
    h, w = img.shape[:2]
    if w < layout.edits_x[1] or h < layout.rows_y[1]:
        raise ValueError(f"{path}: {w}x{h} is smaller than its layout (edits to x={layout.edits_x[1]}, "
                         f"rows to y={layout.rows_y[1]})")
    k = layout.inset
    items = []
    for r, (y0, y1) in enumerate(_cuts(layout.rows_y, layout.n_rows)):
        identity = f"{path.stem}_row{r}"
        x0, x1 = layout.input_x
        tile = np.ascontiguousarray(img[y0 + k:y1 - k, x0 + k:x1 - k])
        items.append(Item(tile, None, 0, "stargan_figures", "real", REAL, identity, f"{path}#row{r}/input"))
        for name, (x0, x1) in zip(layout.edit_names, _cuts(layout.edits_x, len(layout.edit_names))):
            tile = np.ascontiguousarray(img[y0 + k:y1 - k, x0 + k:x1 - k])
            items.append(Item(tile, None, 1, "stargan_figures", "stargan-figure", name, identity,
                              f"{path}#row{r}/{name}"))
    return items


def figure_items(folder: str | Path | None = None) -> list[Item]:
    """The tiles of every figure of :data:`FIGURE_LAYOUTS` in ``folder`` (default ``data/stargan_figures``)."""
    folder = Path(folder) if folder is not None else paths.data_dir() / "stargan_figures"
    return [it for name in FIGURE_LAYOUTS for it in read_figure_tiles(folder / name)]
