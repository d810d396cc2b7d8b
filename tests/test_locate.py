"""``python -m fklib locate`` with the shipped model, bad files, and shipping a checkpoint (fklib.export)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from fklib.__main__ import main as cli
from fklib.data import load_set
from fklib.checkpoint import load_checkpoint, load_locator, load_trained, save_locator
from fklib.config import make_config
from fklib.engine import evaluate_locator, fit
from fklib.export import export
from fklib.locate import Locator, locate_files, output_stems, read_map_png
from fklib.paths import default_locator
from conftest import kill_once_started, mode, one_error_line, random_rgb, read_only, save_png, umask


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
    records, errors = locate_files([fake, real], tmp_path, locator=locator, log=lambda *_: None, align=False)
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
        x0, y0, x1, y1 = data["overlay"]["picture_box"]                  # a 128 px crop shown enlarged 4x
        assert (x1 - x0, y1 - y0) == (512, 512)
        assert Image.open(tmp_path / f"{stem}_overlay.png").size == tuple(data["overlay"]["size"])
    # The 16-bit PNG holds the map to 1/65535.
    m, _ = locator.predict_array(np.asarray(Image.open(fake).convert("RGB")))
    assert np.abs(read_map_png(tmp_path / "fake_map.png") - m).max() <= 1 / 65535 + 1e-6
    assert abs(float(m.mean()) - rf["map"]["mean"]) < 1e-6


def test_any_size_and_8_bit(locator, stgan_pair, tmp_path):
    fake, _ = stgan_pair
    big = tmp_path / "odd.jpg"
    Image.open(fake).resize((301, 257)).save(big, quality=95)
    records, errors = locate_files([big], tmp_path / "out", bits=8, locator=locator, log=lambda *_: None, align=False)
    assert not errors
    x0, y0, x1, y1 = records[0]["overlay"]["picture_box"]                 # long side enlarged to 512 px
    assert (x1 - x0, y1 - y0) == (512, round(257 * 512 / 301))
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
    la, lb = load_trained(smoke_ckpt), load_trained(out)
    (a, cfg_a), (b, cfg_b, payload) = (la.model, la.config), (lb.model, lb.config, lb.meta)
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


def test_export_card_matches_evaluation(smoke_ckpt, tmp_path, monkeypatch):
    import fklib.checkpoint as C

    loads = []
    check = C.check_payload                                             # every load goes through it, .pt or .safetensors
    monkeypatch.setattr(C, "check_payload", lambda path, payload: loads.append(path) or check(path, payload))
    card = export(smoke_ckpt, tmp_path / "m.safetensors", command="python -m fklib train --profile smoke")
    assert loads == [smoke_ckpt]                                        # the card's every evaluation: one load
    assert (tmp_path / "m.json").is_file() and "--profile smoke" in (tmp_path / "m.md").read_text()
    df = evaluate_locator(load_trained(smoke_ckpt), "stgan", split="test", device="cpu")
    fakes = df[(df["predictor"] == "model") & (df["label"] == 1)]
    expected = fakes.groupby(["gan", "property"])["coss"].mean().mean()  # mean over properties
    assert card["test"]["model"]["coss"] == pytest.approx(expected, abs=1e-4)
    assert card["test_n_reals"] == int(((df["predictor"] == "model") & (df["label"] == 0)).sum())
    from safetensors import safe_open                                  # the weights' hash, in file and card

    with safe_open(str(tmp_path / "m.safetensors"), framework="pt") as f:
        stored, tensors = f.metadata()["weights_sha256"], {k: f.get_tensor(k) for k in f.keys()}
    assert card["weights_sha256"] == stored == expected_sha256(tensors)
    assert strict_json(tmp_path / "m.json")["weights_sha256"] == stored


# --- damaged weights (issue 17, item 1) ------------------------------------------------------------

def flip(data: bytes, offset: int, n: int) -> bytes:
    """``data`` with ``n`` bytes from ``offset`` bit-inverted."""
    raw = bytearray(data)
    raw[offset:offset + n] = bytes(b ^ 0xFF for b in raw[offset:offset + n])
    return bytes(raw)


def safetensors_data_start(data: bytes) -> int:
    return 8 + int.from_bytes(data[:8], "little")


def expected_sha256(tensors: dict) -> str:
    """The documented weights hash, computed here from the tensors: sorted names, dtype, shape, raw bytes."""
    import hashlib

    h = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.numpy().tobytes() if t.dtype != torch.bfloat16 else t.view(torch.int16).numpy().tobytes())
    return h.hexdigest()


def error_lines(err: str) -> list[str]:
    assert "Traceback" not in err
    return [line for line in err.splitlines() if line.startswith("error: ")]


def test_flipped_shipped_weights_are_refused_and_no_nan_is_written(tmp_path, capsys):
    """The issue's case: 4 KB flipped in a copy of the shipped (hash-less) file gave exit 0, p=nan, NaN in the JSON."""
    data = default_locator().read_bytes()
    start = safetensors_data_start(data)
    flipped = tmp_path / "flipped.safetensors"
    flipped.write_bytes(flip(data, start + (len(data) - start) // 2, 4096))
    good = save_png(tmp_path / "good.png", np.full((128, 128, 3), 127, np.uint8))
    out = tmp_path / "out"
    assert cli(["locate", "--no-align", str(good), "--checkpoint", str(flipped), "--out", str(out)]) == 1
    lines = error_lines(capsys.readouterr().err)
    assert len(lines) == 1 and str(flipped) in lines[0]
    assert not any(out.glob("*.json"))


def test_locator_files_carry_their_weights_hash_and_a_damaged_one_is_refused(tmp_path, capsys):
    from safetensors import safe_open

    hashed = save_locator(load_checkpoint(default_locator()), tmp_path / "hashed.safetensors")
    with safe_open(str(hashed), framework="pt") as f:
        stored = f.metadata()["weights_sha256"]
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    assert stored == expected_sha256(tensors)
    load_trained(hashed)                                             # intact: loads
    data = hashed.read_bytes()
    damaged = tmp_path / "damaged.safetensors"
    damaged.write_bytes(flip(data, safetensors_data_start(data) + 100_000, 4096))
    with pytest.raises(ValueError, match=r"damaged.safetensors: its weights do not match the SHA-256"):
        load_checkpoint(damaged)
    img = save_png(tmp_path / "x.png", np.full((64, 64, 3), 90, np.uint8))
    assert cli(["locate", "--no-align", str(img), "--checkpoint", str(damaged), "--out", str(tmp_path / "o")]) == 1
    assert str(damaged) in error_lines(capsys.readouterr().err)[0]


def test_pt_checkpoint_with_64_flipped_bytes_is_refused(smoke_ckpt, tmp_path):
    payload = load_checkpoint(smoke_ckpt)
    tensors = {f"model.{k}": v for k, v in payload["model"].items()}
    name, largest = max(tensors.items(), key=lambda kv: kv[1].numel())
    raw = smoke_ckpt.read_bytes()
    at = raw.find(largest.numpy().tobytes()[:256])                     # inside that tensor's stored bytes
    assert at > 0, name
    bad = tmp_path / "flipped.pt"
    bad.write_bytes(flip(raw, at + 8, 64))
    with pytest.raises(ValueError, match=r"flipped.pt: its weights do not match the SHA-256"):
        load_trained(bad)
    assert payload["weights_sha256"] == expected_sha256(tensors)      # written by training, best and last
    assert load_checkpoint(smoke_ckpt.with_name("last.pt"))["weights_sha256"] == payload["weights_sha256"]


def test_non_finite_model_output_is_refused(smoke_ckpt, tmp_path, capsys):
    """Finite but absurd weights overflow to NaN: locate names the image and the checkpoint, writes no JSON."""
    from fklib.checkpoint import save_checkpoint

    payload = load_checkpoint(smoke_ckpt)
    payload["model"] = {k: v * 1e30 if v.ndim == 4 else v for k, v in payload["model"].items()}
    huge = tmp_path / "huge.pt"
    save_checkpoint(huge, payload)
    img = save_png(tmp_path / "face.png", random_rgb(np.random.default_rng(0), 40, 40))
    out = tmp_path / "out"
    assert cli(["locate", "--no-align", str(img), "--checkpoint", str(huge), "--out", str(out)]) == 1
    (line,) = error_lines(capsys.readouterr().err)
    assert str(img) in line and str(huge) in line and "not finite" in line
    assert not any(out.iterdir())


def strict_json(path):
    def refuse(const):
        raise AssertionError(f"{path}: non-standard JSON constant {const}")

    return json.loads(path.read_text(), parse_constant=refuse)


# --- EXIF orientation (item 2) ---------------------------------------------------------------------

def test_exif_rotated_jpeg_is_located_upright(locator, stgan_pair, tmp_path):
    """Stored 256x160 with orientation 6 (shown 160x256): map, overlay and JSON are 160x256, the model sees it upright."""
    upright = Image.open(stgan_pair[0]).convert("RGB").resize((160, 256))
    stored = upright.transpose(Image.Transpose.ROTATE_90)             # orientation 6 turns it back
    assert stored.size == (256, 160)
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "phone.jpg"
    stored.save(path, quality=95, exif=exif)
    records, errors = locate_files([path], tmp_path / "out", locator=locator, log=lambda *_: None, align=False)
    assert not errors
    rec = records[0]
    assert (rec["width"], rec["height"]) == (160, 256)
    assert Image.open(tmp_path / "out" / "phone_map.png").size == (160, 256)
    x0, y0, x1, y1 = rec["overlay"]["picture_box"]                         # upright: 160 x 256, enlarged 2x
    assert (x1 - x0, y1 - y0) == (320, 512)
    with Image.open(path) as raw:                                      # decoded as stored, turned by hand
        shown = np.asarray(raw.convert("RGB").transpose(Image.Transpose.ROTATE_270))
    _, prob = locator.predict_array(shown)
    assert rec["fake_probability"] == pytest.approx(prob, abs=1e-6)


# --- outputs never overwrite each other or an input (item 7) ---------------------------------------

def test_no_two_inputs_share_a_stem(locator, tmp_path):
    rng = np.random.default_rng(7)
    inputs = [save_png(tmp_path / "c1" / "a.png", random_rgb(rng, 48, 48)),
              save_png(tmp_path / "c2" / "a.png", random_rgb(rng, 48, 48)),
              save_png(tmp_path / "a_2.png", random_rgb(rng, 48, 48))]
    out = tmp_path / "O"
    records, errors = locate_files(inputs, out, locator=locator, log=lambda *_: None, align=False)
    assert not errors
    jsons = sorted(out.glob("*.json"))
    assert len(jsons) == 3 and len(list(out.iterdir())) == 9
    by_image = {strict_json(p)["image"]: p for p in jsons}
    assert set(by_image) == {str(p) for p in inputs}
    assert by_image[str(inputs[2])].name == "a_2.json"                 # a file named a_2 keeps its name
    for p in inputs:                                                   # each output set is its own input's
        m, _ = locator.predict_array(np.asarray(Image.open(p).convert("RGB")))
        data = strict_json(by_image[str(p)])
        assert data["map"]["mean"] == pytest.approx(float(m.mean()), abs=1e-6)
        assert np.abs(read_map_png(data["files"]["map"]) - m).max() <= 1 / 65535 + 1e-6


def test_an_input_is_never_written_over(smoke_ckpt, tmp_path, monkeypatch):
    """``cd dir && locate foo.png foo_map.png --out .`` overwrote the user's foo_map.png before reading it."""
    rng = np.random.default_rng(3)
    save_png(tmp_path / "foo.png", random_rgb(rng, 32, 32))
    save_png(tmp_path / "foo_map.png", random_rgb(rng, 32, 32))
    before = {p: (tmp_path / p).read_bytes() for p in ("foo.png", "foo_map.png")}
    monkeypatch.chdir(tmp_path)
    assert cli(["locate", "--no-align", "foo.png", "foo_map.png", "--out", ".", "--checkpoint", str(smoke_ckpt)]) == 0
    assert {p: (tmp_path / p).read_bytes() for p in before} == before
    images = {strict_json(p)["image"] for p in tmp_path.glob("*.json")}
    assert images == {"foo.png", "foo_map.png"}
    assert (tmp_path / "foo_2_map.png").is_file() and (tmp_path / "foo_map_map.png").is_file()


def test_two_concurrent_runs_do_not_mix_one_images_files(smoke_ckpt, tmp_path, monkeypatch):
    """Run A (16-bit maps) pauses after writing a map; run B (8-bit) starts then: one image's map and JSON
    must still come from the same run."""
    import threading

    import fklib.locate as L

    img = save_png(tmp_path / "face.png", random_rgb(np.random.default_rng(5), 32, 32))
    out = tmp_path / "O"
    a_wrote_map, b_done = threading.Event(), threading.Event()
    save_map = L.save_map_png

    def slow_save(m, path, bits=16):
        save_map(m, path, bits)
        if threading.current_thread().name == "A":
            a_wrote_map.set()
            b_done.wait(timeout=2)          # B finishes meanwhile unless it waits for A's files

    monkeypatch.setattr(L, "save_map_png", slow_save)
    shared = L.Locator(smoke_ckpt)

    def run(bits, done=None):
        L.locate_files([img], out, bits=bits, overlay=False, locator=shared, log=lambda *_: None, align=False)
        if done is not None:
            done.set()

    a = threading.Thread(target=run, args=(16,), name="A")
    a.start()
    assert a_wrote_map.wait(timeout=30)
    b = threading.Thread(target=run, args=(8, b_done), name="B")
    b.start()
    a.join(60)
    b.join(60)
    bits = strict_json(out / "face.json")["map_png_bits"]
    assert Image.open(out / "face_map.png").mode == ("L" if bits == 8 else "I;16")


# --- one-line errors instead of tracebacks (item 11) -----------------------------------------------

def test_out_under_a_file_or_read_only_is_one_line_before_any_work(stgan_pair, tmp_path, capsys):
    f = tmp_path / "file.txt"
    f.write_text("keep me")
    assert cli(["locate", str(stgan_pair[0]), "--out", str(f / "sub")]) == 1
    (line,) = error_lines(capsys.readouterr().err)
    assert str(f / "sub") in line
    assert f.read_text() == "keep me"
    ro = tmp_path / "ro"
    ro.mkdir()
    if os.geteuid() == 0:                       # root writes through permissions: make the folder immutable
        if subprocess.run(["chattr", "+i", str(ro)], capture_output=True).returncode != 0:
            pytest.skip("no way to make a read-only folder for root here (chattr +i failed)")
    else:
        ro.chmod(0o555)
    try:
        assert cli(["locate", str(stgan_pair[0]), str(stgan_pair[1]), "--out", str(ro)]) == 1
        (line,) = error_lines(capsys.readouterr().err)
        assert str(ro) in line and "cannot write" in line
    finally:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", str(ro)], check=True)
        ro.chmod(0o755)
    assert not any(ro.iterdir())


@pytest.mark.parametrize("damage", ["wrong shape", "missing key", "extra key", "no config", "config not json",
                                    "config invalid", "not a dict"])
def test_malformed_checkpoints_are_one_line_naming_the_file(smoke_ckpt, tmp_path, capsys, damage):
    payload = load_checkpoint(smoke_ckpt)
    payload.pop("weights_sha256", None)                                # as a file written before the hash
    state = payload["model"]
    first = next(k for k, v in state.items() if v.ndim == 4)
    if damage == "wrong shape":
        state[first] = torch.zeros(3, 3, 3, 3)
    elif damage == "missing key":
        state.pop(first)
    elif damage == "extra key":
        state["head.extra.weight"] = torch.zeros(2)
    elif damage == "no config":
        payload.pop("config")
    elif damage == "config not json":
        payload["config"] = "{not json"
    elif damage == "config invalid":
        payload["config"] = json.dumps({**json.loads(payload["config"]), "epochs": "many"})
    else:
        payload = [payload["model"]]
    bad = tmp_path / "bad.pt"
    torch.save(payload, bad)
    img = save_png(tmp_path / "x.png", np.full((32, 32, 3), 50, np.uint8))
    assert cli(["locate", "--no-align", str(img), "--checkpoint", str(bad), "--out", str(tmp_path / "o")]) == 1
    (line,) = error_lines(capsys.readouterr().err)
    assert str(bad) in line
    assert cli(["evaluate", "--checkpoint", str(bad), "--device", "cpu"]) == 1
    (line,) = error_lines(capsys.readouterr().err)
    assert str(bad) in line


def test_a_failed_write_names_the_image_and_the_others_still_run(smoke_ckpt, tmp_path, capsys, monkeypatch):
    import fklib.locate as L

    rng = np.random.default_rng(11)
    a = save_png(tmp_path / "a.png", random_rgb(rng, 32, 32))
    b = save_png(tmp_path / "b.png", random_rgb(rng, 32, 32))
    out = tmp_path / "out"
    real_save = L.save_map_png

    def full_disk(m, path, bits=16):                                    # a's map cannot be written
        if path.name.startswith("a_"):
            raise OSError(28, "No space left on device", str(path))
        return real_save(m, path, bits)

    monkeypatch.setattr(L, "save_map_png", full_disk)
    assert cli(["locate", "--no-align", str(a), str(b), "--out", str(out), "--checkpoint", str(smoke_ckpt)]) == 1
    (line,) = error_lines(capsys.readouterr().err)
    assert str(a) in line
    assert strict_json(out / "b.json")["image"] == str(b)


def test_overlay_scale_is_fixed_and_stated():
    """The overlay draws the map in the project's colours (matplotlib's inferno under the square-root law, as
    the figures), 0 to OVERLAY_VMAX (above it: the top colour), blended at alpha 0.55 over the picture, the same
    for every image; computed here with matplotlib itself."""
    import matplotlib

    from fklib.locate import OVERLAY_VMAX, overlay_image

    rgb = np.full((512, 512, 3), 128, np.uint8)                         # 512 px: shown at its own size
    m = np.zeros((512, 512), np.float32)
    m[:, 100:200] = OVERLAY_VMAX / 4
    m[:, 200:300] = OVERLAY_VMAX
    m[:, 300:400] = 0.9
    img = overlay_image(rgb, m)
    x0, y0, _, _ = img.info["layout"].x, img.info["layout"].y, 0, 0
    out = np.asarray(img).astype(float)[y0:y0 + 512, x0:x0 + 512]

    def expect(v):
        colour = np.asarray(matplotlib.colormaps["inferno"](min(v / OVERLAY_VMAX, 1.0) ** 0.5))[:3] * 255
        return 0.45 * 128 + 0.55 * colour

    np.testing.assert_allclose(out[256, 150], expect(OVERLAY_VMAX / 4), atol=1.5)   # a quarter: half the colours
    np.testing.assert_allclose(out[256, 250], expect(OVERLAY_VMAX), atol=1.5)
    np.testing.assert_allclose(out[256, 350], out[256, 250], atol=1)               # above the scale: the top colour
    np.testing.assert_allclose(out[256, 50], expect(0.0), atol=1.5)


def test_the_colours_are_matplotlibs_inferno():
    import matplotlib

    from fklib import colors

    x = np.linspace(0, 1, 4001)
    np.testing.assert_allclose(colors.inferno(x), matplotlib.colormaps["inferno"](x)[:, :3], atol=0.5 / 255 + 1e-6)
    np.testing.assert_allclose(colors.map_colours(x), matplotlib.colormaps["inferno"](np.sqrt(x))[:, :3],
                               atol=0.5 / 255 + 1e-6)


#: What ``locate`` must not import: training and reporting stacks that cost seconds at start-up.
LOCATE_FORBIDDEN = ("torchvision", "pandas", "matplotlib", "papermill", "scipy", "sklearn", "skimage",
                    "torch._dynamo", "fklib.engine", "fklib.studies", "fklib.report", "fklib.degrade")

_LOCATE_MODULES = """
import runpy, sys
sys.argv = ["fklib", "locate", "--no-align", sys.argv[1], "--out", sys.argv[2]]
try:
    runpy.run_module("fklib", run_name="__main__")
except SystemExit as stop:
    assert not stop.code, stop.code
print("\\n".join(sorted(sys.modules)))
"""


def test_locate_imports_only_what_it_uses(tmp_path, rng):
    """The whole ``python -m fklib locate`` run (model load, one image, outputs written) in a fresh
    interpreter: none of the heavy stacks is in ``sys.modules`` at the end."""
    img = save_png(tmp_path / "face.png", random_rgb(rng, 64, 64))
    out = subprocess.run([sys.executable, "-c", _LOCATE_MODULES, str(img), str(tmp_path / "out")],
                         capture_output=True, text=True, check=True)
    loaded = set(out.stdout.split())
    assert (tmp_path / "out" / "face_map.png").is_file()
    assert "torch" in loaded and "fklib.locate" in loaded  # the run did happen
    bad = sorted(m for m in loaded if any(m == f or m.startswith(f + ".") for f in LOCATE_FORBIDDEN))
    assert bad == [], f"locate imported {bad[:10]}"


# --- issue 24: export never destroys a run ---------------------------------------------------------

def test_export_refuses_an_out_that_is_not_safetensors_or_is_the_checkpoint(smoke_ckpt, tmp_path, capsys, monkeypatch):
    """Item 1: ``export --checkpoint run/best.pt --out run/best.pt`` wrote safetensors bytes over the checkpoint,
    then failed with torch's weights_only message; any ``--out`` not ending in ``.safetensors`` did the same."""
    import fklib.export as E

    monkeypatch.setattr(E, "evaluate_locator", lambda *a, **k: pytest.fail("evaluated"))
    run = tmp_path / "run"
    run.mkdir()
    best = run / "best.pt"
    best.write_bytes(smoke_ckpt.read_bytes())
    (run / "best.json").write_bytes(smoke_ckpt.read_bytes())       # a checkpoint named like a card
    shipped = save_locator(load_checkpoint(smoke_ckpt), run / "shipped.safetensors")
    (run / "link.safetensors").symlink_to(best)
    snapshot = {p.name: p.read_bytes() for p in run.iterdir()}
    cases = [(best, best, ".safetensors"), (best, run / "best.bin", ".safetensors"),
             (best, run / "link.safetensors", "the checkpoint itself"),
             (shipped, shipped, "the checkpoint itself"),
             (run / "best.json", run / "best.safetensors", "the checkpoint itself")]
    for ckpt, out, reason in cases:
        assert cli(["export", "--checkpoint", str(ckpt), "--out", str(out)]) == 1
        line = one_error_line(capsys.readouterr().err)
        assert str(out) in line or str(out.with_suffix(".json")) in line, line
        assert reason in line and "weights_only" not in line
        assert {p.name: p.read_bytes() for p in run.iterdir()} == snapshot      # nothing written
    with pytest.raises(ValueError, match=".safetensors"):
        export(best, run / "best.pt")


_EXPORT_KILLED = """
import pathlib, sys, time
import fklib.export as E
def stuck(*a, **k):
    pathlib.Path(sys.argv[3]).touch()
    time.sleep(600)
E.evaluate_locator = stuck
E.export(sys.argv[1], sys.argv[2])
"""


def test_export_killed_during_its_evaluation_leaves_the_shipped_model_and_card(smoke_ckpt, tmp_path, monkeypatch):
    """Item 2: SIGKILL during the evaluation left the new weights beside the old card; now the weights, the card
    JSON and the card MD are renamed into place together, after the evaluation, and the next export removes
    the partial files of the killed one."""
    import fklib.export as E

    out = tmp_path / "models" / "m.safetensors"
    out.parent.mkdir()
    save_locator(load_checkpoint(default_locator()), out)                 # the shipped model and its card
    out.with_suffix(".json").write_text('{"old": "card"}\n')
    out.with_suffix(".md").write_text("old card\n")
    shipped = {p.name: p.read_bytes() for p in out.parent.iterdir()}
    started = tmp_path / "evaluating"
    kill_once_started(_EXPORT_KILLED, [str(smoke_ckpt), str(out), str(started)], started, "export")
    assert {p.name: p.read_bytes() for p in out.parent.iterdir() if not p.name.endswith(".part")} == shipped
    assert [p.name for p in out.parent.iterdir() if p.name.endswith(".part")]          # the killed one's partial
    (out.parent / ".notes.part").write_text("mine")
    real = E.evaluate_locator
    monkeypatch.setattr(E, "evaluate_locator", lambda *a, **k: real(*a, **{**k, "max_per_property": 1}))
    monkeypatch.setattr(E, "limits", lambda path: {})
    card = export(smoke_ckpt, out)
    assert sorted(p.name for p in out.parent.iterdir()) == [".notes.part", "m.json", "m.md", "m.safetensors"]
    assert strict_json(out.with_suffix(".json"))["weights_sha256"] == card["weights_sha256"]
    assert load_trained(out).weights_sha256 == card["weights_sha256"]


@pytest.mark.parametrize("mask, file_mode", [(0o022, 0o644), (0o027, 0o640)])
def test_exported_weights_honour_the_umask(smoke_ckpt, tmp_path, mask, file_mode):
    """Item 4: exported safetensors were 0600 (safetensors' own file mode) whatever the umask."""
    with umask(mask):
        export(smoke_ckpt, tmp_path / "m.safetensors", evaluate=False)
        save_locator(load_checkpoint(smoke_ckpt), tmp_path / "n.safetensors")
    assert mode(tmp_path / "m.safetensors") == mode(tmp_path / "n.safetensors") == file_mode


@pytest.mark.parametrize("bad", ["under a file", "read-only folder"])
def test_export_out_that_cannot_be_written_is_one_line_before_any_work(smoke_ckpt, tmp_path, capsys, monkeypatch, bad):
    """Item 6: ``export --out`` under a file or in a read-only folder gave a traceback."""
    import fklib.export as E

    monkeypatch.setattr(E, "load_checkpoint", lambda *a, **k: pytest.fail("loaded the checkpoint first"))
    (tmp_path / "file.txt").write_text("keep me")
    (tmp_path / "ro").mkdir()
    out = {"under a file": tmp_path / "file.txt" / "m.safetensors",
           "read-only folder": tmp_path / "ro" / "m.safetensors"}[bad]
    args = ["export", "--checkpoint", str(smoke_ckpt), "--out", str(out)]
    if bad == "read-only folder":
        with read_only(tmp_path / "ro"):
            code, err = cli(args), capsys.readouterr().err
    else:
        code, err = cli(args), capsys.readouterr().err
    assert code == 1 and str(out) in one_error_line(err)
    assert (tmp_path / "file.txt").read_text() == "keep me" and not any((tmp_path / "ro").iterdir())


# --- issue 24: interrupts --------------------------------------------------------------------------

_LOCATE_SIGNALLED = """
import os, runpy, signal, sys
import fklib.locate as L
when, sig = sys.argv[1], getattr(signal, sys.argv[2])
real_save = L.save_map_png
calls = []
def save_map_png(m, path, bits=16):
    calls.append(path)
    if when == "during a write":
        def half(tmp):
            open(tmp, "wb").write(b"half a png")
            os.kill(os.getpid(), sig)
            raise AssertionError("the signal did not stop the write")
        return L._atomic_save(half, path)
    if len(calls) == 2:
        os.kill(os.getpid(), sig)
    return real_save(m, path, bits)
L.save_map_png = save_map_png
sys.argv = ["fklib", "locate", "--no-align", *sys.argv[3:]]
runpy.run_module("fklib", run_name="__main__")
"""


@pytest.mark.parametrize("when, sig, code, written", [("between images", "SIGINT", 130, 1),
                                                      ("during a write", "SIGTERM", 143, 0),
                                                      ("during a write", "SIGINT", 130, 0)])
def test_an_interrupted_locate_is_one_line_and_leaves_no_partial_file(smoke_ckpt, tmp_path, when, sig, code, written):
    """Item 10: Ctrl-C printed a ~25-line traceback; SIGTERM during a write left ``.<name>_map.png.<pid>.part``."""
    from fklib import paths

    rng = np.random.default_rng(5)
    images = [str(save_png(tmp_path / f"{n}.png", random_rgb(rng, 32, 32))) for n in ("a", "b", "c")]
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(paths.project_root())}
    proc = subprocess.run([sys.executable, "-c", _LOCATE_SIGNALLED, when, sig, *images, "--out", str(out),
                           "--checkpoint", str(smoke_ckpt)], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == code, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    (line,) = [x for x in proc.stderr.splitlines() if x.strip()]
    assert line == f"interrupted; {written} of 3 images written"
    names = sorted(p.name for p in out.iterdir())
    assert names == ["a.json", "a_map.png", "a_overlay.png"][:3 * written]


def test_partial_files_of_a_killed_locate_are_removed_by_the_next_run(smoke_ckpt, tmp_path):
    """Item 10: a ``.<name>.<pid>.part`` left by a killed run was never removed; now the next run into the folder
    removes locate's own partial names (and nothing else)."""
    rng = np.random.default_rng(6)
    img = save_png(tmp_path / "face.png", random_rgb(rng, 32, 32))
    out = tmp_path / "out"
    out.mkdir()
    stale = [out / ".face_map.png.4242.part", out / ".old_overlay.png.77.part", out / ".x.json.123.part"]
    mine = [out / ".notes.part", out / ".face_map.png.part", out / "face_map.png.1.part"]
    for p in stale + mine:
        p.write_bytes(b"x")
    assert cli(["locate", "--no-align", str(img), "--out", str(out), "--checkpoint", str(smoke_ckpt)]) == 0
    assert not any(p.exists() for p in stale) and all(p.read_bytes() == b"x" for p in mine)


# --- issue 24: checkpoints that are not ours (item 11) ---------------------------------------------

def _foreign_pickle(path):
    """A torch file whose pickle needs a class torch's weights-only loader does not allow (loading would run it)."""
    import fractions

    torch.save({"model": {"w": fractions.Fraction(1, 3)}, "config": "{}"}, path)


@pytest.mark.parametrize("kind, expected", [
    ("safetensors named .pt", "a safetensors file"), ("json named .pt", "a JSON file"), ("json", "a JSON file"),
    ("text.pt", "a text file"), ("foreign pickle", "fractions.Fraction"), ("plain pickle", "a plain Python pickle"),
    ("symlink loop", "a symlink loop"), ("folder", "a folder"), ("empty", "an empty file"),
    ("binary junk", "not a checkpoint"),
])
def test_a_checkpoint_that_is_not_ours_is_one_line_naming_what_it_is(tmp_path, capsys, kind, expected):
    """Item 11: a safetensors or JSON file as ``--checkpoint`` printed torch's advice to load with
    ``weights_only=False`` (unsafe for a forensic user); ``text.pt`` gave ``KeyError: 101``; a symlink loop
    "no such file"."""
    import pickle

    bad = tmp_path / {"json": "c.json", "text.pt": "text.pt", "folder": "dir.pt"}.get(kind, "model.pt")
    if kind == "safetensors named .pt":
        bad.write_bytes(default_locator().read_bytes())
    elif kind.startswith("json"):
        bad.write_text(json.dumps({"model": {}, "config": {}}))
    elif kind == "text.pt":
        bad.write_text("hello, this is not a checkpoint\n")
    elif kind == "foreign pickle":
        _foreign_pickle(bad)
    elif kind == "plain pickle":
        bad.write_bytes(pickle.dumps({"weights": [1, 2, 3]}, protocol=4))
    elif kind == "symlink loop":
        (tmp_path / "other.pt").symlink_to(bad)
        bad.symlink_to(tmp_path / "other.pt")
    elif kind == "folder":
        bad.mkdir()
    elif kind == "empty":
        bad.write_bytes(b"")
    else:
        bad.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(ValueError) as err:
        load_checkpoint(bad)
    assert str(err.value).startswith(f"{bad}: ") and expected in str(err.value) and "\n" not in str(err.value)
    img = save_png(tmp_path / "x.png", np.full((32, 32, 3), 50, np.uint8))
    assert cli(["locate", "--no-align", str(img), "--checkpoint", str(bad), "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    line = one_error_line(err)
    assert str(bad) in line and expected in line
    assert "weights_only" not in err and "Warning" not in err and len(err.splitlines()) == 1


# --- issue 24: one exit-status convention (item 12) ------------------------------------------------

@pytest.mark.parametrize("argv", [["locate"], ["locate", "x.png", "--bits", "12"], ["evaluate"],
                                  ["export", "--bogus"], ["train", "--profile"], ["nonsense"],
                                  ["data", "fetch", "--bogus"], ["data"]])
def test_usage_errors_exit_1_with_one_line(argv, capsys):
    """Item 12: argparse errors exited 2 while the README says 1; every failure now exits 1 with one line."""
    assert cli(argv) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and one_error_line(err)


def test_exit_status_of_the_real_command(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "fklib", "locate"], capture_output=True, text=True)
    assert proc.returncode == 1 and one_error_line(proc.stderr)
    proc = subprocess.run([sys.executable, "-m", "fklib", "locate", "--help"], capture_output=True, text=True)
    assert proc.returncode == 0 and "--checkpoint" in proc.stdout


# --- issue 40: a user's files, tiny images, options, animated images, overlays, 8-bit maps ----------

def test_a_file_locate_did_not_write_is_never_replaced(smoke_ckpt, tmp_path, capsys):
    """Item 1: with --out DIR, a user's foo_map.png (a photo) became foo's map and the user's foo.json notes were
    replaced, exit 0, no warning. Now such files are kept byte for byte and foo's outputs go to foo_2_* with a
    note naming the file; a second run replaces its own foo_2 outputs (no foo_3); --overwrite replaces the
    user's files, which then carry locate's marks."""
    from fklib.locate import WRITTEN_BY, is_own_output

    rng = np.random.default_rng(40)
    img = save_png(tmp_path / "foo.png", random_rgb(rng, 40, 40))
    out = tmp_path / "out"
    photo = save_png(out / "foo_map.png", random_rgb(rng, 300, 200))       # a user's photo named like an output
    (out / "foo.json").write_text('{"my": "notes"}\n')
    mine = {p.name: p.read_bytes() for p in out.iterdir()}
    args = ["locate", "--no-align", str(img), "--out", str(out), "--checkpoint", str(smoke_ckpt)]
    assert cli(args) == 0
    err = capsys.readouterr().err
    assert {p: (out / p).read_bytes() for p in mine} == mine
    assert str(photo) in err and "foo_2" in err and "not written by locate" in err
    assert sorted(p.name for p in out.iterdir()) == ["foo.json", "foo_2.json", "foo_2_map.png", "foo_2_overlay.png",
                                                     "foo_map.png"]
    rec = strict_json(out / "foo_2.json")
    assert rec["written_by"] == WRITTEN_BY and rec["image"] == str(img)
    assert all(is_own_output(out / n) for n in ("foo_2.json", "foo_2_map.png", "foo_2_overlay.png"))
    assert not is_own_output(photo) and not is_own_output(out / "foo.json")
    assert cli(args) == 0                                                  # again: its own foo_2 files replaced
    assert len(list(out.iterdir())) == 5 and {p: (out / p).read_bytes() for p in mine} == mine
    assert cli(args + ["--overwrite"]) == 0
    assert is_own_output(out / "foo.json") and is_own_output(out / "foo_map.png")
    assert strict_json(out / "foo.json")["image"] == str(img)


def test_what_marks_a_file_as_locates_own(tmp_path):
    """A JSON with another ``written_by``, a PNG without the mark, a symlink to an own file, a folder: not own."""
    from fklib.locate import is_own_output, save_map_png

    own = save_map_png(np.zeros((4, 4), np.float32), tmp_path / "a_map.png")
    assert is_own_output(own)
    save_png(tmp_path / "b_map.png", np.zeros((4, 4, 3), np.uint8))
    (tmp_path / "c.json").write_text('{"written_by": "someone else"}')
    (tmp_path / "d.json").write_text('["written_by", "python -m fklib locate"]')
    (tmp_path / "e.json").write_text("not json")
    (tmp_path / "f_map.png").symlink_to(own)
    (tmp_path / "g.json").mkdir()
    for name in ("b_map.png", "c.json", "d.json", "e.json", "f_map.png", "g.json", "missing.json"):
        assert not is_own_output(tmp_path / name), name


def test_help_says_what_is_written_where(capsys):
    with pytest.raises(SystemExit) as stop:                                 # argparse's --help exits 0
        cli(["locate", "--help"])
    assert stop.value.code == 0
    text = capsys.readouterr().out
    for what in ("<stem>_map.png", "<stem>_overlay.png", "<stem>.json", "--out", "--overwrite",
                 "never replaced", "(value / 255) ** 2", "value / 65535"):
        assert what in text, what


@pytest.mark.parametrize("size", [(1, 1), (5, 5), (11, 11), (13, 13), (14, 14), (19, 19), (1, 70000)])
def test_a_tiny_image_is_no_face_found_not_an_error(locator, tmp_path, size):
    """Item 2: images smaller than about 14 px ended in "torch.cat(): expected a non-empty list of Tensors".
    They are valid images: no face found (the JSON says why), a map of their size, and --no-align judges them."""
    h, w = size
    img = save_png(tmp_path / "tiny.png", np.full((h, w, 3), 120, np.uint8))
    records, errors = locate_files([img], tmp_path / "a", locator=locator, log=lambda *_: None)
    assert errors == []
    (rec,) = records
    assert rec["decision"] == "no face found" and rec["faces"] == [] and rec["fake_probability"] is None
    assert "smaller than the smallest face looked for" in rec["note"]
    assert Image.open(tmp_path / "a" / "tiny_map.png").size == (w, h)
    records, errors = locate_files([img], tmp_path / "b", locator=locator, log=lambda *_: None, align=False)
    assert errors == [] and records[0]["decision"] in ("fake", "real")


def test_a_tiny_image_exits_as_for_no_face(tmp_path, capsys):
    img = save_png(tmp_path / "dot.png", np.full((5, 5, 3), 200, np.uint8))
    assert cli(["locate", str(img), "--out", str(tmp_path / "o")]) == 0
    captured = capsys.readouterr()
    assert "no face found" in captured.out and captured.err == ""


@pytest.mark.parametrize("value", ["-5", "0", "1.5", "many"])
def test_max_pixels_must_be_a_positive_whole_number(tmp_path, capsys, monkeypatch, value):
    """Item 3: --max-pixels -5 was accepted and then failed every image; it is refused when parsing, before the
    model loads."""
    import fklib.locate as L

    monkeypatch.setattr(L, "Locator", lambda *a, **k: pytest.fail("the model was loaded"))
    img = save_png(tmp_path / "x.png", np.zeros((8, 8, 3), np.uint8))
    assert cli(["locate", str(img), "--max-pixels", value, "--out", str(tmp_path / "o")]) == 1
    line = one_error_line(capsys.readouterr().err)
    assert "--max-pixels" in line and "whole number > 0" in line
    assert not (tmp_path / "o").exists()


def test_an_animated_gif_says_only_its_first_frame_was_located(locator, tmp_path, capsys):
    """Item 9: an animated GIF was judged on its first frame without a word."""
    rng = np.random.default_rng(9)
    frames = [Image.fromarray(random_rgb(rng, 64, 64)).convert("P") for _ in range(3)]
    gif = tmp_path / "anim.gif"
    frames[0].save(gif, save_all=True, append_images=frames[1:], duration=100, loop=0)
    records, errors = locate_files([gif], tmp_path / "o", locator=locator, align=False)
    assert errors == []
    rec = records[0]
    assert rec["frames"] == 3 and "only its first frame" in rec["note"]
    assert "only its first frame" in capsys.readouterr().out
    first = np.asarray(frames[0].convert("RGB"))                          # the first frame, decoded here
    m, prob = locator.predict_array(first)
    assert rec["fake_probability"] == pytest.approx(prob, abs=1e-6)
    still = save_png(tmp_path / "still.png", first)
    records, _ = locate_files([still], tmp_path / "o", locator=locator, align=False, log=lambda *_: None)
    assert "frames" not in records[0] and "note" not in records[0]


def test_overlay_labels_sit_beside_their_boxes_and_the_bar_outside_the_picture():
    """Item 10: the picture's label and a face's label were drawn on top of each other in the top-left corner,
    and the colour bar covered faces near the right edge. Now the title is above the picture, each label is
    beside its own box without covering another label, and the picture is drawn whole (unchanged outside the
    faces' crops), the bar right of it."""
    from fklib.locate import overlay_image

    rng = np.random.default_rng(10)
    rgb = random_rgb(rng, 600, 800)
    m = np.zeros((600, 800), np.float32)
    boxes = [((0, 0, 120, 150), "1: fake p=0.93"), ((125, 10, 230, 140), "2: real p=0.10"),
             ((690, 200, 800, 330), "3: real p=0.20")]                    # top-left corner, beside it, right edge
    img = overlay_image(rgb, m, title="picture: fake (p(fake) 0.93): 3 faces judged", boxes=boxes,
                        inside=np.zeros((600, 800), bool))                  # no map computed: nothing tinted
    lay, labels = img.info["layout"], img.info["labels"]
    arr = np.asarray(img)
    assert lay.scale == 1 and lay.y > 0 and lay.title_lines                  # the title has its own band
    picture = arr[lay.y:lay.y + 600, lay.x:lay.x + 800]
    covered = np.zeros((600, 800), bool)
    for (x0, y0, x1, y1), _ in boxes:                                        # outlines
        covered[max(0, y0 - 2):y1 + 3, max(0, x0 - 2):x1 + 3] = True
    for x0, y0, x1, y1 in labels:
        covered[max(0, int(y0) - lay.y):max(0, int(y1) + 1 - lay.y), max(0, int(x0) - lay.x):max(0, int(x1) + 1 - lay.x)] = True
    np.testing.assert_array_equal(picture[~covered], rgb[~covered])         # no bar, no tint over the picture
    assert covered[:, 560:].mean() < 0.25                                     # the right edge is the picture's
    for i, a in enumerate(labels):                                            # labels never overlap each other
        for b in labels[i + 1:]:
            assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1], (a, b)
    for a, ((x0, y0, x1, y1), _) in zip(labels, boxes):                       # each label touches its own box
        gap_x = max(a[0] - (lay.x + x1), (lay.x + x0) - a[2], 0)
        gap_y = max(a[1] - (lay.y + y1), (lay.y + y0) - a[3], 0)
        assert gap_x <= 4 and gap_y <= 4
    bar = arr[lay.y + 40:lay.y + 500, lay.x + 800 + 1:]
    assert bar.std() > 20                                                     # the colour bar, right of the picture


def test_a_large_photo_gets_a_screen_sized_overlay_and_a_full_size_map(locator, tmp_path):
    """Item 11: an 8000 x 6000 photo wrote a 62 MB overlay. The overlay shows the picture with its long side at
    2048 px; the map PNG keeps the full size (peak memory: benchmarks/bench_locate.py --big)."""
    from fklib.locate import OVERLAY_MAX_SIDE

    img = save_png(tmp_path / "big.png", np.full((2400, 3200, 3), 90, np.uint8))
    records, errors = locate_files([img], tmp_path / "o", locator=locator, log=lambda *_: None)
    assert errors == []
    ov = records[0]["overlay"]
    x0, y0, x1, y1 = ov["picture_box"]
    assert (x1 - x0, y1 - y0) == (OVERLAY_MAX_SIDE, 1536) and ov["scale"] == pytest.approx(2048 / 3200)
    assert Image.open(tmp_path / "o" / "big_overlay.png").size == tuple(ov["size"])
    assert Image.open(tmp_path / "o" / "big_map.png").size == (3200, 2400)


def test_8_bit_maps_keep_the_decisions_floor_visible(tmp_path, locator):
    """Item 12: --bits 8 turned a real face's faint map into 0/1 (the peak floor 0.0042 is about 1/255). The 8-bit
    map is on a square-root scale, value = round(255 sqrt(fakeness)) (computed here), said in the PNG and the
    JSON, and read back within its step."""
    from fklib.locate import read_map_png, save_map_png

    floor = 0.0042   # the example: u4-resample's peak floor, about 1/255
    m = np.linspace(0, 0.02, 64 * 64, dtype=np.float32).reshape(64, 64)
    m[0, :4] = [floor, 0.25, 0.5, 1.0]
    path = save_map_png(m, tmp_path / "m_map.png", bits=8)
    with Image.open(path) as img:
        stored = np.asarray(img)
        assert img.mode == "L" and img.info["fklib-map-scale"].startswith("square root")
    np.testing.assert_array_equal(stored, np.rint(255 * np.sqrt(m)).astype(np.uint8))
    assert stored[0, 0] >= 15                                                # the floor: 16-17 levels, not 1
    assert len(np.unique(stored[m <= 0.0042])) >= 15                         # a faint map keeps its levels
    back = read_map_png(path)
    assert np.abs(np.sqrt(back) - np.sqrt(m)).max() <= 0.5 / 255 + 1e-6
    img = save_png(tmp_path / "face.png", np.full((64, 64, 3), 128, np.uint8))
    records, _ = locate_files([img], tmp_path / "o", bits=8, locator=locator, align=False, log=lambda *_: None)
    assert records[0]["map_png"]["scale"] == "square root: fakeness = (value / 255) ** 2"
    m16, _ = locator.predict_array(np.full((64, 64, 3), 128, np.uint8))
    back16 = read_map_png(tmp_path / "o" / "face_map.png")           # within half a step of the square-root scale
    assert np.abs(np.sqrt(back16) - np.sqrt(m16)).max() <= 0.5 / 255 + 1e-6


def test_a_truncated_checkpoint_is_named_in_whole_words(smoke_ckpt, tmp_path, capsys):
    data = Path(smoke_ckpt).read_bytes()
    bad = tmp_path / "half.pt"
    bad.write_bytes(data[: len(data) // 2])
    img = save_png(tmp_path / "x.png", np.full((32, 32, 3), 50, np.uint8))
    assert cli(["locate", "--no-align", str(img), "--checkpoint", str(bad), "--out", str(tmp_path / "o")]) == 1
    (line,) = error_lines(capsys.readouterr().err)
    assert str(bad) in line and "truncated" in line
    assert line.rstrip().endswith("not an fklib checkpoint")            # the message ends as a sentence, not cut
    assert "checkpoint file is)" not in line and "weights_only" not in line


def test_faces_in_pictures_take_the_picture_decision_stored_for_these_weights(smoke_ckpt, stgan_pair, tmp_path):
    """Issue 40, item 5: a face found in a picture has been resampled by the warp, so the picture path may have its own
    threshold on p(fake), chosen on validation pictures (experiments/locate_photos.py picture-decision) and stored
    beside the weights; it applies to those weights only, the crop rule stays, and a bad file is named."""
    import json
    import shutil

    from fklib.checkpoint import load_trained, picture_rule_path
    from fklib.faces import compose

    ckpt = tmp_path / "m.pt"
    shutil.copy(smoke_ckpt, ckpt)
    side = picture_rule_path(ckpt)
    assert side == tmp_path / "m.picture.json"
    sha = load_trained(ckpt).weights_sha256
    crop = np.asarray(Image.open(stgan_pair[0]).convert("RGB"))
    pic, _ = compose.place_faces(compose.background(768, 1024, seed=3), [crop], [compose.placement(3.0, 0, (512, 384))])
    plain = Locator(ckpt)
    assert plain.picture_rule == plain.rule and plain.picture_record is None
    (face,) = [f for f in plain.locate_picture(pic).faces if f.judged]
    p, floor = face.probability, plain.rule.peak_floor
    shows_fake = floor is None or face.peak > floor
    for threshold, want in ((max(0.0, p - 1e-4), "fake" if shows_fake else "real"), (min(1.0, p + 1e-4), "real")):
        side.write_text(json.dumps({"weights_sha256": sha, "threshold": threshold}))
        loc = Locator(ckpt)
        (got,) = [f for f in loc.locate_picture(pic, faces=[face.face]).faces if f.judged]
        assert got.decision == want and got.probability == pytest.approx(p, abs=1e-6)
        assert loc.rule == plain.rule and loc.picture_rule.peak_floor == floor
        assert loc.picture_record["file"] == str(side)
    # a picture decision with its own peak floor (a peak-driven crop rule: the warp lowers the peak too); a floor
    # just above the face's peak calls it real whatever p(fake), just below with the threshold under every p: fake
    for pf, want in ((face.peak + 1e-4, "real"), (max(0.0, face.peak - 1e-4), "fake")):
        side.write_text(json.dumps({"weights_sha256": sha, "threshold": -0.5, "peak_floor": pf}))
        loc = Locator(ckpt)
        (got,) = [f for f in loc.locate_picture(pic, faces=[face.face]).faces if f.judged]
        assert got.decision == want and loc.picture_rule.peak_floor == pytest.approx(pf)
        assert loc.rule == plain.rule                              # the crop rule is untouched
    side.write_text(json.dumps({"weights_sha256": sha, "threshold": 0.0, "peak_floor": None}))
    assert Locator(ckpt).picture_rule.peak_floor is None          # null: no floor on pictures
    side.write_text(json.dumps({"weights_sha256": "0" * 64, "threshold": 1.0}))
    assert Locator(ckpt).picture_rule == plain.rule              # made for other weights: not used
    for bad in ('{"weights_sha256": "%s", "threshold": 2}' % sha, "not json",
                '{"weights_sha256": "%s", "threshold": 0.5, "peak_floor": "high"}' % sha):
        side.write_text(bad)
        with pytest.raises(ValueError, match="m.picture.json"):
            Locator(ckpt)
