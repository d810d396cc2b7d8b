"""Notebook 03, paper Tables 3 and 4 (RQ2): the universal model on every GAN; single-property models across GANs."""

from __future__ import annotations

import pandas as pd

from ..config import TrainConfig
from ..metrics.groups import MODEL
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
    its columns have a COSS interval above / below the best reference's (``coss_vs_ref``); per Table 4 model its own
    and other-GAN ACC / SSIM, and whether some model loses both on other GANs (the paper's finding)."""
    m3 = table3[(table3["predictor"] == MODEL) & (table3["property"] != "mean")]
    vs = m3["coss_vs_ref"] if "coss_vs_ref" in m3 else pd.Series("", index=m3.index)
    beats = m3.assign(better=vs.eq("better"), worse=vs.eq("worse")).groupby("set")[["better", "worse"]].sum().astype(int)
    own, cross, losses = table4_losses(table4)
    sets = "; ".join(
        f"{g}: COSS {r.coss:.3f}, SSIM {r.ssim:.3f}, pixel AUC {r.auc:.3f}, bACC {r.bacc:.3f} (TPR {r.tpr:.3f}, "
        f"TNR {r.tnr:.3f}), predicted level {r.level_in:.2f}x the truth's inside its region; "
        f"COSS interval above the best reference's in {beats.loc[g, 'better'] if g in beats.index else 0} of "
        f"{int((m3['set'] == g).sum())} columns, below it in {beats.loc[g, 'worse'] if g in beats.index else 0}"
        for g, r in table3_by_set(table3).iterrows())
    models = "; ".join(f"{p}: own ACC {own.loc[p, 'acc']:.3f} / SSIM {own.loc[p, 'ssim']:.3f}, other GANs ACC "
                       f"{cross.loc[p, 'acc']:.3f} / SSIM {cross.loc[p, 'ssim']:.3f}" for p in cross.index)
    verdict = (f" -- {', '.join(losses)} lose on other GANs in both ACC and SSIM, as the paper also saw." if losses
               else " -- no model loses both ACC and SSIM on other GANs.")
    return "Per test set (all its fakes with its reals) for the universal model: " + sets + ". Table 4: " + models + verdict
