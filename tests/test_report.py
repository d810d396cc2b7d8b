"""Tables and figures in fixed places: rows from per-image results, the paper's cells and deltas,
atomic writing, Markdown formatting, the setting note. Everything writes under tmp_path."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from fklib.metrics import REFERENCE_KINDS
from fklib.report import (figure_path, format_cell, markdown_table, reference_rows, save_paper_figure, save_table,
                          setting_note, table_rows, to_wide, with_paper)


def per_image() -> pd.DataFrame:
    """A hand-built ``evaluate_checkpoint`` result: 4 reals, 2 Bald + 2 Bangs fakes, model + references."""
    rows = []
    for pred in ("model", *REFERENCE_KINDS):
        ref = pred != "model"
        for i, decision in enumerate((0, 0, 0, 1)):                          # model: one false alarm
            rows.append(dict(predictor=pred, gan="real", property="Real", label=0,
                             pred_fake=math.nan if ref else float(decision), coss=math.nan, psnr=math.inf, ssim=1.0))
        for prop, decisions, coss, psnr in (("Bald", (1, 1), (0.5, 0.7), (20.0, 30.0)),
                                            ("Bangs", (1, 0), (0.2, 0.4), (10.0, 12.0))):
            for d, c, p in zip(decisions, coss, psnr):
                rows.append(dict(predictor=pred, gan="stgan", property=prop, label=1,
                                 pred_fake=math.nan if ref else float(d), coss=c / (2 if ref else 1),
                                 psnr=p, ssim=0.5))
    return pd.DataFrame(rows)


def test_table_rows_means_and_acc():
    rows = table_rows(per_image(), by=["gan", "property"])
    assert list(rows.columns) == ["predictor", "gan", "property", "n", "n_reals", "metric", "value"]
    assert list(dict.fromkeys(rows["predictor"])) == ["model", *REFERENCE_KINDS]
    assert set(rows["gan"]) == {"stgan"}                                     # reals are no group of their own
    get = rows.set_index(["predictor", "property", "metric"])["value"]
    # ACC: the group's 2 fakes + the 4 reals (one false alarm)
    assert get["model", "Bald", "acc"] == pytest.approx(5 / 6)
    assert get["model", "Bangs", "acc"] == pytest.approx(4 / 6)
    assert get["model", "Bald", "coss"] == pytest.approx(0.6)
    assert get["model", "Bald", "psnr"] == pytest.approx(25.0)
    assert get["zeros", "Bald", "coss"] == pytest.approx(0.3)
    assert math.isnan(get["zeros", "Bald", "acc"])                           # references make no detection
    assert (rows["n"] == 2).all() and rows["n"].dtype.kind == "i"
    assert (rows["n_reals"] == 4).all()                                      # the reals behind each cell


def test_table_rows_context_mean_and_mapping():
    a, b = per_image().assign(method="l1"), per_image().assign(method="l2")
    b.loc[(b["label"] == 0) & (b["predictor"] == "model"), "pred_fake"] = 0.0   # l2: no false alarm
    rows = table_rows(pd.concat([a, b]), by=["method", "gan", "property"], predictors=["model"], add_mean=True)
    get = rows.set_index(["method", "property", "metric"])["value"]
    assert get["l1", "Bald", "acc"] == pytest.approx(5 / 6)                  # reals of its own method only
    assert get["l2", "Bald", "acc"] == pytest.approx(6 / 6)
    # the mean row is the cell of all the context's fakes with its reals (pooled), not a mean of the groups:
    # l2: 4 reals right + Bald 2 of 2 + Bangs 1 of 2 -> 7 / 8 (a mean of the groups would give 11 / 12)
    assert get["l2", "mean", "acc"] == pytest.approx(7 / 8)
    assert rows.loc[rows["property"] == "mean", "n"].eq(4).all()
    assert set(rows["predictor"]) == {"model"}
    region = table_rows(per_image().assign(coss_region=0.9), metrics={"coss": "coss_region"})
    assert set(region["metric"]) == {"coss"} and np.allclose(region["value"], 0.9)
    refs = reference_rows(per_image())
    assert set(refs["predictor"]) == set(REFERENCE_KINDS)
    with pytest.raises(ValueError, match="lack"):
        table_rows(per_image().drop(columns="ssim"))


def test_with_paper_delta_and_missing_cells():
    ours = pd.DataFrame([
        ("model", "l1", "psnr", 20.83),           # paper 22.83
        ("model", "l1", "acc", 0.9),              # paper 0.994
        ("model", "l1_no_cl", "acc", 0.8),        # the paper prints "\": no cell
        ("model", "l1+ssim", "psnr", 25.0),       # not in the paper
        ("zeros", "l1", "psnr", 18.0),            # a reference row: the paper has no such cell
    ], columns=["predictor", "method", "metric", "value"], index=[10, 11, 12, 13, 14])
    out = with_paper(ours, 2, on=["method"])
    assert list(out.columns) == ["predictor", "method", "metric", "value", "paper", "delta"]
    assert list(out.index) == list(range(5)) and list(out["value"]) == list(ours["value"])
    assert out.loc[0, "paper"] == 22.83 and out.loc[0, "delta"] == pytest.approx(-2.0)
    assert out.loc[1, "delta"] == pytest.approx(0.9 - 0.994)
    assert out.loc[2:4, ["paper", "delta"]].isna().all().all()
    both = with_paper(ours, 2, on=["method"], predictor=None)
    assert both.loc[4, "paper"] == 22.83 and both.loc[4, "delta"] == pytest.approx(18.0 - 22.83)
    assert "predictor" in ours.columns and "paper" not in ours.columns     # input untouched


def test_with_paper_aliases_paper_only_and_errors():
    ours = pd.DataFrame({"predictor": "model", "gan": ["interfacegan", "stgan"], "property": ["Entire", "Bald"],
                         "n": [5, 5], "metric": "psnr", "value": [40.0, 27.0]})
    out = with_paper(ours, 3, on=["gan", "property"], aliases={"gan": {"interfacegan": "pggan"}})
    assert list(out["gan"]) == ["interfacegan", "stgan"]
    assert list(out["paper"]) == [48.70, 27.51]
    assert out["delta"].to_numpy() == pytest.approx([40.0 - 48.70, 27.0 - 27.51])
    full = with_paper(ours, 3, on=["gan", "property"], include_paper_only=True)
    assert len(full) == 2 + 19 - 1                                           # the paper's 19 PSNR cells, 1 shared
    assert full["value"].isna().sum() == 19 - 1 and str(full["n"].dtype) == "Int64"
    assert set(full["metric"]) == {"psnr"}
    with pytest.raises(ValueError, match="several cells"):
        with_paper(ours.assign(gan="attgan", property="Bald"), 4, on=["property"])
    with pytest.raises(ValueError, match="not"):
        with_paper(ours, 3, on=["method"])
    with pytest.raises(ValueError, match="lack"):
        with_paper(ours.drop(columns="value"), 3, on=["gan", "property"])


def test_to_wide():
    long = with_paper(table_rows(per_image()), 3, on=["gan", "property"])
    wide = to_wide(long)
    assert list(wide.columns[:4]) == ["predictor", "gan", "property", "n"]
    assert "acc_paper" in wide.columns and "psnr_delta" in wide.columns
    assert len(wide) == 2 * (1 + len(REFERENCE_KINDS))                      # every predictor x 2 properties
    row = wide[(wide["predictor"] == "model") & (wide["property"] == "Bald")].iloc[0]
    assert row["psnr"] == pytest.approx(25.0) and row["psnr_paper"] == 27.51
    assert "acc_paper" not in to_wide(table_rows(per_image())).columns


def test_format_cell():
    assert format_cell(27.512, "psnr") == "27.51"
    assert format_cell(27.512, "psnr_delta") == "27.51"
    assert format_cell(27.512, "psnr/model") == "27.51"
    assert format_cell(0.98765, "coss") == "0.988"
    assert format_cell(0.98765, "value", metric="psnr") == "0.99"
    assert format_cell(0.98765, "value", metric="ssim") == "0.988"
    assert format_cell(math.nan, "acc") == "" and format_cell(pd.NA, "n") == "" and format_cell(None) == ""
    assert format_cell(4.0, "n") == "4" and format_cell(np.int64(7), "n") == "7"
    assert format_cell(math.inf, "psnr") == "inf"
    assert format_cell("a|b") == "a\\|b"
    md = markdown_table(pd.DataFrame({"metric": ["psnr", "coss"], "value": [30.1234, 0.81234]}))
    assert "| psnr | 30.12 |" in md and "| coss | 0.812 |" in md


def test_save_table_writes_both_atomically(tmp_path):
    wide = pd.DataFrame({"predictor": ["model", "zeros"], "gan": "stgan", "property": "Bald", "n": [3, 3],
                         "acc": [0.98765, math.nan], "psnr": [27.5123, 20.0], "psnr_paper": [27.51, math.nan],
                         "ssim": [0.85721, 0.5]})
    note = "128 px inputs (paper: 224 px)."
    out = save_table(wide, "table3", note=note, results_dir=tmp_path)
    assert out == {"csv": tmp_path / "tables" / "table3.csv", "md": tmp_path / "tables" / "table3.md"}
    assert sorted(p.name for p in (tmp_path / "tables").iterdir()) == ["table3.csv", "table3.md"]   # no temp files
    back = pd.read_csv(out["csv"])
    pd.testing.assert_frame_equal(back, wide, check_dtype=False)
    md = out["md"].read_text()
    lines = md.splitlines()
    assert lines[0] == "# Table 3: Performance of The Model (ours)"
    assert md.index(note) < md.index("| predictor |")
    assert "`paper`" in md and "Reference rows" in md
    assert "| model | stgan | Bald | 3 | 0.988 | 27.51 | 27.51 | 0.857 |" in lines
    assert "| zeros | stgan | Bald | 3 |  | 20.00 |  | 0.500 |" in lines
    # again, long format and a custom title: overwritten in place
    long = pd.DataFrame({"metric": ["psnr", "ssim"], "value": [30.0, 0.5], "paper": [31.0, 0.6]})
    save_table(long, "table3", results_dir=tmp_path, title="Custom")
    md = out["md"].read_text()
    assert md.startswith("# Custom\n") and "| psnr | 30.00 | 31.00 |" in md and "| ssim | 0.500 | 0.600 |" in md
    assert sorted(p.name for p in (tmp_path / "tables").iterdir()) == ["table3.csv", "table3.md"]
    # a non-default index becomes columns; other names get their name as title
    indexed = pd.DataFrame({"acc": [0.5]}, index=pd.Index(["model"], name="predictor"))
    paths = save_table(indexed, "extra", results_dir=tmp_path)
    assert paths["md"].read_text().startswith("# extra\n")
    assert list(pd.read_csv(paths["csv"]).columns) == ["predictor", "acc"]
    for bad in ("", "a/b", ".hidden"):
        with pytest.raises(ValueError):
            save_table(long, bad, results_dir=tmp_path)


def test_default_results_dir_follows_the_project_root(tmp_path, monkeypatch):
    monkeypatch.setenv("FKLIB_ROOT", str(tmp_path))
    out = save_table(pd.DataFrame({"a": [1]}), "t", results_dir=None)
    assert out["csv"] == tmp_path / "results" / "tables" / "t.csv" and out["csv"].is_file()
    assert figure_path(10) == tmp_path / "results" / "figures" / "fig10.png"


def test_figures(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    assert figure_path(8, tmp_path) == tmp_path / "figures" / "fig8.png"
    assert figure_path("10", tmp_path) == tmp_path / "figures" / "fig10.png"
    assert figure_path("gallery.png", tmp_path) == tmp_path / "figures" / "gallery.png"
    with pytest.raises(ValueError):
        figure_path("../x", tmp_path)
    fig, ax = plt.subplots(figsize=(2, 1))
    ax.plot([0, 1], [0, 1])
    path = save_paper_figure(fig, 10, results_dir=tmp_path)
    assert path == tmp_path / "figures" / "fig10.png"
    with Image.open(path) as im:
        assert im.format == "PNG" and round(im.info["dpi"][0]) == 150
    assert [p.name for p in (tmp_path / "figures").iterdir()] == ["fig10.png"]


def test_setting_note():
    cfg = {"size": 128, "model": "efficientnet_lite0_unet", "epochs": 16, "batch_size": 16, "lr": 1e-3,
           "schedule": "cosine", "loss": "l2+ssim"}
    note = setting_note(config=cfg, table=3, n_train_fakes=1500, n_train_reals=100, n_test_fakes=300)
    for part in ("128 px inputs (paper: 224 px)", "EfficientNet-Lite0 U-Net", "DeepLabV3-ResNet101",
                 "16 epochs", "(paper: 10 epochs, batch 8, Adam lr 0.0001)", "L2 + SSIM",
                 "training on 1,500 fakes + 100 reals", "2,000 fakes per GAN/property category",
                 "testing on 300 fakes (paper: 1,000 fakes + 1,000 reals)", "shared/data"):
        assert part in note, part
    t2 = setting_note(config=cfg, table=2, data="Data: ours.", extra="More.")
    assert "5,000 fakes + 5,000 reals per property" in t2 and "map loss" not in t2
    assert "19x19" in t2 and "Data: ours." in t2 and t2.endswith("More.")
    assert "in-region" in setting_note(config=cfg, table=5) or "inside the modified" in setting_note(config=cfg, table=5)
    paper_note = setting_note("paper")
    assert "224 px inputs (as the paper)" in paper_note and "DeepLabV3-ResNet101 (as the paper)" in paper_note
    assert "128 px" in setting_note("cpu")
    with pytest.raises(ValueError, match="profile"):
        setting_note("nope")


def test_intervals_resample_identities_and_fold_into_markdown(tmp_path):
    """``intervals``: a percentile bootstrap over identities, equal to a plain loop over resamples."""
    from fklib.report.tables import fold_intervals

    rng = np.random.default_rng(5)
    rows = []
    for ident in range(12):
        rows.append(dict(predictor="model", gan="real", property="Real", label=0, identity=str(ident),
                         pred_fake=float(ident % 4 == 0), coss=math.nan))
        for k in range(2):   # two edits per identity: identities, not images, are the unit
            rows.append(dict(predictor="model", gan="stgan", property="Bald", label=1, identity=str(ident),
                             pred_fake=float(rng.random() < 0.7), coss=float(rng.random())))
    df = pd.DataFrame(rows)
    t = table_rows(df, metrics=["coss", "acc", "bacc"], intervals=True).set_index("metric")
    fakes = df[df["label"] == 1]
    ids = sorted(df["identity"].unique())
    draws = np.random.default_rng(0)
    coss_means, bacc = [], []
    for _ in range(1000):
        counts = draws.multinomial(len(ids), np.full(len(ids), 1 / len(ids)))
        pick = np.concatenate([np.flatnonzero(fakes["identity"].to_numpy() == i).repeat(c) for i, c in zip(ids, counts)])
        coss_means.append(fakes["coss"].to_numpy()[pick].mean())
    lo, hi = np.percentile(coss_means, [2.5, 97.5])
    assert t.loc["coss", "lo"] == pytest.approx(lo) and t.loc["coss", "hi"] == pytest.approx(hi)
    assert t.loc["coss", "lo"] <= t.loc["coss", "value"] <= t.loc["coss", "hi"]
    d, y = df["pred_fake"].to_numpy(), df["label"].to_numpy()
    assert t.loc["bacc", "value"] == pytest.approx(((d[y == 1] == 1).mean() + (d[y == 0] == 0).mean()) / 2)
    assert t.loc["acc", "lo"] < t.loc["acc", "hi"]
    # a constant answer: balanced ACC exactly 0.5 however unbalanced the set
    const = table_rows(df.assign(pred_fake=1.0), metrics=["acc", "bacc"]).set_index("metric")["value"]
    assert const["bacc"] == 0.5 and const["acc"] == pytest.approx(24 / 36)
    wide = to_wide(t.reset_index())
    cell = fold_intervals(wide)["coss"].iloc[0]
    assert cell == f"{t.loc['coss', 'value']:.3f} [{lo:.3f}, {hi:.3f}]"


def test_marks_compare_the_model_with_the_best_reference_by_paired_differences():
    """The verdict comes from the per-image difference on the same images: a model a little above the best
    reference on every image beats it although both intervals overlap widely (the images' spread is shared)."""
    from fklib.metrics.groups import mark_versus

    rng = np.random.default_rng(0)
    rows = []
    for prop, shift in (("A", -0.03), ("B", 0.01), ("C", 0.0)):
        for i in range(40):
            base = 0.6 + 0.3 * rng.random()
            noise = rng.normal(0, 0.05) if prop == "C" else 0.0
            for pred, value in (("model", base + shift + noise), ("layout_prior", base), ("zeros", 0.0)):
                rows.append(dict(predictor=pred, property=prop, identity=str(i), source=f"{prop}{i}", label=1,
                                 coss=value))
    per_image = pd.DataFrame(rows)
    wide = to_wide(table_rows(per_image, by=["property"], metrics=["coss"], intervals=True))
    b = wide.set_index(["predictor", "property"])
    assert b.loc[("model", "B"), "coss_lo"] < b.loc[("layout_prior", "B"), "coss_hi"]  # unpaired: overlapping
    marked = mark_versus(wide, ["property"], per_image).set_index(["predictor", "property"])
    marks = marked["coss_vs_ref"]
    assert (marks["model", "A"], marks["model", "B"], marks["model", "C"]) == ("worse", "better", "overlaps")
    assert marks["zeros", "A"] == ""
    assert marked.loc[("model", "B"), "coss_vs_layout_prior"] == pytest.approx(0.01)
    lo, hi = marked.loc[("model", "A"), ["coss_vs_layout_prior_lo", "coss_vs_layout_prior_hi"]]
    assert lo == pytest.approx(-0.03) and hi == pytest.approx(-0.03)
    assert "coss_vs_property_mean" not in marked.columns  # no such reference in these rows


def test_pooled_pixel_metrics_sum_counts_not_means():
    # two fakes of one group: counts (tp, fp, fn) = (1, 0, 3) and (8, 2, 0)
    df = pd.DataFrame([dict(gan="stgan", property="Bald", label=1, identity="a", tp=1.0, fp=0.0, fn=3.0, f1=2 / 5),
                       dict(gan="stgan", property="Bald", label=1, identity="b", tp=8.0, fp=2.0, fn=0.0, f1=16 / 18),
                       dict(gan="real", property="Real", label=0, identity="c", tp=0.0, fp=5.0, fn=0.0, f1=math.nan)])
    rows = table_rows(df, by=["gan", "property"], metrics=("f1", "f1_pooled", "iou_pooled"), intervals=True)
    get = rows.set_index("metric")["value"]
    assert get["f1"] == pytest.approx((2 / 5 + 16 / 18) / 2)                 # per-image mean over the fakes
    assert get["f1_pooled"] == pytest.approx(2 * 9 / (2 * 9 + 2 + 3))        # 18 / 23: summed counts, reals left out
    assert get["iou_pooled"] == pytest.approx(9 / (9 + 2 + 3))
    lo, hi = rows.set_index("metric").loc["f1_pooled", ["lo", "hi"]]
    # two identities: a resample is a, b or both, so the interval spans the per-identity ratios
    assert lo == pytest.approx(2 / 5) and hi == pytest.approx(16 / 18)
    with pytest.raises(ValueError, match="tp"):
        table_rows(df.drop(columns=["tp"]), metrics=("f1_pooled",))


def test_the_legend_says_the_marks_are_paired_differences_and_what_each_reference_knows(tmp_path):
    """Issue 41 item 11 and issue 39 item 3: the `+ / - / ~` legend says what is computed (a paired difference with
    its interval, not two intervals compared), only where marks are printed; the reference rows say what they know."""
    wide = pd.DataFrame([dict(predictor="model", coss=0.8, coss_lo=0.7, coss_hi=0.9, coss_vs_ref="better",
                              coss_vs_layout_prior=0.02, coss_vs_layout_prior_lo=0.01, coss_vs_layout_prior_hi=0.03),
                         dict(predictor="layout_prior", coss=0.78, coss_lo=0.7, coss_hi=0.85)])
    md = save_table(wide, "marked", results_dir=tmp_path)["md"].read_text()
    assert "paired verdict against the best reference row" in md and "above that of the best" not in md
    assert "model − reference over the same images" in md
    assert "knows the edited property, an oracle the network lacks" in md and "knows neither the image nor the edit" in md
    assert "0.800 [0.700, 0.900]+" in md and "0.020 [0.010, 0.030]" in md
    plain = save_table(wide.drop(columns=["coss_vs_ref"]).iloc[:1], "plain", results_dir=tmp_path)["md"].read_text()
    assert "paired verdict" not in plain and "95 % bootstrap interval" in plain
