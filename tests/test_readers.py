"""Readers: exact tiles from synthetic layouts, clear errors for malformed files, real data sanity."""

import numpy as np
import pytest
from PIL import Image

from fklib.data import (STARGAN_PROPERTIES, STGAN_PROPERTIES, BadFilesError, gt_map, read_attgan_grid,
                        read_celebamask_pair, read_generic, read_interfacegan, read_stargan_strip, read_stgan_strip)
from conftest import random_rgb, save_png


def make_strip(rng, rows=1):
    """A synthetic STGAN-layout image and its 15 tiles per row (real + reconstruction + 13)."""
    arr = np.zeros((128 * rows, 1932, 3), np.uint8)
    tiles = []
    for r in range(rows):
        row_tiles = [random_rgb(rng, 128, 128) for _ in range(15)]
        arr[r * 128:(r + 1) * 128, :128] = row_tiles[0]
        for k in range(14):
            arr[r * 128:(r + 1) * 128, 140 + 128 * k:268 + 128 * k] = row_tiles[k + 1]
        tiles.append(row_tiles)
    return arr, tiles


def test_stgan_strip_tiles_are_exact(tmp_path, rng):
    arr, [tiles] = make_strip(rng)
    strip = read_stgan_strip(save_png(tmp_path / "000123.png", arr))
    assert strip.identity == "000123" and strip.gan == "stgan"
    np.testing.assert_array_equal(strip.real, tiles[0])
    assert list(strip.edits) == ["Reconstruction", *STGAN_PROPERTIES]
    for k, prop in enumerate(strip.edits):
        np.testing.assert_array_equal(strip.edits[prop], tiles[k + 1])
    items = strip.items()
    assert [it.label for it in items] == [0] + [1] * 13          # reconstruction left out by default
    assert items[0].property == "Real" and items[0].gan == "real"
    np.testing.assert_array_equal(items[1].gt_map(), gt_map(tiles[0], tiles[2]))   # Bald vs real
    assert len(strip.items(include_reconstruction=True)) == 15


def test_stgan_wrong_width_names_file_and_size(tmp_path, rng):
    path = save_png(tmp_path / "short.png", random_rgb(rng, 128, 1800))
    with pytest.raises(ValueError, match=r"short.png.*1932x128.*1800x128"):
        read_stgan_strip(path)


def test_stgan_missing_black_gap_is_rejected(tmp_path, rng):
    arr, _ = make_strip(rng)
    arr[:, 128:140] = 200
    with pytest.raises(ValueError, match=r"gap.png.*black 12-px gap"):
        read_stgan_strip(save_png(tmp_path / "gap.png", arr))


def test_attgan_grid_rows(tmp_path, rng):
    arr, tiles = make_strip(rng, rows=13)
    strips = read_attgan_grid(save_png(tmp_path / "grid.png", arr))
    assert [s.identity for s in strips] == [f"attgan_row{r:02d}" for r in range(13)]
    np.testing.assert_array_equal(strips[7].real, tiles[7][0])
    np.testing.assert_array_equal(strips[7].edits["Young"], tiles[7][14])
    with pytest.raises(ValueError, match=r"one.png.*1932x1664"):
        read_attgan_grid(save_png(tmp_path / "one.png", arr[:128]))


def test_stargan_strip_tiles(tmp_path, rng):
    tiles = [random_rgb(rng, 256, 256) for _ in range(11)]
    strip = read_stargan_strip(save_png(tmp_path / "17-images.png", np.concatenate(tiles, axis=1)))
    assert strip.identity == "17" and list(strip.edits) == list(STARGAN_PROPERTIES)
    np.testing.assert_array_equal(strip.real, tiles[0])
    np.testing.assert_array_equal(strip.inputs["Blond_Hair"], tiles[3])
    np.testing.assert_array_equal(strip.edits["Blond_Hair"], tiles[4])
    with pytest.raises(ValueError, match=r"bad-images.png.*2816x256"):
        read_stargan_strip(save_png(tmp_path / "bad-images.png", np.concatenate(tiles[:10], axis=1)))


def test_interfacegan_real_and_entire(tmp_path, rng):
    save_png(tmp_path / "real" / "000004.png", random_rgb(rng, 16, 16))
    save_png(tmp_path / "fake" / "000001.png", random_rgb(rng, 16, 16))
    items = read_interfacegan(tmp_path, size=16)
    assert [(it.identity, it.label, it.property) for it in items] == [("real/000004", 0, "Real"),
                                                                     ("fake/000001", 1, "Entire")]
    np.testing.assert_array_equal(items[1].gt_map(), 1.0)
    np.testing.assert_array_equal(items[0].gt_map(), 0.0)
    save_png(tmp_path / "fake" / "000002.png", random_rgb(rng, 16, 20))
    with pytest.raises(ValueError, match=r"000002.png.*16x16"):
        read_interfacegan(tmp_path, size=16)


def test_celebamask_pair_size_mismatch(tmp_path, rng):
    img = save_png(tmp_path / "images" / "0.png", random_rgb(rng, 8, 8))
    lab = tmp_path / "labels" / "0.png"
    lab.parent.mkdir()
    Image.fromarray(np.full((8, 8), 13, np.uint8), mode="L").save(lab)
    sample = read_celebamask_pair(img, lab)
    assert sample.label.shape == (8, 8) and int(sample.label.max()) == 13
    Image.fromarray(np.zeros((4, 8), np.uint8), mode="L").save(lab)
    with pytest.raises(ValueError, match=r"0.png.*8x4"):
        read_celebamask_pair(img, lab)


def make_generic(root, rng, size=(12, 10)):
    reals = {n: random_rgb(rng, *size) for n in ("a", "b")}
    for n, arr in reals.items():
        save_png(root / "real" / f"{n}.png", arr)
    fake = random_rgb(rng, *size)
    save_png(root / "fake" / "mygan" / "Bangs" / "b.png", fake)
    save_png(root / "fake" / "mygan" / "Entire" / "z9.png", random_rgb(rng, 20, 20))
    return reals, fake


def test_generic_layout_pairs_by_name(tmp_path, rng):
    reals, fake = make_generic(tmp_path, rng)
    items = read_generic(tmp_path)
    by = {(it.gan, it.property, it.identity): it for it in items}
    assert set(by) == {("real", "Real", "a"), ("real", "Real", "b"), ("mygan", "Bangs", "b"),
                       ("mygan", "Entire", "mygan/Entire/z9")}
    np.testing.assert_array_equal(by[("mygan", "Bangs", "b")].gt_map(), gt_map(reals["b"], fake))
    np.testing.assert_array_equal(by[("mygan", "Entire", "mygan/Entire/z9")].gt_map(), 1.0)


def test_generic_size_mismatch_names_both_files(tmp_path, rng):
    make_generic(tmp_path, rng)
    save_png(tmp_path / "fake" / "mygan" / "Bald" / "a.png", random_rgb(rng, 13, 10))
    with pytest.raises(ValueError, match=r"Bald/a.png.*10x13.*real/a.png.*10x12"):
        read_generic(tmp_path)


def test_generic_unpaired_fake_and_missing_folder(tmp_path, rng):
    make_generic(tmp_path, rng)
    save_png(tmp_path / "fake" / "mygan" / "Bald" / "nobody.png", random_rgb(rng, 12, 10))
    with pytest.raises(BadFilesError, match=r"nobody.png.*no real image"):   # every bad file, in one error
        read_generic(tmp_path)
    with pytest.raises(FileNotFoundError, match="missing"):
        read_generic(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="empty"):
        read_generic(tmp_path / "empty")


def test_generic_reads_grayscale_and_rgba_by_the_rule(tmp_path, rng):
    gray = rng.integers(0, 256, (6, 6), dtype=np.uint8)
    save_png(tmp_path / "real" / "g.png", gray)
    rgba = np.dstack([np.repeat(gray[..., None], 3, 2), np.full((6, 6), 255, np.uint8)])
    save_png(tmp_path / "fake" / "x" / "Bangs" / "g.png", rgba)   # opaque RGBA of the same pixels
    items = read_generic(tmp_path)
    np.testing.assert_array_equal(items[1].gt_map(), 0.0)


# --- the real data -------------------------------------------------------------------------------

def test_real_stgan_strips_read_and_edits_exceed_reconstruction(data_root):
    files = sorted((data_root / "stgan_celeba128" / "strips").glob("*.png"))
    assert len(files) == 167
    strip = read_stgan_strip(files[0])
    recon = gt_map(strip.real, strip.edits["Reconstruction"]).mean()
    bald = gt_map(strip.real, strip.edits["Bald"]).mean()
    assert 0 < recon < bald   # STGAN redraws everything a little; the edit changes much more


def test_real_attgan_and_stargan_read(data_root):
    strips = read_attgan_grid(data_root / "attgan_celeba128" / "sample_validation.jpg")
    assert len(strips) == 13 and strips[0].real.shape == (128, 128, 3)
    s = read_stargan_strip(data_root / "stargan_disrupted256" / "strips" / "61-images.jpg")
    perturbation = np.abs(s.inputs["Male"].astype(int) - s.real.astype(int)).mean()
    edit = np.abs(s.edits["Male"].astype(int) - s.real.astype(int)).mean()
    assert perturbation < edit
