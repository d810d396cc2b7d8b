"""Figures are written where asked (fklib.report.figures.save_figure), as PNG of the expected layout."""

import numpy as np
import pytest
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


def _blob(amplitude, size=64, centre=(20, 40), sigma=8.0):
    yy, xx = np.mgrid[:size, :size]
    return amplitude * np.exp(-((yy - centre[0]) ** 2 + (xx - centre[1]) ** 2) / (2 * sigma ** 2))


def _panel(fig, row, col, ncols):
    """The AxesImage drawn in panel (row, col) of a figure of ``ncols`` image columns (colour bars excluded)."""
    axes = [ax for ax in fig.axes if ax.images and ax.get_label() != "<colorbar>"]
    return axes[row * ncols + col].images[0]


def test_a_weak_prediction_fills_its_rows_colour_range():
    """A prediction of amplitude 0.03 next to a StarGAN-like truth of 0.5 in another row: its panel's 99th
    percentile reaches most of the colour range (the old one-scale-per-figure rule drew it at ~6 %)."""
    from fklib.report.figures import localization_figure, map_scale

    face = np.full((64, 64, 3), 120, np.uint8)
    weak_gt, weak_pred = _blob(0.03), _blob(0.03, centre=(24, 38))
    strong = _blob(0.5, centre=(40, 20), sigma=14)
    rows = [{"label": "stgan", "real": face, "fake": face, "gt": weak_gt, "pred": weak_pred},
            {"label": "stargan", "real": face, "fake": face, "gt": strong, "pred": strong * 0.8},
            {"label": "real", "real": face, "fake": face, "gt": np.zeros((64, 64)), "pred": weak_pred}]
    fig = localization_figure(rows)
    for r in (0, 2):                                 # the weak prediction, with a weak truth and with none
        im = _panel(fig, r, 3, 5)                    # every column is an image: real, fake, gt, pred, overlay
        shown = np.asarray(im.norm(np.asarray(im.get_array(), float)))
        assert np.percentile(shown, 99) > 0.7, (r, im.norm.vmax)
    # the truth beside it is on the same scale as the prediction (levels stay comparable)
    assert _panel(fig, 0, 2, 5).norm.vmax == _panel(fig, 0, 3, 5).norm.vmax
    assert map_scale([weak_gt], [weak_pred]) < 0.05 < map_scale([strong], [strong * 0.8])
    assert map_scale([np.zeros((8, 8))], [np.zeros((8, 8))]) == 0.01     # never a zero-width scale
    # the square-root scale: a value at a quarter of the row's top is drawn at half the colour range
    norm = _panel(fig, 1, 3, 5).norm
    assert float(norm(norm.vmax / 4)) == pytest.approx(0.5)
    import matplotlib.pyplot as plt
    plt.close(fig)


def test_overlay_uses_the_colour_bars_colours():
    """Fig. 1's overlay is drawn in the maps' colour map (inferno), not jet: its top is inferno's pale yellow."""
    from fklib.report.figures import map_colours, map_overlay

    top = map_colours(np.array([1.0]))[0]
    assert top[0] > 0.9 and top[1] > 0.9 and top[2] < 0.75       # inferno ends pale yellow (jet: dark red)
    black = np.zeros((4, 4, 3), np.uint8)
    out = map_overlay(black, np.full((4, 4), 0.2), vmax=0.1, alpha=1.0)
    np.testing.assert_allclose(out[0, 0], top, atol=1e-6)


def test_decision_text_marks_a_wrong_call():
    from fklib.report.figures import decision_text

    assert decision_text(0.94, 0.757, 0) == "called fake WRONG\np 0.94"       # a real face called fake
    assert decision_text(0.5, 0.757, 0) == "called real\np 0.50"
    assert decision_text(0.76, 0.757, 1) == "called fake\np 0.76"
    assert decision_text(0.68, 0.46, 0, True, 0.04) == "called fake WRONG\np 0.68, peak 0.04"
    assert decision_text(None, 0.5, 1) == ""
