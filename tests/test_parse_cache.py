"""fklib.parsing.cache: each image parsed once, in memory and on disk, with the maps a fresh parse gives bit for bit;
and the three places that parse evaluated or training images (reference fit, layout prior, edited regions) use it."""

from __future__ import annotations

import copy
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
import torch

from fklib.data import FakeMapDataset, Item, load_set, tensor_to_image
from fklib.parsing import FaceParser, load_parser, parse
from fklib.parsing import cache as pc
from conftest import read_only, tree_snapshot

SIZE = 32


@pytest.fixture(autouse=True)
def store(tmp_path, monkeypatch):
    """Every :class:`ParseCache` of a test keeps its maps in a fresh folder and starts with an empty memory."""
    folder = tmp_path / "parsing"
    monkeypatch.setattr(pc, "parse_cache_dir", lambda: folder)
    monkeypatch.delenv(pc.PARSE_CACHE_ENV, raising=False)
    pc.clear_memory()
    yield folder
    pc.clear_memory()


@pytest.fixture(scope="module")
def parser():
    """The shipped parser (the one every table uses)."""
    try:
        return load_parser()
    except FileNotFoundError as e:
        pytest.skip(str(e))


@pytest.fixture(scope="module")
def small_parser():
    """An untrained parser: its maps are as deterministic as the trained one's, and it needs no weights file."""
    torch.manual_seed(0)
    return FaceParser(pretrained=False).eval()


def random_images(n: int, seed: int = 0, size: int = SIZE) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


def no_parsing(monkeypatch):
    """From here on, a call of :func:`fklib.parsing.parse` through the cache fails the test."""
    monkeypatch.setattr(pc, "parse", lambda *a, **k: pytest.fail("parsed again instead of read back"))


def test_cached_maps_are_the_fresh_maps_bit_for_bit(parser, data_root, store, monkeypatch):
    """Real test faces as the model sees them (128 px uint8): maps parsed in other batch compositions, read from
    memory, and read from disk by a new cache (an empty memory: a new process's view) all equal one fresh parse."""
    items = [it for it in load_set("stgan", split="test") if it.label == 1][:9]
    ds = FakeMapDataset(items, size=128)
    images = np.stack([tensor_to_image(ds[i]["image"]) for i in range(len(ds))])
    images = np.concatenate([images, images[2:3]])          # the same image twice in one call
    fresh = parse(parser, images)
    # the premise: an image's map does not depend on the rest of its batch
    assert np.array_equal(fresh, np.concatenate([parse(parser, images[:1]), parse(parser, images[1:8], batch_size=3),
                                                 parse(parser, images[8:])]))
    cache = pc.ParseCache(parser)
    assert np.array_equal(cache(images[[1, 4, 7]]), fresh[[1, 4, 7]])
    out = cache(images)                                     # 6 distinct images left, parsed in one batch of 6
    assert np.array_equal(out, fresh) and out.dtype == np.uint8
    assert cache.counts == {"memory": 3, "disk": 0, "parsed": 3 + 6}
    assert len(list(store.rglob("*.npz"))) == 9             # one entry per distinct image
    no_parsing(monkeypatch)
    assert np.array_equal(cache(images), fresh) and cache.counts["memory"] == 3 + 10
    pc.clear_memory()
    again = pc.ParseCache(parser)
    assert np.array_equal(again(images), fresh)
    assert again.counts == {"memory": 1, "disk": 9, "parsed": 0}   # the repeated image: from memory once read


def test_another_process_reads_the_maps_from_disk(parser, store, tmp_path):
    """A second Python process with the same parser finds every map on disk and parses nothing."""
    images = random_images(5, 1)
    fresh = parse(parser, images)
    assert np.array_equal(pc.ParseCache(parser, folder=store)(images), fresh)
    np.save(tmp_path / "images.npy", images)
    code = textwrap.dedent(f"""
        import numpy as np
        from fklib.parsing import cache as pc, load_parser
        def fail(*a, **k):
            raise SystemExit("parsed again")
        pc.parse = fail
        cache = pc.ParseCache(load_parser(), folder={str(store)!r})
        np.save({str(tmp_path / "maps.npy")!r}, cache(np.load({str(tmp_path / "images.npy")!r})))
        assert cache.counts == {{"memory": 0, "disk": 5, "parsed": 0}}, cache.counts
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert np.array_equal(np.load(tmp_path / "maps.npy"), fresh)


def test_another_parser_or_size_misses(small_parser, store):
    images = random_images(4, 2)
    cache = pc.ParseCache(small_parser)
    cache(images)
    changed = copy.deepcopy(small_parser)
    with torch.no_grad():
        changed.head[-1].bias[3] += 0.5                     # one weight changed: another parser
    assert pc.parser_weights_sha256(changed) != pc.parser_weights_sha256(small_parser)
    other = pc.ParseCache(changed)
    assert other.state != cache.state
    assert np.array_equal(other(images), parse(changed, images)) and other.counts["parsed"] == 4
    smaller = pc.ParseCache(small_parser, size=64)
    assert np.array_equal(smaller(images), parse(small_parser, images, size=64)) and smaller.counts["parsed"] == 4
    assert len({p.parent.parent for p in store.rglob("*.npz")}) == 3   # a folder per parser state
    assert pc.ParseCache(copy.deepcopy(small_parser)).state == cache.state  # the same weights: the same entries


def test_a_broken_entry_is_parsed_again_and_replaced(small_parser, store):
    images = random_images(2, 3)
    cache = pc.ParseCache(small_parser)
    fresh = cache(images)
    for path, content in zip((cache.path(pc.image_key(images[0])), cache.path(pc.image_key(images[1]))),
                             (b"not an npz", None)):
        if content is None:   # a valid file that holds a map of another size
            with open(path, "wb") as f:
                np.savez_compressed(f, parsing=np.zeros((3, 3), np.uint8))
        else:
            path.write_bytes(content)
    pc.clear_memory()
    again = pc.ParseCache(small_parser)
    assert np.array_equal(again(images), fresh) and again.counts["parsed"] == 2
    pc.clear_memory()
    third = pc.ParseCache(small_parser)
    assert np.array_equal(third(images), fresh) and third.counts["disk"] == 2   # replaced by good entries


def test_a_read_only_cache_is_read_around(small_parser, store):
    images = random_images(3, 4)
    store.mkdir(parents=True)
    before = tree_snapshot(store)
    with read_only(store):
        cache = pc.ParseCache(small_parser)
        assert np.array_equal(cache(images), parse(small_parser, images))
        assert np.array_equal(cache(images), parse(small_parser, images))
    assert tree_snapshot(store) == before                  # nothing written
    assert cache.counts == {"memory": 3, "disk": 0, "parsed": 3}   # kept in memory instead


def test_turned_off_it_parses_every_time_and_keeps_nothing(small_parser, store, monkeypatch):
    monkeypatch.setenv(pc.PARSE_CACHE_ENV, "0")
    images = random_images(2, 5)
    cache = pc.ParseCache(small_parser)
    assert np.array_equal(cache(images), parse(small_parser, images))
    cache(images)
    assert cache.counts == {"memory": 0, "disk": 0, "parsed": 4} and not store.exists()


def test_memory_keeps_the_most_recently_used_maps_within_its_bytes():
    memory = pc._Memory(max_bytes=250)
    maps = {k: np.full((10, 10), i, np.uint8) for i, k in enumerate("abc")}  # 100 bytes each
    memory.put(("s", "a"), maps["a"])
    memory.put(("s", "b"), maps["b"])
    assert memory.get(("s", "a")) is maps["a"]             # a is now the most recent
    memory.put(("s", "c"), maps["c"])                      # 300 bytes > 250: the least recent (b) goes
    assert memory.get(("s", "b")) is None and memory.get(("s", "a")) is maps["a"] and memory.bytes == 200
    memory.put(("s", "big"), np.zeros(251, np.uint8))      # larger than the whole store: not kept
    assert memory.get(("s", "big")) is None and memory.bytes == 200


def synthetic_items(n: int, seed: int) -> list:
    """A real and a fake (a brighter square) per face, the fake's real as its reference."""
    rng = np.random.default_rng(seed)
    items = []
    for k in range(n):
        real = rng.integers(40, 200, (48, 48, 3), dtype=np.uint8)
        fake = real.copy()
        fake[8:24, 10:30] = np.clip(fake[8:24, 10:30].astype(int) + 50, 0, 255).astype(np.uint8)
        items += [Item(real, None, 0, "generic", "real", "Real", f"{seed}-{k}", f"r{k}"),
                  Item(fake, real, 1, "generic", "g", ("Bald", "Bangs")[k % 2], f"{seed}-{k}", f"f{k}")]
    return items


def test_reference_fit_layout_prior_and_edited_regions_read_the_cache(small_parser, store, monkeypatch):
    """The reference fit, the per-batch layout prior of scoring and Table 5's edited regions give the same results
    when, in a new process's view (empty memory), every map comes from disk and nothing is parsed."""
    import fklib.engine.references as R
    from fklib.engine import score_items
    from fklib.studies.face_parsing import edited_regions

    monkeypatch.setattr(R, "load_parser", lambda *a, **k: small_parser)  # the layout prior's (scoring loads it)
    train, test = synthetic_items(4, 0), synthetic_items(3, 1)

    def run():
        refs = R.fit_reference_maps(train, SIZE, parser=small_parser)
        return refs, score_items(None, test, SIZE, references=refs), edited_regions(test, SIZE, parser=small_parser)

    refs, rows, regions = run()
    assert len(list(store.rglob("*.npz"))) > 0
    pc.clear_memory()
    monkeypatch.setattr(small_parser, "forward", lambda *a: pytest.fail("parsed again instead of read back"))
    refs2, rows2, regions2 = run()
    assert refs2.layout.tables.keys() == refs.layout.tables.keys()
    for p, table in refs.layout.tables.items():
        assert np.array_equal(refs2.layout.tables[p], table)
    assert np.array_equal(refs2.layout.global_table, refs.layout.global_table)
    pd.testing.assert_frame_equal(rows2, rows, check_exact=True)
    assert (rows["predictor"] == "layout_prior").sum() == len(test)
    assert regions2.keys() == regions.keys() and all(np.array_equal(regions2[k], regions[k]) for k in regions)
