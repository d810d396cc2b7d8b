"""Training: configs/profiles, atomic weights-only checkpoints, the engine's pieces, resume == uninterrupted, DDP."""

import json
import os
import socket

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp

from fklib.checkpoint import build_model, load_checkpoint, load_trained
from fklib.config import PLAIN_DATA, PROFILES, PROPERTY_CLASSES, ConfigError, TrainConfig, make_config, parse_override
from fklib.engine import fit, setup, train_one_epoch, validate
from fklib.engine.train import save_epoch


def tiny_config(tmp_path, name="t", **kw) -> TrainConfig:
    base = dict(name=name, model="unet_small", model_kwargs={"base": 4}, size=32, epochs=2, batch_size=8,
                max_items=32, val_max_items=16, out_dir=str(tmp_path / name), lr=1e-3, num_workers=0,
                properties=["Bald", "Bangs"], **PLAIN_DATA)
    base.update(kw)
    return make_config("smoke", overrides=base)


def test_profiles_and_overrides(tmp_path):
    paper = PROFILES["paper"]
    assert (paper.lr, paper.betas, paper.weight_decay, paper.batch_size, paper.epochs, paper.size, paper.model) == (
        1e-4, (0.99, 0.999), 1e-7, 8, 10, 224, "deeplabv3_resnet101")
    cfg_file = tmp_path / "c.yaml"
    cfg_file.write_text("profile: paper\nepochs: 3\nproperties: [Bald]\n")
    cfg = make_config("cpu", cfg_file, {"lr": 0.5})
    assert (cfg.model, cfg.epochs, cfg.properties, cfg.lr) == ("deeplabv3_resnet101", 3, ["Bald"], 0.5)
    assert parse_override("properties=[Bald, Bangs]") == ("properties", ["Bald", "Bangs"])
    with pytest.raises(ValueError, match="unknown config key"):
        make_config("cpu", overrides={"epochz": 1})
    with pytest.raises(ValueError, match="unknown profile"):
        make_config("gpu")
    with pytest.raises(FileNotFoundError, match="nope.yaml"):
        make_config("cpu", tmp_path / "nope.yaml")


@pytest.mark.parametrize("field, value, allowed", [
    ("loss", "l3", "l1"), ("loss", "l2+foo", "'+' sum"), ("schedule", "linear", "cosine"),
    ("protocol", "mixed", "paired"), ("properties", ["Nonexistent"], "Mouth_Slightly_Open"),
    ("sets", ["celeba"], "stgan"), ("sets", ["attgan"], "no training split"), ("model", "resnet", "unet_small"),
    ("epochs", -1, ">= 1"), ("epochs", "abc", "integer"), ("batch_size", 0, ">= 1"), ("lr", "abc", "number"),
    ("betas", 5, "two numbers"), ("device", "gpu", "cuda"), ("attention_floor", 2, "[0, 1]"),
])
def test_bad_fields_are_named_with_the_allowed_values(field, value, allowed):
    with pytest.raises(ConfigError, match=f"'{field}'") as err:
        make_config("smoke", overrides={field: value})
    assert allowed in str(err.value)


def test_fields_are_coerced_to_their_types(tmp_path):
    """YAML reads ``1e-3`` as a string; the config coerces every field by its declared type."""
    cfg = make_config("smoke", overrides=dict(parse_override(o) for o in
                                              ["lr=1e-3", "weight_decay=1e-7", "epochs=3", "flip=false"]))
    assert (cfg.lr, cfg.weight_decay, cfg.epochs, cfg.flip) == (1e-3, 1e-7, 3, False)
    assert isinstance(cfg.lr, float) and isinstance(cfg.epochs, int)
    f = tmp_path / "c.yaml"
    f.write_text("lr: 1e-4\nbetas: [0.9, 0.99]\n")
    assert make_config("smoke", f).betas == (0.9, 0.99)
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg


def test_config_errors_come_before_any_data_or_model(tmp_path, monkeypatch, capsys):
    """A typo in a config field fails in make_config: the CLI never reaches data loading or the model."""
    import fklib.engine.run as S
    from fklib.__main__ import main as cli

    def refuse(*_a, **_k):
        raise AssertionError("reached the training set-up")

    monkeypatch.setattr(S, "training_items", refuse)
    assert cli(["train", "--profile", "smoke", "--override", "loss=l3", "--set", f"out_dir={tmp_path}/x"]) == 1
    assert not (tmp_path / "x").exists()
    # --set, the option's earlier name, still overrides (recorded commands run as written): its bad value is named
    assert cli(["train", "--profile", "smoke", "--set", "epochs=-1", "--override", f"out_dir={tmp_path}/y"]) == 1
    assert "epochs" in capsys.readouterr().err and not (tmp_path / "y").exists()


def test_checkpoint_is_weights_only_and_rebuilds_the_model(data_root, tmp_path):
    cfg = tiny_config(tmp_path, epochs=1)
    res = fit(cfg, progress=False, log=lambda *_: None)
    ckpt = load_checkpoint(res["last"])             # weights_only=True inside
    assert ckpt["git_commit"] and len(ckpt["data_manifest_hash"]) == 64
    assert json.loads(ckpt["config"])["model"] == "unet_small"
    assert {"optimizer", "rng_cpu", "scheduler"} <= set(ckpt)
    loc = load_trained(res["best"])
    model, cfg2 = loc.model, loc.config
    assert cfg2 == cfg
    x = torch.rand(2, 3, 32, 32)
    torch.testing.assert_close(model(x).map, res["model"].eval()(x).map)
    assert not any(p.name.endswith(".part") for p in (tmp_path / "t").iterdir())


def test_bad_checkpoint_is_named(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="bad.pt"):
        load_checkpoint(bad)
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        load_checkpoint(tmp_path / "missing.pt")


def test_setup_builds_the_configured_pieces(data_root, tmp_path):
    cfg = tiny_config(tmp_path, "pieces", balance_classes=True, loss="l2+ssim", schedule="cosine")
    run = setup(cfg, log=lambda *_: None)
    fakes = sum(it.label for it in run.train_items)
    assert {it.property for it in run.train_items if it.label} == {"Bald", "Bangs"}
    assert run.criterion.pos_weight == pytest.approx((len(run.train_items) - fakes) / fakes)
    assert run.criterion.map_loss_name == "l2+ssim"
    steps = len(run.train_items) // cfg.batch_size * cfg.epochs
    lrs = []
    for _ in range(steps):
        lrs.append(run.scheduler.get_last_lr()[0])
        run.optimizer.step()
        run.scheduler.step()
    assert lrs[0] == pytest.approx(cfg.lr) and lrs[-1] < lrs[len(lrs) // 2] < lrs[0]   # cosine decay
    assert run.optimizer.defaults["betas"] == cfg.betas and run.start_epoch == 0


def test_one_epoch_then_validate_on_independent_numbers(data_root, tmp_path):
    cfg = tiny_config(tmp_path, "epoch", epochs=1)
    run = setup(cfg, log=lambda *_: None)
    before = {k: v.clone() for k, v in run.model.state_dict().items()}
    record = train_one_epoch(run, 0, progress=False)
    assert record["epoch"] == 1 and record["train_loss"] > 0
    assert any(not torch.equal(before[k], v) for k, v in run.model.state_dict().items())
    val = validate(run.model, run.val_items, cfg.size, run.device, run.criterion)
    # independently: one forward over the validation items, cosine similarity of the fakes' maps
    from fklib.data import FakeMapDataset

    ds = FakeMapDataset(run.val_items, size=cfg.size)
    batch = torch.utils.data.default_collate([ds[i] for i in range(len(ds))])
    with torch.no_grad():
        out = run.model.eval()(batch["image"])
    fake = batch["label"] > 0.5
    p, g = out.map[fake].flatten(1).double(), batch["gt_map"][fake].flatten(1).double()
    cos = ((p * g).sum(1) / (p.norm(dim=1) * g.norm(dim=1))).mean().item()
    assert val["coss"] == pytest.approx(cos, abs=1e-6)
    assert val["acc"] == pytest.approx(((out.logit > 0) == fake).float().mean().item())
    loss = run.criterion(out.map, batch["gt_map"], out.logit, batch["label"])["loss"].item()
    assert val["loss"] == pytest.approx(loss, rel=1e-5)


def test_resume_matches_uninterrupted_run(data_root, tmp_path):
    full = fit(tiny_config(tmp_path, "full"), progress=False, log=lambda *_: None)
    cfg = tiny_config(tmp_path, "part")
    # "interrupted" after the first epoch: run epoch 1 with the engine's pieces and write its checkpoints
    run = setup(cfg, log=lambda *_: None)
    record = train_one_epoch(run, 0, progress=False)
    val = validate(run.model, run.val_items, cfg.size, run.device, run.criterion)
    from fklib.engine import validation_score

    record.update({f"val_{k}": v for k, v in val.items()})
    record["val_score"] = validation_score(val)
    save_epoch(run, 0, record, record["val_score"])
    resumed = fit(cfg, resume=True, progress=False, log=lambda *_: None)
    a, b = full["model"].state_dict(), resumed["model"].state_dict()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert [h["train_loss"] for h in full["history"]] == [h["train_loss"] for h in resumed["history"]]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ddp_worker(rank, world, port, cfg_dict, out):
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))
    torch.set_num_threads(1)
    cfg = TrainConfig.from_dict(cfg_dict)
    res = fit(cfg, progress=False, log=lambda *_: None)
    torch.save({k: v.detach().clone() for k, v in res["model"].state_dict().items()}, f"{out}/rank{rank}.pt")
    torch.distributed.destroy_process_group()


def test_ddp_two_process_gloo_ranks_agree(data_root, tmp_path):
    cfg = tiny_config(tmp_path, "ddp", epochs=1, max_items=64)
    mp.spawn(_ddp_worker, args=(2, _free_port(), cfg.to_dict(), str(tmp_path)), nprocs=2, join=True)
    r0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    r1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    init = tiny_config(tmp_path, "ddp")
    torch.manual_seed(init.seed)
    fresh = build_model(init).state_dict()
    changed = False
    for k in r0:
        assert torch.equal(r0[k], r1[k]), k
        changed |= not torch.equal(r0[k], fresh[k])
    assert changed                                  # the ranks trained, and stayed identical


def test_property_head_and_prior_blend_are_chosen_on_validation(data_root, tmp_path):
    from fklib.models import PriorBlend

    cfg = tiny_config(tmp_path, "blend", epochs=1, property_weight=0.5, prior_blend=True)
    res = fit(cfg, progress=False, log=lambda *_: None)
    ckpt = load_checkpoint(res["best"])
    alpha = ckpt["prior_alpha"]
    scores = json.loads(ckpt["prior_scores"])
    assert float(max(scores, key=scores.get)) == alpha and 0.0 <= alpha <= 1.0
    priors = ckpt["prior_maps"]
    assert priors.shape == (len(PROPERTY_CLASSES), 32, 32)
    assert priors[PROPERTY_CLASSES.index("Real")].abs().sum() == 0          # reals: zero maps
    assert priors[PROPERTY_CLASSES.index("Bald")].mean() > 0
    model = load_trained(res["best"]).model
    assert isinstance(model, PriorBlend)
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        inner = model.model(x)
        expected = alpha * inner.map + (1 - alpha) * torch.einsum(
            "bk,khw->bhw", inner.property_logits.softmax(1), priors)[:, None]
        torch.testing.assert_close(model(x).map, expected)


def test_no_classifier_threshold_is_chosen_on_validation_and_stored(data_root, tmp_path):
    """A "no cl" model's decision threshold is written into best.pt; evaluate and locate use it."""
    from fklib.checkpoint import DecisionRule
    from fklib.engine import no_cl_threshold, training_items
    from fklib.locate import Locator

    cfg = tiny_config(tmp_path, "nocl", epochs=1, classifier=False)
    res = fit(cfg, progress=False, log=lambda *_: None)
    stored = load_checkpoint(res["best"])["no_cl_threshold"]
    loaded = load_trained(res["best"])
    assert stored == no_cl_threshold(loaded.model, training_items(cfg, "val"), cfg.size, "cpu")
    assert loaded.rule == DecisionRule(False, stored, None)
    assert Locator(res["best"]).rule.threshold == stored


def test_training_with_face_attention_from_the_shipped_parser(data_root, tmp_path):
    from fklib.parsing.parser import default_weights

    assert default_weights().is_file(), "the shipped face-parser weights are missing"
    cfg = tiny_config(tmp_path, "att", epochs=1, attention=True, max_items=16, val_max_items=8)
    res = fit(cfg, progress=False, log=lambda *_: None)
    assert json.loads(load_checkpoint(res["best"])["config"])["attention"] is True


def test_balanced_sampling_gives_each_set_and_class_its_share():
    import numpy as np

    from fklib.data import Item
    from fklib.engine.run import sampling_weights

    img = np.zeros((8, 8, 3), np.uint8)

    def items(set_name, reals, fakes):
        return [Item(img, None, 0, set_name, "real", "Real", str(k), "r") for k in range(reals)] + \
               [Item(img, img, 1, set_name, "g", "Bald", str(k), "f") for k in range(fakes)]

    data = items("stgan_celeba128", 2, 10) + items("stargan_disrupted256", 3, 5)
    cfg = make_config("smoke", overrides=dict(sets=["stgan", "stargan"], set_balance=True, real_fraction=0.25,
                                              set_shares={"stgan": 3, "stargan": 1}))
    w = sampling_weights(cfg, data).numpy()
    assert w.sum() == pytest.approx(1.0)
    share = lambda s, label: w[[i for i, it in enumerate(data) if it.set == s and it.label == label]]  # noqa: E731
    assert share("stgan_celeba128", 0).sum() == pytest.approx(0.75 * 0.25)
    assert share("stgan_celeba128", 1).sum() == pytest.approx(0.75 * 0.75)
    assert share("stargan_disrupted256", 0).sum() == pytest.approx(0.25 * 0.25)
    assert np.allclose(share("stgan_celeba128", 1), share("stgan_celeba128", 1)[0])   # even within a group
    natural = sampling_weights(make_config("smoke", overrides=dict(PLAIN_DATA, set_balance=True)), data).numpy()
    assert share("stgan_celeba128", 0).sum() != pytest.approx(natural[:2].sum())       # the set's own proportion
    assert natural[:2].sum() == pytest.approx(0.5 * 2 / 12)
    assert sampling_weights(make_config("smoke", overrides=PLAIN_DATA), data) is None


def test_training_with_splices_and_balanced_sampling(data_root, tmp_path):
    cfg = tiny_config(tmp_path, "splice", epochs=1, splice_p=0.7, set_balance=True, real_fraction=0.3,
                      samples_per_epoch=24, sets=["stgan", "stargan"], val_splice_sets=["stgan_val"])
    run = setup(cfg, log=lambda *_: None)
    assert run.train_ds.item_transform is not None and run.train_ds.item_transform.p == 0.7
    assert any(it.set == "generic" and it.gan == "stgan-splice" for it in run.val_items)
    from fklib.engine.train import epoch_loader

    batches = list(epoch_loader(run, 0))
    assert sum(len(b["image"]) for b in batches) == 24 and {len(b["image"]) for b in batches} == {8}
    res = fit(cfg, progress=False, log=lambda *_: None)
    assert json.loads(load_checkpoint(res["best"])["history"])[0]["val_coss"] > 0


# --- existing runs are never replaced silently (issue 17, item 8) ----------------------------------

def cli_tiny(out_dir) -> list[str]:
    """``--set`` arguments of a seconds-long CLI training run into ``out_dir``."""
    sets = {"model_kwargs": "{base: 4}", "size": 32, "max_items": 16, "val_max_items": 8, "out_dir": out_dir,
            "properties": "[Bald]"}
    return [a for k, v in sets.items() for a in ("--override", f"{k}={v}")]


def test_train_refuses_a_folder_with_a_run_unless_resume_or_overwrite(data_root, tmp_path, monkeypatch, capsys):
    from fklib.__main__ import main as cli

    out = tmp_path / "run"
    assert cli(["train", "--profile", "smoke", "--quiet", *cli_tiny(out), "--override", "epochs=2"]) == 0
    best = (out / "best.pt").read_bytes()
    capsys.readouterr()
    import fklib.engine.run as S

    real_items = S.training_items

    def refuse(*_a, **_k):
        raise AssertionError("reached the training set-up")

    monkeypatch.setattr(S, "training_items", refuse)
    assert cli(["train", "--profile", "smoke", "--quiet", *cli_tiny(out), "--override", "epochs=1"]) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"error: {out}: already holds a run") and "--overwrite" in line
    assert (out / "best.pt").read_bytes() == best                      # the 2-epoch best.pt is kept
    with pytest.raises(ValueError, match="already holds a run"):
        fit(make_config("smoke", overrides={"out_dir": str(out)}), progress=False, log=lambda *_: None)
    monkeypatch.setattr(S, "training_items", real_items)
    assert cli(["train", "--profile", "smoke", "--quiet", *cli_tiny(out), "--override", "epochs=1", "--overwrite"]) == 0
    assert len(json.loads(load_checkpoint(out / "best.pt")["history"])) == 1   # replaced, as asked


# --- config values through the CLI (item 10) -------------------------------------------------------

def test_cli_coerces_exponent_numbers_from_set_and_yaml(data_root, tmp_path):
    from fklib.__main__ import main as cli

    assert cli(["train", "--profile", "smoke", "--quiet", *cli_tiny(tmp_path / "a"),
                "--override", "lr=1e-3", "--override", "weight_decay=1e-7"]) == 0
    saved = json.loads(load_checkpoint(tmp_path / "a" / "best.pt")["config"])
    assert (saved["lr"], saved["weight_decay"]) == (1e-3, 1e-7)
    cfg_file = tmp_path / "c.yaml"
    cfg_file.write_text("profile: smoke\nlr: 1e-4\n")
    assert cli(["train", "--config", str(cfg_file), "--quiet", *cli_tiny(tmp_path / "b")]) == 0
    assert json.loads(load_checkpoint(tmp_path / "b" / "best.pt")["config"])["lr"] == 1e-4


@pytest.mark.parametrize("override, field", [
    ("lr=abc", "lr"), ("epochs=abc", "epochs"), ("batch_size=0", "batch_size"), ("betas=5", "betas"),
    ("epochs=-1", "epochs"), ("properties=[Nonexistent]", "properties"),
])
def test_cli_bad_values_are_one_line_naming_the_field(tmp_path, monkeypatch, capsys, override, field):
    import fklib.engine.run as S
    from fklib.__main__ import main as cli

    monkeypatch.setattr(S, "training_items", lambda *_a, **_k: pytest.fail("reached the training set-up"))
    assert cli(["train", "--profile", "smoke", "--override", override, "--override", f"out_dir={tmp_path / 'x'}"]) == 1
    captured = capsys.readouterr()
    (line,) = captured.err.splitlines()
    assert line.startswith(f"error: config field '{field}'")
    assert "best checkpoint" not in captured.out and not (tmp_path / "x").exists()
    yaml_file = tmp_path / "bad.yaml"
    key, value = override.split("=", 1)
    yaml_file.write_text(f"profile: smoke\n{key}: {value}\nout_dir: {tmp_path / 'y'}\n")
    assert cli(["train", "--config", str(yaml_file)]) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"error: config field '{field}'")


def test_cli_never_prints_a_best_checkpoint_that_was_not_written(data_root, tmp_path, monkeypatch, capsys):
    """Every validation score NaN (a diverged run): no best.pt is written, and the CLI says so (exit 1)."""
    import fklib.engine.train as T
    from fklib.__main__ import main as cli

    monkeypatch.setattr(T, "validation_score", lambda val: float("nan"))
    out = tmp_path / "nan"
    assert cli(["train", "--profile", "smoke", "--quiet", *cli_tiny(out)]) == 1
    captured = capsys.readouterr()
    assert "best checkpoint" not in captured.out
    (line,) = captured.err.splitlines()
    assert f"{out / 'best.pt'}: not written" in line
    assert not (out / "best.pt").exists() and (out / "last.pt").is_file()


def test_attention_modes_transform_the_map_as_documented():
    from fklib.engine.train import attention_inputs

    att = torch.rand(4, 1, 8, 8) * 0.7 + 0.3
    lite = {"model": "efficientnet_lite0_unet", "model_kwargs": {}}
    for mode in ("paper", "skip"):
        a, target = attention_inputs(make_config("smoke", overrides={**lite, "attention_mode": mode}), att)
        assert a is att and target is None
    a, target = attention_inputs(make_config("smoke", overrides={**lite, "attention_mode": "auxiliary"}), att)
    assert a is None and target is att
    a, _ = attention_inputs(make_config("smoke", overrides={"attention_mode": "normalized"}), att)
    torch.testing.assert_close(a.mean(dim=(2, 3)), torch.ones(4, 1))
    a, _ = attention_inputs(make_config("smoke", overrides={"attention_mode": "residual"}), att)
    torch.testing.assert_close(a, (1 + att) / (1 + att.mean(dim=(2, 3), keepdim=True)))
    cfg = make_config("smoke", overrides={"attention_mode": "dropout", "attention_dropout": 0.5})
    torch.manual_seed(0)
    white = sum(attention_inputs(cfg, att)[0] is None for _ in range(400))
    assert 150 < white < 250                                                  # about half the batches
    assert attention_inputs(cfg, None) == (None, None)
    with pytest.raises(ConfigError, match="attention_mode"):
        make_config("smoke", overrides={"attention_mode": "skip"})            # unet_small has no skip mode


def test_best_checkpoint_keeps_every_epoch_and_names_the_best(data_root, tmp_path):
    from fklib.checkpoint import save_checkpoint
    from fklib.studies.cache import full_history, history_frame, training_summary

    cfg = tiny_config(tmp_path, "hist", epochs=3)
    res = fit(cfg, progress=False, log=lambda *_: None)
    best = load_checkpoint(res["best"])
    history = json.loads(best["history"])
    assert [h["epoch"] for h in history] == [1, 2, 3]                      # every epoch, not up to the best
    scores = [h["val_score"] for h in history]
    assert best["best_epoch"] == 1 + int(np.argmax(scores))
    summary = training_summary(res["best"])
    assert summary["epochs"] == 3 and summary["best_epoch"] == best["best_epoch"]
    assert summary["still_improving"] == (best["best_epoch"] == 3 and scores[-1] - max(scores[:-1]) > 0.002)
    assert summary["val_score"] == pytest.approx(max(scores))
    # a run written before best.pt kept its whole history: the rest comes from last.pt
    old = tmp_path / "old"
    old.mkdir()
    trimmed = {k: v for k, v in best.items() if k != "best_epoch"}
    save_checkpoint(old / "best.pt", {**trimmed, "history": json.dumps(history[:1]), "epoch": 0})
    save_checkpoint(old / "last.pt", {**trimmed, "history": json.dumps(history), "epoch": 2})
    h, b = full_history(old / "best.pt")
    assert len(h) == 3 and b == 1
    assert history_frame(old / "best.pt")["best"].tolist() == [True, False, False]


def test_hybrid_layout_maps_and_balanced_decision_are_fitted_and_stored(data_root, tmp_path):
    """The hybrid locator starts from the training fakes' mean map per property, saved with its weights;
    with ``balanced_decision`` the classifier's threshold and the map-peak floor are the balanced-accuracy
    ones on validation (balanced over the sets), stored in best.pt and used by evaluate and locate."""
    from fklib.config import PROPERTY_CLASSES
    from fklib.checkpoint import DecisionRule
    from fklib.engine import evaluation_rule, property_prior_maps, training_items
    from fklib.engine.evaluate import balanced_decision
    from fklib.engine.scoring import score_items
    from fklib.metrics import choose_decision
    from fklib.locate import Locator

    cfg = tiny_config(tmp_path, "hyb", epochs=1, model="efficientnet_lite0_unet", property_weight=0.5,
                      model_kwargs={"hybrid": True, "hf": "srm", "hf_channels": [0, 8, 8]}, balanced_decision=True)
    res = fit(cfg, progress=False, log=lambda *_: None)
    ckpt = load_checkpoint(res["best"])
    expected = property_prior_maps(training_items(cfg, "train"), cfg.size)[:, None]
    assert expected.shape == (len(PROPERTY_CLASSES), 1, cfg.size, cfg.size)
    assert expected[PROPERTY_CLASSES.index("Bald")].mean() > 0 and expected[0].abs().max() == 0  # Real: zeros
    torch.testing.assert_close(ckpt["model"]["prior_maps"], expected)  # fixed: not trained (a buffer)
    loaded = load_trained(res["best"])
    model = loaded.model
    stored = ckpt["decision_threshold"]
    floor = ckpt.get("decision_peak_floor")
    val = training_items(cfg, "val")
    assert (stored, floor) == balanced_decision(model, val, cfg.size, "cpu")
    rows = score_items(model, val, cfg.size, metrics=())
    assert (stored, floor) == choose_decision(rows["prob"], rows["peak"], rows["label"], rows["set"].to_numpy())
    assert evaluation_rule(loaded, "cpu") == loaded.rule == DecisionRule(True, stored, floor)
    assert not hasattr(model, "decision_threshold")          # the rule travels with the loaded locator, not the module
    assert Locator(res["best"]).rule == loaded.rule


def test_ensure_trained_takes_the_shipped_model_when_config_and_data_match(data_root, tmp_path, monkeypatch):
    """One model: a shipped locator whose recorded config and data manifest hash are the profile's is used
    instead of training; another config, other data or ``retrain`` do not take it."""
    import dataclasses

    from fklib.checkpoint import data_manifest_hash, save_locator
    from fklib.studies import cache

    cfg = tiny_config(tmp_path, "ship", epochs=1)
    res = fit(cfg, progress=False, log=lambda *_: None)
    shipped = save_locator(load_checkpoint(res["best"]), tmp_path / "models" / "fakelocator.safetensors")
    assert load_checkpoint(shipped)["data_manifest_hash"] == data_manifest_hash(cfg.sets) != ""
    monkeypatch.setattr(cache.paths, "default_locator", lambda: shipped)
    other_dir = dataclasses.replace(cfg, out_dir=str(tmp_path / "elsewhere"))   # no run of its own there
    assert cache.shipped_run(cfg) == shipped
    assert cache.ensure_trained(dataclasses.replace(cfg), log=None) == shipped
    assert cache.shipped_run(dataclasses.replace(cfg, lr=5e-4)) is None            # another config
    damaged = load_checkpoint(res["best"])
    damaged["data_manifest_hash"] = "0" * 64
    save_locator(damaged, shipped)
    assert cache.shipped_run(cfg) is None                                         # other data
    save_locator(load_checkpoint(res["best"]), shipped)
    trained = cache.ensure_trained(other_dir, retrain=True, log=None)             # --retrain trains
    assert trained == tmp_path / "elsewhere" / "best.pt" and trained.is_file()


def test_patience_stops_after_epochs_without_improvement_and_keeps_the_same_best(data_root, tmp_path):
    """Early stopping runs exactly the epochs a full run runs up to the stop (same schedule), so the
    kept best weights are the full run's whenever its best epoch came before the stop."""
    from fklib.engine.train import epochs_without_improvement

    assert epochs_without_improvement([{"val_score": s} for s in (0.1, 0.5, 0.4, 0.3)]) == 2
    assert epochs_without_improvement([{"val_score": s} for s in (0.1, 0.5, 0.5)]) == 1  # a tie is no better
    assert epochs_without_improvement([{"val_score": 0.2}]) == 0
    full = fit(tiny_config(tmp_path, "full", epochs=4, lr=3e-2), progress=False, log=lambda *_: None)
    scores = [h["val_score"] for h in full["history"]]
    best = int(np.argmax(scores))
    stopped = fit(tiny_config(tmp_path, "stop", epochs=4, lr=3e-2, patience=1), progress=False, log=lambda *_: None)
    ran = len(stopped["history"])
    expected = next((k + 1 for k in range(1, 4) if epochs_without_improvement(full["history"][:k + 1]) >= 1), 4)
    assert ran == expected and [h["val_score"] for h in stopped["history"]] == scores[:ran]
    if best < ran:
        a, b = load_checkpoint(full["best"])["model"], load_checkpoint(stopped["best"])["model"]
        assert all(torch.equal(a[k], b[k]) for k in a)


# --- issue 24 --------------------------------------------------------------------------------------

def test_overwrite_keeps_the_old_run_when_the_new_one_cannot_start(data_root, tmp_path, capsys):
    """Item 3: ``--overwrite`` removed the old checkpoints, then the set-up failed: the run was gone."""
    from fklib.__main__ import main as cli

    out = tmp_path / "ow"
    assert cli(["train", "--profile", "smoke", "--quiet", *cli_tiny(out), "--override", "epochs=1"]) == 0
    before = {n: (out / n).read_bytes() for n in ("best.pt", "last.pt")}
    capsys.readouterr()
    assert cli(["train", "--profile", "smoke", "--quiet", *cli_tiny(out), "--override", "data_dir=/does/not/exist",
                "--overwrite"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    (line,) = err.splitlines()
    assert line.startswith("error: ") and "/does/not/exist" in line
    assert {n: (out / n).read_bytes() for n in before} == before


@pytest.mark.parametrize("override, field, named", [
    ("size=1", "size", ">= 16"), ("size=4", "size", "unet_small"), ("size=7", "size", ">= 16"),
    ("model_kwargs={bse: 8}", "model_kwargs", "'bse'"), ("loss_kwargs={foo: 1}", "loss_kwargs", "'foo'"),
    ("model_kwargs={classifier: false}", "model_kwargs", "'classifier'"),
])
def test_size_and_kwargs_are_checked_when_the_config_is_built(override, field, named):
    """Item 7: ``size=1`` (4, 7) passed validation and failed in the first forward pass ("Output size is too
    small"); unknown keyword arguments of the model or the loss ended in a ``TypeError``."""
    key, value = parse_override(override)
    with pytest.raises(ConfigError, match=f"'{field}'") as err:
        make_config("smoke", overrides={key: value})
    assert named in str(err.value)
    make_config("smoke", overrides={"size": 16, "model_kwargs": {"base": 4}, "loss_kwargs": {}})  # these are fine
    make_config("smoke", overrides={"loss": "focal", "loss_kwargs": {"gamma": 1.0}})


@pytest.mark.parametrize("override, field", [("size=4", "size"), ("model_kwargs={bse: 8}", "model_kwargs"),
                                             ("loss_kwargs={foo: 1}", "loss_kwargs"),
                                             ("model_kwargs={base: 0}", "model_kwargs")])
def test_cli_bad_size_or_kwargs_is_one_line_before_any_data(tmp_path, monkeypatch, capsys, override, field):
    """Item 7: ``model_kwargs={base: 0}`` gave a line that did not name ``model_kwargs``, after the data were read."""
    import fklib.engine.run as S
    from fklib.__main__ import main as cli

    monkeypatch.setattr(S, "training_items", lambda *_a, **_k: pytest.fail("reached the training data"))
    assert cli(["train", "--profile", "smoke", "--quiet", "--override", override, "--override", f"out_dir={tmp_path / 'x'}"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    (line,) = err.splitlines()
    assert line.startswith(f"error: config field '{field}'"), line
    assert not (tmp_path / "x").exists()


_TRAIN_INTERRUPTED = """
import os, runpy, signal, sys
import fklib.engine.train as T
sig, marker, args = getattr(signal, sys.argv[1]), sys.argv[2], sys.argv[3:]
real = T.save_epoch
def save_then_signal(run, epoch, record, score):
    real(run, epoch, record, score)
    open(marker, "w").close()
    os.kill(os.getpid(), sig)   # as if Ctrl-C (or kill) came as epoch 2 starts
T.save_epoch = save_then_signal
sys.argv = ["fklib", "train", "--profile", "smoke", "--quiet", *args]
runpy.run_module("fklib", run_name="__main__")
"""


@pytest.mark.parametrize("sig, code", [("SIGINT", 130), ("SIGTERM", 143)])
def test_an_interrupted_training_is_one_line_and_resumes(data_root, tmp_path, sig, code):
    """Item 10: Ctrl-C printed a ~25-line KeyboardInterrupt traceback; now one line naming how to resume."""
    import subprocess
    import sys

    from fklib import paths
    from fklib.__main__ import main as cli

    out = tmp_path / "run"
    args = [*cli_tiny(out), "--override", "epochs=2"]
    env = {**os.environ, "PYTHONPATH": str(paths.project_root())}
    proc = subprocess.run([sys.executable, "-c", _TRAIN_INTERRUPTED, sig, str(tmp_path / "saved"), *args],
                          capture_output=True, text=True, env=env, timeout=600)
    assert (tmp_path / "saved").exists(), proc.stderr[-3000:]
    assert proc.returncode == code, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    (line,) = [x for x in proc.stderr.splitlines() if x.strip()]
    assert line == f"interrupted; resume with --resume ({out / 'last.pt'}, after epoch 1 of 2)"
    assert not [p.name for p in out.iterdir() if p.name.endswith(".part")]
    assert json.loads(load_checkpoint(out / "last.pt")["history"])[-1]["epoch"] == 1
    assert cli(["train", "--profile", "smoke", "--quiet", *args, "--resume"]) == 0
    assert len(json.loads(load_checkpoint(out / "best.pt")["history"])) == 2


def test_an_interrupted_checkpoint_write_leaves_the_old_file_and_no_partial(tmp_path, monkeypatch):
    """Item 10: a checkpoint write stopped by Ctrl-C or SIGTERM leaves the previous file intact and no ``.part``."""
    import fklib.checkpoint as C

    target = tmp_path / "last.pt"
    C.save_checkpoint(target, {"epoch": 1})
    before = target.read_bytes()

    def half_then_interrupt(obj, f, *a, **k):
        open(f, "wb").write(b"half")
        raise KeyboardInterrupt

    monkeypatch.setattr(C.torch, "save", half_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        C.save_checkpoint(target, {"epoch": 2})
    assert target.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"]


def test_still_improving_needs_a_real_gain_at_the_last_epoch():
    from fklib.studies.cache import still_improving

    flat = [{"val_score": v} for v in (0.70, 0.742, 0.741, 0.7425)]
    rising = [{"val_score": v} for v in (0.60, 0.65, 0.66, 0.68)]
    assert not still_improving(flat, 4)          # best by 0.0005: flat, not improving
    assert still_improving(rising, 4)
    assert not still_improving(rising, 3)        # the best epoch is not the last one
