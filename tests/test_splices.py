"""Partial splices (fklib.data.splices): masks, the composite and its eq.-4 map, the augmentation, the fixed sets."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from fklib.data import FakeMapDataset, Item, gt_map, load_set
from fklib.data import splices as S


def pair(rng, size=64):
    real = rng.integers(30, 220, (size, size, 3), dtype=np.uint8)
    fake = np.clip(real.astype(int) + rng.integers(-60, 60, real.shape), 0, 255).astype(np.uint8)
    return real, fake


def test_blob_masks_are_soft_seeded_and_sized():
    shape = (96, 80)
    m = S.blob_mask(shape, np.random.default_rng(3))
    assert m.shape == shape and m.dtype == np.float32 and 0 <= m.min() and m.max() <= 1
    assert np.array_equal(m, S.blob_mask(shape, np.random.default_rng(3)))               # seeded
    assert not np.array_equal(m, S.blob_mask(shape, np.random.default_rng(4)))
    areas = [(S.blob_mask(shape, np.random.default_rng(k)) > 0.5).mean() for k in range(20)]
    assert S.BLOB_AREA[0] - 0.03 < min(areas) and max(areas) < S.BLOB_AREA[1] + 0.03
    assert ((m > 0.02) & (m < 0.98)).any()                                               # feathered edge


def test_region_masks_follow_the_parsing():
    parsing = np.zeros((64, 64), np.uint8)
    parsing[:20] = 13          # hair
    parsing[20:50, 10:54] = 1  # skin
    assert set(S.region_choices(parsing)) == {"hair", "skin", "background"}
    m = S.face_region_mask(parsing, np.random.default_rng(0), max_groups=1)
    inside = {name: m[np.isin(parsing, [S._INDEX[c] for c in S.REGION_GROUPS[name]])].mean()
              for name in ("hair", "skin", "background")}
    assert max(inside.values()) > 0.9 and sorted(inside.values())[1] < 0.2              # exactly one region
    with pytest.raises(ValueError, match="parsing"):
        S.splice_mask("region", (64, 64), np.random.default_rng(0))
    with pytest.raises(ValueError, match="no face region"):
        S.face_region_mask(np.full((64, 64), 15, np.uint8), np.random.default_rng(0))


def test_splice_is_the_masked_composite_and_its_map_is_eq4(rng):
    real, fake = pair(rng)
    mask = np.zeros((64, 64), np.float32)
    mask[10:30, 5:40] = 1.0
    mask[30, 5:40] = 0.5
    out = S.splice(real, fake, mask)
    expected = np.clip(np.rint(real * (1 - mask[..., None]) + fake * mask[..., None].astype(np.float64)), 0, 255)
    assert np.array_equal(out, expected.astype(np.uint8))
    item = S.splice_item(Item(fake, real, 1, "generic", "g", "Bald", "7", "f"), mask)
    assert np.array_equal(item.gt_map(), gt_map(real, out))
    assert (item.gt_map()[:10] == 0).all() and item.gt_map()[10:30].mean() > 0.05       # zero outside the mask
    with pytest.raises(ValueError, match="partial edit"):
        S.splice_item(Item(fake, None, 1, "generic", "g", "Entire", "7", "f"), mask)


def test_augmentation_splices_only_partial_edits_and_repeats_under_a_seed(rng):
    real, fake = pair(rng)
    items = [Item(real, None, 0, "generic", "real", "Real", "1", "r"),
             Item(fake, real, 1, "generic", "g", "Bald", "1", "f"),
             Item(fake, None, 1, "generic", "g", "Entire", "2", "e")]
    aug = S.SpliceAugment(p=1.0, kinds=("blob",))
    ds = FakeMapDataset(items, size=64, item_transform=aug)
    torch.manual_seed(0)
    a = [ds[i] for i in range(3)]
    torch.manual_seed(0)
    b = [ds[i] for i in range(3)]
    assert all(torch.equal(x["image"], y["image"]) and torch.equal(x["gt_map"], y["gt_map"]) for x, y in zip(a, b))
    assert torch.equal(a[0]["gt_map"], torch.zeros(1, 64, 64))                          # the real stays real
    assert torch.equal(a[2]["gt_map"], torch.ones(1, 64, 64))                           # Entire stays whole
    spliced = a[1]["gt_map"][0].numpy()
    assert 0 < (spliced > 0).mean() < 0.6                                                # only inside a blob
    assert S.SpliceAugment(p=0.0)(items[1]) is items[1]
    with pytest.raises(ValueError, match="kinds"):
        S.SpliceAugment(kinds=("square",))


def test_fixed_splice_set_is_generic_layout_and_reproducible(tmp_path, rng):
    real, fake = pair(rng)
    real2, fake2 = pair(rng)
    items = [Item(real, None, 0, "s", "real", "Real", "a", "r"), Item(fake, real, 1, "s", "stgan", "Bald", "a", "f"),
             Item(real2, None, 0, "s", "real", "Real", "b", "r"), Item(fake2, real2, 1, "s", "stgan", "Bald", "b", "f")]
    one = S.build_splice_set(items, tmp_path / "one", seed=5, recipe={"seed": 5})
    two = S.build_splice_set(items, tmp_path / "two", seed=5, recipe={"seed": 5})
    read = load_set("generic", folder=one, cache=False)
    assert sorted((it.gan, it.property, it.identity) for it in read if it.label) == [
        ("stgan-splice", "Bald", "a"), ("stgan-splice", "Bald", "b")]
    for it in (i for i in read if i.label):
        expected = S.splice(it.reference, fake if it.identity == "a" else fake2,
                            S.blob_mask((64, 64), np.random.default_rng(5 + (0 if it.identity == "a" else 1))))
        assert np.array_equal(it.image, expected)
    assert (one / "splices.csv").read_text() == (two / "splices.csv").read_text()
    assert json.loads((one / "recipe.json").read_text()) == {"seed": 5}
    assert not list(tmp_path.glob(".*"))                                                  # no temporary folder left


def test_the_committed_test_sets_come_from_the_test_identities(data_root):
    folder = S.ensure_splice_set("stgan_test")
    assert json.loads((folder / "recipe.json").read_text()) == S.splice_recipe("stgan_test")
    ids = {it.identity for it in load_set("stgan", split="test")}
    read = load_set("generic", folder=folder)
    assert {it.identity for it in read} == ids and sum(it.label for it in read) == 13 * len(ids)


def test_figure_tiles_cut_the_published_grids(data_root):
    from fklib.data import FIGURE_LAYOUTS, figure_items

    items = figure_items()
    n_edits = sum(7 * len(layout.edit_names) for layout in FIGURE_LAYOUTS.values())
    assert sum(it.label for it in items) == n_edits and sum(1 - it.label for it in items) == 14
    for it in items:
        h, w = it.image.shape[:2]
        assert 125 <= h <= 145 and 125 <= w <= 145
        # a tile is a face photo, not a white margin or the black frame of the second figure
        assert 40 < it.image.mean() < 215 and (it.image > 245).mean() < 0.5
    first = [it for it in items if it.identity == "result_celeba1_row0"]
    assert [it.property for it in first] == ["Real", *FIGURE_LAYOUTS["result_celeba1.jpg"].edit_names]


def test_augmentation_splices_only_the_named_sets(rng):
    real, fake = pair(rng)
    stgan = Item(fake, real, 1, "stgan_celeba128", "stgan", "Bald", "1", "s")
    other = Item(fake, real, 1, "stargan_celeba128", "stargan", "Male", "2", "o")
    aug = S.SpliceAugment(p=1.0, kinds=("blob",), sets=["stgan_celeba128"])
    torch.manual_seed(0)
    assert aug(other) is other                                             # another set's edit passes unchanged
    spliced = aug(stgan)
    assert spliced is not stgan and (spliced.gt_map() == 0).mean() > 0.4  # the named set's edit becomes a splice
    assert not np.array_equal(spliced.gt_map(), stgan.gt_map())
