"""The typed paper numbers against the paper itself: the test parses the paper's tables on its own
and checks every value of ``fklib.report.paper`` against the cell it came from, and no cell is missed."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from fklib import paths
from fklib.report import paper


def paper_md() -> Path:
    """``<mirror>/../paper/fakelocator.md``: the same path convention as the data mirror."""
    return paths.mirror_dir().parent / "paper" / "fakelocator.md"


def parse_tables(text: str) -> dict[int, list[list[str]]]:
    """Every ``Table N:`` caption -> its block of tab-separated lines (cells stripped)."""
    lines = text.splitlines()
    tables: dict[int, list[list[str]]] = {}
    for i, line in enumerate(lines):
        m = re.match(r"Table (\d+):", line.strip())
        if not m:
            continue
        j = i + 1
        while j < len(lines) and not lines[j].strip():
            j += 1
        block = []
        while j < len(lines) and "\t" in lines[j]:
            block.append([c.strip() for c in lines[j].split("\t")])
            j += 1
        tables[int(m.group(1))] = block
    return tables


def cells(block: list[list[str]], n: int) -> dict[tuple[str, str], str]:
    """(column label, row label) -> cell text. Tables 3-5 have a spanning group row above the
    column row: its labels are forward-filled and joined with " / " ("StyleGAN / Smile")."""
    out = {}
    if n == 2:
        header, rows = block[0], block[1:]
        for row in rows:
            for col, text in zip(header[1:], row[1:], strict=True):
                out[(row[0], col)] = text
        return out
    groups, subs, rows = block[0], block[1], block[2:]
    filled, current = [], ""
    for g in groups:
        current = g or current
        filled.append(current)
    labels = [f"{g} / {s}" for g, s in zip(filled[1:], subs[1:], strict=True)]
    for row in rows:
        for label, text in zip(labels, row[1:], strict=True):
            out[(label, row[0])] = text
    return out


def is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


@pytest.fixture(scope="module")
def md_text() -> str:
    path = paper_md()
    if not path.is_file():
        pytest.skip(f"{path}: the paper's text is not here (it sits beside the data mirror, "
                    "<mirror>/../paper/fakelocator.md)")
    return path.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def md_tables(md_text):
    return parse_tables(md_text)


@pytest.mark.parametrize("n", paper.TABLES)
def test_every_typed_value_matches_its_cell(md_tables, n):
    table = cells(md_tables[n], n)
    typed = paper.paper_table(n)
    assert not typed.empty
    for row in typed.itertuples():
        key = (row.paper_label, row.metric.upper())
        assert key in table, f"Table {n}: no cell {key} in the paper"
        assert float(table[key]) == row.value, f"Table {n} {key}: paper {table[key]}, typed {row.value}"
    # every number of the paper's table is typed exactly once; the only other cell is "\" (Table 2)
    numeric = {k for k, v in table.items() if is_number(v)}
    typed_keys = [(r.paper_label, r.metric.upper()) for r in typed.itertuples()]
    assert len(typed_keys) == len(set(typed_keys))
    assert set(typed_keys) == numeric
    assert {v for v in table.values() if not is_number(v)} <= {"\\"}


def test_captions_match(md_text):
    for n, caption in paper.CAPTIONS.items():
        assert f"Table {n}: {caption}" in md_text


def test_table1_properties_match(md_tables):
    block = md_tables[1]
    found: dict[str, set[str]] = {}
    sources: dict[str, str] = {}
    for heads, props in zip(block[0::2], block[1::2], strict=True):
        for head, prop_text in zip(heads, props, strict=True):
            for entry in head.split(", "):
                m = re.fullmatch(r"(\w+) \((\w+)\)", entry)
                assert m, entry
                gan = paper.GAN_NAMES[m.group(1)]
                sources[gan] = m.group(2)
                found.setdefault(gan, set()).update(p.strip() for p in prop_text.split(","))
    assert found == {g: set(p) for g, p in paper.PAPER_PROPERTIES.items()}
    assert sources == paper.PAPER_SOURCES


def test_settings_are_the_papers(md_text):
    s = paper.PAPER_SETTINGS
    text = " ".join(md_text.split())
    assert "resized all the input images to this size" in text and f"{s['size']}x{s['size']}" in text
    assert "Deeplabv3-ResNet101" in text and s["backbone"] == "DeepLabV3-ResNet101"
    assert f"we train for {s['epochs']} iterations" in text
    assert r"\alpha = 0.0001" in text and s["lr"] == 0.0001
    assert r"\beta_1 = 0.99" in text and r"\beta_2 = 0.999" in text and s["betas"] == (0.99, 0.999)
    assert "weight decay = 10^{-7}" in text and s["weight_decay"] == 1e-7
    assert f"minibatch size of every training and validation dataset is {s['batch_size']}" in text
    assert "5,000 persons' real images and fake images of other different 5,000 persons" in text
    assert s["train_fakes_per_property"] == s["train_reals_per_property"] == 5000
    assert "we use 1,000 real images and 1,000 fake images" in text and s["test_fakes"] == s["test_reals"] == 1000
    assert "supports 2,000 fake images" in text and s["universal_fakes_per_category"] == 2000
    assert "64,000 fake images and 64,000 real images" in text
    assert s["universal_train_fakes"] == s["universal_train_reals"] == 64000
    # 2,000 per category x the 32 (GAN, property) categories of Table 1 = 64,000
    n_categories = sum(len(p) for p in paper.PAPER_PROPERTIES.values())
    assert n_categories * s["universal_fakes_per_category"] == s["universal_train_fakes"]
    assert "on 1,000 fake images" in text and s["degradation_test_fakes"] == 1000
    assert "299x299 obtains an attention map of size 19x19" in text


def test_names_are_ours():
    """Hand-checked cells: the paper's labels land on our spelling."""
    assert paper.paper_value(3, "psnr", gan="stylegan", property="Mouth_Slightly_Open") == 22.68   # StyleGAN Smile
    assert paper.paper_value(3, "coss", gan="stargan", property="Young") == 0.8494                 # StarGAN Age
    assert paper.paper_value(3, "acc", gan="stylegan2", property="Entire") == 0.855
    assert paper.paper_value(3, "ssim", gan="stylegan", property="Entire") == 0.8268
    assert paper.paper_value(2, "psnr", method="dffd_baseline") == 5.17
    assert math.isnan(paper.paper_value(2, "acc", method="l1_no_cl"))                               # printed "\"
    assert paper.paper_value(4, "coss", train_property="Mouth_Slightly_Open", gan="stylegan", property="Young") == 0.3141
    assert paper.paper_value(4, "acc", train_property="Bald", gan="attgan", property="Black_Hair") == 0.513
    assert paper.paper_value(5, "acc", property="Mouth_Slightly_Open", method="with_fp") == 0.752
    assert paper.paper_value(5, "psnr", property="Black_Hair", method="no_fp") == 28.270
    t5 = paper.paper_table(5)
    assert set(t5["train_property"]) == {"Blond_Hair"} and set(t5["gan"]) == {"stgan"}
    t4 = paper.paper_table(4)
    assert set(t4.loc[t4["gan"] == "attgan", "train_property"]) == {"Bald"}
    assert set(t4.loc[t4["gan"] == "stylegan", "train_property"]) == {"Mouth_Slightly_Open"}
    # Table 4's gray STGAN Bald column is the L1 model of Table 2
    for metric in paper.METRICS:
        assert paper.paper_value(4, metric, gan="stgan", property="Bald") == paper.paper_value(2, metric, method="l1")


def test_table3_cells_are_table1_categories():
    t3 = paper.paper_table(3)
    for label in set(t3["paper_label"]):
        gan, prop = label.split(" / ")
        assert prop in paper.PAPER_PROPERTIES[paper.GAN_NAMES[gan]], label


def test_layout_and_errors():
    for n in paper.TABLES:
        df = paper.paper_table(n)
        assert list(df.columns) == ["table", *paper.TABLE_KEYS[n], "metric", "value", "paper_label"]
        assert set(df["metric"]) <= set(paper.METRICS) and df["value"].notna().all()
        assert df.duplicated([*paper.TABLE_KEYS[n], "metric"]).sum() == 0
        acc = df.loc[df["metric"].isin(["acc", "coss", "ssim"]), "value"]
        assert ((acc >= 0) & (acc <= 1)).all()                      # fractions, not percentages
    assert len(paper.paper_tables()) == sum(len(paper.paper_table(n)) for n in paper.TABLES)
    first = paper.paper_table(3)
    first.loc[0, "value"] = -1                                       # a fresh frame each call
    assert paper.paper_table(3).loc[0, "value"] != -1
    with pytest.raises(ValueError, match="numeric tables"):
        paper.paper_table(1)
    with pytest.raises(ValueError, match="2 cells"):
        paper.paper_value(4, "acc", property="Bald")
    with pytest.raises(ValueError, match="keys"):
        paper.paper_value(3, "acc", method="l1")
    assert math.isnan(paper.paper_value(3, "acc", gan="stgan", property="Young"))
