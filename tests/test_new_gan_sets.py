"""The released StarGAN-128 grids and the AttGAN / AttentionGAN set: layouts, the rebuilt reals, splits."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from fklib.data import load_set
from fklib.data.readers import (ATTGAN128_JPEG_QUALITY, STARGAN_PROPERTIES, jpeg_roundtrip, read_attgan_attentiongan,
                                read_stargan128_grid, rebuild_attgan_real, stargan128_rows)
from fklib.data.splits import ensure_splits, make_splits, read_splits
from tests.conftest import random_rgb, save_png


def _save_jpeg(path, arr, quality=95):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path, quality=quality)
    return path


def test_stargan128_rows_per_grid():
    assert stargan128_rows(1) == 16 and stargan128_rows(124) == 16
    assert stargan128_rows(125) == 15          # 1999 = 124 * 16 + 15
    assert stargan128_rows(126) == 0


def test_stargan128_grid_tiles_are_exact(tmp_path, rng):
    grid = random_rgb(rng, 16 * 128, 6 * 128)
    path = save_png(tmp_path / "7-images.png", grid)
    strips = read_stargan128_grid(path)
    assert len(strips) == 16
    s = strips[3]
    assert s.identity == "7-03" and s.set == "stargan_celeba128" and s.gan == "stargan"
    np.testing.assert_array_equal(s.real, grid[384:512, :128])
    assert list(s.edits) == list(STARGAN_PROPERTIES)
    np.testing.assert_array_equal(s.edits["Male"], grid[384:512, 4 * 128:5 * 128])  # tile 4 = Male


def test_stargan128_wrong_size_names_file_and_rows(tmp_path, rng):
    path = save_png(tmp_path / "125-images.png", random_rgb(rng, 16 * 128, 6 * 128))  # the last grid has 15 rows
    with pytest.raises(ValueError, match=r"125-images.png.*768x1920"):
        read_stargan128_grid(path)
    with pytest.raises(ValueError, match="n in 1..125"):
        read_stargan128_grid(save_png(tmp_path / "grid.png", random_rgb(rng, 128, 768)))


def test_rebuilt_reals_follow_each_generators_transform(rng):
    raw = random_rgb(rng, 218, 178)
    squash = rebuild_attgan_real(raw, "attgan")
    crop = rebuild_attgan_real(raw, "attentiongan")
    np.testing.assert_array_equal(squash, np.asarray(Image.fromarray(raw).resize((128, 128), Image.BILINEAR)))
    np.testing.assert_array_equal(crop, np.asarray(Image.fromarray(raw[20:198]).resize((128, 128), Image.BILINEAR)))
    with pytest.raises(ValueError, match="178x218"):
        rebuild_attgan_real(raw[:200], "attgan")


def _attgan_folder(root, rng, faces=(1, 2)):
    smooth = np.kron(random_rgb(rng, 28, 23), np.ones((8, 8, 1), np.uint8))[:218, :178]
    for n in faces:
        raw = np.roll(smooth, 3 * n, axis=1)
        _save_jpeg(root / "testData" / "images" / f"{n:06d}.jpg", raw, quality=98)
    for n in faces:
        raw = np.asarray(Image.open(root / "testData" / "images" / f"{n:06d}.jpg").convert("RGB"))
        for gan, props in (("attgan", ("Bald", "Blond_Hair", "Young")),
                           ("attentiongan", ("Bald", "Blond_Hair", "Smiling", "Young"))):
            for prop in props:
                fake = rebuild_attgan_real(raw, gan).copy()
                fake[40:80, 40:80] = 255 - fake[40:80, 40:80]  # the edit
                _save_jpeg(root / "results" / "testData" / gan / prop / f"{n}_{prop}.jpg", fake, 75)
    return root


def test_attgan_attentiongan_reader_pairs_and_compresses_reals(tmp_path, rng):
    root = _attgan_folder(tmp_path / "aa", rng)
    items = read_attgan_attentiongan(root)
    reals = [it for it in items if it.label == 0]
    fakes = [it for it in items if it.label == 1]
    assert len(reals) == 4 and len(fakes) == 14
    assert {it.source.rsplit("#", 1)[1] for it in reals} == {"real-attgan", "real-attentiongan"}
    assert {(it.gan, it.identity) for it in fakes} >= {("attgan", "1"), ("attentiongan", "2")}
    # the real shown is the rebuild saved as JPEG 75, as the fakes are (never a lossless real beside JPEG fakes)
    raw = np.asarray(Image.open(root / "testData" / "images" / "000001.jpg").convert("RGB"))
    want = jpeg_roundtrip(rebuild_attgan_real(raw, "attgan"), ATTGAN128_JPEG_QUALITY)
    real = next(it for it in reals if it.identity == "1" and it.source.endswith("real-attgan"))
    np.testing.assert_array_equal(real.image, want)
    fake = next(it for it in fakes if it.gan == "attgan" and it.identity == "1")
    assert fake.reference is real.image
    gt = fake.gt_map()
    assert gt[45:75, 45:75].mean() > 10 * gt[:30, :30].mean()  # the edit, over the JPEG floor


def test_attgan_missing_edit_is_named(tmp_path, rng):
    root = _attgan_folder(tmp_path / "aa", rng, faces=(1,))
    gone = root / "results" / "testData" / "attentiongan" / "Smiling" / "1_Smiling.jpg"
    gone.unlink()
    errors: list[str] = []
    assert read_attgan_attentiongan(root, errors=errors) == []
    assert len(errors) == 1 and "1_Smiling.jpg" in errors[0]


def test_splits_of_new_sets_are_disjoint_and_appended_without_moving_old_rows(tmp_path):
    full = make_splits()
    for name, n in (("stargan_celeba128", 1839), ("attgan_attentiongan_celeba128", 900)):
        part = full[full["set"] == name]
        assert len(part) == n and not part["identity"].duplicated().any()
        assert abs((part["split"] == "test").mean() - 0.3) < 0.01
    old = full[~full["set"].isin(["stargan_celeba128", "attgan_attentiongan_celeba128"])]
    path = tmp_path / "splits.csv"
    old.to_csv(path, index=False)
    before = path.read_text()
    grown = ensure_splits(path)
    assert path.read_text().startswith(before)          # the old rows, unchanged, first
    assert len(grown) == len(full) and len(read_splits(path)) == len(full)
    assert ensure_splits(path).equals(read_splits(path))  # a second call writes nothing new


@pytest.mark.slow
def test_real_new_sets_registered_at_zero_shift(data_root):
    """The fakes of the released generators are registered with their reals: |fake - real| is smallest at
    zero shift (measured on the first faces of each GAN)."""
    aa = load_set("attgan_attentiongan", split="test")
    sg = load_set("stargan128", split="test")
    for items, gan in ((aa, "attgan"), (aa, "attentiongan"), (sg, "stargan")):
        fakes = [it for it in items if it.label == 1 and it.gan == gan][:30]
        err = {}
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                err[(dy, dx)] = np.mean([np.abs(np.roll(it.reference.astype(float), (dy, dx), (0, 1))
                                                - it.image)[4:-4, 4:-4].mean() for it in fakes])
        assert min(err, key=err.get) == (0, 0), (gan, err)
