"""``python -m fklib locate`` with the shipped model, bad files, and shipping a checkpoint (fklib.export)."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from fklib.__main__ import main as cli
from fklib.data import load_set
from fklib.checkpoint import load_checkpoint, load_locator, model_from_checkpoint, save_locator
from fklib.config import make_config
from fklib.engine import evaluate_checkpoint, fit
from fklib.export import export
from fklib.locate import Locator, locate_files, output_stems, read_map_png
from fklib.paths import default_locator
from conftest import random_rgb, save_png


@pytest.fixture(scope="module")
def locator():
    path = default_locator()
    assert path.is_file(), f"{path}: the shipped default model is missing"
    return Locator()


@pytest.fixture(scope="module")
def stgan_pair(data_root, tmp_path_factory):
    """A real STGAN Bald test fake and its real source, written as separate PNGs."""
    folder = tmp_path_factory.mktemp("pair")
    items = [it for it in load_set("stgan", split="test") if it.property == "Bald"]
    it = items[0]
    fake = save_png(folder / "fake.png", it.image)
    real = save_png(folder / "real.png", it.reference)
    return fake, real


def test_shipped_model_fits_the_size_budget():
    assert default_locator().stat().st_size <= 25 * 1024 * 1024
    card = json.loads(default_locator().with_suffix(".json").read_text())
    for key in ("command", "data_manifest_hash", "train_seconds", "machine", "test"):
        assert card[key], key
    assert {"model", "zeros", "global_mean", "property_mean"} <= set(card["test"])


def test_fake_map_brighter_than_real(locator, stgan_pair, tmp_path):
    fake, real = stgan_pair
    records, errors = locate_files([fake, real], tmp_path, locator=locator, log=lambda *_: None)
    assert errors == []
    by_name = {r["image"]: r for r in records}
    rf, rr = by_name[str(fake)], by_name[str(real)]
    assert rf["map"]["mean"] > rr["map"]["mean"]
    assert rf["fake_probability"] > rr["fake_probability"]
    for stem in ("fake", "real"):
        data = json.loads((tmp_path / f"{stem}.json").read_text())  # valid JSON on disk
        assert data["width"] == data["height"] == 128
        assert 0.0 <= data["fake_probability"] <= 1.0
        assert data["decision"] in ("fake", "real")
        assert Image.open(tmp_path / f"{stem}_overlay.png").size == (128, 128)
    # The 16-bit PNG holds the map to 1/65535.
    m, _ = locator.predict_array(np.asarray(Image.open(fake).convert("RGB")))
    assert np.abs(read_map_png(tmp_path / "fake_map.png") - m).max() <= 1 / 65535 + 1e-6
    assert abs(float(m.mean()) - rf["map"]["mean"]) < 1e-6


def test_any_size_and_8_bit(locator, stgan_pair, tmp_path):
    fake, _ = stgan_pair
    big = tmp_path / "odd.jpg"
    Image.open(fake).resize((301, 257)).save(big, quality=95)
    records, errors = locate_files([big], tmp_path / "out", bits=8, locator=locator, log=lambda *_: None)
    assert not errors
    assert Image.open(tmp_path / "out" / "odd_overlay.png").size == (301, 257)
    mp = Image.open(tmp_path / "out" / "odd_map.png")
    assert mp.size == (301, 257) and mp.mode == "L"
    assert records[0]["width"] == 301 and records[0]["height"] == 257


def test_bad_files_are_named_and_others_still_run(locator, stgan_pair, tmp_path, capsys):
    fake, _ = stgan_pair
    not_image = tmp_path / "notes.png"
    not_image.write_text("not an image")
    truncated = tmp_path / "trunc.png"
    truncated.write_bytes(fake.read_bytes()[:300])
    huge = save_png(tmp_path / "huge.png", np.zeros((200, 200, 3), np.uint8))
    missing = tmp_path / "missing.png"
    out = tmp_path / "out"
    code = cli(["locate", str(not_image), str(fake), str(truncated), str(missing), str(huge),
                "--out", str(out), "--max-pixels", "30000"])
    assert code == 1
    err = capsys.readouterr().err
    for bad in (not_image, truncated, missing, huge):
        assert str(bad) in err
    assert "decompression-bomb" in err
    assert (out / "fake.json").is_file() and (out / "fake_map.png").is_file()
    assert sorted(p.name for p in out.iterdir()) == ["fake.json", "fake_map.png", "fake_overlay.png"]


def test_same_stem_twice_is_not_overwritten(locator, stgan_pair, tmp_path):
    fake, real = stgan_pair
    other = tmp_path / "b" / "fake.png"
    other.parent.mkdir()
    other.write_bytes(real.read_bytes())
    assert output_stems([fake, other, fake]) == ["fake", "fake_2", "fake_3"]
    records, _ = locate_files([fake, other], tmp_path / "out", locator=locator, log=lambda *_: None)
    assert [r["files"]["json"].rsplit("/", 1)[1] for r in records] == ["fake.json", "fake_2.json"]


def test_out_must_be_a_folder(locator, stgan_pair, tmp_path):
    f = tmp_path / "file.txt"
    f.write_text("keep me")
    with pytest.raises(ValueError, match="not a folder"):
        locate_files([stgan_pair[0]], f, locator=locator)
    assert f.read_text() == "keep me"


@pytest.fixture(scope="module")
def smoke_ckpt(tmp_path_factory, data_root):
    out = tmp_path_factory.mktemp("ckpt")
    cfg = make_config("smoke", overrides={"out_dir": str(out), "size": 32, "model_kwargs": {"base": 4}})
    return fit(cfg, progress=False, log=lambda *_: None)["best"]


def test_safetensors_round_trip(smoke_ckpt, tmp_path, rng):
    out = save_locator(load_checkpoint(smoke_ckpt), tmp_path / "m.safetensors")
    a, cfg_a, _ = model_from_checkpoint(smoke_ckpt)
    b, cfg_b, payload = model_from_checkpoint(out)
    assert cfg_a == cfg_b
    assert payload["git_commit"] == load_checkpoint(smoke_ckpt)["git_commit"]
    x = torch.from_numpy(random_rgb(rng, 32, 32)).permute(2, 0, 1)[None].float() / 255
    with torch.no_grad():
        assert torch.equal(a(x).map, b(x).map)


def test_not_a_locator_file(tmp_path):
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(2)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(ValueError, match="not an fklib locator"):
        load_locator(tmp_path / "other.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"\x00" * 20)
    with pytest.raises(ValueError, match="junk.safetensors"):
        load_locator(tmp_path / "junk.safetensors")


def test_export_card_matches_evaluation(smoke_ckpt, tmp_path):
    card = export(smoke_ckpt, tmp_path / "m.safetensors", command="python -m fklib train --profile smoke")
    assert (tmp_path / "m.json").is_file() and "--profile smoke" in (tmp_path / "m.md").read_text()
    df = evaluate_checkpoint(smoke_ckpt, "stgan", split="test", device="cpu")
    fakes = df[(df["predictor"] == "model") & (df["label"] == 1)]
    expected = fakes.groupby(["gan", "property"])["coss"].mean().mean()  # mean over properties
    assert card["test"]["model"]["coss"] == pytest.approx(expected, abs=1e-4)
    assert card["test_n_reals"] == int(((df["predictor"] == "model") & (df["label"] == 0)).sum())
