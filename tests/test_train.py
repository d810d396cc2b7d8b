"""Training: configs/profiles, atomic weights-only checkpoints, resume == uninterrupted, DDP on gloo."""

import json
import os
import socket

import pytest
import torch
import torch.multiprocessing as mp

from fklib.train import (PROFILES, TrainConfig, load_checkpoint, make_config, model_from_checkpoint,
                         parse_override, train)


def tiny_config(tmp_path, name="t", **kw) -> TrainConfig:
    base = dict(name=name, model="unet_small", model_kwargs={"base": 4}, size=32, epochs=2, batch_size=8,
                max_items=32, val_max_items=16, out_dir=str(tmp_path / name), lr=1e-3, num_workers=0,
                properties=["Bald", "Bangs"])
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


def test_checkpoint_is_weights_only_and_rebuilds_the_model(data_root, tmp_path):
    cfg = tiny_config(tmp_path, epochs=1)
    res = train(cfg, progress=False, log=lambda *_: None)
    ckpt = load_checkpoint(res["last"])             # weights_only=True inside
    assert ckpt["git_commit"] and len(ckpt["data_manifest_hash"]) == 64
    assert json.loads(ckpt["config"])["model"] == "unet_small"
    assert {"optimizer", "rng_cpu", "scheduler"} <= set(ckpt)
    model, cfg2, _ = model_from_checkpoint(res["best"])
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


def test_resume_matches_uninterrupted_run(data_root, tmp_path):
    full = train(tiny_config(tmp_path, "full"), progress=False, log=lambda *_: None)
    part_cfg = tiny_config(tmp_path, "part")
    # "interrupted" after the first epoch: same config, but only one epoch was run
    first = make_config("cpu", overrides={**part_cfg.to_dict(), "epochs": 2})
    import fklib.train as T

    class Stop(Exception):
        pass

    calls = {"n": 0}
    real_save = T.save_checkpoint

    def save_then_stop(path, payload):
        real_save(path, payload)
        if path.name == "last.pt":
            calls["n"] += 1
            raise Stop()

    T.save_checkpoint = save_then_stop
    try:
        with pytest.raises(Stop):
            train(first, progress=False, log=lambda *_: None)
    finally:
        T.save_checkpoint = real_save
    resumed = train(first, resume=True, progress=False, log=lambda *_: None)
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
    res = train(cfg, progress=False, log=lambda *_: None)
    torch.save({k: v.detach().clone() for k, v in res["model"].state_dict().items()}, f"{out}/rank{rank}.pt")
    torch.distributed.destroy_process_group()


def test_ddp_two_process_gloo_ranks_agree(data_root, tmp_path):
    cfg = tiny_config(tmp_path, "ddp", epochs=1, max_items=64)
    mp.spawn(_ddp_worker, args=(2, _free_port(), cfg.to_dict(), str(tmp_path)), nprocs=2, join=True)
    r0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    r1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    init = tiny_config(tmp_path, "ddp")
    torch.manual_seed(init.seed)
    from fklib.train import build_model
    fresh = build_model(init).state_dict()
    changed = False
    for k in r0:
        assert torch.equal(r0[k], r1[k]), k
        changed |= not torch.equal(r0[k], fresh[k])
    assert changed                                  # the ranks trained, and stayed identical


def test_property_head_and_prior_blend_are_chosen_on_validation(data_root, tmp_path):
    from fklib.models import PriorBlend
    from fklib.train import PROPERTY_CLASSES

    cfg = tiny_config(tmp_path, "blend", epochs=1, property_weight=0.5, prior_blend=True)
    res = train(cfg, progress=False, log=lambda *_: None)
    ckpt = load_checkpoint(res["best"])
    alpha = ckpt["prior_alpha"]
    scores = json.loads(ckpt["prior_scores"])
    assert float(max(scores, key=scores.get)) == alpha and 0.0 <= alpha <= 1.0
    priors = ckpt["prior_maps"]
    assert priors.shape == (len(PROPERTY_CLASSES), 32, 32)
    assert priors[PROPERTY_CLASSES.index("Real")].abs().sum() == 0          # reals: zero maps
    assert priors[PROPERTY_CLASSES.index("Bald")].mean() > 0
    model, _, _ = model_from_checkpoint(res["best"])
    assert isinstance(model, PriorBlend)
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        inner = model.model(x)
        expected = alpha * inner.map + (1 - alpha) * torch.einsum(
            "bk,khw->bhw", inner.property_logits.softmax(1), priors)[:, None]
        torch.testing.assert_close(model(x).map, expected)


def test_training_with_face_attention_from_the_shipped_parser(data_root, tmp_path):
    from fklib.parsing.parser import default_weights

    assert default_weights().is_file(), "the shipped face-parser weights are missing"
    cfg = tiny_config(tmp_path, "att", epochs=1, attention=True, max_items=16, val_max_items=8)
    res = train(cfg, progress=False, log=lambda *_: None)
    assert json.loads(load_checkpoint(res["best"])["config"])["attention"] is True
