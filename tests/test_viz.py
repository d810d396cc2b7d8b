"""Figures are written where asked (fklib.report.figures.save_figure), as PNG of the expected layout."""

import numpy as np
from PIL import Image

from fklib.colors import colorize_parsing
from fklib.report.figures import attention_figure, parsing_gallery, save_figure


def test_colorize_and_figures(tmp_path):
    parsing = np.zeros((16, 16), np.uint8)
    parsing[:4] = 13
    colours = colorize_parsing(parsing)
    assert colours.shape == (16, 16, 3) and (colours[0, 0] != colours[10, 10]).any()
    face = np.full((16, 16, 3), 128, np.uint8)
    out = save_figure(attention_figure(face, parsing, parsing == 13, np.linspace(0.3, 1, 256).reshape(16, 16),
                                       "Black_Hair"), tmp_path / "fig6.png")
    with Image.open(out) as im:
        assert im.format == "PNG" and im.size[0] > 2 * im.size[1]          # four panels side by side
    gallery = save_figure(parsing_gallery(np.stack([face] * 3), np.stack([parsing] * 3), ["a", "b", "c"]),
                          tmp_path / "g.png")
    assert gallery.is_file() and not list(tmp_path.glob(".*part*"))
