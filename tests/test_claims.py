"""The claims table: each verdict follows its rule, and changes when the evidence says the opposite."""

from __future__ import annotations

import pandas as pd

from fklib.report import claims as C


def _t2(l1=0.85, base=0.60, reg=0.70, seg=0.55):
    rows = [("dffd_baseline", base, 0.2), ("l1", l1, reg), ("l2", l1, reg), ("dice", 0.7, seg), ("focal", 0.7, seg)]
    return pd.DataFrame([dict(predictor="model", method=m, coss=c, ssim=s) for m, c, s in rows])


def test_table2_claims_follow_the_numbers():
    assert C.loss_ordering(_t2())["verdict"] == "reproduces"
    assert C.loss_ordering(_t2(reg=0.50, seg=0.55))["verdict"] == "reversed"
    assert C.baseline_gap(_t2(l1=0.90, base=0.50))["verdict"] == "reproduces"
    assert C.baseline_gap(_t2(l1=0.80, base=0.62))["verdict"] == "partly"
    assert C.baseline_gap(_t2(l1=0.50, base=0.62))["verdict"] == "reversed"


def test_attention_claim_reversed_when_attention_lowers_detection():
    def t5(no, with_):
        return pd.DataFrame([dict(predictor="model", method=m, bacc=v) for m, v in (("no_fp", no), ("with_fp", with_))])

    assert C.attention_helps(t5(0.60, 0.75))["verdict"] == "reproduces"
    assert C.attention_helps(t5(0.70, 0.50))["verdict"] == "reversed"
    assert C.attention_helps(t5(0.70, 0.71))["verdict"] == "does not"


def test_universality_needs_the_paired_difference_above_zero_on_every_set():
    def t3(lo_b):
        return pd.DataFrame([dict(predictor="model", property="mean", set=s, coss_vs_layout_prior_lo=lo,
                                  coss_vs_layout_prior_hi=lo + 0.02, auc_vs_layout_prior_lo=lo,
                                  auc_vs_layout_prior_hi=lo + 0.02) for s, lo in (("a", 0.01), ("b", lo_b))])

    assert C.universality(t3(0.02))["verdict"] == "reproduces"
    assert C.universality(t3(-0.05))["verdict"] == "partly"


def test_disorganization_and_robustness_claims_fail_when_the_evidence_does():
    versus = pd.DataFrame([dict(model="universal", rival="layout_prior", diff=0.0, diff_lo=-0.01, diff_hi=0.01,
                                verdict="matches"),
                           dict(model="universal", rival="constant", diff=0.1, diff_lo=0.05, diff_hi=0.15,
                                verdict="above")])
    assert C.disorganization(versus)["verdict"] == "does not"
    versus.loc[0, ["diff_lo", "verdict"]] = (0.005, "above")
    assert C.disorganization(versus)["verdict"] == "reproduces"

    def t10(auc90):
        return pd.DataFrame([dict(model="universal", degradation="none", level=None, auc=0.80),
                             dict(model="universal", degradation="jpeg", level=90, auc=auc90),
                             dict(model="universal", degradation="jpeg", level=50, auc=0.5)])

    assert C.jpeg_robustness(t10(0.79))["verdict"] == "reproduces"
    assert C.jpeg_robustness(t10(0.58))["verdict"] == "does not"


def test_card_lists_a_property_as_not_beaten_by_the_paired_verdict_not_by_point_estimates():
    """The card's STGAN list (fklib.studies.card.stgan_losses): a property is listed unless the model is above
    both strong references by a paired interval. Property B has the model's mean above both references, but
    by a difference that flips sign from image to image (no paired evidence): listed; A is above on every
    image: not listed; C is below: listed."""
    import numpy as np

    from fklib.studies.card import stgan_losses

    rng = np.random.default_rng(0)
    rows = []
    for prop, shift, swing in (("A", 0.05, 0.01), ("B", 0.005, 0.2), ("C", -0.05, 0.01)):
        for i in range(40):
            base = rng.uniform(0.5, 0.8)
            src = f"{prop}{i}"
            for pred, v in (("model", base + shift + swing * (-1) ** i), ("property_mean", base),
                            ("layout_prior", base - 0.001)):
                rows.append({"predictor": pred, "label": 1, "source": src, "identity": f"id{i}", "property": prop,
                             "coss": v, "ssim": v})
    losses = stgan_losses(pd.DataFrame(rows), ["A", "B", "C"])
    assert losses == {"coss": ["B", "C"], "ssim": ["B", "C"]}


def _tables34(cross_ssim: float, cross_acc: float):
    """Table 3 with one set (two property columns, one above the best reference, and its mean row) and Table 4
    with one Bald model: its own STGAN cell and one other-GAN cell."""
    cell = dict(predictor="model", set="stgan", gan="stgan", acc=0.9, bacc=0.8, tpr=0.9, tnr=0.7, coss=0.8, psnr=30.0,
                ssim=0.7, auc=0.75, level_in=0.5)
    t3 = pd.DataFrame([{**cell, "property": "Bald", "coss_vs_ref": "better"},
                       {**cell, "property": "Bangs", "coss_vs_ref": "worse"}, {**cell, "property": "mean"}])
    t4 = pd.DataFrame([dict(predictor="model", train_property="Bald", gan="stgan", acc=0.9, coss=0.8, ssim=0.7),
                       dict(predictor="model", train_property="Bald", gan="attgan", acc=cross_acc, coss=0.6,
                            ssim=cross_ssim)])
    return t3, t4


def test_tables34_sentence_is_computed_from_the_rows():
    from fklib.studies import universality as U

    t3, t4 = _tables34(cross_ssim=0.5, cross_acc=0.6)
    drop = U.tables34_sentence(t3, t4)
    assert "stgan: COSS 0.800" in drop and "above the best reference's in 1 of 2 columns, below it in 1" in drop
    assert "Bald lose on other GANs in both ACC and SSIM" in drop and "other GANs ACC 0.600 / SSIM 0.500" in drop
    kept = U.tables34_sentence(*_tables34(cross_ssim=0.75, cross_acc=0.6))      # SSIM kept on the other GAN
    assert "no model loses both ACC and SSIM" in kept and "Bald lose" not in kept
    assert list(U.table3_by_set(t3).index) == ["stgan"] and U.table3_by_set(t3).loc["stgan", "auc"] == 0.75
