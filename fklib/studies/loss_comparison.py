"""Notebook 02, paper Table 2 (RQ1): the DFFD baseline and FakeLocator with each map loss, on STGAN *Bald*."""

from __future__ import annotations

import dataclasses

import pandas as pd

from ..config import TrainConfig, baseline_config
from ..metrics.groups import MODEL
from .common import SINGLE_PATIENCE, single_config
from .profiles import study_profile

#: Table 2's rows: method -> (map loss, classifier).
TABLE2_METHODS = {"l1_no_cl": ("l1", False), "l1": ("l1", True), "l2": ("l2", True),
                  "dice": ("dice", True), "focal": ("focal", True)}


def table2_configs(profile: str) -> dict[str, TrainConfig]:
    """Table 2's models: the DFFD baseline (:func:`fklib.config.baseline_config`) and one FakeLocator
    per loss, all on STGAN Bald, under one budget rule (:func:`budget_rule`): all
    the profile's ``single_epochs``, the best validation epoch's weights kept, the decision
    at p(fake) > 0.5 as in the paper."""
    runs = {"dffd_baseline": dataclasses.replace(baseline_config(profile), epochs=study_profile(profile).single_epochs,
                                                 patience=SINGLE_PATIENCE, balanced_decision=False)}
    runs.update({m: single_config(profile, "Bald", loss, cls) for m, (loss, cls) in TABLE2_METHODS.items()})
    return runs


def budget_rule(profile: str) -> str:
    """Table 2's budget rule in words (its note)."""
    return (f"Every row, the DFFD baseline included, trains under one budget rule: {study_profile(profile).single_epochs} epochs"
            + (f", stopping after {SINGLE_PATIENCE} epochs without a better validation score" if SINGLE_PATIENCE else "")
            + ", the weights of the epoch with the best validation score kept; the decision at p(fake) > 0.5 as in "
            "the paper.")


def table2_sentence(table2: pd.DataFrame) -> str:
    """Notebook 02's reading of Table 2, from its rows: the best SSIM and COSS, the DFFD baseline against the
    input-blind global mean map, and whether the regression losses (L1, L2) give better maps (mean SSIM) than the
    segmentation losses (Dice, Focal), as the paper found."""
    m = table2[table2["predictor"] == MODEL].set_index("method")
    ref = table2[table2["predictor"] == "global_mean"].iloc[0]
    best_ssim = m["ssim"].idxmax()
    reg, seg = m.loc[["l1", "l2"], "ssim"].mean(), m.loc[["dice", "focal"], "ssim"].mean()
    base = m.loc["dffd_baseline"]
    return (f"Best SSIM: **{best_ssim}** ({m.loc[best_ssim, 'ssim']:.3f}); best COSS: **{m['coss'].idxmax()}** "
            f"({m['coss'].max():.3f}). The DFFD baseline reaches COSS {base['coss']:.3f} / SSIM {base['ssim']:.3f} "
            f"against {ref['coss']:.3f} / {ref['ssim']:.3f} for the input-blind global mean map"
            + (", below it" if base["coss"] < ref["coss"] else "") + ". The paper found regression losses (L1, L2) "
            f"better than the segmentation losses (Dice, Focal): here L1/L2 mean SSIM {reg:.3f} vs Dice/Focal {seg:.3f}"
            + (" -- as the paper found." if reg > seg else " -- the reverse of the paper's finding."))
