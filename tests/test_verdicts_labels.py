"""Every verdict with its rule in sight (issue 41) and the reference ladder made explicit (issue 39, item 3): the
paired helpers against independent computations, the headline naming a set below the constant map, provenance of
every output with its command and model, the card's ladder and recipe written from the config, and the figures that
show what they must (no black prediction panel, the layout prior beside Fig. 10's model, a chain of training
stages on sensible axes). Synthetic inputs only, under tmp_path."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fklib.metrics.groups import cell_means_difference, paired_bacc_difference
from fklib.report import figures as ff
from fklib.report import robustness_figures as rf

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    ff._plt().close("all")


# --- paired helpers -------------------------------------------------------------------------------------------

def _bacc(d, y):
    d, y = np.asarray(d, float), np.asarray(y, float)
    return ((d * y).sum() / y.sum() + ((1 - d) * (1 - y)).sum() / (1 - y).sum()) / 2


def test_paired_bacc_difference_is_the_difference_of_the_two_balanced_accuracies():
    rng = np.random.default_rng(0)
    y = np.array([1] * 60 + [0] * 20)
    ids = [f"i{k // 4}" for k in range(80)]
    a = (rng.random(80) < np.where(y == 1, 0.9, 0.2)).astype(float)
    b = (rng.random(80) < np.where(y == 1, 0.6, 0.4)).astype(float)
    d, lo, hi = paired_bacc_difference(ids, a, b, y)
    assert d == pytest.approx(_bacc(a, y) - _bacc(b, y))
    assert lo < d < hi and lo > 0                                       # a much better than b, beyond the noise
    same = paired_bacc_difference(ids, a, a, y)
    assert same == (0.0, 0.0, 0.0)
    assert all(math.isnan(v) for v in paired_bacc_difference(ids, a, b, np.ones(80)))   # no reals: no bACC


def test_cell_means_difference_weighs_cells_equally_and_resamples_each_on_its_own():
    rng = np.random.default_rng(1)
    own = [([f"a{k // 2}" for k in range(40)], rng.normal(0.3, 0.05, 40))]
    other = [([f"b{k}" for k in range(10)], rng.normal(0.1, 0.05, 10)),
             ([f"c{k}" for k in range(200)], rng.normal(0.2, 0.05, 200))]
    d, lo, hi = cell_means_difference(own, other)
    assert d == pytest.approx(own[0][1].mean() - (other[0][1].mean() + other[1][1].mean()) / 2)
    assert lo < d < hi
    assert all(math.isnan(v) for v in cell_means_difference(own, [(["x"], [0.1])]))     # one cluster: no interval


def test_attention_contrasts_pair_each_model_with_its_twin_on_the_same_images():
    from fklib.studies.face_parsing import TABLE5_TESTS, attention_contrasts

    rng = np.random.default_rng(3)
    rows = []
    for method, tpr, tnr in (("no_fp", 0.6, 0.8), ("with_fp", 0.0, 1.0), ("fp_auxiliary", 0.9, 0.8)):
        for i in range(24):
            rows.append(dict(predictor="model", method=method, label=0, property="Real", source=f"r{i}",
                             identity=f"r{i}", pred_fake=float(rng.random() > tnr), coss_region=np.nan))
        for prop in TABLE5_TESTS:
            for i in range(24):
                rows.append(dict(predictor="model", method=method, label=1, property=prop, source=f"{prop}{i}",
                                 identity=f"f{i}", pred_fake=float(rng.random() < tpr),
                                 coss_region=0.5 + (0.1 if method == "fp_auxiliary" else 0.0)))
    df = pd.DataFrame(rows)
    t = attention_contrasts(df, {"no_fp": "no_fp", "paper": "with_fp", "auxiliary": "fp_auxiliary"}, "auxiliary")
    pooled = t[t["property"] == "all"].set_index("comparison")
    paper, chosen = pooled.loc["paper"], pooled.loc["chosen"]
    assert paper["collapsed_with"] and paper["bacc_with"] == 0.5                  # TPR 0, TNR 1: a collapse
    model = df[df["method"].isin(["no_fp", "with_fp"])]
    both = model.pivot_table(index="source", columns="method", values="pred_fake").join(
        df.drop_duplicates("source").set_index("source")["label"])
    assert paper["bacc_diff"] == pytest.approx(_bacc(both["with_fp"], both["label"]) - _bacc(both["no_fp"], both["label"]))
    assert chosen["coss_diff"] == pytest.approx(0.1) and chosen["coss_verdict"] == "above"
    assert set(t["property"]) == {*TABLE5_TESTS, "all"}


# --- the summary: the ladder in the headline, the coverage lists ----------------------------------------------

def _table3(coss_vs_constant_hi: float) -> pd.DataFrame:
    """Table 3's set rows of one set: the model with its paired differences against the ladder, and the references."""
    model = dict(predictor="model", set="stargan_celeba128", gan="mean", property="mean", n=100, n_reals=20,
                 coss=0.74, coss_lo=0.73, coss_hi=0.75, auc=0.69, auc_lo=0.68, auc_hi=0.70, tpr=0.9, tnr=0.9, bacc=0.9)
    for m in ("coss", "auc"):
        for ref, d in (("global_mean", coss_vs_constant_hi - 0.01), ("property_mean", -0.04), ("layout_prior", -0.06)):
            model.update({f"{m}_vs_{ref}": d, f"{m}_vs_{ref}_lo": d - 0.01, f"{m}_vs_{ref}_hi": d + 0.01})
    part = dict(model, gan="stargan", property="Young")
    refs = [dict(predictor=r, set="stargan_celeba128", gan="mean", property="mean", n=100, coss=c, auc=0.7)
            for r, c in (("global_mean", 0.77), ("property_mean", 0.78), ("layout_prior", 0.80))]
    return pd.DataFrame([part, model, *refs])


def test_headline_names_a_set_below_the_constant_map_and_says_what_the_references_know(tmp_path):
    from fklib.report.summary import headline

    tables = tmp_path / "tables"
    tables.mkdir()
    _table3(-0.02).to_csv(tables / "table3.csv", index=False)
    text = "\n".join(headline(tables))
    assert ("**Below the constant map**, a map that knows neither the image nor the edit (paired, interval below 0): "
            "StarGAN-128 (the released generator) (COSS, AUC).") in text
    assert "against the constant map **below** on COSS (-0.030 [-0.040, -0.020])" in text
    assert "Against the references that know the edit: the property mean **below** on COSS" in text
    assert "knows the edited property, an oracle the network lacks" in text
    _table3(0.05).to_csv(tables / "table3.csv", index=False)
    above = "\n".join(headline(tables))
    assert "**Below the constant map**, a map that knows neither the image nor the edit (paired, interval below 0): " \
           "no set." in above and "against the constant map above on COSS" in above


def test_coverage_lists_every_metric_table_by_what_its_columns_hold(tmp_path):
    from fklib.report.summary import coverage

    pd.DataFrame({"set": ["a"], "coss": [0.5], "coss_lo": [0.4], "coss_hi": [0.6], "bacc": [0.7], "bacc_lo": [0.6],
                  "bacc_hi": [0.8]}).to_csv(tmp_path / "full.csv", index=False)
    pd.DataFrame({"set": ["a"], "stgan_coss": [0.5], "stgan_bacc": [0.7]}).to_csv(tmp_path / "curve.csv", index=False)
    pd.DataFrame({"what": ["a"], "coss_picture": [0.5], "tnr_picture": [0.9], "tnr_lo": [0.8], "tnr_hi": [1.0]}).to_csv(
        tmp_path / "photos.csv", index=False)
    pd.DataFrame({"set": ["a"], "train": [3]}).to_csv(tmp_path / "splits.csv", index=False)
    c = coverage(tmp_path)
    assert c["intervals"] == ["full"] and c["some_intervals"] == ["photos"] and c["no_intervals"] == ["curve"]
    assert c["bacc"] == ["curve", "full"] and c["no_bacc"] == ["photos"]          # splits: not a metric table


# --- provenance ------------------------------------------------------------------------------------------------

def _checkpoint(tmp_path, name="run_a"):
    import torch

    from fklib.checkpoint import save_checkpoint
    from fklib.config import TrainConfig
    from fklib.models import create_model

    cfg = TrainConfig(name=name, model="unet_small", model_kwargs={"base": 4}, size=32)
    model = create_model("unet_small", base=4)
    path = tmp_path / f"{name}.pt"
    save_checkpoint(path, {"model": model.state_dict(), "config": json.dumps(cfg.to_dict()), "train_wall_seconds": 120.0,
                           "epoch": 0, "history": []})
    return path, torch


def test_experiments_record_their_model_command_and_commit_and_the_summary_names_them(tmp_path, monkeypatch):
    from fklib.report import provenance as P

    ckpt, _ = _checkpoint(tmp_path)
    results = tmp_path / "results"
    (results / "tables").mkdir(parents=True)
    (results / "figures").mkdir()
    for name in ("hybrid_limits", "recipes", "registration", "table3"):
        pd.DataFrame({"coss": [0.5]}).to_csv(results / "tables" / f"{name}.csv", index=False)
    (results / "figures" / "odd_figure.png").write_bytes(b"png")
    P.record_experiment(["hybrid_limits"], ckpt, "python experiments/hybrid_limits.py --checkpoint x", results)
    P.record_experiment(["registration"], None, "python experiments/registration.py", results)
    rows = {r["output"]: r for r in P.read_provenance(results)}
    assert rows["hybrid_limits"]["run"] == "run_a" and rows["hybrid_limits"]["train_minutes"] == "2.0"
    assert rows["hybrid_limits"]["command"] == "python experiments/hybrid_limits.py --checkpoint x"
    assert len(rows["hybrid_limits"]["commit"]) in (7, 12) or rows["hybrid_limits"]["commit"] == "unknown"
    assert rows["registration"]["checkpoint"] == "" and rows["registration"]["run"] == ""
    weights = rows["hybrid_limits"]["weights_sha256"]
    monkeypatch.setattr(P, "shipped_weights", lambda: "f" * 16)
    assert P.model_words(results, "hybrid_limits") == f"run_a (weights {weights[:8]}…), not the shipped model"
    monkeypatch.setattr(P, "shipped_weights", lambda: weights)
    assert P.model_words(results, "hybrid_limits").endswith(", the shipped model")
    section = "\n".join(P.provenance_section(results))
    assert "| table3 | – | – | – | – | not recorded | – |" in section            # nothing recorded it
    assert "`python experiments/recipes.py" in section and "(registry)" in section   # the registry's command
    assert "**shipped**" in section
    figures = "\n".join(P.figures_section(results))
    assert "- `figures/odd_figure.png`" in figures                               # every PNG, known or not
    same, words = P.same_model(results, "hybrid_limits", "table3")
    assert not same and "table3 with no recorded model" in words
    P.record_provenance({"table3": ckpt}, results)
    assert P.same_model(results, "hybrid_limits", "table3") == (True, "")


def test_the_registry_names_a_command_for_every_committed_experiment_table():
    from fklib.report.provenance import EXPERIMENT_TABLES, read_provenance

    recorded = {r["output"] for r in read_provenance(ROOT / "results")}
    tables = {p.stem for p in (ROOT / "results" / "tables").glob("*.csv")}
    notebook_tables = {"data_splits", "fig8_versus", "spectra_peaks", "upsampling_fit", "table5_variants"}
    missing = sorted(t for t in tables - recorded - notebook_tables if t not in EXPERIMENT_TABLES)
    assert not missing, f"tables with neither a provenance row nor a registry entry: {missing}"
    assert all(e.command.startswith("python experiments/") for e in EXPERIMENT_TABLES.values())


# --- the card ------------------------------------------------------------------------------------------------

def test_the_card_prints_the_ladder_paired_and_no_nan():
    from fklib.studies.card import limits_markdown

    row = dict(acc=0.9, coss=0.74, ssim=0.5, auc=None, f1=0.1, fakes_called_fake=0.99345, reals_called_real=0.9,
               bacc=0.95, n_fakes=611, n_reals=47, coss_global_mean=0.77, coss_vs_global_mean=[-0.031, -0.04, -0.02],
               coss_vs_property_mean=[-0.036, -0.042, -0.031], auc_vs_layout_prior=[None, None, None])
    lim = {"sets": {"STGAN": row}, "figures": {"edits_called_fake": 0.6, "n_edits": 119, "reals_called_real": 1.0,
                                              "n_reals": 14},
           "jpeg50": {"set": "STGAN test split", "n_fakes": 611, "n_reals": 47, "bacc_clean": 0.96, "bacc_jpeg50": 0.84,
                      "tnr_clean": 0.936, "tnr_jpeg50": 0.809, "coss_clean": 0.81, "coss_jpeg50": 0.75,
                      "acc_clean": 0.9, "acc_jpeg50": 0.8}}
    text = "\n".join(limits_markdown(lim))
    assert "nan" not in text
    assert "| STGAN | 0.993 of 611 |" in text                                   # one rounding: 3 decimals, as the table
    assert "-0.031 [-0.040, -0.020]" in text and "knows neither the image nor the edit" in text
    assert "JPEG quality 50 on the STGAN test split (611 fakes + 47 reals, the reals compressed too)" in text


def test_the_card_says_when_the_map_peak_decides_alone():
    """choose_decision's threshold below every probability (the midpoint under the floored score -1) passes every
    p(fake): the card must say the peak decides, not print a negative probability as a cut."""
    import numpy as np

    from fklib.metrics.classification import choose_decision, decide
    from fklib.studies.card import decision_sentence

    # reals have low peaks and high p(fake); the peak alone separates them, p(fake) cannot
    probs, peaks = np.array([0.9, 0.8, 0.2, 0.3]), np.array([0.01, 0.02, 0.2, 0.3])
    labels = np.array([0, 0, 1, 1])
    t, floor = choose_decision(probs, peaks, labels)
    assert floor is not None and t < 0
    assert (np.asarray(decide(probs, None, t, peaks, floor)) == labels.astype(bool)).all()
    alone = decision_sentence(t, floor)
    assert f"> {floor:.4f} decides alone" in alone and "p(fake) >" not in alone
    both = decision_sentence(0.42, 0.05)
    assert "p(fake) > 0.420 and the map's peak (its 99th percentile) > 0.0500" in both
    assert decision_sentence(0.42, None).startswith("- Decision: p(fake) > 0.420,")


def test_the_recipe_is_written_from_the_config_and_follows_it():
    from fklib.config import PROFILES
    from fklib.studies.recipe import recipe_text

    # the profile with every augmentation the text can name switched on
    cfg = {**PROFILES["cpu"].to_dict(), "resample_p": 0.5, "degrade_augment": True, "degrade_p": 0.3, "epochs": 2}
    text = recipe_text(cfg)
    assert f"lr {cfg['lr']:g}" in text and "2 epochs" in text
    assert "1 epoch of" in recipe_text({**cfg, "epochs": 1}) and "fakes of stgan only" in recipe_text(
        {**cfg, "splice_sets": ["stgan"]}) and " only" not in recipe_text({**cfg, "splice_sets": []})
    for field, words in (("resample_p", "a random similarity placement"), ("degrade_p", "degradations (p = "),
                         ("jpeg_p", "a JPEG save"), ("splice_p", "splices")):
        assert words in text, field
        assert words not in recipe_text({**cfg, field: 0.0, **({"degrade_augment": False} if field == "degrade_p" else {})})
    assert f"(p = {cfg['resample_p']:g})" in text
    changed = recipe_text({**cfg, "epochs": 7, "init_from": None})
    assert "7 epochs" in changed and "from the model's initialisation" in changed


# --- figures ---------------------------------------------------------------------------------------------------

S = 48


def _blob(amplitude):
    yy, xx = np.mgrid[:S, :S]
    return amplitude * np.exp(-((yy - 20) ** 2 + (xx - 24) ** 2) / 128.0)


def _pred_norms(fig):
    """vmax of every map panel drawn with the map colours (truths and predictions), row by row."""
    return [ax.images[0].norm.vmax for ax in fig.axes if ax.images and ax.get_label() != "<colorbar>"
            and ax.images[0].get_cmap().name == ff.MAP_CMAP]


def test_fig1_draws_a_hidden_prediction_on_its_own_scale_and_says_so():
    face = np.full((S, S, 3), 120, np.uint8)
    row = dict(label="StarGAN-128 (released)\nmedian: Young", real=face, fake=face, gt=_blob(0.4), pred=_blob(0.01),
               metrics={"coss": 0.9, "psnr": 20.0, "ssim": 0.5})
    fig = ff.localization_figure([row])
    gt_vmax, pred_vmax = _pred_norms(fig)
    assert pred_vmax == pytest.approx(ff.map_scale([], [row["pred"]])) and pred_vmax < ff.OWN_SCALE_BELOW * gt_vmax
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert ff.own_scale_text(pred_vmax) in texts and "own scale" in fig.texts[0].get_text()
    shown = ff.localization_figure([dict(row, pred=_blob(0.3))])              # visible on the row's scale: shared
    a, b = _pred_norms(shown)
    assert a == b and "own scale" not in shown.texts[0].get_text()


def test_fig7_draws_a_hidden_prediction_on_its_own_scale():
    face = np.full((S, S, 3), 120, np.uint8)
    e = dict(label="best: 1", real=face, fake=face, gt=_blob(0.3), region=_blob(1) > 0.5,
             preds={"no_fp": _blob(0.005), "fp_auxiliary": _blob(0.2)}, metrics={})
    fig = ff.attention_variants_figure([e])
    gt, no_fp, aux = _pred_norms(fig)
    assert no_fp == pytest.approx(ff.map_scale([], [e["preds"]["no_fp"]])) and aux == gt
    assert "own scale" in fig.texts[0].get_text()


def _sweep(model, drop):
    rows = [dict(model=model, degradation="none", level=None, bacc=0.9, auc=0.8, coss=0.8, psnr=25.0, ssim=0.6)]
    rows += [dict(model=model, degradation="jpeg", level=q, bacc=0.9 - k * drop, auc=0.8 - k * drop,
                  coss=0.8 - k * drop, psnr=25.0 - k, ssim=0.6 - k * drop) for k, q in enumerate((90, 50, 10), 1)]
    df = pd.DataFrame(rows)
    for m in ("bacc", "coss", "psnr", "ssim"):
        df[f"gamma_{m}"] = df[m] / df.loc[0, m]
    return df


def test_fig10_draws_the_layout_prior_under_the_same_degradation_beside_the_model():
    model = _sweep("universal", 0.1)
    refs = pd.concat([_sweep("layout_prior", 0.01).assign(bacc=np.nan), _sweep("zeros", 0.0)], ignore_index=True)
    fig = rf.fig10_figure({"universal": model}, references=refs)
    axes = np.array(fig.axes).reshape(len(rf.FIG10_METRICS), 1)
    labels = [ax.get_ylabel() for ax in axes[:, 0]]
    auc = axes[labels.index("γ pixel AUC"), 0]
    dashed = [ln for ln in auc.lines if ln.get_linestyle() == "--"]
    assert len(dashed) == 1                                                   # the layout prior, once
    np.testing.assert_allclose(dashed[0].get_ydata(), [0.8 / 0.8, 0.79 / 0.8, 0.78 / 0.8, 0.77 / 0.8])
    bacc = axes[labels.index("γ bACC"), 0]
    assert not [ln for ln in bacc.lines if ln.get_linestyle() == "--"]        # it makes no call
    assert any("layout prior under the same degradation" in t.get_text() for t in fig.legends[0].get_texts())


def test_training_curves_draw_every_stage_on_axes_that_do_not_blow_up_small_changes():
    stages = []
    for k, n in enumerate((12, 4, 2)):
        h = pd.DataFrame({"epoch": np.arange(1, n + 1), "train_loss": np.linspace(2, 1, n),
                          "val_coss": 0.68 + 0.001 * np.arange(n)})
        h["best"] = h["epoch"] == n
        stages.append((f"stage {k}", h))
    fig = ff.curves_figure(stages)
    coss = next(ax for ax in fig.axes if ax.get_title() == "val_coss")
    lo, hi = coss.get_ylim()
    assert hi - lo >= ff.MIN_SPAN["val_coss"]                                  # 0.011 of change is not a full panel
    curves = [ln for ln in coss.lines if ln.get_marker() == "o"]
    assert len(curves) == 3                                                    # one curve per stage
    assert [min(c.get_xdata()) for c in curves] == [1, 13, 17] and max(curves[2].get_xdata()) == 18  # one after the other
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["stage 0", "stage 1", "stage 2"]
    assert ff.span_limits([0.5, 0.9], "val_coss")[1] - ff.span_limits([0.5, 0.9], "val_coss")[0] == pytest.approx(0.448)


def test_fig1_shows_the_main_jpeg_sets_named_by_set_and_notebooks_draw_every_figure():
    from fklib.studies import gallery

    assert {"stargan128", "attgan_attentiongan"} <= set(gallery.GALLERY_SETS)
    assert all(s in gallery.SET_LABELS for s in gallery.GALLERY_SETS)
    cells = json.loads((ROOT / "notebooks" / "04_face_parsing_ablation.ipynb").read_text())["cells"]
    assert any('save_paper_figure(parsing_gallery(' in "".join(c["source"]) for c in cells)
    first = "".join(json.loads((ROOT / "notebooks" / "01_training.ipynb").read_text())["cells"][0]["source"])
    assert "EfficientNet" not in first and "epochs" not in first              # no recipe typed in the notebook


def test_table5_sentence_counts_the_paired_verdicts_and_names_a_collapse():
    from fklib.studies.face_parsing import TABLE5_TESTS, table5_verdict

    table5 = pd.DataFrame([dict(predictor="model", property=p, method=m, bacc=0.6, coss=0.8)
                           for p in TABLE5_TESTS for m in ("no_fp", "with_fp", "fp_auxiliary")])

    def attention(verdict, collapsed):
        return pd.DataFrame([dict(comparison=c, table="Table 5", property=p, bacc_verdict=verdict, coss_verdict="matches",
                                  collapsed_with=collapsed and c == "paper")
                             for c in ("paper", "chosen") for p in TABLE5_TESTS])

    names = {"no_fp": "no_fp", "paper": "with_fp", "auxiliary": "fp_auxiliary"}
    up = table5_verdict(table5, names, "auxiliary", attention("above", False))[0]
    assert "the paper's mechanism `with_fp` is above on bACC for 3 of 3 test properties (below for 0)" in up
    assert "collapsed" not in up
    down = table5_verdict(table5, names, "auxiliary", attention("below", True))[0]
    assert "is above on bACC for 0 of 3 test properties (below for 3)" in down
    assert "its classifier collapsed (one answer to every image) on Black_Hair, Brown_Hair, Mouth_Slightly_Open" in down
