"""Notebook 03, paper Tables 3 and 4 (RQ2): the universal model on every GAN; single-property models across GANs."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..config import TrainConfig
from ..metrics.bootstrap import paired_verdict
from ..metrics.groups import LADDER, MODEL, REFERENCE_KNOWS, cell_means_difference
from .common import single_config

#: Sets of Table 3: the released StarGAN-128 generator and AttGAN + AttentionGAN (hundreds of test faces each,
#: JPEG), STGAN (lossless), InterFaceGAN; the disrupted StarGAN-256 strips and the 13 AttGAN sample rows (never
#: trained on) are kept as cross-checks.
TABLE3_SETS = ("stgan", "stargan128", "attgan_attentiongan", "stargan", "attgan", "interfacegan")
#: Table 3's splice rows ("STGAN splice", "StarGAN splice"): the fixed blob splices of the test identities.
TABLE3_SPLICES = ("stgan_test", "stargan_test")
#: Table 4's pairs: training property -> test (set, property) cells, first the gray "itself" cell. The paper's
#: STGAN Bald -> AttGAN Bald pair on the 270 AttGAN test faces of the released generator (and the 13 sample rows
#: for Black hair and Eyeglasses, which only they have); its Smile model is tested on StyleGAN, which we lack:
#: ours on AttentionGAN's Smiling (the same edit by another GAN) and the released StarGAN-128's edits.
TABLE4_TESTS = {
    "Bald": [("stgan", "Bald"), ("attgan_attentiongan", "Bald"), ("attgan", "Bald"), ("attgan", "Black_Hair"),
             ("attgan", "Eyeglasses")],
    "Mouth_Slightly_Open": [("stgan", "Mouth_Slightly_Open"), ("attgan_attentiongan", "Smiling"),
                            ("attgan", "Mouth_Slightly_Open"), ("stargan128", "Black_Hair"),
                            ("stargan128", "Blond_Hair"), ("stargan128", "Brown_Hair"), ("stargan128", "Male"),
                            ("stargan128", "Young")],
}


def table4_configs(profile: str) -> dict[str, TrainConfig]:
    """Table 4's single-property models (L1, the paper's default), one per training property."""
    return {prop: single_config(profile, prop, "l1") for prop in TABLE4_TESTS}


def table4_tests(prop: str) -> dict[str, list[str]]:
    """The test sets of the model trained on ``prop`` and, per set, the properties tested (in order)."""
    tests = TABLE4_TESTS[prop]
    return {s: [p for t, p in tests if t == s] for s in dict.fromkeys(s for s, _ in tests)}


# --- what Tables 3 and 4 say ----------------------------------------------------------------------

#: The columns of the per-set summary of Table 3 (:func:`table3_by_set`).
BY_SET_COLUMNS = ("acc", "bacc", "tpr", "tnr", "coss", "psnr", "ssim", "auc", "level_in")


def table3_by_set(table3: pd.DataFrame) -> pd.DataFrame:
    """The model's ``mean`` row of each set of Table 3 (all its fakes with its reals), indexed by set."""
    model = table3[(table3["predictor"] == MODEL) & (table3["property"] == "mean")]
    return model.set_index("set")[list(BY_SET_COLUMNS)]


def table4_losses(table4: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Table 4 per training property: ``own`` (its STGAN cell), ``cross`` (the mean ACC / COSS / SSIM of its other-GAN
    cells) and the properties that lose on other GANs in both ACC and SSIM (the paper's Table 4 drop)."""
    m4 = table4[table4["predictor"] == MODEL]
    own = m4[m4["gan"] == "stgan"].set_index("train_property")
    cross = m4[m4["gan"] != "stgan"].groupby("train_property")[["acc", "coss", "ssim"]].mean()
    losses = [p for p in cross.index if cross.loc[p, "ssim"] < own.loc[p, "ssim"] and cross.loc[p, "acc"] < own.loc[p, "acc"]]
    return own, cross, losses


def tables34_sentence(table3: pd.DataFrame, table4: pd.DataFrame) -> str:
    """Notebook 03's closing sentence, from the tables' rows: per test set the universal model's cell and how many of
    its columns have the paired COSS difference to the best reference (model − reference over the same images) with
    its 95 % interval above / below 0 (``coss_vs_ref``); per Table 4 model its own
    and other-GAN ACC / SSIM, and whether some model loses both on other GANs (the paper's finding)."""
    m3 = table3[(table3["predictor"] == MODEL) & (table3["property"] != "mean")]
    vs = m3["coss_vs_ref"] if "coss_vs_ref" in m3 else pd.Series("", index=m3.index)
    beats = m3.assign(better=vs.eq("better"), worse=vs.eq("worse")).groupby("set")[["better", "worse"]].sum().astype(int)
    own, cross, losses = table4_losses(table4)
    sets = "; ".join(
        f"{g}: COSS {r.coss:.3f}, SSIM {r.ssim:.3f}, pixel AUC {r.auc:.3f}, bACC {r.bacc:.3f} (TPR {r.tpr:.3f}, "
        f"TNR {r.tnr:.3f}), predicted level {r.level_in:.2f}x the truth's inside its region; "
        f"paired COSS difference to the best reference (model − reference over the same images, 95 % interval) above 0 "
        f"in {beats.loc[g, 'better'] if g in beats.index else 0} of {int((m3['set'] == g).sum())} columns, below 0 in "
        f"{beats.loc[g, 'worse'] if g in beats.index else 0}"
        for g, r in table3_by_set(table3).iterrows())
    models = "; ".join(f"{p}: own ACC {own.loc[p, 'acc']:.3f} / SSIM {own.loc[p, 'ssim']:.3f}, other GANs ACC "
                       f"{cross.loc[p, 'acc']:.3f} / SSIM {cross.loc[p, 'ssim']:.3f}" for p in cross.index)
    verdict = (f" -- {', '.join(losses)} lose on other GANs in both ACC and SSIM, as the paper also saw." if losses
               else " -- no model loses both ACC and SSIM on other GANs.")
    return "Per test set (all its fakes with its reals) for the universal model: " + sets + ". Table 4: " + models + verdict


# --- Table 4's drop against the references' drop on the same images ------------------------------------

#: The name of the table of :func:`table4_drops` (``results/tables/table4_drop.csv``).
DROP_TABLE = "table4_drop"
#: The cell keys of Table 4's per-image rows.
_CELL = ("set", "gan", "property")


def table4_drops(df4: pd.DataFrame, metric: str = "coss") -> pd.DataFrame:
    """Table 4's claim as a paired comparison (notebook 03's per-image rows ``df4``): per training property and each
    reference of the ladder (:data:`fklib.metrics.groups.LADDER`), the model's drop of ``metric`` from its own STGAN
    cell to the other GANs' cells (each cell weighted equally) and the reference's drop on the same images;
    ``excess`` = the model's drop minus the reference's, i.e. the drop of the per-image margin model − reference,
    with its 95 % interval (:func:`fklib.metrics.groups.cell_means_difference`: each test set's identities
    resampled); verdict ``above`` when the model loses more than the reference (the interval above 0)."""
    rows = []
    fakes = df4[df4["label"] == 1]
    for prop, sub in fakes.groupby("train_property", sort=False):
        model = sub[sub["predictor"] == MODEL]
        for ref in LADDER:
            theirs = sub[sub["predictor"] == ref]
            if theirs.empty:
                continue
            both = model.merge(theirs[[*_CELL, "source", metric]], on=[*_CELL, "source"], suffixes=("", "_ref"))
            both["margin"] = both[metric] - both[f"{metric}_ref"]
            cells = {key: cell for key, cell in both.groupby(list(_CELL), sort=False)}
            own = [k for k in cells if k[1] == "stgan"]
            cross = [k for k in cells if k[1] != "stgan"]
            if not own or not cross:
                continue

            def means(keys, col):
                return float(np.mean([cells[k][col].mean() for k in keys]))

            d, lo, hi = cell_means_difference([(cells[k]["identity"], cells[k]["margin"]) for k in own],
                                              [(cells[k]["identity"], cells[k]["margin"]) for k in cross])
            rows.append({"train_property": prop, "reference": ref, "metric": metric, "cells_other": len(cross),
                         "model_own": means(own, metric), "model_other": means(cross, metric),
                         "reference_own": means(own, f"{metric}_ref"), "reference_other": means(cross, f"{metric}_ref"),
                         "model_drop": means(own, metric) - means(cross, metric),
                         "reference_drop": means(own, f"{metric}_ref") - means(cross, f"{metric}_ref"),
                         "excess": d, "excess_lo": lo, "excess_hi": hi, "verdict": paired_verdict(lo, hi)})
    return pd.DataFrame(rows)


def drops_note() -> str:
    """The note of :func:`table4_drops`' table."""
    return ("Table 4's drop, paired: per training property, `model_drop` = the model's COSS on its own STGAN test cell "
            "minus the mean of its other-GAN cells (each cell weighted equally), `reference_drop` the same of the "
            "reference on the same images; `excess` = model_drop − reference_drop, the drop of the per-image margin "
            "model − reference, with its 95 % interval (each test set's identities resampled on its own); verdict "
            "`above`: the model loses more than the reference does, so the drop is the model's and not only the "
            "other sets' being harder. References: " + "; ".join(f"`{r}`: {REFERENCE_KNOWS[r]}" for r in LADDER) + ".")
