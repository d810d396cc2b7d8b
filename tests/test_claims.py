"""The claims table: each verdict follows its rule, and changes when the evidence says the opposite."""

from __future__ import annotations

import pandas as pd
import pytest

from fklib.report import claims as C


def _contrasts(diff=0.1, lo=0.05, hi=0.15, ratio=1.8, rlo=1.6, rhi=1.9):
    """Table 2's paired comparisons as notebook 02 writes them (``table2_contrasts``)."""
    return pd.DataFrame([dict(comparison="regression - segmentation", metric="ssim", kind="difference", first=0.7,
                              second=0.6, value=diff, lo=lo, hi=hi, n=47),
                         dict(comparison="l1 / dffd_baseline", metric="coss", kind="ratio", first=0.85, second=0.5,
                              value=ratio, lo=rlo, hi=rhi, n=47)])


def test_table2_claims_follow_the_paired_intervals():
    assert C.loss_ordering(_contrasts())["verdict"] == "reproduces"
    assert C.loss_ordering(_contrasts(diff=-0.1, lo=-0.15, hi=-0.05))["verdict"] == "reversed"
    assert C.loss_ordering(_contrasts(diff=0.01, lo=-0.02, hi=0.04))["verdict"] == "does not"  # a point above 0 is not enough
    assert C.baseline_gap(_contrasts())["verdict"] == "reproduces"                             # reaches the paper's 1.77
    assert C.baseline_gap(_contrasts(ratio=1.3, rlo=1.2, rhi=1.4))["verdict"] == "partly"
    assert C.baseline_gap(_contrasts(ratio=1.05, rlo=0.95, rhi=1.15))["verdict"] == "does not"
    assert C.baseline_gap(_contrasts(ratio=0.8, rlo=0.7, rhi=0.9))["verdict"] == "reversed"
    assert "1.30x [1.20, 1.40]" in C.baseline_gap(_contrasts(ratio=1.3, rlo=1.2, rhi=1.4))["ours"]
    assert all(C.RULES[k] for k in C.RULES)


def test_table2_contrasts_are_paired_over_the_same_images():
    """The regression − segmentation difference is the per-image mean of (L1, L2) minus that of (Dice, Focal), and
    the baseline ratio the L1 model's summed COSS over the baseline's, both on the images every model scored."""
    import numpy as np

    from fklib.studies.loss_comparison import table2_contrasts

    rng = np.random.default_rng(1)
    rows, base = [], rng.uniform(0.3, 0.9, 30)
    for m, shift in (("l1", 0.10), ("l2", 0.06), ("dice", 0.0), ("focal", -0.02), ("dffd_baseline", -0.3)):
        for i, b in enumerate(base):
            rows.append(dict(predictor="model", method=m, label=1, source=f"s{i}", identity=f"id{i // 2}",
                             ssim=b + shift, coss=b + shift + 0.4))
    t = table2_contrasts(pd.DataFrame(rows)).set_index(["comparison", "metric"])
    assert t.loc[("regression - segmentation", "ssim"), "value"] == pytest.approx((0.10 + 0.06) / 2 - (0.0 - 0.02) / 2)
    assert t.loc[("regression - segmentation", "ssim"), "verdict"] == "above"
    coss = base + 0.4
    assert t.loc[("l1 / dffd_baseline", "coss"), "value"] == pytest.approx((coss + 0.1).sum() / (coss - 0.3).sum())
    flipped = table2_contrasts(pd.DataFrame(rows).replace({"method": {"l1": "dice", "dice": "l1", "l2": "focal",
                                                                          "focal": "l2"}})).set_index(["comparison", "metric"])
    assert flipped.loc[("regression - segmentation", "ssim"), "verdict"] == "below"


def test_attention_claim_weighs_the_three_paired_comparisons():
    def contrasts(*diffs):
        rows = []
        for (comparison, d), collapsed in zip(zip(("paper", "chosen", "leave_out"), diffs), (True, False, False)):
            rows.append({"comparison": comparison, "table": "t", "with": f"w_{comparison}", "without": "n",
                         "property": "all", "bacc_with": 0.5 + d, "bacc_without": 0.5, "bacc_diff": d,
                         "bacc_diff_lo": d - 0.02, "bacc_diff_hi": d + 0.02, "collapsed_with": collapsed,
                         "collapsed_without": False})
        return pd.DataFrame(rows)

    assert C.attention_helps(contrasts(0.1, 0.1, 0.1))["verdict"] == "reproduces"
    mixed = C.attention_helps(contrasts(-0.2, 0.05, 0.15))
    assert mixed["verdict"] == "partly"
    assert "the paper's product (Table 5) `w_paper`" in mixed["ours"] and "collapsed" in mixed["ours"]
    assert C.attention_helps(contrasts(-0.2, 0.0, 0.0))["verdict"] == "reversed"
    assert C.attention_helps(contrasts(0.0, 0.0, 0.0))["verdict"] == "does not"


def _t3_means(sets):
    """Table 3's model ``mean`` rows: ``sets`` -> (COSS lo vs layout prior, AUC lo vs layout prior, bACC lo)."""
    rows = []
    for s, (c, a, b) in sets.items():
        rows.append(dict(predictor="model", property="mean", set=s, bacc=b + 0.05, bacc_lo=b, bacc_hi=b + 0.1,
                         coss_vs_layout_prior_lo=c, coss_vs_layout_prior_hi=c + 0.02, auc_vs_layout_prior_lo=a,
                         auc_vs_layout_prior_hi=a + 0.02, coss_vs_global_mean_lo=0.01, coss_vs_global_mean_hi=0.03,
                         auc_vs_global_mean_lo=0.01, auc_vs_global_mean_hi=0.03))
    return pd.DataFrame(rows)


def test_universality_counts_full_edits_apart_from_splices_and_judges_whole_images_by_detection():
    good = {"stgan_celeba128": (0.01, 0.01, 0.6), "stargan_celeba128": (0.01, 0.01, 0.6),
            "splices/stgan_test": (0.01, 0.01, 0.6), "interfacegan_celebahq256": (-0.5, -0.5, 0.6)}
    row = C.universality(_t3_means(good))
    assert row["verdict"] == "reproduces"                         # InterFaceGAN passes by its bACC, not its maps
    assert "real-GAN full edits: above the layout prior on COSS and AUC (paired) on 2 of 2" in row["ours"]
    assert "our splices: above the layout prior on COSS and AUC (paired) on 1 of 1" in row["ours"]
    splices_only = {**good, "stgan_celeba128": (-0.05, 0.01, 0.6), "stargan_celeba128": (0.01, -0.05, 0.6),
                    "interfacegan_celebahq256": (-0.5, -0.5, 0.45)}
    assert C.universality(_t3_means(splices_only))["verdict"] == "does not"   # the splices do not count
    half = {**good, "stargan_celeba128": (-0.05, 0.01, 0.6)}
    assert C.universality(_t3_means(half))["verdict"] == "partly"


def test_table3_cells_are_judged_by_our_interval_and_counted_as_distinct_paper_cells():
    def t3(lo, hi):
        cells = [("stargan_celeba128", "stargan", "Young"), ("stargan_disrupted256", "stargan", "Young"),
                 ("stgan_celeba128", "stgan", "Bald")]
        return pd.DataFrame([dict(predictor="model", set=s, gan=g, property=p, coss=(lo + hi) / 2, coss_lo=lo,
                                  coss_hi=hi, coss_paper=0.85) for s, g, p in cells])

    below = C.table3_cells(t3(0.70, 0.80))
    assert below["verdict"] == "does not"
    assert "3 of our cells match 2 distinct paper cells" in below["ours"]
    assert "StarGAN / Age by StarGAN-128 and StarGAN-256" in below["ours"] and "Age = Young" in below["ours"]
    assert C.table3_cells(t3(0.80, 0.90))["verdict"] == "reproduces"           # the paper's 0.85 inside the interval


def test_cross_gan_drop_must_exceed_the_references_drop():
    def drops(lo):
        return pd.DataFrame([dict(train_property=p, reference=r, model_own=0.85, model_other=0.67, reference_own=0.76,
                                  reference_other=0.63, excess=lo + 0.02, excess_lo=lo, excess_hi=lo + 0.04,
                                  verdict="above" if lo > 0 else "matches" if lo + 0.04 > 0 else "below")
                             for p in ("Bald", "Mouth_Slightly_Open") for r in ("global_mean", "property_mean")])

    assert C.cross_gan_drop(drops(0.01))["verdict"] == "reproduces"
    same = C.cross_gan_drop(drops(-0.02))                       # the references drop as much: not the model's drop
    assert same["verdict"] == "does not" and "excess drop over constant map (0.760 → 0.630)" in same["ours"]


def test_table4_drops_pair_each_cell_with_the_reference_on_the_same_images():
    """A model that loses 0.2 on the other GAN while the reference loses 0.1 on the same images drops by 0.1 more;
    one that loses what the reference loses does not."""
    import numpy as np

    from fklib.studies.universality import table4_drops

    def rows(model_drop):
        out, rng = [], np.random.default_rng(2)
        for cell, (set_name, gan, own) in enumerate((("stgan_celeba128", "stgan", True), ("attgan_x", "attgan", False))):
            for i in range(30):
                ref = rng.uniform(0.5, 0.8) - (0.0 if own else 0.1)
                model = ref + 0.05 - (0.0 if own else model_drop - 0.1)
                for pred, v in (("model", model), ("property_mean", ref)):
                    out.append(dict(predictor=pred, label=1, source=f"{cell}-{i}", identity=f"{cell}-{i // 3}",
                                    set=set_name, gan=gan, property="Bald", train_property="Bald", coss=v))
        return pd.DataFrame(out)

    more = table4_drops(rows(0.2)).iloc[0]
    assert more["reference"] == "property_mean" and more["excess"] == pytest.approx(0.1)
    assert more["model_drop"] - more["reference_drop"] == pytest.approx(0.1) and more["verdict"] == "above"
    same = table4_drops(rows(0.1)).iloc[0]
    assert same["excess"] == pytest.approx(0.0, abs=1e-9) and same["verdict"] != "above"


def test_disorganization_and_robustness_claims_fail_when_the_evidence_does():
    versus = pd.DataFrame([dict(model="universal", rival="layout_prior", diff=0.0, diff_lo=-0.01, diff_hi=0.01,
                                verdict="matches"),
                           dict(model="universal", rival="constant", diff=0.1, diff_lo=0.05, diff_hi=0.15,
                                verdict="above")])
    assert C.disorganization(versus)["verdict"] == "does not"
    versus.loc[0, ["diff_lo", "verdict"]] = (0.005, "above")
    assert C.disorganization(versus)["verdict"] == "reproduces"

    def sweep(change_lo):
        rows = [dict(model="universal", reference="layout_prior", degradation="none", level=None, metric="auc",
                     change=0.0, change_lo=float("nan"), change_hi=float("nan"))]
        rows += [dict(model="universal", reference="layout_prior", degradation="jpeg", level=q, metric="auc",
                      change=lo + 0.01, change_lo=lo, change_hi=lo + 0.02) for q, lo in zip((90, 50, 10), change_lo)]
        return pd.DataFrame(rows)

    assert C.jpeg_robustness({"STGAN": sweep((-0.01, -0.01, -0.01))})["verdict"] == "reproduces"
    partly = C.jpeg_robustness({"STGAN": sweep((-0.01, -0.05, -0.2))})
    assert partly["verdict"] == "partly" and "STGAN JPEG: holds at 1 of 3 levels (falls at 50, 10)" in partly["ours"]
    assert C.jpeg_robustness({"STGAN": sweep((-0.05, -0.05, -0.2))})["verdict"] == "does not"

    def targets(jpeg_lo, paired):
        rows = [dict(set="stgan_splices", condition="clean", property="all", auc_vs_layout_prior_lo=0.07,
                     auc_vs_layout_prior_hi=0.11),
                dict(set="stgan_splices", condition="fakes_jpeg90", property="all", auc_vs_layout_prior_lo=jpeg_lo,
                     auc_vs_layout_prior_hi=jpeg_lo + 0.04)]
        if paired:
            rows[1].update(auc_change_vs_layout_prior_lo=jpeg_lo - 0.1, auc_change_vs_layout_prior_hi=jpeg_lo - 0.05)
        return pd.DataFrame(rows)

    fell = C.jpeg_robustness({"STGAN": sweep((-0.01, -0.01, -0.01))}, targets(-0.2, paired=False))
    assert fell["verdict"] == "partly" and "falls: STGAN splices fakes_jpeg90" in fell["ours"]
    assert "intervals compared" in fell["ours"]
    kept = C.jpeg_robustness({"STGAN": sweep((-0.01, -0.01, -0.01))}, targets(0.3, paired=True))
    assert kept["verdict"] == "reproduces" and "intervals compared" not in kept["ours"]
    left = C.jpeg_robustness({"STGAN": sweep((-0.01, -0.01, -0.01))}, None, "made with another model")
    assert "all_gans_targets left out: made with another model" in left["ours"]


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
    assert "stgan: COSS 0.800" in drop and "95 % interval) above 0 in 1 of 2 columns, below 0 in 1" in drop
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
        return pd.DataFrame([dict(set="stargan128", rank="median", coss=0.8, fake_probability=0.9, pred_mean=0.1,
                                  called_fake=True, n_ranked=600),
                             dict(set="stargan128", rank="worst", coss=0.4, fake_probability=0.6, pred_mean=0.1,
                                  called_fake=True, n_ranked=600),
                             dict(set="stgan", rank="real", coss=float("nan"), fake_probability=0.7, pred_mean=0.05,
                                  called_fake=called, n_ranked=1)])

    assert "StarGAN-128 (released) COSS 0.800 (p(fake) 0.90, of 600)" in gallery_sentence(stats(False))
    assert "it is called real." in gallery_sentence(stats(False))
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
    assert "the layout prior (knows the edit, parses the face) below (-0.030 [-0.040, -0.020])" in below
    assert "at or below chance" in below
    above = write(0.03, 0.70)
    assert "the layout prior (knows the edit, parses the face) above (+0.030 [+0.020, +0.040])" in above
    assert "chance" not in above
    assert negative_results_section(tmp_path / "nothing") == []
