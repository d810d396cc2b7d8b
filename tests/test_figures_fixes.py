"""Figures that show their point: labels inside their panels, captions that name what is drawn and sit under
it, colour bars as tall as their maps, no panel of text alone, Fig. 10 with a pixel-AUC row, whole epochs,
a legend of the parsing classes. Synthetic inputs only (no model, no results folder)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from matplotlib.container import BarContainer

from fklib.colors import PARSING_PALETTE
from fklib.data.readers import CELEBAMASK_CLASSES
from fklib.report import robustness_figures as rf
from fklib.report import figures as ff

S = 64


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    ff._plt().close("all")


def _blob(amplitude, centre=(20, 40), sigma=8.0):
    yy, xx = np.mgrid[:S, :S]
    return amplitude * np.exp(-((yy - centre[0]) ** 2 + (xx - centre[1]) ** 2) / (2 * sigma ** 2))


def _face():
    return np.full((S, S, 3), 120, np.uint8)


def _drawn(fig):
    fig.canvas.draw()
    return fig.canvas.get_renderer()


def _inside(inner, outer, tol: float = 1.0) -> bool:
    return (inner.x0 >= outer.x0 - tol and inner.x1 <= outer.x1 + tol
            and inner.y0 >= outer.y0 - tol and inner.y1 <= outer.y1 + tol)


def _gallery_rows(n: int) -> list[dict]:
    """Fig. 1 rows whose call label is the longest one the gallery prints (a wrong call with a map peak)."""
    return [dict(label=f"stgan {k}\nYoung", real=_face(), fake=_face(), gt=_blob(0.3), pred=_blob(0.04),
                 metrics={"coss": 0.958, "psnr": 35.38, "ssim": 0.874}, probability=0.68, threshold=0.46,
                 true_label=0, called_fake=True, peak_floor=0.02, peak=0.04) for k in range(n)]


@pytest.mark.parametrize("n_rows", [2, 14])
def test_fig1_labels_fit_their_panel_and_the_caption_sits_under_the_last_row(n_rows):
    fig = ff.localization_figure(_gallery_rows(n_rows))
    renderer = _drawn(fig)
    panels = [ax for ax in fig.axes if ax.texts]                  # the prediction panels carry the labels
    assert len(panels) == n_rows
    for ax in panels:
        box = ax.get_window_extent(renderer)
        texts = {t.get_text() for t in ax.texts}
        assert "called fake WRONG\np 0.68, peak 0.04" in texts
        for t in ax.texts:
            assert _inside(t.get_window_extent(renderer), box), t.get_text()
            assert _inside(t.get_bbox_patch().get_window_extent(renderer), box), t.get_text()
    (caption,) = fig.texts
    assert "prediction and overlay" in caption.get_text()
    lowest = min(ax.get_window_extent(renderer).y0 for ax in fig.axes)
    gap = lowest - caption.get_window_extent(renderer).y1
    assert 0 <= gap < 0.25 * fig.dpi                              # under the last row, not ~3 in below it


def test_fig5_caption_names_only_the_maps_it_draws_and_its_bars_sit_by_them():
    rows = [(f"STGAN P{k}", _face(), _face(), _blob(0.1 * (k + 1)), _blob(0.1 * (k + 1)) > 0.1) for k in range(2)]
    fig = ff.gt_figure(rows)
    renderer = _drawn(fig)
    (caption,) = fig.texts
    text = caption.get_text()
    assert "gray-scale map" in text and "prediction" not in text and "overlay" not in text
    bars = [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]
    maps = [ax for ax in fig.axes if ax.images and ax.get_label() != "<colorbar>"]
    assert len(bars) == 2
    for r, bar in enumerate(bars):                                # between the gray map and the binary map
        gray, binary = maps[4 * r + 2], maps[4 * r + 3]
        x0, x1 = bar.get_window_extent(renderer).x0, bar.get_window_extent(renderer).x1
        assert gray.get_window_extent(renderer).x1 <= x0 and x1 <= binary.get_window_extent(renderer).x0


def test_fig7_prints_table5s_definition_and_says_so():
    from fklib.studies import face_parsing

    rows = pd.DataFrame([dict(method="no_fp", coss_region=0.8, psnr_region=20.0, ssim_region=0.3,
                              psnr_zeroed=28.0, ssim_zeroed=0.7)])
    assert face_parsing.panel_metrics(rows, "zeroed") == {"no_fp": {"coss": 0.8, "psnr": 28.0, "ssim": 0.7}}
    assert face_parsing.panel_metrics(rows, "masked") == {"no_fp": {"coss": 0.8, "psnr": 20.0, "ssim": 0.3}}
    assert "zeroed definition" in face_parsing.fig7_title("zeroed")
    assert "masked" not in face_parsing.fig7_title("zeroed")


def _fig8_table() -> pd.DataFrame:
    rows = []
    for name, width in (("universal", 0.03), ("augmented", 0.05), ("property_mean (reference)", 0.01)):
        for m, g in (("bacc", 0.95), ("coss", 0.97), ("psnr", 0.98), ("ssim", 0.96)):
            ref = "(reference)" in name and m == "bacc"
            rows.append(dict(model=name, metric=m, gamma=math.nan if ref else g,
                             gamma_lo=math.nan if ref else g - width, gamma_hi=math.nan if ref else g + width))
    return pd.DataFrame(rows)


def test_fig8_value_labels_sit_above_their_error_bars():
    fig = rf.fig8_figure(_fig8_table())
    renderer = _drawn(fig)
    ax = fig.axes[0]
    tops = {}                                                     # bar centre (display x) -> top of its error bar
    for container in ax.containers:
        if isinstance(container, BarContainer):
            for seg in container.errorbar.lines[2][0].get_segments():
                if len(seg):                                      # a NaN bar has no whisker
                    (x, _), (_, hi) = ax.transData.transform(seg)
                    tops[round(x)] = hi
    labels = list(ax.texts)
    assert len(labels) == 3 * 4 - 1                               # 3 models x 4 metrics, no bACC for the reference
    for t in labels:
        box = t.get_window_extent(renderer)
        x = ax.transData.transform(t.xy)[0]
        assert box.y0 >= tops[round(x)] - 0.5, t.get_text()    # never struck through by the whisker


def _fig9_example():
    img = np.zeros((S, S, 3), np.uint8)
    return {"perm": (3, 0, 1, 2), "rows": [("original", img, _blob(0.3), _blob(0.1)),
                                           ("disorganized 3012", img, _blob(0.3, (40, 20)), _blob(0.1, (40, 20))),
                                           ("put back", None, _blob(0.3), _blob(0.09))]}


def test_fig9_has_no_text_only_panel_and_a_full_height_colour_bar():
    fig = rf.fig9_figure(_fig9_example(), title="t")
    renderer = _drawn(fig)
    bars = [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]
    panels = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert len(bars) == 1 and len(panels) == 7
    assert all(ax.images and not ax.texts for ax in panels)       # every panel draws something, none is text alone
    maps = [ax for ax in panels if ax.images[0].get_array().ndim == 2]
    assert len(maps) == 5 and len({ax.images[0].norm.vmax for ax in maps}) == 1    # one scale for all maps
    boxes = [ax.get_window_extent(renderer) for ax in maps]
    top, bottom = max(b.y1 for b in boxes), min(b.y0 for b in boxes)
    assert bars[0].get_window_extent(renderer).height == pytest.approx(top - bottom, rel=0.03)   # both rows tall


def _sweep(name: str, scale: float) -> pd.DataFrame:
    """A sweep frame in :func:`fklib.studies.robustness.sweep`'s columns (``auc`` without a γ column)."""
    rows = [dict(model=name, degradation="none", level=math.nan, bacc=0.9, coss=0.8, psnr=30.0, ssim=0.7, auc=0.72)]
    for deg, levels in (("jpeg", (90, 50, 10)), ("blur", (3, 7))):
        for k, lv in enumerate(levels, 1):
            f = 1 - scale * k
            rows.append(dict(model=name, degradation=deg, level=lv, bacc=0.9 * f, coss=0.8 * f, psnr=30 * f,
                             ssim=0.7 * f, auc=0.72 - 0.05 * k))
    df = pd.DataFrame(rows)
    for m in ("bacc", "coss", "psnr", "ssim", "auc"):
        df[f"{m}_lo"], df[f"{m}_hi"] = df[m] * 0.97, df[m] * 1.03
    for m in ("bacc", "coss", "psnr", "ssim"):
        df[f"gamma_{m}"] = df[m] / df.loc[0, m]
    return df


def test_fig10_has_a_pixel_auc_row_and_few_lines_per_panel():
    sweeps = {"universal": _sweep("universal", 0.1), "augmented": _sweep("augmented", 0.05)}
    floors = {"bacc": 0.5 / 0.9, "auc": 0.5 / 0.72, "coss": 0.0}
    fig = rf.fig10_figure(sweeps, floors=floors)
    axes = np.array(fig.axes).reshape(len(rf.FIG10_METRICS), 2)
    labels = [ax.get_ylabel() for ax in axes[:, 0]]
    assert "γ pixel AUC" in labels
    auc = axes[labels.index("γ pixel AUC")]
    for ax in auc:                                                # the two models, γ = 1, chance
        assert len(ax.lines) == 2 + 1 + 1
    jpeg = auc[0].lines[0].get_ydata()                           # γ of AUC: auc over the clean auc
    np.testing.assert_allclose(jpeg, [1.0, 0.67 / 0.72, 0.62 / 0.72, 0.57 / 0.72])
    low, high = auc[0].get_ylim()
    assert low < floors["auc"] < 1.0 < high                        # the row spans chance to unaffected
    assert max(len(ax.lines) for ax in fig.axes) <= 4             # not eight lines in a panel
    one = rf.fig10_figure({"universal": sweeps["universal"]}, title="stargan128")
    assert one.axes[0].get_ylim()[0] == 0.0                       # no floors: from 0
    assert all(len(ax.lines) == 2 for ax in one.axes)             # the model and γ = 1


def test_training_curves_are_ticked_at_whole_epochs():
    for n in (3, 12):
        history = pd.DataFrame({"epoch": np.arange(1, n + 1), "train_loss": np.linspace(3, 1, n),
                                "val_coss": np.linspace(0.5, 0.7, n)})
        history["best"] = history["epoch"] == n
        fig = ff.curves_figure(history)
        _drawn(fig)
        for ax in fig.axes:
            lo, hi = ax.get_xlim()
            ticks = [t for t in ax.get_xticks() if lo <= t <= hi]
            assert ticks and all(float(t).is_integer() for t in ticks), ticks


def test_parsing_gallery_has_a_legend_of_the_19_classes():
    parsing = np.arange(S * S).reshape(S, S) % 19
    fig = ff.parsing_gallery(np.stack([_face()] * 2), np.stack([parsing] * 2), ["a", "b"])
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == list(CELEBAMASK_CLASSES) and len(CELEBAMASK_CLASSES) == 19
    colours = [tuple(np.round(np.asarray(h.get_facecolor()[:3]) * 255).astype(int)) for h in legend.legend_handles]
    assert colours == [tuple(int(v) for v in c) for c in PARSING_PALETTE]


def test_notebook_04_draws_fig7_under_table5s_definition():
    import json
    from pathlib import Path

    cells = json.loads((Path(__file__).parents[1] / "notebooks" / "04_face_parsing_ablation.ipynb").read_text())["cells"]
    (fig7,) = ["".join(c["source"]) for c in cells if "attention_variants_figure(examples" in "".join(c["source"])]
    assert "face_parsing.panel_metrics(rows, definition)" in fig7 and "face_parsing.fig7_title(definition)" in fig7
    assert "masked" not in fig7 and "psnr_region" not in fig7
