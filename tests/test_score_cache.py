"""Issue 42: an evaluation is computed once (``fklib.studies.common.score_set`` keeps its per-image rows) and read
back bit for bit; anything that could change the rows gives another entry."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from fklib import paths
from fklib.studies import common


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    folder = tmp_path / "scores"
    monkeypatch.setattr(common, "score_cache_dir", lambda: folder)
    monkeypatch.delenv(common.SCORE_CACHE_ENV, raising=False)
    return folder


def test_rows_round_trip_exactly(cache_dir):
    df = pd.DataFrame({"predictor": ["model", "zeros", "model"], "identity": ["a", "b", None],
                       "label": np.array([0, 1, 1], dtype=np.int64), "coss": [0.1 + 0.2, math.nan, 1 / 3],
                       "psnr": np.array([np.inf, 20.5, 1e-300])})
    df.attrs.update(threshold=0.6848428845405579, peak_floor=None, skipped=["x.png: bad"])
    assert common.write_scores("aaaa-1111", df) == cache_dir / "aaaa-1111.npz"
    back = common.read_scores("aaaa-1111")
    pd.testing.assert_frame_equal(back, df, check_exact=True)
    assert list(back.dtypes) == list(df.dtypes) and back.attrs == df.attrs
    assert common.read_scores("aaaa-2222") is None
    common.write_scores("aaaa-2222", df)                          # another state of the same call replaces it
    assert sorted(p.name for p in cache_dir.iterdir()) == ["aaaa-2222.npz"]
    (cache_dir / "bbbb-1111.npz").write_bytes(b"not an npz")     # a broken entry is scored again, not an error
    assert common.read_scores("bbbb-1111") is None


def test_score_set_reads_back_what_it_computed(cache_dir, data_root, monkeypatch):
    import fklib.engine.evaluate as E

    loc = common.load(paths.default_locator())
    first = common.score_set(loc, "attgan", limit=1, method="x")
    assert len(list(cache_dir.glob("*.npz"))) == 1
    monkeypatch.setattr(E, "score_items", lambda *a, **k: pytest.fail("scored again"))
    again = common.score_set(loc, "attgan", limit=1, method="x")
    pd.testing.assert_frame_equal(again, first, check_exact=True)
    assert again.attrs["threshold"] == first.attrs["threshold"]
    other = common.score_set(loc, "attgan", limit=1, method="y")  # only the constant columns differ: same entry
    assert (other["method"] == "y").all() and len(list(cache_dir.glob("*.npz"))) == 1


def test_the_key_follows_what_was_asked_and_what_it_was_computed_from(cache_dir, data_root, monkeypatch):
    loc = common.load(paths.default_locator())
    key = common.score_key(loc, "attgan", None, "test", True, 1, None)
    call, state = key.split("-")
    asked = [common.score_key(loc, "attgan", None, "test", True, 2, None),          # limit
             common.score_key(loc, "attgan", ["Bangs"], "test", True, 1, None),     # properties
             common.score_key(loc, "attgan", None, "test", False, 1, None),         # references
             common.score_key(loc, "stgan", None, "test", True, 1, None),           # set
             common.score_key(loc, "attgan", None, "val", True, 1, None)]           # split
    assert len({k.split("-")[0] for k in asked} | {call}) == 6
    assert common.score_key(loc, "attgan", None, "test", True, 1, None) == key      # the same evaluation again
    monkeypatch.setattr(common, "code_state", lambda: "edited")                   # fklib's code or a package changed
    new_call, new_state = common.score_key(loc, "attgan", None, "test", True, 1, None).split("-")
    assert new_call == call and new_state != state                               # same call, another state


def test_no_cache_when_turned_off_or_evaluation_is_a_stand_in(cache_dir, data_root, monkeypatch):
    loc = common.load(paths.default_locator())
    monkeypatch.setenv(common.SCORE_CACHE_ENV, "0")
    common.score_set(loc, "attgan", limit=1)
    assert not cache_dir.exists()
    monkeypatch.delenv(common.SCORE_CACHE_ENV)
    fake = pd.DataFrame({"predictor": ["model"], "label": [1], "coss": [0.5]})
    monkeypatch.setattr(common, "evaluate_locator", lambda *a, **k: fake.copy())  # e.g. a test's stand-in
    assert common.score_set(loc, "attgan", limit=1)["coss"].tolist() == [0.5]
    assert not cache_dir.exists()                                                # its rows are never kept


def test_model_state_follows_the_weights_buffers_and_blend():
    import torch

    from fklib.models import PriorBlend, create_model

    torch.manual_seed(0)
    a = create_model("unet_small", base=4)
    b = create_model("unet_small", base=4)
    b.load_state_dict(a.state_dict())
    assert common.model_state(a) == common.model_state(b)                # same weights: same state (a retrain too)
    with torch.no_grad():
        next(b.parameters()).view(-1)[0] += 1e-6
    assert common.model_state(a) != common.model_state(b)
    priors = torch.rand(3, 8, 8)
    blend = PriorBlend(a, priors, 0.5)
    assert common.model_state(blend) != common.model_state(a)
    assert common.model_state(blend) != common.model_state(PriorBlend(a, priors, 0.25))  # the blend's alpha
    assert common.model_state(blend) != common.model_state(PriorBlend(a, priors * 0.9, 0.5))  # its prior maps
