"""Issue 39's recipe pieces: property classes that cover every GAN, the ablation table (values and deltas)."""

from __future__ import annotations

import pandas as pd
import pytest

from fklib.config import PROPERTY_CLASS_SETS, PROPERTY_CLASSES, ConfigError, TrainConfig, property_classes
from fklib.studies.validation import ABLATION_METRICS, ABLATION_SETS, LADDER, ablation_effects, ablation_table


def test_property_classes_all_cover_every_training_property():
    from fklib.data.readers import ATTENTIONGAN_PROPERTIES, ATTGAN128_PROPERTIES, STARGAN_PROPERTIES, STGAN_PROPERTIES

    assert property_classes(TrainConfig()) == PROPERTY_CLASSES
    every = property_classes(TrainConfig(property_classes="all"))
    assert every[:len(PROPERTY_CLASSES)] == PROPERTY_CLASSES          # a 'stgan' head's classes keep their indices
    for p in (*STGAN_PROPERTIES, *STARGAN_PROPERTIES, *ATTGAN128_PROPERTIES, *ATTENTIONGAN_PROPERTIES):
        assert p in every
    assert "Smiling" not in PROPERTY_CLASSES and len(every) == len(set(every))
    with pytest.raises(ConfigError, match="property_classes"):
        TrainConfig(property_classes="celeba")
    assert set(PROPERTY_CLASS_SETS) == {"stgan", "all"}


def test_property_head_size_follows_the_classes():
    from fklib.checkpoint import model_arguments

    assert model_arguments(TrainConfig(property_weight=0.5), pretrained=False)["num_properties"] == len(PROPERTY_CLASSES)
    cfg = TrainConfig(property_weight=0.5, property_classes="all")
    assert model_arguments(cfg, pretrained=False)["num_properties"] == len(PROPERTY_CLASSES) + 1


def test_splice_sets_are_training_sets():
    assert TrainConfig(splice_sets=["stgan"]).splice_sets == ["stgan"]
    with pytest.raises(ConfigError, match="splice_sets"):
        TrainConfig(splice_sets=["celeba"])


def _row(variant: str, base: float, samples: int = 16000) -> dict:
    row = {"variant": variant, "samples_per_epoch": samples, "epochs": 1, "train_minutes": 8.0}
    for i, s in enumerate(ABLATION_SETS):
        row[f"{s}_bacc"] = 0.9
        for j, m in enumerate(ABLATION_METRICS):
            row[f"{s}_{m}"] = base + 0.01 * i + 0.001 * j
            for k, ref in enumerate(LADDER):
                row[f"{s}_{m}_{ref}"] = 0.5 + 0.1 * k
    return row


def test_ablation_table_gives_each_variant_its_difference_from_the_centre():
    rows = pd.DataFrame([_row("old-center", 0.1), _row("c", 0.7), _row("v", 0.75, samples=32000), _row("c", 0.6)])
    factors = {"c": ("centre", {}), "v": ("draws", {"samples_per_epoch": 32000}), "missing": ("x", {"lr": 1})}
    t = ablation_table(rows, factors, "c").set_index("variant")
    assert list(t.index) == ["c", "v", *LADDER]                                # a variant without a row is left out
    assert t.loc["c", "stgan_auc_delta"] == 0.0                                  # the last row of a variant counts
    assert t.loc["v", "stgan_auc"] == pytest.approx(0.75)
    assert t.loc["v", "stargan128_coss_delta"] == pytest.approx(0.15)           # 0.75 + 0.011 - (0.6 + 0.011)
    assert t.loc["v", "mean_auc_delta"] == pytest.approx(0.15)
    assert t.loc["v", "draws"] == 32000 and t.loc["v", "change"] == '{"samples_per_epoch": 32000}'
    # the ladder: the centre's reference values, and reference minus centre
    assert t.loc["layout_prior", "attgan_f1"] == pytest.approx(0.7)
    assert t.loc["global_mean", "stgan_auc_delta"] == pytest.approx(0.5 - 0.6)
    with pytest.raises(ValueError, match="centre"):
        ablation_table(rows, factors, "nope")


def _effects_table(deltas: dict[str, dict[tuple[str, str], float]]) -> pd.DataFrame:
    """An ablation table whose every value is 0.5 + the given (set, metric) difference from the centre."""
    rows = []
    for name, d in deltas.items():
        row = {"variant": name, "factor": "centre" if name == "c" else "x", "mean_auc_delta": 0.0}
        for s in ABLATION_SETS:
            for m in ABLATION_METRICS:
                row[f"{s}_{m}_delta"] = d.get((s, m), 0.0)
        rows.append(row)
    rows.append({**rows[0], "variant": "layout_prior", "factor": "reference", "stgan_auc_delta": 0.3})
    return pd.DataFrame(rows)


def test_ablation_effects_call_a_difference_a_gain_only_beyond_the_seed_noise():
    deltas = {"c": {}, "v": {("stgan", "auc"): 0.02, ("stargan128", "auc"): -0.03, ("attgan", "auc"): 0.005,
                             ("attentiongan", "f1"): -0.05, ("stgan_splice", "auc"): 0.04}}
    # without a seed row the noise is 0.01 everywhere: attgan's +0.005 is nothing
    e = ablation_effects(_effects_table(deltas), "c").set_index("variant")
    assert list(e.index) == ["v"]                                  # neither the centre nor the reference is judged
    assert e.loc["v", "auc_buys"] == "stgan +0.020, stgan_splice +0.040"
    assert e.loc["v", "auc_costs"] == "stargan128 -0.030"
    assert e.loc["v", "f1_buys"] == "" and e.loc["v", "f1_costs"] == "attentiongan -0.050"
    assert not e.loc["v", "seed_row"]
    # a seed row that moved stgan's AUC by 0.025 and the splices' by -0.05: neither gain is beyond that noise
    deltas["a-seed1"] = {("stgan", "auc"): 0.025, ("stgan_splice", "auc"): -0.05, ("stargan128", "auc"): 0.001}
    e = ablation_effects(_effects_table(deltas), "c").set_index("variant")
    assert list(e.index) == ["v"]                                  # the seed row is the noise, not a factor
    assert e.loc["v", "auc_buys"] == "" and e.loc["v", "auc_costs"] == "stargan128 -0.030"
    assert e.loc["v", "seed_row"]


def test_the_cpu_profile_is_the_ablation_row_it_ships():
    """`python -m fklib train --profile cpu` trains the chosen ablation row's config, field for field: the shipped
    weights are that row's run (recipes.csv, c-coss-30l2: the chosen one-factor row a-loss-+coss with the L2 weight of
    a-loss-l1+30l2), and the pipeline's shipped-model check accepts them."""
    import sys
    from pathlib import Path

    from fklib.config import make_config

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "experiments"))
    try:
        import recipes
    finally:
        sys.path.pop(0)
    row = make_config("cpu", overrides={**recipes.ABLATION_CENTER, **recipes.VARIANTS["c-coss-30l2"]}).to_dict()
    assert make_config("cpu").to_dict() == row
    assert recipes.profile_variant() == "c-coss-30l2"
    centre = make_config("cpu", overrides=recipes.ABLATION_CENTER).to_dict()
    assert {k for k in row if row[k] != centre[k]} == {"loss"}   # one factor away from the centre
    assert row["loss"] == "l1+30*l2+coss"                         # +coss (a-loss-+coss) with a-loss-l1+30l2's L2


def test_the_card_names_the_profile_whose_config_a_run_has():
    from dataclasses import replace

    from fklib.config import make_config
    from fklib.export import training_command

    run = replace(make_config("cpu"), name="recipe-a-loss-+coss", out_dir="checkpoints/recipes/x")
    assert training_command(run.to_dict()) == "python -m fklib train --profile cpu"
    assert training_command(make_config("smoke").to_dict()) == "python -m fklib train --profile smoke"
    other = training_command(replace(run, lr=1e-5).to_dict())
    assert "--profile" not in other and "recipe-a-loss-+coss" in other


def test_the_card_lists_every_augmentation_probability_zeros_included():
    from fklib.config import make_config
    from fklib.export import augmentation_settings

    text = augmentation_settings(make_config("cpu").to_dict())
    assert "`resample_p` 0," in text and "`degrade_p` 0 (degrade_augment off)" in text and "`jpeg_p` 0.5" in text
    on = augmentation_settings({**make_config("cpu").to_dict(), "degrade_augment": True, "degrade_p": 0.3,
                                "resample_p": 0.5})
    assert "`degrade_p` 0.3," in on and "`resample_p` 0.5" in on


def _recipes_module():
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "experiments"))
    try:
        import recipes
    finally:
        sys.path.pop(0)
    return recipes


def test_jpeg_ratios_divide_each_jpeg_auc_by_the_same_variants_clean_auc():
    recipes = _recipes_module()
    rows = pd.DataFrame([
        {"variant": "a", "condition": "clean", "auc": 0.80, "tnr": 1.0},
        {"variant": "a", "condition": "fakes_jpeg90", "auc": 0.72, "tnr": 1.0},
        {"variant": "a", "condition": "all_jpeg90", "auc": 0.72, "tnr": 0.85},
        {"variant": "b", "condition": "fakes_jpeg90", "auc": 0.57, "tnr": 0.9},
        {"variant": "b", "condition": "clean", "auc": 0.60, "tnr": 0.95},
    ])
    t = recipes.jpeg_ratios(rows).set_index("variant")
    assert list(t.index) == ["a", "b"]
    assert t.loc["a", "ratio_fakes_jpeg90"] == pytest.approx(0.9)
    assert t.loc["b", "ratio_fakes_jpeg90"] == pytest.approx(0.95)        # the clean row may come after
    assert t.loc["a", "tnr_all_jpeg90"] == pytest.approx(0.85) and t.loc["b", "tnr_clean"] == pytest.approx(0.95)
    assert "ratio_fakes_jpeg75" not in t.columns                           # a condition not run gives no column
