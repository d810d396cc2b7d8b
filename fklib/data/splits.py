"""Identity-disjoint train/val/test splits, written once to ``results/splits.csv``.

The identities come from the shipped manifest, so the splits do not depend on what has been
fetched. Every later step reads the CSV; :func:`ensure_splits` writes it only when it is
missing and otherwise checks that it still matches the manifest.

Sizes (seeded permutation, ``numpy.random.default_rng(seed)``):

- ``stgan_celeba128``: 167 CelebA identities -> 100 train / 20 val / 47 test.
- ``attgan_celeba128``: 13 rows -> all test (too small to train on; cross-GAN test only).
- ``stargan_disrupted256``: 200 strips -> 60% / 10% / 30%.
- ``interfacegan_celebahq256``: reals and fakes split separately, 60% / 10% / 30%.
- ``stargan_celeba128``: 1,839 grid rows (``<n>-<row>``) -> 60% / 10% / 30% (1103 / 184 / 552).
- ``attgan_attentiongan_celeba128``: 900 raw CelebA faces (``n``) -> 60% / 10% / 30% (540 / 90 / 270);
  a face's reals and its AttGAN and AttentionGAN edits share its split.

"Disjoint" means disjoint *images* for the CelebA sets: CelebA has about 20 photos per person and no
identity file is available here, so one person may appear, in another photo, in two splits (or in two
sets). The STGAN strips are CelebA test images, StarGAN's rows come from its own test selection and the
AttGAN/AttentionGAN faces are CelebA images 1..1000: a test number is over unseen photos, not always
unseen persons.

The file is written once. When the manifest gains a whole set (a new data set), its rows are appended
(:func:`ensure_splits`); the rows of the sets already there never change (every set draws from its own
seeded generator, so adding a set does not move another's identities).

The paper trained on the reals of some persons and the fakes of *other* persons
(§5.1); :func:`paper_protocol` divides a list of training identities that way.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import paths
from ..files import write_atomically
from .fetching import load_manifest
from .readers import ATTGAN_ROWS, stargan128_rows

SPLITS = ("train", "val", "test")
#: The sets in the order of the split file: the sets it was first written with, then the sets added since.
SET_ORDER = ("stgan_celeba128", "stargan_disrupted256", "interfacegan_celebahq256", "attgan_celeba128",
             "stargan_celeba128", "attgan_attentiongan_celeba128")
STGAN_COUNTS = {"train": 100, "val": 20}          # the rest (47) is test
FRACTIONS = {"train": 0.6, "val": 0.1}            # the rest is test
DEFAULT_SEED = 0


def set_identities(manifest: dict[str, str] | None = None) -> dict[str, list[str]]:
    """Identities per set, from the manifest (sorted)."""
    manifest = load_manifest() if manifest is None else manifest
    out: dict[str, list[str]] = {"stgan_celeba128": [], "stargan_disrupted256": [], "interfacegan_celebahq256": [],
                                 "stargan_celeba128": [], "attgan_attentiongan_celeba128": []}
    for rel in manifest:
        name = Path(rel).name
        if rel.startswith("stargan_celeba128/results/"):
            n = int(name.split("-")[0])
            out["stargan_celeba128"] += [f"{n}-{r:02d}" for r in range(stargan128_rows(n))]
        elif rel.startswith("attgan_attentiongan_celeba128/testData/images/"):
            out["attgan_attentiongan_celeba128"].append(str(int(Path(name).stem)))
        elif rel.startswith("stgan_celeba128/strips/"):
            out["stgan_celeba128"].append(Path(name).stem)
        elif rel.startswith("stargan_disrupted256/strips/"):
            out["stargan_disrupted256"].append(name.split("-")[0])
        elif rel.startswith("interfacegan_celebahq256/real/") or rel.startswith("interfacegan_celebahq256/fake/"):
            out["interfacegan_celebahq256"].append(f"{rel.split('/')[1]}/{Path(name).stem}")
    if any(rel.startswith("attgan_celeba128/") for rel in manifest):
        out["attgan_celeba128"] = [f"attgan_row{r:02d}" for r in range(ATTGAN_ROWS)]
    return {k: sorted(out[k]) for k in SET_ORDER if out.get(k)}


def _assign(ids: list[str], rng: np.random.Generator, counts: dict[str, int]) -> dict[str, str]:
    order = [ids[i] for i in rng.permutation(len(ids))]
    out, start = {}, 0
    for split in ("train", "val"):
        for ident in order[start:start + counts[split]]:
            out[ident] = split
        start += counts[split]
    for ident in order[start:]:
        out[ident] = "test"
    return out


def _counts(n: int) -> dict[str, int]:
    return {s: int(round(f * n)) for s, f in FRACTIONS.items()}


def make_splits(seed: int = DEFAULT_SEED, manifest: dict[str, str] | None = None) -> pd.DataFrame:
    """Build the split table (columns ``set, identity, split``) deterministically from ``seed``."""
    rows = []
    for set_name, ids in set_identities(manifest).items():
        rng = np.random.default_rng([seed, sum(map(ord, set_name))])
        if set_name == "attgan_celeba128":
            assigned = {i: "test" for i in ids}
        elif set_name == "stgan_celeba128":
            counts = dict(STGAN_COUNTS) if len(ids) > sum(STGAN_COUNTS.values()) else _counts(len(ids))
            assigned = _assign(ids, rng, counts)
        elif set_name == "interfacegan_celebahq256":
            assigned = {}
            for kind in ("real", "fake"):
                group = [i for i in ids if i.startswith(kind + "/")]
                assigned.update(_assign(group, rng, _counts(len(group))))
        else:
            assigned = _assign(ids, rng, _counts(len(ids)))
        rows += [(set_name, ident, assigned[ident]) for ident in ids]
    import pandas as pd  # lazy: `locate` imports this module without pandas

    return pd.DataFrame(rows, columns=["set", "identity", "split"])


def default_splits_path() -> Path:
    return paths.splits_file()


def read_splits(path: str | Path | None = None) -> pd.DataFrame:
    """Read a split CSV (``set, identity, split``), checking its columns and values."""
    path = Path(path) if path is not None else default_splits_path()
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no split file; run `python -m fklib.data splits` to write it")
    import pandas as pd  # lazy: `locate` imports this module without pandas

    df = pd.read_csv(path, dtype=str)
    missing = {"set", "identity", "split"} - set(df.columns)
    if missing:
        raise ValueError(f"{path}: missing column(s) {sorted(missing)}")
    bad = sorted(set(df["split"]) - set(SPLITS))
    if bad:
        raise ValueError(f"{path}: unknown split value(s) {bad}; expected {SPLITS}")
    if df.duplicated(["set", "identity"]).any():
        raise ValueError(f"{path}: an identity appears twice in one set")
    return df


def ensure_splits(path: str | Path | None = None, seed: int = DEFAULT_SEED) -> pd.DataFrame:
    """Return the split table, writing it (atomically) only if ``path`` does not exist yet.

    An existing file's rows are never changed: it must cover exactly the manifest's identities of the
    sets it holds; sets of the manifest that it lacks entirely (a data set added since) are appended.
    """
    import pandas as pd  # lazy: `locate` imports this module without pandas

    path = Path(path) if path is not None else default_splits_path()
    expected = make_splits(seed)
    if path.exists():
        df = read_splits(path)
        known = set(df["set"])
        have = set(zip(df["set"], df["identity"]))
        want = {(s, i) for s, i in zip(expected["set"], expected["identity"]) if s in known}
        if have != want:
            raise ValueError(f"{path}: its identities differ from the data manifest "
                             f"({len(have - want)} extra, {len(want - have)} missing); move it aside to rebuild")
        new = expected[~expected["set"].isin(known)]
        if new.empty:
            return df
        df = pd.concat([df, new], ignore_index=True)
    else:
        df = expected
    write_atomically(path, lambda tmp: df.to_csv(tmp, index=False))
    return df


def identities(split: str, set_name: str = "stgan_celeba128", table: pd.DataFrame | None = None) -> list[str]:
    """Identities of one split of one set (from ``results/splits.csv`` unless ``table`` is given)."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
    table = read_splits() if table is None else table
    sel = table[(table["set"] == set_name) & (table["split"] == split)]
    return sorted(sel["identity"].tolist())


def paper_protocol(train_ids: list[str], seed: int = DEFAULT_SEED) -> tuple[list[str], list[str]]:
    """The paper's training protocol: reals from one half of the persons, fakes from the other.

    Returns ``(real_ids, fake_ids)``, disjoint, together ``train_ids``.
    """
    ids = sorted(train_ids)
    order = [ids[i] for i in np.random.default_rng(seed).permutation(len(ids))]
    half = len(order) // 2
    return sorted(order[:half]), sorted(order[half:])
