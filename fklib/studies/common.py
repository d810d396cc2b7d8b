"""What the studies share: the profiles' models (universal, single-property) and the evaluation they report.

Profiles (the notebooks' ``profile`` parameter; ``python -m fklib.pipeline --profile``):

- ``smoke``: proves the pipeline runs (tiny from-scratch U-Net, 64 px, 1 epoch, capped data);
  its numbers mean nothing.
- ``cpu`` (default): the universal model of :data:`fklib.config.PROFILES` ``["cpu"]`` and
  single-property models (Tables 2, 4, 5) with the same EfficientNet-Lite0 U-Net at 128 px, a
  shorter schedule (the profile's ``single_epochs``), on 2 CPU cores.
- ``paper``: the paper's settings (DeepLabV3-ResNet101, 224 px, Adam 1e-4, 10 epochs) on a GPU.

Every model is trained on the training identities of ``results/splits.csv`` and reported on
the test identities; a checkpoint whose config matches is reused (:func:`fklib.studies.cache.ensure_trained`).

Scores are computed once (:func:`score_set`): the per-image rows of a (model, set, split, properties, limit,
references) evaluation are kept in ``data/cache/scores/`` and read back -- the same numbers, bit for bit -- when the
same evaluation is asked again (another notebook, the card, a rerun), as long as nothing that could change them
changed: the network's tensors and decision rule, the data, the splits, the face parser, the installed packages and
the code of ``fklib`` (:func:`score_key`). ``FKLIB_SCORE_CACHE=0`` scores every time.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from .. import paths
from ..config import PLAIN_DATA, TrainConfig, check_profile, make_config, resolve_device
from .profiles import eval_limit, study_profile  # noqa: F401 - eval_limit: the notebooks call common.eval_limit
from ..data import ensure_splice_set
from ..data.fetching import sha256_file
from ..data.sets import folder_fingerprint
from ..checkpoint import LoadedLocator, load_trained
from ..engine import evaluate as _engine_evaluate
from ..engine import evaluate_locator
from ..engine.evaluate import REFERENCE_KEYS
from ..files import json_safe, savez_atomically

#: The single-property models' budget rule (the same for every loss, the DFFD baseline included): all
#: the profile's ``single_epochs`` (:class:`fklib.studies.profiles.StudyProfile`), the best validation epoch's weights kept. No early stopping: with 100 training fakes the
#: validation score is noisy and the classifier learns late, so a patience of 3 stopped the Table 5 models at
#: epochs 4-5 with their best weights from epochs 1-2 and every classifier collapsed (measured at 9cfc779).
SINGLE_PATIENCE = None
#: Short run names of the properties the tables train on.
_SHORT = {"Bald": "bald", "Mouth_Slightly_Open": "smile", "Blond_Hair": "blond"}


def universal_config(profile: str) -> TrainConfig:
    """The universal model of ``profile`` (:data:`fklib.config.PROFILES`)."""
    return make_config(profile)


def single_config(profile: str, prop: str, loss: str = "l1", classifier: bool = True, attention: bool = False,
                  name: str | None = None) -> TrainConfig:
    """A model trained on STGAN fakes of one property (+ the training reals), as in Tables 2, 4 and 5.

    Starts from ``profile`` and removes what is specific to the universal model (property head,
    prior blend, the noise stream, and :data:`fklib.config.PLAIN_DATA`: reconstructions, splices,
    degradations, set balancing); classifier weight 1 (balanced), all the profile's ``single_epochs`` (the best validation
    epoch's weights kept; :data:`SINGLE_PATIENCE`), the decision at p(fake) > 0.5 as in the paper.

    With the EfficientNet U-Net (``cpu``): batch 8 (the paper's) and ``map_prior=0.05`` (the
    untrained map starts near the GT level instead of 0.5). Chosen on the validation split
    (STGAN Bald, L1, 12 epochs): batch 16 with PyTorch's init reached val COSS 0.789, PSNR 19.7,
    SSIM 0.366 -- still climbing, below the input-blind mean map; batch 8 + ``map_prior`` reached
    0.852, 26.2, 0.691 for about the same compute.
    """
    check_profile(profile)
    tag = name or "_".join([_SHORT.get(prop, prop.lower()), loss, *([] if classifier else ["nocl"]),
                            *(["fp"] if attention else [])])
    over = dict(name=f"{profile}_{tag}", properties=[prop], sets=["stgan"], loss=loss, classifier=classifier,
                cls_weight=1.0, balance_classes=True, property_weight=0.0, prior_blend=False,
                attention=attention, epochs=study_profile(profile).single_epochs, patience=SINGLE_PATIENCE, balanced_decision=False,
                **PLAIN_DATA, **study_profile(profile).scratch)
    over.update(study_profile(profile).single_model)
    return make_config(profile, overrides=over)


def score_set(locator: LoadedLocator, set_name: str = "stgan", properties=None, split: str = "test",
             references: bool = True, limit: int | None = None, splices: str | None = None, **keys) -> pd.DataFrame:
    """Per-image rows of :func:`fklib.engine.evaluate_locator`, keeping the fakes of ``properties``
    (all when ``None``) and every real; ``keys`` are added as constant columns (e.g. ``method="l1"``).
    ``limit``: at most this many images per property (see :func:`eval_limit`). ``splices``: a fixed
    splice set (:data:`fklib.data.SPLICE_SETS`, e.g. ``stgan_test``) instead of ``set_name`` / ``split``;
    its rows get ``set = "splices/<name>"`` (its reals are its own, for ACC).

    Computed once: the rows are kept in the score cache (:func:`score_key`, module doc) and read back when the
    same evaluation is asked again."""
    folder = ensure_splice_set(splices) if splices is not None else None
    key = (score_key(locator, set_name, properties, split, references, limit, splices, folder)
           if score_cache_on() and evaluate_locator is _engine_evaluate.evaluate_locator else None)  # not a stand-in
    df = read_scores(key) if key is not None else None
    if df is None:
        if splices is not None:
            df = evaluate_locator(locator, "generic", folder, split="all",
                                  references=references, device="auto", max_per_property=limit, properties=properties)
            df = df.assign(set=f"splices/{splices}")
        else:
            df = evaluate_locator(locator, set_name, split=split, references=references, device="auto",
                                  max_per_property=limit, properties=properties)
        if key is not None:
            write_scores(key, df)
    return df.assign(**keys).reset_index(drop=True)


# --- the score cache ------------------------------------------------------------------------------------------------

#: Environment variable: ``0`` turns the score cache off (every :func:`score_set` scores).
SCORE_CACHE_ENV = "FKLIB_SCORE_CACHE"
#: Bumped when what the cache stores changes.
SCORE_CACHE_VERSION = "1"
#: Folders of ``fklib`` whose code cannot change a score (tables and figures are made from the rows, not the rows).
_NOT_SCORING = ("report",)


def score_cache_on() -> bool:
    """Whether :func:`score_set` keeps and reads rows (:data:`SCORE_CACHE_ENV` is not ``0``)."""
    return os.environ.get(SCORE_CACHE_ENV, "1") != "0"


def score_cache_dir() -> Path:
    """``data/cache/scores``: the per-image rows of :func:`score_set` (see :func:`score_key`)."""
    return paths.cache_dir() / "scores"


@functools.lru_cache(maxsize=1)
def code_state() -> str:
    """SHA-256 (16 hex digits) of what, besides the data and the checkpoint, can change a score: every ``.py`` of
    ``fklib`` (but :data:`_NOT_SCORING`) and the name and version of every installed package."""
    h = hashlib.sha256()
    root = Path(__file__).resolve().parents[1]
    for f in sorted(root.rglob("*.py")):
        rel = f.relative_to(root)
        if rel.parts[0] not in _NOT_SCORING:
            h.update(rel.as_posix().encode() + b"\0" + f.read_bytes() + b"\0")
    for name, version in sorted((d.metadata["Name"] or "", d.version) for d in importlib.metadata.distributions()):
        h.update(f"{name}=={version}\n".encode())
    return h.hexdigest()[:16]


def _sha(path: Path) -> str:
    return sha256_file(path) if path.is_file() else "missing"


def model_state(model) -> str:
    """SHA-256 (16 hex digits) of what a network computes with: its class, every tensor of its ``state_dict``
    (weights, buffers such as prior maps) and the float attributes of its modules (e.g. a prior blend's ``alpha``).
    A retrained checkpoint with the same weights has the same state."""
    h = hashlib.sha256(type(model).__name__.encode())
    for name, tensor in sorted(model.state_dict().items()):
        t = tensor.detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}".encode())
        h.update(t.numpy().tobytes() if t.dtype != torch.bfloat16 else t.float().numpy().tobytes())
    for name, module in sorted(model.named_modules()):
        floats = {k: v for k, v in vars(module).items() if isinstance(v, float)}
        if floats:
            h.update(f"{name}|{sorted(floats.items())}".encode())
    return h.hexdigest()[:16]


def score_key(locator: LoadedLocator, set_name: str, properties, split: str, references: bool, limit: int | None,
              splices: str | None, folder: Path | None = None) -> str:
    """The cache name of one :func:`score_set` evaluation: ``<call>-<state>``. ``call`` (16 hex digits) hashes what
    was asked (the network, :func:`model_state`; its decision rule and config; the set or splice set, split,
    properties, limit, references); ``state`` (16) hashes what it was computed from: the data folder's fingerprint
    (:func:`fklib.data.sets.folder_fingerprint`; ``folder``: the splice set's), ``results/splits.csv``, the reference
    fit's inputs (its config fields, training sets and the face parser) when ``references``, the device, and
    :func:`code_state`. A new state replaces the old entry of the same call (:func:`write_scores`)."""
    from ..parsing.parser import default_weights  # lazy: the parser package loads its network code

    cfg = locator.config.to_dict()
    call = {"v": SCORE_CACHE_VERSION, "model": model_state(locator.model), "rule": repr(locator.rule), "config": cfg,
            "set": set_name if splices is None else f"splices/{splices}", "split": split if splices is None else "all",
            "properties": None if properties is None else list(properties), "limit": limit,
            "references": bool(references)}
    state = {"data": folder_fingerprint("generic", folder) if splices is not None else folder_fingerprint(set_name),
             "splits": _sha(paths.splits_file()), "device": str(resolve_device("auto")), "code": code_state()}
    if references:
        state["reference_fit"] = {"config": {k: cfg.get(k) for k in REFERENCE_KEYS},
                                  "sets": [folder_fingerprint(s) for s in locator.config.sets],
                                  "parser": _sha(default_weights())}
    digest = lambda d: hashlib.sha256(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()[:16]  # noqa: E731
    return f"{digest(call)}-{digest(state)}"


def write_scores(key: str, df: pd.DataFrame) -> Path | None:
    """Keep ``df`` (per-image rows) under ``key`` (:func:`score_key`) as ``.npz`` without pickle: numeric columns
    as arrays, the others as JSON lists, the dtypes and ``attrs`` as JSON. Entries of the same call made from another
    state are removed. A cache that cannot be written (or rows JSON cannot hold) is skipped (``None``)."""
    arrays, kinds = {}, {}
    folder = score_cache_dir()
    try:
        for i, col in enumerate(df.columns):
            kinds[col] = str(df[col].dtype)
            if pd.api.types.is_numeric_dtype(df[col]) and not pd.api.types.is_bool_dtype(df[col]):
                arrays[f"c{i}"] = df[col].to_numpy()
            else:
                arrays[f"c{i}"] = np.array(json.dumps([None if pd.isna(v) else v for v in df[col].tolist()]))
        arrays["meta"] = np.array(json.dumps({"columns": list(df.columns), "dtypes": kinds,
                                              "attrs": json_safe(dict(df.attrs))}))
        path = savez_atomically(folder / f"{key}.npz", **arrays)
        call = key.split("-")[0]
        for old in folder.glob(f"{call}-*.npz"):
            if old != path:
                old.unlink(missing_ok=True)
    except (OSError, TypeError, ValueError):  # not writable, or a value JSON cannot hold: scored again next time
        return None
    return path


def read_scores(key: str) -> pd.DataFrame | None:
    """The rows :func:`write_scores` kept under ``key``, with their dtypes and ``attrs``; ``None`` when there are none
    (or the entry cannot be read)."""
    path = score_cache_dir() / f"{key}.npz"
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            data = {}
            for i, col in enumerate(meta["columns"]):
                arr = z[f"c{i}"]
                data[col] = json.loads(str(arr)) if arr.dtype.kind == "U" and arr.ndim == 0 else arr
    except (OSError, ValueError, KeyError):
        return None
    df = pd.DataFrame(data, columns=meta["columns"])
    for col, kind in meta["dtypes"].items():
        if str(df[col].dtype) != kind:
            df[col] = df[col].astype(kind)
    df.attrs.update(meta["attrs"])
    return df


def load(checkpoints):
    """The checkpoint(s) loaded once (:func:`fklib.checkpoint.load_trained`): a path gives a
    :class:`~fklib.checkpoint.LoadedLocator`, a dict of paths a dict of them (the notebooks load their models here)."""
    if isinstance(checkpoints, dict):
        return {k: load_trained(v) for k, v in checkpoints.items()}
    return load_trained(checkpoints)
