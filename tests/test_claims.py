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


# --- every notebook's closing sentence comes from the rows, and turns with them --------------------------------

def test_table2_sentence_follows_the_loss_ordering():
    from fklib.studies.loss_comparison import table2_sentence

    def t2(reg, seg, base=0.5):
        rows = [("dffd_baseline", base, 0.2), ("l1", 0.8, reg), ("l2", 0.79, reg), ("dice", 0.7, seg), ("focal", 0.7, seg)]
        return pd.DataFrame([dict(predictor="model", method=m, coss=c, ssim=s) for m, c, s in rows]
                            + [dict(predictor="global_mean", method="global_mean", coss=0.6, ssim=0.3)])

    kept = table2_sentence(t2(0.7, 0.4))
    assert "L1/L2 mean SSIM 0.700 vs Dice/Focal 0.400 -- as the paper found" in kept and "below it" in kept
    flipped = table2_sentence(t2(0.3, 0.6, base=0.7))
    assert "the reverse of the paper's finding" in flipped and "below it" not in flipped


def test_gallery_sentence_says_how_the_real_face_is_called():
    from fklib.studies.gallery import gallery_sentence

    def stats(called):
        return pd.DataFrame([dict(set="stgan", rank="median", coss=0.8, fake_probability=0.9, pred_mean=0.1, called_fake=True),
                             dict(set="stgan", rank="worst", coss=0.4, fake_probability=0.6, pred_mean=0.1, called_fake=True),
                             dict(set="real", rank="real", coss=float("nan"), fake_probability=0.7, pred_mean=0.05,
                                  called_fake=called)])

    assert "stgan COSS 0.800" in gallery_sentence(stats(False)) and "it is called real." in gallery_sentence(stats(False))
    assert "it is called fake, wrongly." in gallery_sentence(stats(True))


def test_upsampling_fit_sentence_names_the_families_whose_map_is_not_higher_inside():
    from fklib.studies.upsampling import fit_sentence

    def fit(inside):
        return pd.DataFrame([dict(family=f, split=s, auc=0.8, map_in=inside if f == "nearest" else 0.5, map_out=0.2,
                                  gt_in=0.4) for f in ("nearest", "bilinear") for s in ("train", "test")])

    assert "higher inside the edited pixels than outside for every family" in fit_sentence(fit(0.5))
    low = fit_sentence(fit(0.1))
    assert "not higher inside the edited pixels for nearest (train), nearest (test)" in low


def test_psnr_floor_sentence_says_when_the_model_is_no_better_than_nothing():
    from fklib.studies.robustness import psnr_floor_sentence

    refs = pd.DataFrame([dict(model="zeros", degradation="none", psnr=20.0, ssim=0.4)])
    above = psnr_floor_sentence(refs, pd.DataFrame([dict(model="universal", degradation="none", psnr=25.0, ssim=0.6)]))
    assert "γ PSNR 0.80" in above and "no better than predicting nothing" not in above
    below = psnr_floor_sentence(refs, pd.DataFrame([dict(model="universal", degradation="none", psnr=18.0, ssim=0.3)]))
    assert "no better than predicting nothing" in below


def test_leave_out_sentence_says_whether_attention_helps():
    from fklib.studies.face_parsing import leave_out_sentence

    def table(coss_fp, bacc_fp):
        rows = []
        for p in ("Black_Hair", "Mouth_Slightly_Open"):
            rows += [dict(predictor="model", property=p, method="u", coss=0.5, bacc=0.6),
                     dict(predictor="model", property=p, method="u+fp", coss=coss_fp, bacc=bacc_fp)]
        return pd.DataFrame(rows)

    assert "attention raises both on every unseen property" in leave_out_sentence(table(0.6, 0.7), "u", "u+fp")
    assert "attention raises neither" in leave_out_sentence(table(0.4, 0.5), "u", "u+fp")
    assert "attention raises 2 of these 4 values" in leave_out_sentence(table(0.6, 0.5), "u", "u+fp")


def test_gt_and_training_sentences_turn_with_their_numbers():
    from fklib.studies.cache import training_sentence
    from fklib.studies.data_prep import gt_sentence

    stats = pd.DataFrame([{"B area": 0.1, "mean M": 0.05, "mean M outside B": 0.01},
                          {"B area": 0.2, "mean M": 0.08, "mean M outside B": 0.02}])
    assert "also keeps the low-level redraw" in gt_sentence(stats) and "The 2 STGAN test edits change 10%, 20%" in gt_sentence(stats)
    assert "zero outside the edit" in gt_sentence(stats.assign(**{"mean M outside B": [0.0, 0.02]}))
    history = pd.DataFrame([dict(epoch=1, val_score=0.5, val_coss=0.7, val_psnr=20.0, val_ssim=0.5, val_acc=0.8, best=False),
                            dict(epoch=2, val_score=0.6, val_coss=0.8, val_psnr=21.0, val_ssim=0.6, val_acc=0.9, best=True)])
    summary = dict(minutes=3.0, best_epoch=2, epochs=2, still_improving=True)
    assert "still improving" in training_sentence(summary, history) and "COSS 0.800" in training_sentence(summary, history)
    assert "still improving" not in training_sentence({**summary, "still_improving": False}, history)


def test_one_record_per_profile_holds_what_the_profile_decides():
    """Issue 31: one record per profile (the universal model, the baseline, the studies), no copy of its fields in
    a study module, and no branch on a profile's name outside the records."""
    import ast
    from pathlib import Path

    from fklib.config import PROFILE_NAMES, baseline_config, make_config
    from fklib.studies.profiles import STUDY_PROFILES, profile_record

    for name in PROFILE_NAMES:
        r = profile_record(name)
        assert (r.universal, r.baseline, r.studies) == (make_config(name), baseline_config(name), STUDY_PROFILES[name])
    root = Path(__file__).resolve().parent.parent / "fklib"
    branches = []
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Compare) and any(isinstance(c, ast.Constant) and c.value in PROFILE_NAMES
                                                     for c in node.comparators):
                left = node.left
                if isinstance(left, ast.Name) and left.id == "profile":
                    branches.append(f"{path.relative_to(root)}:{node.lineno}")
    assert not branches, f"branches on a profile's name outside the records: {branches}"


def test_negative_results_section_follows_the_paired_verdicts(tmp_path):
    from fklib.report.summary import negative_results_section

    def write(diff, bacc):
        row = dict(method="universal", predictor="model", property="Black_Hair", coss=0.86, bacc=bacc,
                   coss_vs_layout_prior=diff, coss_vs_layout_prior_lo=diff - 0.01, coss_vs_layout_prior_hi=diff + 0.01,
                   coss_vs_property_mean=diff, coss_vs_property_mean_lo=diff - 0.01, coss_vs_property_mean_hi=diff + 0.01)
        (tmp_path / "tables").mkdir(exist_ok=True)
        pd.DataFrame([row]).to_csv(tmp_path / "tables" / "table5_leave_out.csv", index=False)
        return "\n".join(negative_results_section(tmp_path / "tables"))

    below = write(-0.03, 0.45)
    assert "layout_prior below (-0.030 [-0.040, -0.020])" in below and "at or below chance" in below
    above = write(0.03, 0.70)
    assert "layout_prior above (+0.030 [+0.020, +0.040])" in above and "chance" not in above
    assert negative_results_section(tmp_path / "nothing") == []
