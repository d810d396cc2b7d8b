"""Evaluation: per-image rows against independently computed metrics, summaries, the CLI, bad input."""

import numpy as np
import pandas as pd
import pytest
import torch
from skimage.metrics import structural_similarity

from fklib.__main__ import main as cli
from fklib.config import make_config
from fklib.checkpoint import load_trained
from fklib.engine import evaluate_locator, fit, side_by_side, summarize
from fklib.metrics import REFERENCE_KINDS
from conftest import mode, one_error_line, random_rgb, read_only, save_png, umask


@pytest.fixture(scope="module")
def smoke_ckpt(tmp_path_factory, data_root):
    out = tmp_path_factory.mktemp("ckpt")
    cfg = make_config("smoke", overrides={"out_dir": str(out), "size": 32, "model_kwargs": {"base": 4}})
    return fit(cfg, progress=False, log=lambda *_: None)["best"]


def make_stgan_folder(root, rng, n=2):
    """A folder of synthetic strips in the STGAN layout (a user's new data)."""
    for k in range(n):
        arr = np.zeros((128, 1932, 3), np.uint8)
        arr[:, :128] = random_rgb(rng, 128, 128)
        for t in range(14):
            arr[:, 140 + 128 * t:268 + 128 * t] = random_rgb(rng, 128, 128)
        save_png(root / f"9000{k}.png", arr)
    return root


def test_rows_match_independent_metrics(smoke_ckpt, tmp_path, rng):
    from fklib.data import FakeMapDataset, load_set

    folder = make_stgan_folder(tmp_path / "new", rng)
    df = evaluate_locator(load_trained(smoke_ckpt), "stgan", folder, split="all")
    assert set(df["predictor"]) == {"model", *REFERENCE_KINDS}
    assert len(df) == (1 + len(REFERENCE_KINDS)) * 2 * 14   # every image, every predictor
    loc = load_trained(smoke_ckpt)
    model, cfg = loc.model, loc.config
    items = load_set("stgan", folder)
    sample = FakeMapDataset(items, size=cfg.size)[3]
    with torch.no_grad():
        pred = model(sample["image"][None]).map[0, 0].numpy().astype(np.float64)
    gt = sample["gt_map"][0].numpy().astype(np.float64)
    row = df[(df["predictor"] == "model") & (df["source"] == items[3].source)].iloc[0]
    cos = (pred * gt).sum() / np.sqrt((pred ** 2).sum() * (gt ** 2).sum())
    assert row["coss"] == pytest.approx(cos, abs=1e-5)
    assert row["psnr"] == pytest.approx(10 * np.log10(1 / ((pred - gt) ** 2).mean()), abs=1e-3)
    assert row["ssim"] == pytest.approx(structural_similarity(pred, gt, data_range=1.0), abs=1e-4)
    zeros = df[(df["predictor"] == "zeros") & (df["label"] == 1)]
    assert (zeros["coss"] == 0).all() and (zeros["score"] == 0).all()


def test_summary_and_side_by_side(smoke_ckpt):
    df = evaluate_locator(load_trained(smoke_ckpt), "stgan", split="test")
    summary = summarize(df)
    model = summary[summary["predictor"] == "model"]
    assert len(model) == 14 and model["n"].iloc[0] == 47      # 13 properties + the mean row
    fakes = df[(df["predictor"] == "model") & (df["property"] == "Bald")]
    assert model[model["property"] == "Bald"]["coss"].iloc[0] == pytest.approx(fakes["coss"].mean())
    reals = df[(df["predictor"] == "model") & (df["label"] == 0)]
    both = pd.concat([fakes, reals])
    acc = ((both["pred_fake"] > 0.5) == (both["label"] == 1)).mean()
    assert model[model["property"] == "Bald"]["acc"].iloc[0] == pytest.approx(acc)
    assert summary[summary["predictor"] == "zeros"]["acc"].isna().all()
    wide = side_by_side(summary)
    assert "coss/model" in wide.columns and "coss/property_mean" in wide.columns


def test_cli_writes_csv_and_names_bad_input(smoke_ckpt, tmp_path, capsys):
    out = tmp_path / "e.csv"
    assert cli(["evaluate", "--checkpoint", str(smoke_ckpt), "--set", "attgan", "--out", str(out)]) == 0
    df = pd.read_csv(out)
    assert set(df["gan"]) == {"attgan", "real"} and len(df[df["predictor"] == "model"]) == 13 * 14
    assert "coss/model" in capsys.readouterr().out
    assert cli(["evaluate", "--checkpoint", str(tmp_path / "missing.pt")]) == 1
    assert "missing.pt" in capsys.readouterr().err
    assert cli(["evaluate", "--checkpoint", str(smoke_ckpt), "--set", "generic", "--data",
                str(tmp_path / "nowhere"), "--split", "all"]) == 1
    assert "nowhere" in capsys.readouterr().err


def test_every_bad_file_is_reported_and_skip_bad_evaluates_the_rest(smoke_ckpt, tmp_path, rng, capsys):
    folder = make_stgan_folder(tmp_path / "new", rng, n=4)
    (folder / "90001.png").write_bytes(b"not a png")                   # unreadable
    save_png(folder / "90003.png", random_rgb(rng, 128, 1800))         # not the strip layout
    args = ["evaluate", "--checkpoint", str(smoke_ckpt), "--set", "stgan", "--data", str(folder), "--split", "all",
            "--device", "cpu", "--no-references"]
    assert cli(args) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and "2 file(s) could not be read" in err and "--skip-bad" in err
    assert "90001.png" in err and "90003.png" in err
    out = tmp_path / "e.csv"
    assert cli(args + ["--skip-bad", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    skipped = [line for line in captured.err.splitlines() if line.startswith("evaluate: skipped")]
    assert len(skipped) == 2 and "90001.png" in skipped[0] and "90003.png" in skipped[1]
    df = pd.read_csv(out)
    assert sorted(df["identity"].astype(str).unique()) == ["90000", "90002"] and len(df) == 2 * 14


@pytest.mark.parametrize("device, expected", [("bogus", "expected auto, cpu"), ("cuda", "no CUDA GPU")])
def test_bad_device_is_one_line(smoke_ckpt, capsys, device, expected):
    if device == "cuda" and torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    assert cli(["evaluate", "--checkpoint", str(smoke_ckpt), "--device", device]) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"error: device '{device}'") and expected in line


# --- issue 24 --------------------------------------------------------------------------------------

@pytest.mark.parametrize("bad", ["a folder", "under a file", "read-only folder"])
def test_a_bad_out_is_one_line_before_the_evaluation(smoke_ckpt, tmp_path, capsys, monkeypatch, bad):
    """Item 6: ``--out DIR``, ``--out`` under a file or in a read-only folder gave a traceback after the whole
    evaluation (27 s on the test split); now one line naming it, before any work."""
    import fklib.engine

    monkeypatch.setattr(fklib.engine, "evaluate_locator", lambda *a, **k: pytest.fail("evaluated first"))
    (tmp_path / "dir").mkdir()
    (tmp_path / "file.txt").write_text("keep me")
    (tmp_path / "ro").mkdir()
    out = {"a folder": tmp_path / "dir", "under a file": tmp_path / "file.txt" / "e.csv",
           "read-only folder": tmp_path / "ro" / "e.csv"}[bad]
    args = ["evaluate", "--checkpoint", str(smoke_ckpt), "--device", "cpu", "--out", str(out)]
    if bad == "read-only folder":
        with read_only(tmp_path / "ro"):
            code, err = cli(args), capsys.readouterr().err
    else:
        code, err = cli(args), capsys.readouterr().err
    assert code == 1
    assert str(out) in one_error_line(err)
    assert (tmp_path / "file.txt").read_text() == "keep me" and not any((tmp_path / "dir").iterdir())
    assert not any((tmp_path / "ro").iterdir())


def test_a_read_only_cache_is_read_around_and_said_in_one_line(smoke_ckpt, tmp_path, rng, capsys, monkeypatch):
    """Item 8: a read-only ``data/cache`` failed in ``mkdtemp`` (EROFS); now the set is read without caching."""
    from fklib import paths

    folder = make_stgan_folder(tmp_path / "new", rng)
    cache = tmp_path / "cache"
    cache.mkdir()
    monkeypatch.setattr(paths, "cache_dir", lambda: cache)
    out = tmp_path / "e.csv"
    with read_only(cache):
        code = cli(["evaluate", "--checkpoint", str(smoke_ckpt), "--set", "stgan", "--data", str(folder),
                    "--split", "all", "--device", "cpu", "--no-references", "--out", str(out)])
    assert code == 0
    err = capsys.readouterr().err
    assert "Traceback" not in err
    (line,) = [x for x in err.splitlines() if "cache" in x]
    assert str(cache) in line and "without caching" in line
    assert len(pd.read_csv(out)) == 2 * 14 and not any(cache.iterdir())


@pytest.mark.parametrize("mask, dir_mode, file_mode", [(0o022, 0o755, 0o644), (0o027, 0o750, 0o640)])
def test_cache_folders_honour_the_umask(tmp_path, rng, mask, dir_mode, file_mode):
    """Item 4: decoded-array cache folders were 0700 (``mkdtemp``) whatever the umask."""
    from fklib.data import load_set

    folder = make_stgan_folder(tmp_path / "new", rng, n=1)
    with umask(mask):
        load_set("stgan", folder, cache_dir=tmp_path / "cache")
    (entry,) = (tmp_path / "cache").iterdir()
    assert mode(entry) == dir_mode, oct(mode(entry))
    assert {mode(p) for p in entry.iterdir()} == {file_mode}


def test_references_are_cached_on_disk_and_read_back_identically(data_root, tmp_path, monkeypatch):
    """fit_references fits once per key: a new process (the in-memory dict cleared) reads the .npz back, equal
    to what was fitted; a different parser (another key) fits again."""
    import numpy as np

    from fklib import paths
    from fklib.config import make_config
    from fklib.engine import evaluate as ev

    monkeypatch.setattr(paths, "cache_dir", lambda: tmp_path / "cache")
    cfg = make_config("smoke")
    calls = []
    real_fit = ev.fit_reference_maps
    monkeypatch.setattr(ev, "fit_reference_maps", lambda *a, **k: calls.append(1) or real_fit(*a, **k))
    ev._FITTED.clear()
    first = ev.fit_references(cfg)
    ev._FITTED.clear()
    second = ev.fit_references(cfg)
    assert len(calls) == 1 and len(list((tmp_path / "cache" / "references").glob("*.npz"))) == 1
    assert np.array_equal(first.maps.global_mean, second.maps.global_mean)
    assert first.layout.tables.keys() == second.layout.tables.keys()
    for k in first.layout.tables:
        assert np.array_equal(first.layout.tables[k], second.layout.tables[k])
    ev._FITTED.clear()
    monkeypatch.setattr(ev, "default_parser_path", lambda: tmp_path / "other_parser.safetensors")
    ev.fit_references(cfg)
    assert len(calls) == 2
    ev._FITTED.clear()


def test_properties_are_kept_before_scoring_with_the_same_rows(data_root):
    """evaluate_locator(properties=...) scores only those fakes (and every real): the rows equal the full
    evaluation's rows of those images."""
    import pandas as pd

    from fklib import paths
    from fklib.engine import evaluate_locator

    ckpt = load_trained(paths.default_locator())
    full = evaluate_locator(ckpt, "stgan", split="test", references=False, max_per_property=2, device="cpu")
    part = evaluate_locator(ckpt, "stgan", split="test", references=False, max_per_property=2, device="cpu",
                            properties=["Bald"])
    want = full[(full["label"] == 0) | (full["property"] == "Bald")].reset_index(drop=True)
    assert set(part["property"]) == {"Real", "Bald"}
    pd.testing.assert_frame_equal(part.reset_index(drop=True), want, check_exact=False, rtol=1e-6)
