"""The one definition of a table cell (fklib.metrics.groups): pooled mean rows, the map level, the reference
comparison, chance flags; and the verdicts built on it (summary tally, collapse notes, robustness sentences)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from fklib.metrics import batch_map_metrics
from fklib.metrics.groups import at_or_below_chance, group_rows, group_summary, versus_references


def test_level_in_and_out_are_ratios_of_pixel_sums():
    """A prediction at half the truth inside the truth's region (gt > 0.1) and at 0.02 outside it."""
    gt = torch.zeros(2, 1, 4, 4, dtype=torch.float64)
    gt[0, 0, :2] = 0.4            # 8 pixels inside
    gt[0, 0, 2:] = 0.05           # 8 pixels outside, below tau
    gt[1, 0, :1] = 0.8            # 4 inside, 12 outside at 0
    pred = torch.where(gt > 0.1, gt / 2, torch.full_like(gt, 0.02))
    sums = batch_map_metrics(pred.float(), gt.float(), 0.1, ("coss",))
    rows = pd.DataFrame({"label": 1, "gan": "g", "property": "p", "identity": ["a", "b"],
                         **{k: sums[k] for k in ("pred_in", "gt_in", "pred_out", "gt_out")}})
    cell = group_summary(rows, ("level_in", "level_out"), intervals=False)
    # inside: (8 * 0.2 + 4 * 0.4) / (8 * 0.4 + 4 * 0.8); outside: (20 * 0.02) / (8 * 0.05)
    assert cell["level_in"] == pytest.approx((8 * 0.2 + 4 * 0.4) / (8 * 0.4 + 4 * 0.8), rel=1e-5)
    assert cell["level_out"] == pytest.approx(20 * 0.02 / (8 * 0.05), rel=1e-5)


def _rows():
    """Two properties of unequal size and three reals; decisions chosen so mean-of-groups != pooled."""
    rows = []
    for i, d in enumerate((0, 0, 1)):
        rows.append(dict(gan="real", property="Real", label=0, pred_fake=float(d), identity=f"r{i}", coss=math.nan))
    for i, d in enumerate((1, 1, 1, 0)):
        rows.append(dict(gan="stgan", property="A", label=1, pred_fake=float(d), identity=f"a{i}", coss=0.8))
    rows.append(dict(gan="stgan", property="B", label=1, pred_fake=0.0, identity="b0", coss=0.2))
    return pd.DataFrame(rows)


def test_mean_row_is_the_pooled_cell_with_its_reals():
    long = group_rows(_rows(), metrics=("acc", "bacc", "tpr", "tnr", "coss"), add_mean=True)
    get = long.set_index(["property", "metric"])["value"]
    # A: 4 fakes (3 right) + 3 reals (2 right) -> 5 / 7; B: 1 fake (wrong) + 3 reals -> 2 / 4
    assert get["A", "acc"] == pytest.approx(5 / 7) and get["B", "acc"] == pytest.approx(2 / 4)
    # mean: 5 fakes (3 right) + 3 reals (2 right) = 5 / 8, not (5/7 + 2/4) / 2
    assert get["mean", "acc"] == pytest.approx(5 / 8)
    assert get["mean", "tpr"] == pytest.approx(3 / 5) and get["mean", "tnr"] == pytest.approx(2 / 3)
    assert get["mean", "bacc"] == pytest.approx((3 / 5 + 2 / 3) / 2)
    assert get["mean", "coss"] == pytest.approx((4 * 0.8 + 0.2) / 5)          # over the fakes, not the groups
    counts = long.drop_duplicates("property").set_index("property")
    assert counts.loc["mean", "n"] == 5 and (long["n_reals"] == 3).all()


def test_versus_references_compares_with_the_best_reference():
    refs = {"zeros": 0.0, "layout_prior": 0.84, "property_mean": 0.83}
    assert versus_references(0.85, refs) == "better"
    assert versus_references(0.835, refs) == "worse"                     # above one, below the best: not a win
    lo, hi = {"layout_prior": 0.83, "property_mean": 0.82, "zeros": 0.0}, {"layout_prior": 0.85, "property_mean": 0.84, "zeros": 0.0}
    assert versus_references(0.86, refs, 0.852, 0.87, lo, hi) == "better"
    assert versus_references(0.86, refs, 0.845, 0.87, lo, hi) == "overlaps"
    assert versus_references(0.80, refs, 0.79, 0.81, lo, hi) == "worse"
    assert versus_references(math.nan, refs) == "" and versus_references(0.5, {}) == ""


def test_chance_flags():
    assert at_or_below_chance("auc", 0.5) and at_or_below_chance("auc", 0.45) and not at_or_below_chance("auc", 0.51)
    assert at_or_below_chance("bacc", 0.5) and not at_or_below_chance("coss", 0.1)
    assert not at_or_below_chance("auc", math.nan)


def test_summary_tally_is_two_sided_and_sets_differing_conventions_apart():
    from fklib.report.summary import tally

    t = pd.DataFrame([
        dict(predictor="model", method="a", gan="stgan", property="Bald", psnr=20.0, psnr_paper=20.5),   # matches
        dict(predictor="model", method="b", gan="stgan", property="Bald", psnr=25.0, psnr_paper=22.0),   # above
        dict(predictor="model", method="c", gan="stgan", property="Bald", psnr=15.0, psnr_paper=18.0),   # below
        dict(predictor="model", method="d", gan="stgan", property="Bald", psnr=18.8, psnr_paper=5.17),   # convention
        dict(predictor="zeros", method="zeros", gan="stgan", property="Bald", psnr=17.0, psnr_paper=np.nan)])
    c = tally(t, "psnr", 1.0)
    assert (c["cells"], c["matches"], c["above"], c["below"], c["conventions"]) == (4, 1, 1, 1, 1)
    assert np.mean(c["deltas"]) == pytest.approx((-0.5 + 3.0 - 3.0) / 3)


def test_collapse_notes_flag_one_answer_to_fakes_and_reals_only():
    from fklib.studies.face_parsing import collapse_notes

    rows = []
    for method, fake_answer in (("healthy", 1.0), ("collapsed", 0.0)):
        rows += [dict(predictor="model", method=method, property="Real", label=0, pred_fake=0.0) for _ in range(3)]
        rows += [dict(predictor="model", method=method, property="Bald", label=1, pred_fake=fake_answer) for _ in range(2)]
    notes = collapse_notes(pd.DataFrame(rows), by=("method", "property"))
    assert len(notes) == 1 and notes[0].startswith("`collapsed/Bald`")   # never `*/Real`: reals called real is right


def test_degradation_sentences_report_the_lowest_tnr_beside_acc():
    from fklib.studies.robustness import degradation_lines, nothing_floors

    base = dict(model="universal", n=151, n_fake=104)
    table = pd.DataFrame([
        dict(base, degradation="none", level=None, acc=0.91, bacc=0.87, tpr=0.99, tnr=0.75, auc=0.70, coss=0.82, psnr=30.0, ssim=0.73),
        dict(base, degradation="lowres", level=3.0, acc=0.715, bacc=0.52, tpr=0.96, tnr=0.085, auc=0.60, coss=0.7, psnr=28.0, ssim=0.6),
        dict(base, degradation="lowres", level=8.0, acc=0.52, bacc=0.62, tpr=0.37, tnr=0.87, auc=0.49, coss=0.5, psnr=27.0, ssim=0.5)])
    text = degradation_lines(table)[0]
    assert "lowest TNR 0.085 at 3 while ACC reads 0.715" in text
    assert "0.490 (at or below chance) at 8" in text
    refs = pd.DataFrame([dict(model="zeros", degradation="none", level=None, coss=0.0, psnr=24.0, ssim=0.11)])
    floors = nothing_floors(refs, table)
    assert floors["bacc"] == pytest.approx(0.5 / 0.87) and floors["psnr"] == pytest.approx(24.0 / 30.0)
    assert floors["coss"] == 0.0
