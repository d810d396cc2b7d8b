"""Figures are written where asked, as PNG of the expected layout."""

import numpy as np
from PIL import Image

from fklib.viz import attention_figure, colorize_parsing, parsing_gallery


def test_colorize_and_figures(tmp_path):
    parsing = np.zeros((16, 16), np.uint8)
    parsing[:4] = 13
    colours = colorize_parsing(parsing)
    assert colours.shape == (16, 16, 3) and (colours[0, 0] != colours[10, 10]).any()
    face = np.full((16, 16, 3), 128, np.uint8)
    out = attention_figure(face, parsing, parsing == 13, np.linspace(0.3, 1, 256).reshape(16, 16),
                           tmp_path / "fig6.png", "Black_Hair")
    with Image.open(out) as im:
        assert im.format == "PNG" and im.size[0] > 2 * im.size[1]          # four panels side by side
    gallery = parsing_gallery(np.stack([face] * 3), np.stack([parsing] * 3), tmp_path / "g.png", ["a", "b", "c"])
    assert gallery.is_file() and not list(tmp_path.glob(".*part*"))
