"""fklib.studies.robustness / .upsampling (notebooks 05 and 07) and fit()'s items / init_from paths, on tiny data."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pandas as pd
import pytest
import torch

from fklib.checkpoint import load_checkpoint, load_trained
from fklib.config import make_config
from fklib.data import Item
from fklib.metrics import REFERENCE_KINDS
from fklib.degrade import GAMMA_METRICS, PAPER_AXES
from fklib.engine import fit, score_items, setup
from fklib.report import robustness_figures as rf
from fklib.studies import cache
from fklib.studies import robustness as rb
from fklib.studies import upsampling as us
from fklib.studies.profiles import STUDY_PROFILES, study_profile
from conftest import save_png

SIZE = 32
FAMILIES = ("transposed", "nearest", "bilinear")


def synthetic_items(n: int, seed: int = 0, gan: str = "g", props=("Bald", "Bangs"), set_name: str = "generic"):
    """Per face: a real and one fake per property (a brighter textured square in a property-specific place)."""
    rng = np.random.default_rng(seed)
    items = []
    for k in range(n):
        real = rng.integers(40, 200, (SIZE, SIZE, 3), dtype=np.uint8)
        items.append(Item(real, None, 0, set_name, "real", "Real", f"{seed}-{k}", f"r{k}"))
        for j, prop in enumerate(props):
            fake = real.copy()
            y = 4 + 12 * j
            fake[y:y + 10, 6:22] = np.clip(fake[y:y + 10, 6:22].astype(int) + 50, 0, 255).astype(np.uint8)
            items.append(Item(fake, real, 1, set_name, gan, prop, f"{seed}-{k}", f"f{k}/{prop}"))
    return items


def tiny_config(tmp_path, name="tiny", **kw):
    over = dict(name=name, model="unet_small", model_kwargs={"base": 4}, size=SIZE, epochs=1, batch_size=4,
                out_dir=str(tmp_path / name), sets=[], max_items=None, val_max_items=None, num_workers=0)
    over.update(kw)
    return make_config("smoke", overrides=over)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A tiny locator trained through ``train(..., train_items=, val_items=)``."""
    tmp = tmp_path_factory.mktemp("tiny")
    cfg = tiny_config(tmp)
    res = fit(cfg, progress=False, log=lambda *_: None, train_items=synthetic_items(6, 0),
              val_items=synthetic_items(2, 1))
    return cfg, res["best"]


# --- train(): items and init_from ----------------------------------------------------------------

def test_train_items_replace_the_config_sets(tmp_path):
    cfg = tiny_config(tmp_path, "items")          # sets=[]: only items passed directly can train it
    train_items, val_items = synthetic_items(4, 0), synthetic_items(2, 1)
    run = setup(cfg, log=lambda *_: None, train_items=train_items, val_items=val_items)
    assert run.train_items == train_items and run.val_items == val_items
    with pytest.raises(ValueError, match="no train items"):
        setup(cfg, log=lambda *_: None)
    res = fit(cfg, progress=False, log=lambda *_: None, train_items=train_items, val_items=val_items)
    ckpt = load_checkpoint(res["best"])
    history = json.loads(ckpt["history"])
    assert len(history) == 1 and math.isfinite(history[0]["val_coss"])  # validated on the given items
    assert ckpt["data_manifest_hash"] == "" and "init_sha256" not in ckpt


def test_init_from_starts_from_the_weights_and_skips_foreign_tensors(tmp_path, tiny_run):
    _, best = tiny_run
    base = load_checkpoint(best)["model"]
    # lr 0: the fine-tuned weights stay the initial ones, so they must equal the source's
    cfg = tiny_config(tmp_path, "ft", init_from=str(best), lr=0.0, weight_decay=0.0)
    res = fit(cfg, progress=False, log=lambda *_: None, train_items=synthetic_items(4, 2),
              val_items=synthetic_items(2, 3))
    ckpt = load_checkpoint(res["best"])
    from fklib.data.fetching import sha256_file

    assert ckpt["init_sha256"] == sha256_file(best)
    for k, v in base.items():
        if not k.endswith("num_batches_tracked") and "running" not in k:
            torch.testing.assert_close(ckpt["model"][k], v)
    # a run with a property head: the shared tensors load, the head stays fresh, both are logged
    lines = []
    cfg2 = tiny_config(tmp_path, "ft2", init_from=str(best), property_weight=0.5, lr=0.0, weight_decay=0.0)
    res2 = fit(cfg2, progress=False, log=lines.append, train_items=synthetic_items(4, 2),
               val_items=synthetic_items(2, 3))
    assert any("freshly initialised" in str(line) for line in lines)
    assert set(base) < set(load_checkpoint(res2["best"])["model"])


def test_ensure_trained_reuses_only_the_same_config_and_items(tmp_path):
    cfg = tiny_config(tmp_path, "ens")
    tr, va = synthetic_items(3, 0), synthetic_items(1, 1)
    lines = []
    def trained(call) -> bool:   # a training run logs its start, then one line per epoch
        n = len(lines)
        call()
        return any("training" in str(x) for x in lines[n:]) and any(str(x).startswith("epoch=") for x in lines[n:])

    first = []
    assert trained(lambda: first.append(cache.ensure_trained(cfg, tr, va, log=lines.append)))
    again = cache.ensure_trained(cfg, tr, va, log=lines.append)
    assert again == first[0] and "reusing" in lines[-1]
    assert trained(lambda: cache.ensure_trained(cfg, synthetic_items(3, 5), va, log=lines.append))
    # another config in the same folder: trained again
    assert trained(lambda: cache.ensure_trained(make_config("smoke", overrides={**cfg.to_dict(), "lr": 0.5}),
                                                synthetic_items(3, 5), va, log=lines.append))
    assert cache.items_fingerprint(tr) != cache.items_fingerprint(synthetic_items(3, 5))
    assert cache.items_fingerprint(tr) == cache.items_fingerprint(synthetic_items(3, 0))


# --- 05 ----------------------------------------------------------------------------------------

def test_stratified_items_is_seeded_and_balanced():
    from fklib.data import stratified_items

    items = synthetic_items(10, 0, props=("Bald", "Bangs", "Male"))
    sub = stratified_items(items, 3, max_reals=4, seed=1)
    counts = pd.Series([("Real" if it.label == 0 else it.property) for it in sub]).value_counts()
    assert counts.to_dict() == {"Real": 4, "Bald": 3, "Bangs": 3, "Male": 3}
    assert [it.source for it in sub] == [it.source for it in stratified_items(items, 3, 4, seed=1)]
    assert [items.index(it) for it in sub] == sorted(items.index(it) for it in sub)  # original order
    assert len(stratified_items(items, None)) == len(items)


def test_sweep_axes_and_augmented_config():
    assert rb.sweep_axes("cpu") == PAPER_AXES
    assert rb.sweep_axes("smoke") == {k: (v[-1],) for k, v in PAPER_AXES.items()}
    assert set(rb.sweep_axes("paper", "imdl")) == {"jpeg", "blur", "noise"}
    with pytest.raises(ValueError, match="grid"):
        rb.sweep_axes("cpu", "other")
    with pytest.raises(ValueError, match="profile"):
        rb.sweep_axes("gpu")
    from fklib.config import PROFILE_NAMES
    from fklib.studies.common import universal_config

    for profile in PROFILE_NAMES:
        uni, aug = universal_config(profile), rb.augmented_config(profile)
        assert aug.degrade_augment and aug.init_from == uni.name and aug.name == f"{uni.name}_degrade_aug"
        spec = study_profile(profile).augment
        assert aug.epochs == spec["epochs"] and aug.lr == pytest.approx(uni.lr * spec["lr_factor"])
        assert aug.samples_per_epoch == spec.get("samples_per_epoch", uni.samples_per_epoch)
        assert (aug.model, aug.size, aug.loss, aug.sets) == (uni.model, uni.size, uni.loss, uni.sets)


def test_robustness_items_from_the_stgan_test_split(data_root):
    items = rb.robustness_items("smoke")
    fakes = [it for it in items if it.label == 1]
    assert len({it.property for it in fakes}) == len(fakes) == 13
    assert sum(1 - it.label for it in items) == study_profile("smoke").max_reals


def test_sweep_disorganization_and_figures(tiny_run):
    cfg, best = tiny_run
    items = synthetic_items(3, 7)
    axes = {"jpeg": (50,), "blur": (3, 5)}
    loc = load_trained(best)
    df = rb.sweep(loc, items, axes, "tiny")
    assert list(df["degradation"]) == ["none", "jpeg", "blur", "blur"] and (df["model"] == "tiny").all()
    assert df.loc[0, [f"gamma_{m}" for m in GAMMA_METRICS]].tolist() == [1.0] * 4
    df2 = rb.sweep(loc, items, axes, "other")
    fig10 = rf.fig10_figure({"tiny": df, "other": df2})
    assert len(fig10.axes) == len(rf.FIG10_METRICS) * 2  # a row per metric (pixel AUC too), a column per degradation
    assert all(len(ax.lines) == 2 + 1 for ax in fig10.axes)   # one line per model + the γ = 1 line
    assert fig10.axes[0].collections                     # the first model's 95 % bands
    floors = {"bacc": 0.6, "coss": 0.0}
    with_floors = rf.fig10_figure({"tiny": df}, floors=floors)
    assert len(with_floors.axes[0].lines) == 1 + 1 + 1   # the model, γ = 1 and bACC's floor
    summary = rb.gamma_summary({"tiny": df, "other": df2})
    assert len(summary) == 4 and {"gamma_ssim_mean", "gamma_bacc_harsh"} <= set(summary.columns)

    per_image, table = rb.disorganization({"tiny": loc}, items)
    assert len(per_image) == len(items) and set(table["metric"]) == {"acc", *GAMMA_METRICS}
    assert (table["gamma_lo"] <= table["gamma"] + 1e-12).sum() + table["gamma_lo"].isna().sum() == len(table)
    assert (table["n"] == len(items)).all() and (table["n_fake"] == 6).all()
    row = table.set_index("metric").loc["coss"]
    assert row["gamma"] == pytest.approx(row["after"] / row["before"])
    assert rf.fig8_figure(table).axes
    per_ref8, ref8 = rb.disorganization_references(loc, items, train_items=synthetic_items(4, 11))
    assert set(ref8["model"]) == {"property_mean (reference)", "layout_prior (reference)", "constant (reference)"}
    assert list(ref8.columns) == list(table.columns) and ref8.loc[ref8["metric"] == "acc", "gamma"].isna().all()
    pm = ref8[(ref8["model"] == "property_mean (reference)") & (ref8["metric"] == "coss")].iloc[0]
    assert pm["gamma"] == pytest.approx(pm["after"] / pm["before"])
    flat = ref8[(ref8["model"] == "constant (reference)") & (ref8["metric"] == "coss")].iloc[0]
    assert flat["gamma"] == pytest.approx(1.0, abs=1e-12)        # a flat map cannot move: γ = 1 by construction
    versus = rb.disorganization_versus(pd.concat([per_image.assign(model="tiny"), per_ref8]), model="tiny")
    assert list(versus["rival"]) == ["layout_prior", "constant"]
    assert set(versus["verdict"]) <= {"above", "below", "matches"}
    model = loc.model
    fig9 = rf.fig9_figure(rb.disorganization_example(model, items[1], SIZE, perm=(3, 2, 1, 0)), title="t")
    assert len(fig9.axes) == 8                                    # 7 panels (no text-only one) and one colour bar
    # the references through the same degradations: input-blind maps do not move, ACC is empty
    refs = rb.reference_sweep(loc, items, axes, train_items=synthetic_items(4, 11))
    assert set(refs["model"]) == set(REFERENCE_KINDS) and refs["acc"].isna().all()
    assert list(refs.columns[:5]) == ["model", "degradation", "level", "n", "n_fake"]
    for kind in ("zeros", "global_mean", "property_mean"):
        sub = refs[refs["model"] == kind]
        assert np.allclose(sub["coss"], sub["coss"].iloc[0]) and np.allclose(sub["gamma_coss"], 1.0)
    assert {"bacc", "tpr", "tnr", "coss_lo", "coss_hi", "acc_lo", "bacc_hi"} <= set(df.columns)
    assert (df["coss_lo"] <= df["coss_hi"]).all() and (df["acc_lo"] <= df["acc_hi"]).all()
    assert df.loc[0, "bacc"] == pytest.approx((df.loc[0, "tpr"] + df.loc[0, "tnr"]) / 2)
    import matplotlib.pyplot as plt

    plt.close("all")


def test_a_sweep_row_equals_evaluate_on_items_degraded_by_hand(tiny_run, tmp_path):
    """The JPEG-50 row of the sweep (fakes degraded, reals clean, GT against the degraded fake) equals
    ``evaluate`` of a folder where the same JPEG was applied by hand with Pillow and saved as PNG."""
    import io

    from PIL import Image

    from fklib.engine import evaluate_locator

    _, best = tiny_run
    items = synthetic_items(3, 7)
    loc = load_trained(best)
    df = rb.robustness_sweep(loc.model, items, SIZE, axes={"jpeg": (50,)}, degrade_reals=False, regenerate_gt=True,
                             rule=loc.rule)
    row = df[df["degradation"] == "jpeg"].iloc[0]
    folder = tmp_path / "jpeg50"
    for it in items:
        if it.label == 0:
            save_png(folder / "real" / f"{it.identity}.png", it.image)
            continue
        buf = io.BytesIO()
        Image.fromarray(it.image).save(buf, format="JPEG", quality=50)
        save_png(folder / "fake" / "g" / it.property / f"{it.identity}.png", np.asarray(Image.open(buf).convert("RGB")))
    ev = evaluate_locator(loc, "generic", folder, split="all", references=False)
    fakes = ev[ev["label"] == 1]
    assert row["acc"] == pytest.approx(((ev["pred_fake"] > 0.5) == (ev["label"] == 1)).mean())
    for m in ("coss", "psnr", "ssim", "auc"):
        assert row[m] == pytest.approx(fakes[m].mean(), rel=1e-9), m
    assert row["n"] == len(ev) and row["n_fake"] == len(fakes)


class _TinyLocator(torch.nn.Module):
    """Predicts the gray level as the map and its mean as the logit: enough to exercise the plumbing."""

    def forward(self, x, attention=None):
        from fklib.models import LocatorOutput

        m = x.mean(1, keepdim=True)
        return LocatorOutput(m, (m.flatten(1).mean(1) - 0.5) * 10)


def test_sweep_and_disorganization_run_end_to_end(rng):
    items = []
    for k in range(3):
        real = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
        fake = real.copy()
        fake[:8] = 255
        items += [Item(real, None, 0, "generic", "real", "Real", str(k), "r"),
                  Item(fake, real, 1, "generic", "g", "Bald", str(k), "f")]
    df = rb.robustness_sweep(_TinyLocator(), items, size=16, axes={"blur": (3, 5), "noise": (25,)})
    assert list(df["degradation"]) == ["none", "blur", "blur", "noise"]
    assert df.loc[0, ["gamma_bacc", "gamma_coss", "gamma_psnr", "gamma_ssim"]].tolist() == [1.0] * 4
    assert df["n"].eq(6).all() and df["n_fake"].eq(3).all()
    dis = rb.disorganization_test(_TinyLocator(), items, size=16, seed=0)
    assert len(dis) == 6 and dis.loc[dis["label"] == 0, "coss_before"].isna().all()
    summary = rb.summarize_disorganization(dis)
    assert set(summary) == {"before", "after", "gamma", "gamma_lo", "gamma_hi"} and set(summary["gamma"]) == set(GAMMA_METRICS)
    # each side is one cell of all the images (fklib.metrics.groups): ACC pooled over reals and fakes
    right = ((dis["pred_fake_before"] > 0.5) == (dis["label"] == 1)).mean()
    assert summary["before"]["acc"] == pytest.approx(right)


def test_disorganization_adds_the_raw_map_of_a_prior_blend(tmp_path):
    cfg = tiny_config(tmp_path, "prior", property_weight=0.5, prior_blend=True)
    best = fit(cfg, progress=False, log=lambda *_: None, train_items=synthetic_items(4, 0),
               val_items=synthetic_items(2, 1))["best"]
    _, table = rb.disorganization({"u": load_trained(best)}, synthetic_items(2, 3))
    assert list(dict.fromkeys(table["model"])) == ["u", "u (no prior blend)"]


# --- 07 ----------------------------------------------------------------------------------------

def family_tests(n=2):
    """Test items of three 'families': shared reals, each family's fakes (gan ``up_<family>``)."""
    out = {}
    for j, fam in enumerate(FAMILIES):
        items = synthetic_items(n, 20, gan=f"up_{fam}", props=("hair", "mouth"))
        out[fam] = items if j == 0 else [it for it in items if it.label == 1]
    return out


def test_cross_family_table_has_every_pair(tiny_run):
    cfg, best = tiny_run
    model = load_trained(best).model
    tests = family_tests()
    test = [it for fam in FAMILIES for it in tests[fam]]
    scores = {}
    for fam in FAMILIES:
        s = score_items(model, test, SIZE)
        assert (s["predictor"] == "model").all() and s.loc[s["label"] == 1, "coss"].notna().all()
        refs = us.reference_scores(synthetic_items(3, 30, gan=f"up_{fam}", props=("hair", "mouth")), test, SIZE)
        assert set(refs["predictor"]) == set(REFERENCE_KINDS) and refs["pred_fake"].isna().all()
        scores[fam] = pd.concat([s, refs], ignore_index=True)
    table = us.cross_family_table(scores)
    model_rows = table[table["predictor"] == "model"]
    assert set(zip(model_rows["train_family"], model_rows["test_family"])) == {(a, b) for a in FAMILIES
                                                                              for b in FAMILIES}
    assert list(model_rows["test_family"][:3]) == ["transposed", "nearest", "bilinear"]  # FAMILIES order
    assert (model_rows["n_fake"] == 4).all() and (model_rows["n_real"] == 2).all()
    assert model_rows[["acc", "coss", "psnr", "ssim"]].notna().all().all()
    refs = table[table["predictor"] != "model"]
    assert refs["acc"].isna().all() and refs["ssim"].notna().all()
    assert list(dict.fromkeys(table["predictor"])) == ["model", *REFERENCE_KINDS]
    fig = rf.upsampling_figure(table)
    assert len([a for a in fig.axes if a.images]) == 4
    import matplotlib.pyplot as plt

    plt.close("all")


def test_upsampling_study_trains_one_locator_per_family(tmp_path, monkeypatch):
    monkeypatch.setenv("FKLIB_CHECKPOINTS", str(tmp_path / "ck"))
    smoke = dataclasses.replace(STUDY_PROFILES["smoke"], family_locator=dict(model="unet_small", model_kwargs={"base": 4},
                                                                              epochs=1, batch_size=4))
    monkeypatch.setitem(STUDY_PROFILES, "smoke", smoke)
    sets = {}
    for j, fam in enumerate(FAMILIES[:2]):
        sets[fam] = {"train": synthetic_items(2, 40 + j, gan=f"up_{fam}", props=("hair",)),
                     "val": synthetic_items(1, 50 + j, gan=f"up_{fam}", props=("hair",)),
                     "test": [it for it in synthetic_items(1, 20, gan=f"up_{fam}", props=("hair", "mouth"))]}
    monkeypatch.setattr(us, "FAMILY_SIZE", SIZE)
    table = us.upsampling_study("smoke", sets, log=lambda *_: None)
    model_rows = table[table["predictor"] == "model"]
    assert len(model_rows) == 4 and model_rows["train_minutes"].notna().all()
    ref_rows = table[table["predictor"] != "model"]
    assert (ref_rows["train_family"] == ref_rows["test_family"]).all() and len(ref_rows) == 2 * len(REFERENCE_KINDS)
    cfgs = us.upsampling_configs("smoke", FAMILIES[:2])
    assert [c.name for c in cfgs.values()] == ["smoke_up_transposed", "smoke_up_nearest"]
    assert all(c.sets == [] and c.property_weight == 0 and not c.prior_blend for c in cfgs.values())


def test_own_family_verdict_is_paired_and_turns_with_the_numbers():
    """Notebook 07's "the locators beat the best reference" comes from the paired per-image difference on the
    locator's own test fakes (issue 32), and flips when the model's maps are below the reference's."""
    def scores(delta):
        rows = []
        for k in range(6):
            base = 0.5 + 0.05 * k
            for predictor, c in (("model", base + delta), ("layout_prior", base), ("property_mean", base - 0.2)):
                rows.append(dict(predictor=predictor, label=1, source=f"s{k}", identity=f"i{k}", gan="up_nearest", coss=c))
        return {"nearest": pd.DataFrame(rows)}

    cell = dict(train_family="nearest", test_family="nearest", acc=0.8, bacc=0.8, acc_fake=0.8, acc_real=0.8, ssim=0.5,
                auc=0.7)
    table = pd.DataFrame([dict(predictor=p, coss=c, **cell) for p, c in (("model", 0.7), ("layout_prior", 0.625),
                                                                         ("property_mean", 0.425))])
    up = us.with_paired_references(table, scores(0.1))
    row = up[up["predictor"] == "model"].iloc[0]
    assert row["coss_vs_layout_prior"] == pytest.approx(0.1)                    # every image: model - prior = 0.1
    assert row["coss_vs_layout_prior_lo"] == pytest.approx(0.1) and row["coss_vs_property_mean"] == pytest.approx(0.3)
    assert up.loc[up["predictor"] != "model", "coss_vs_layout_prior"].isna().all()
    verdicts = us.own_family_verdicts(up)
    assert verdicts[["family", "reference", "verdict"]].values.tolist() == [["nearest", "layout_prior", "above"]]
    above = " ".join(us.cross_family_lines(up, None, ["nearest"]))
    assert "above it for 1 of 1 families" in above and "do not localize" not in above
    below = " ".join(us.cross_family_lines(us.with_paired_references(table, scores(-0.1)), None, ["nearest"]))
    assert "above it for 0 of 1 families, below for 1" in below and "do not localize beyond" in below


def test_spectral_peaks():
    h = 32
    s = np.zeros((h, h))
    c = h // 2
    s[c, 0] = s[0, c] = 3.0           # period 2 px (Nyquist), axis positions inside the array
    s[c, c + h // 4] = s[c, c - h // 4] = s[c + h // 4, c] = s[c - h // 4, c] = 1.0  # period 4 px
    peaks = us.spectral_peaks({"x": s}).set_index("name")
    assert peaks.loc["x", "peak_2px"] == pytest.approx(3.0)
    assert peaks.loc["x", "peak_4px"] == pytest.approx(1.0)
    assert peaks.loc["x", "peak_8px"] == pytest.approx(0.0)
    with pytest.raises(ValueError, match="square"):
        us.spectral_peaks({"y": np.zeros((4, 8))})
    fig = rf.spectra_panel_figure({"x": s, "z": s}, {"x": s, "z": s})
    assert len([a for a in fig.axes if a.images]) == 4
    import matplotlib.pyplot as plt

    plt.close("all")


def test_disorganization_verdict_needs_to_beat_the_flat_map_and_the_layout_prior():
    """γ near 1 is no evidence (a constant map keeps γ = 1): the sentence says the map follows the texture only
    when the model's permuted COSS beats the rivals on the same images, and says otherwise when it does not."""
    rng = np.random.default_rng(0)
    n = 30
    base = 0.6 + 0.2 * rng.random(n)
    common = dict(source=[f"s{i}" for i in range(n)], identity=[str(i) for i in range(n)])

    def rows(model_after):
        return pd.concat([pd.DataFrame({**common, "model": "universal", "coss_after": model_after}),
                          pd.DataFrame({**common, "model": "layout_prior (reference)", "coss_after": base}),
                          pd.DataFrame({**common, "model": "constant (reference)", "coss_after": base - 0.1})])

    table8 = pd.DataFrame([dict(model="universal", metric="coss", before=0.8, after=0.78, gamma=0.975,
                                gamma_lo=0.96, gamma_hi=0.99)])
    good = rb.disorganization_lines(table8, versus=rb.disorganization_versus(rows(base + 0.05)))[0]
    bad = rb.disorganization_lines(table8, versus=rb.disorganization_versus(rows(base + 0.0005 * rng.standard_normal(n))))[0]
    assert "follows the moved texture better" in good and "does not show" not in good
    assert "does not show that the map follows the texture" in bad


def test_sweep_and_references_scores_both_together_and_pairs_them(tiny_run, monkeypatch):
    """One pass gives the model's sweep and the references' sweep as :func:`sweep` and :func:`reference_sweep` give
    them, and the paired differences: model − layout prior under each degradation, and its change from clean, equal to
    the same differences computed from the per-image rows by hand. With a second model (notebook 05's augmented one),
    each level is degraded once and both models' sweeps are :func:`sweep`'s, bit for bit."""
    from fklib.engine.references import fit_reference_maps
    from fklib.metrics.bootstrap import paired_difference

    _, best = tiny_run
    items, train = synthetic_items(3, 7), synthetic_items(4, 11)
    axes = {"jpeg": (50,), "noise": (9,)}
    loc = load_trained(best)
    sweep, refs, versus = rb.sweep_and_references(loc, items, axes, "tiny", train_items=train)
    pd.testing.assert_frame_equal(sweep, rb.sweep(loc, items, axes, "tiny"), check_exact=True)
    pd.testing.assert_frame_equal(refs, rb.reference_sweep(loc, items, axes, train_items=train), check_exact=True)
    # the universal and the augmented model in one pass: the same tables as one sweep each, each level degraded once
    other = load_trained(best)
    with torch.no_grad():
        next(other.model.parameters()).add_(0.05)          # another model: its rows must differ from tiny's
    alone = rb.sweep(other, items, axes, "other")
    assert not np.allclose(alone["coss"], sweep["coss"])
    degraded, degrade = [], rb.degrade_item
    monkeypatch.setattr(rb, "degrade_item", lambda it, *a, **k: degraded.append(it.source) or degrade(it, *a, **k))
    sweeps, refs2, versus2 = rb.sweeps_and_references({"tiny": loc, "other": other}, items, axes, train_items=train)
    assert len(degraded) == len(items) * 2                 # two degraded levels, each item once per level
    assert list(sweeps) == ["tiny", "other"]
    pd.testing.assert_frame_equal(sweeps["tiny"], sweep, check_exact=True)
    pd.testing.assert_frame_equal(sweeps["other"], alone, check_exact=True)
    pd.testing.assert_frame_equal(refs2, refs, check_exact=True)
    pd.testing.assert_frame_equal(versus2, versus, check_exact=True)
    only, no_refs, no_versus = rb.sweeps_and_references({"other": other}, items, axes, with_references=False)
    assert no_refs is None and no_versus is None
    pd.testing.assert_frame_equal(only["other"], alone, check_exact=True)
    monkeypatch.undo()
    maps = fit_reference_maps(train, SIZE)

    def margin(its):
        rows = score_items(loc.model, its, SIZE, rule=loc.rule, references=maps)
        f = rows[rows["label"] == 1]
        ours, prior = f[f["predictor"] == "model"].set_index("source"), f[f["predictor"] == "layout_prior"].set_index("source")
        return ours["identity"].astype(str), ours["auc"] - prior["auc"].reindex(ours.index)

    ids, clean = margin(items)
    _, jpeg = margin([rb.degrade_item(it, "jpeg", 50, i) for i, it in enumerate(items)])
    v = versus[(versus["reference"] == "layout_prior") & (versus["metric"] == "auc")].set_index("degradation")
    assert v.loc["jpeg", "diff"] == pytest.approx(jpeg.mean())
    assert v.loc["jpeg", "change"] == pytest.approx((jpeg - clean).mean())
    _, lo, hi = paired_difference(ids.to_numpy(), jpeg.to_numpy(), clean.to_numpy())
    assert (v.loc["jpeg", "change_lo"], v.loc["jpeg", "change_hi"]) == pytest.approx((lo, hi))
    assert set(versus["reference"]) == {"global_mean", "property_mean", "layout_prior"}
    with pytest.raises(KeyError, match="unknown degradation"):
        rb.sweeps_and_references({"tiny": loc}, items, {"fog": (1,)})
