"""Splits: seeded, identity-disjoint, written once, and the committed CSV is the seeded one."""

import pandas as pd
import pytest

from fklib import paths
from fklib.data import ensure_splits, identities, make_splits, paper_protocol, read_splits


def test_splits_are_deterministic_and_disjoint():
    a, b = make_splits(0), make_splits(0)
    pd.testing.assert_frame_equal(a, b)
    assert not make_splits(1).equals(a)
    assert not a.duplicated(["set", "identity"]).any()      # each identity in exactly one split


def test_split_sizes():
    df = make_splits(0)
    counts = df.groupby(["set", "split"]).size().to_dict()
    assert (counts[("stgan_celeba128", "train")], counts[("stgan_celeba128", "val")],
            counts[("stgan_celeba128", "test")]) == (100, 20, 47)
    assert counts[("attgan_celeba128", "test")] == 13 and ("attgan_celeba128", "train") not in counts
    assert sum(v for (s, _), v in counts.items() if s == "stargan_disrupted256") == 200
    ig = df[df["set"] == "interfacegan_celebahq256"]
    assert len(ig) == 548
    for kind, total in (("real/", 148), ("fake/", 400)):      # reals and fakes split separately
        part = ig[ig["identity"].str.startswith(kind)]
        assert len(part) == total and set(part["split"]) == {"train", "val", "test"}


def test_committed_split_file_is_the_seeded_one():
    committed = read_splits(paths.results_dir() / "splits.csv")
    pd.testing.assert_frame_equal(committed.reset_index(drop=True), make_splits(0).astype(str))


def test_ensure_splits_writes_once_and_never_overwrites(tmp_path):
    path = tmp_path / "splits.csv"
    df = ensure_splits(path)
    assert path.is_file() and len(df) == len(make_splits(0))
    edited = df.copy()
    edited.loc[edited["set"] == "stgan_celeba128", "split"] = "train"
    edited.to_csv(path, index=False)
    kept = ensure_splits(path)                      # same identities: the user's file is kept as is
    assert (kept[kept["set"] == "stgan_celeba128"]["split"] == "train").all()
    edited.iloc[:-1].to_csv(path, index=False)
    before = path.read_text()
    with pytest.raises(ValueError, match="differ from the data manifest"):
        ensure_splits(path)
    assert path.read_text() == before


def test_read_splits_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothere.csv"):
        read_splits(tmp_path / "nothere.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("set,identity,split\nstgan_celeba128,1,holdout\n")
    with pytest.raises(ValueError, match="holdout"):
        read_splits(bad)


def test_identities_and_paper_protocol():
    table = make_splits(0)
    train = identities("train", table=table)
    test = identities("test", table=table)
    assert len(train) == 100 and not set(train) & set(test)
    reals, fakes = paper_protocol(train)
    assert not set(reals) & set(fakes) and sorted(reals + fakes) == sorted(train)
    assert abs(len(reals) - len(fakes)) <= 1
    with pytest.raises(ValueError, match="unknown split"):
        identities("holdout", table=table)
