"""Notebook 02, paper Table 2 (RQ1): the DFFD baseline and FakeLocator with each map loss, on STGAN *Bald*."""

from __future__ import annotations

import dataclasses

import pandas as pd

from ..config import TrainConfig, baseline_config
from ..metrics.bootstrap import paired_difference, paired_verdict, ratio_interval
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


# --- Table 2's claims, paired over the same test images ----------------------------------------------

#: The name of the table of :func:`table2_contrasts` (``results/tables/table2_contrasts.csv``).
CONTRASTS_TABLE = "table2_contrasts"
#: The paper's COSS ratio of FakeLocator (L1) over the DFFD baseline (Table 2: 0.889 / 0.501).
PAPER_BASELINE_RATIO = 0.889 / 0.501


def _per_image(df: pd.DataFrame, methods, metric: str) -> pd.DataFrame:
    """The fakes' ``metric`` per image (rows: ``source``; columns: ``methods``), with ``identity``; only images every
    method scored."""
    fakes = df[(df["predictor"] == MODEL) & (df["label"] == 1) & df["method"].isin(list(methods))]
    wide = fakes.pivot_table(index=["source", "identity"], columns="method", values=metric, aggfunc="first")
    return wide.dropna(subset=[m for m in methods if m in wide.columns]).reset_index()


def table2_contrasts(df: pd.DataFrame) -> pd.DataFrame:
    """Table 2's two claims as paired comparisons over the same Bald test fakes (notebook 02's per-image rows ``df``
    with ``method``), each with its 95 % interval over identities:

    - ``regression - segmentation`` (SSIM and COSS): per image, the mean of the L1 and L2 models' values minus the mean
      of the Dice and Focal models' (:func:`fklib.metrics.bootstrap.paired_difference`); verdict above / below /
      matches 0;
    - ``l1 / dffd_baseline`` (COSS): the ratio of the L1 model's summed COSS over the DFFD baseline's on the same
      images (:func:`fklib.metrics.bootstrap.ratio_interval`); verdict above / below / matches 1.
    """
    rows = []
    reg, seg = ("l1", "l2"), ("dice", "focal")
    for metric in ("ssim", "coss"):
        w = _per_image(df, reg + seg, metric)
        if len(w) and all(m in w for m in reg + seg):
            d, lo, hi = paired_difference(w["identity"].astype(str).to_numpy(), w[list(reg)].mean(axis=1).to_numpy(),
                                          w[list(seg)].mean(axis=1).to_numpy())
            rows.append({"comparison": "regression - segmentation", "metric": metric, "kind": "difference",
                         "first": float(w[list(reg)].to_numpy().mean()), "second": float(w[list(seg)].to_numpy().mean()),
                         "value": d, "lo": lo, "hi": hi, "n": len(w), "verdict": paired_verdict(lo, hi)})
    w = _per_image(df, ("l1", "dffd_baseline"), "coss")
    if len(w) and {"l1", "dffd_baseline"} <= set(w.columns):
        num, den = w["l1"].to_numpy(float), w["dffd_baseline"].to_numpy(float)
        lo, hi = ratio_interval(w["identity"].astype(str).to_numpy(), num, den)
        value = float(num.sum() / den.sum()) if den.sum() > 0 else float("nan")
        rows.append({"comparison": "l1 / dffd_baseline", "metric": "coss", "kind": "ratio", "first": float(num.mean()),
                     "second": float(den.mean()), "value": value, "lo": lo, "hi": hi, "n": len(w),
                     "verdict": paired_verdict(lo - 1, hi - 1)})
    return pd.DataFrame(rows, columns=["comparison", "metric", "kind", "first", "second", "value", "lo", "hi", "n",
                                       "verdict"])


def contrasts_note() -> str:
    """The note of :func:`table2_contrasts`' table."""
    return ("Table 2's claims, paired over the same Bald test fakes: `regression - segmentation`: per image the mean of "
            "the L1 and L2 models' value minus the mean of the Dice and Focal models' (first / second: the two means), "
            "averaged; `l1 / dffd_baseline`: the L1 model's summed COSS over the DFFD baseline's (first / second: their "
            "means; the paper's ratio is 0.889 / 0.501 = 1.77). lo / hi: 95 % interval, identities resampled (an "
            "image's values drawn together); verdict: the interval above / below 0 (a ratio: 1), else matches.")
