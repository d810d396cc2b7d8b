"""load_set (cache, splits, bad input writes nothing) and FakeMapDataset (resize, paired flip)."""

import shutil

import numpy as np
import pytest
import torch

from fklib.data import STGAN_PROPERTIES, BadFilesError, FakeMapDataset, gt_map, load_set, make_splits, resize_pair
from fklib.data.readers import Item
from conftest import random_rgb, save_png, tree_snapshot


def make_generic(root, rng):
    reals = {n: random_rgb(rng, 16, 16) for n in ("p1", "p2")}
    for n, arr in reals.items():
        save_png(root / "real" / f"{n}.png", arr)
        fake = arr.copy()
        fake[4:8, 4:8] = 255 - fake[4:8, 4:8]
        save_png(root / "fake" / "g" / "Bangs" / f"{n}.png", fake)
    return reals


def test_cache_roundtrip_equals_direct_read(tmp_path, rng):
    folder = tmp_path / "mine"
    make_generic(folder, rng)
    direct = load_set("generic", folder, cache=False)
    first = load_set("generic", folder, cache_dir=tmp_path / "cache")
    second = load_set("generic", folder, cache_dir=tmp_path / "cache")
    assert len(list((tmp_path / "cache").iterdir())) == 1
    for a, b, c in zip(direct, first, second):
        assert a.meta() == b.meta() == c.meta()
        np.testing.assert_array_equal(a.image, c.image)
        np.testing.assert_array_equal(a.gt_map(), c.gt_map())


def test_changed_folder_gets_a_new_cache(tmp_path, rng):
    folder = tmp_path / "mine"
    make_generic(folder, rng)
    load_set("generic", folder, cache_dir=tmp_path / "cache")
    save_png(folder / "real" / "p3.png", random_rgb(rng, 16, 16))
    items = load_set("generic", folder, cache_dir=tmp_path / "cache")
    assert len(items) == 5 and len(list((tmp_path / "cache").iterdir())) == 2


def test_bad_file_in_folder_writes_nothing(tmp_path, rng):
    folder = tmp_path / "mine"
    make_generic(folder, rng)
    (folder / "fake" / "g" / "Bangs" / "p2.png").write_bytes(b"\x89PNG broken")
    before = tree_snapshot(folder)
    with pytest.raises(ValueError, match="p2.png"):
        load_set("generic", folder, cache_dir=tmp_path / "cache")
    assert tree_snapshot(folder) == before
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())


def test_missing_folder_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="absent"):
        load_set("stgan", tmp_path / "absent")
    with pytest.raises(ValueError, match="unknown set"):
        load_set("cyclegan", tmp_path)


def test_stgan_set_split_filter(data_root, tmp_path):
    table = make_splits(0)
    test_items = load_set("stgan", split="test", splits=table)
    ids = {it.identity for it in test_items}
    assert ids == set(table[(table["set"] == "stgan_celeba128") & (table["split"] == "test")]["identity"])
    assert len(test_items) == 47 * 14                         # real + 13 edits each
    assert {it.property for it in test_items if it.label == 1} == set(STGAN_PROPERTIES)
    with_recon = load_set("stgan", split="test", splits=table, include_reconstruction=True)
    assert len(with_recon) == 47 * 15
    # the cached map equals eq. 4 recomputed from the arrays
    edit = test_items[1]
    np.testing.assert_array_equal(edit.gt_map(), gt_map(np.array(edit.reference), np.array(edit.image)))


def item(rng, h=8, w=8, label=1):
    real = random_rgb(rng, h, w)
    fake = random_rgb(rng, h, w)
    return Item(fake, real, label, "generic", "g", "Bangs", "x", "mem")


def test_dataset_sample_contents(rng):
    it = item(rng)
    s = FakeMapDataset([it], size=8)[0]
    assert s["image"].shape == (3, 8, 8) and s["gt_map"].shape == (1, 8, 8)
    np.testing.assert_allclose(s["image"].numpy(), it.image.transpose(2, 0, 1) / 255.0, atol=1e-6)
    np.testing.assert_allclose(s["gt_map"][0].numpy(), it.gt_map())
    assert s["label"].item() == 1.0 and torch.all(s["attention"] == 1)
    assert s["property"] == "Bangs" and s["identity"] == "x"


def test_resize_applies_the_same_transform_to_image_and_map(rng):
    gray = rng.random((32, 32)).astype(np.float32)
    image = torch.from_numpy(np.stack([gray] * 3))
    img2, map2 = resize_pair(image, torch.from_numpy(gray)[None], 12)
    assert img2.shape == (3, 12, 12) and map2.shape == (1, 12, 12)
    torch.testing.assert_close(img2[0], map2[0])
    ds = FakeMapDataset([item(rng, 32, 32)], size=224)
    assert ds[0]["image"].shape == (3, 224, 224) and 0 <= ds[0]["gt_map"].min() <= ds[0]["gt_map"].max() <= 1


def test_paired_flip(rng):
    it = item(rng)
    plain = FakeMapDataset([it], size=8)[0]
    ds = FakeMapDataset([it], size=8, flip=True, attention=lambda _: np.tile(np.linspace(0, 1, 8), (8, 1)))
    torch.manual_seed(0)
    flipped = unflipped = 0
    for _ in range(40):
        s = ds[0]
        if torch.equal(s["image"], plain["image"]):
            unflipped += 1
            assert torch.equal(s["gt_map"], plain["gt_map"])
            assert s["attention"][0, 0, 0] == 0
        else:
            flipped += 1
            assert torch.equal(s["image"], plain["image"].flip(-1))
            assert torch.equal(s["gt_map"], plain["gt_map"].flip(-1))
            assert s["attention"][0, 0, 0] == 1
    assert flipped > 5 and unflipped > 5


def test_dataloader_batches(rng):
    loader = torch.utils.data.DataLoader(FakeMapDataset([item(rng), item(rng, label=0)], size=8), batch_size=2)
    batch = next(iter(loader))
    assert batch["image"].shape == (2, 3, 8, 8) and batch["label"].tolist() == [1.0, 0.0]
    assert batch["gt_map"][1].abs().sum() == 0       # a real image's map is all zeros


def test_cache_follows_the_contents_not_the_names(data_root, tmp_path):
    """Paint a tile of a strip white, load_set, restore the original bytes: fetch says all verified and
    load_set returns the original tile again (the cache was keyed by the file names)."""
    from fklib.data import fetch, load_rgb

    data = tmp_path / "data"                      # data/ is read-only: the same files in a copy
    shutil.copytree(data_root / "stgan_celeba128", data / "stgan_celeba128")
    folder = data / "stgan_celeba128"
    strip = sorted((folder / "strips").glob("*.png"))[0]
    original_bytes = strip.read_bytes()
    original = load_rgb(strip)
    bald = slice(140 + 128, 140 + 256)            # tile 1 after the reconstruction
    painted = original.copy()
    painted[:, bald] = 255
    save_png(strip, painted)
    cache = tmp_path / "cache"

    def bald_tile():
        items = load_set("stgan", folder, cache_dir=cache)
        return next(it.image for it in items if it.identity == strip.stem and it.property == "Bald")

    assert (np.asarray(bald_tile()) == 255).all()
    strip.write_bytes(original_bytes)
    report = fetch(data, mirror=data_root, sets=["stgan_celeba128"], progress=False)
    assert (report.skipped, report.copied) == (167, 0)                 # all verified
    np.testing.assert_array_equal(bald_tile(), original[:, bald])


def test_every_bad_file_is_named_and_can_be_skipped(tmp_path, rng):
    folder = tmp_path / "mine"
    make_generic(folder, rng)
    save_png(folder / "real" / "p3.png", random_rgb(rng, 16, 16))
    (folder / "real" / "p1.png").write_bytes(b"\x89PNG broken")                     # unreadable
    save_png(folder / "fake" / "g" / "Bangs" / "p3.png", random_rgb(rng, 9, 9))     # of another size
    with pytest.raises(BadFilesError) as err:
        load_set("generic", folder, cache_dir=tmp_path / "cache")
    messages = err.value.errors
    assert any("real/p1.png" in m for m in messages) and any("Bangs/p3.png" in m for m in messages)
    assert any("Bangs/p1.png" in m for m in messages)                  # its real could not be read
    assert len(messages) == 3 and "3 file(s)" in str(err.value)
    skipped: list[str] = []
    items = load_set("generic", folder, cache_dir=tmp_path / "cache", bad_files=skipped)
    assert skipped == messages
    assert sorted((it.identity, it.label) for it in items) == [("p2", 0), ("p2", 1), ("p3", 0)]
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())   # a partial set is not cached
    with pytest.raises(BadFilesError):
        load_set("generic", folder, cache_dir=tmp_path / "cache")
