"""Evaluation of a checkpoint on any folder in a reader layout, with the input-blind references.

``python -m fklib evaluate --checkpoint C [--data DIR] [--set stgan|attgan|stargan|interfacegan|generic]
[--split test|val|train|all] --out FILE.csv``

One row per (predictor, image) (:func:`fklib.engine.scoring.score_items`): the model and the three
input-blind reference predictors (``zeros``, ``global_mean``, ``property_mean``; means over the
*training* fakes of the checkpoint's training sets). Columns: predictor, set, gan, property,
identity, label, source, score (mean of the predicted map), prob (classifier probability, NaN
without a classifier), pred_fake (the detection decision), and the map metrics coss, psnr, ssim,
mae, auc, f1, iou.

Conventions (as in the paper, §5.1):

- Evaluation happens at the checkpoint's resolution: image and GT map get the Dataset's
  resize (bilinear, anti-aliased); the paper evaluated at 224 px, our ``cpu`` profile at 128.
- Localization metrics are averaged over **fake** images only.
- ACC of a (GAN, property) group is measured on its fakes together with all the real images
  of the evaluated split. With a classifier the decision is ``sigmoid(logit) > 0.5``; without
  one it is ``mean(map) > t`` with ``t`` chosen on the validation split of the training sets
  (stored in the checkpoint by training). The input-blind references make no detection (ACC is
  NaN for them).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from .. import paths

from ..checkpoint import DecisionRule, LoadedLocator
from ..config import TrainConfig, resolve_device
from ..data import limit_items, load_set
from ..data.sets import folder_fingerprint, set_folder_name
from ..data.fetching import sha256_file
from ..parsing.parser import default_weights as default_parser_path
from ..files import write_atomically
from ..metrics import (MAP_METRICS, REFERENCE_KINDS, LayoutPrior, ReferenceMaps, References, choose_decision,
                       choose_threshold)
from ..metrics.classification import DETECTION_METRICS
from ..metrics.groups import group_rows
from .items import training_items
from .references import fit_reference_maps
from .scoring import MODEL, score_items

SPLITS = ("train", "val", "test", "all")


#: Fitted references per training-data key, kept for the process (a notebook evaluates one model on several sets).
_FITTED: dict[str, References] = {}


def fit_references(cfg: TrainConfig) -> References:
    """The reference predictors (:func:`fklib.engine.references.fit_reference_maps`: mean maps and the
    face-layout prior) of the training fakes of the config's training sets, at its resolution.

    Kept for the process and on disk (``data/cache/references/<key>.npz``, no pickle): the key hashes the config
    fields that choose the items (:data:`REFERENCE_KEYS`), the fingerprint of each training set's folder (the
    manifest hash of a fetched, verified set) and the face parser's weights, so a change of any of them fits
    again. A cache that cannot be written is read around."""
    base = dataclasses.replace(cfg, include_reconstruction=False)
    key = json.dumps({k: base.to_dict()[k] for k in REFERENCE_KEYS}, sort_keys=True)
    if key not in _FITTED:
        path = _reference_cache(base, key)
        if path.is_file():
            _FITTED[key] = load_references(path)
        else:
            _FITTED[key] = fit_reference_maps(training_items(base, "train"), cfg.size)
            try:
                write_atomically(path, lambda tmp: save_references(_FITTED[key], tmp))
            except OSError:  # a read-only cache: fitted again next time
                pass
    return _FITTED[key]


def _reference_cache(cfg: TrainConfig, key: str) -> Path:
    """Where the references of ``cfg``'s training items are cached (see :func:`fit_references`)."""
    h = hashlib.sha256(f"{REFERENCES_VERSION}|{key}".encode())
    for s in cfg.sets:
        folder = Path(cfg.data_dir) / set_folder_name(s) if cfg.data_dir else None
        h.update(folder_fingerprint(s, folder).encode())  # the manifest hash of a fetched, verified set
    parser = default_parser_path()
    h.update(sha256_file(parser).encode() if parser.is_file() else b"no parser")
    return paths.cache_dir() / "references" / f"{h.hexdigest()[:20]}.npz"


#: Bumped when what :func:`fit_reference_maps` computes changes (the disk cache is keyed by it).
REFERENCES_VERSION = "1"


def save_references(refs: References, path: str | Path) -> None:
    """Write ``refs`` as ``.npz`` (arrays and JSON names only; :func:`load_references` reads it back)."""
    m, lay = refs.maps, refs.layout
    arrays = {"global_mean": m.global_mean, "counts": np.array(json.dumps(m.property_counts))}
    arrays.update({f"mean__{k}": v for k, v in m.property_means.items()})
    if lay is not None:
        arrays["global_table"] = lay.global_table
        arrays.update({f"table__{k}": v for k, v in lay.tables.items()})
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def load_references(path: str | Path) -> References:
    """The :class:`~fklib.metrics.References` written by :func:`save_references`."""
    with np.load(path, allow_pickle=False) as z:
        means = {k.removeprefix("mean__"): z[k] for k in z.files if k.startswith("mean__")}
        maps = ReferenceMaps(z["global_mean"], means, json.loads(str(z["counts"])))
        layout = None
        if "global_table" in z.files:
            layout = LayoutPrior({k.removeprefix("table__"): z[k] for k in z.files if k.startswith("table__")},
                                 z["global_table"])
    return References(maps, layout)


#: The config fields that decide which training items the references are fitted on.
REFERENCE_KEYS = ("sets", "properties", "include_reals", "protocol", "data_dir", "max_items", "seed", "size")


def no_cl_threshold(model: torch.nn.Module, items, size: int, device, tta: bool = False) -> float:
    """Detection threshold on the map mean for a model without classifier, chosen on validation items
    (:func:`fklib.metrics.choose_threshold` of the maps' means and the labels)."""
    rows = score_items(model, items, size, device=device, tta=tta, metrics=())
    return float(choose_threshold(rows["score"].to_numpy(), rows["label"].to_numpy()))


def balanced_decision(model: torch.nn.Module, items, size: int, device) -> tuple[float, float | None]:
    """``(threshold, peak_floor)`` of the decision (:func:`fklib.metrics.decide`: the classifier's fake
    probability above the threshold and the map's peak above the floor) that maximises the balanced
    accuracy on validation items, balanced over their sets too (:func:`fklib.metrics.choose_decision`
    grouped by ``set``: the mean TPR over the sets' fakes, the splices a set of their own, and the
    mean TNR over the sets' reals)."""
    return decision_of_rows(score_items(model, items, size, device=device, metrics=()))


def decision_of_rows(rows: pd.DataFrame) -> tuple[float, float | None]:
    """:func:`balanced_decision` from the model's rows already scored (:func:`score_items`: ``prob``, ``peak``,
    ``label``, ``set``)."""
    return choose_decision(rows["prob"].to_numpy(), rows["peak"].to_numpy(), rows["label"].to_numpy(),
                           rows["set"].to_numpy())


def evaluation_rule(locator: LoadedLocator, device, tta: bool = False) -> DecisionRule:
    """The decision rule an evaluation applies: the locator's own (:attr:`LoadedLocator.rule`), except for a
    model without classifier whose stored threshold on the map mean is missing or does not fit ``tta``: then
    chosen again on the validation items of its training sets (:func:`no_cl_threshold`)."""
    rule, cfg = locator.rule, locator.config
    if cfg.classifier or (rule.threshold is not None and not tta):
        return rule
    return DecisionRule(False, no_cl_threshold(locator.model, training_items(cfg, "val"), cfg.size, device, tta))


def evaluate_locator(locator: LoadedLocator, set_name: str = "stgan", data: str | Path | None = None,
                     split: str = "test", batch_size: int = 64, device: str = "auto",
                     references: bool = True, tau: float = 0.1, tta: bool = False,
                     max_per_property: int | None = None, skip_bad: bool = False,
                     properties: Sequence[str] | None = None) -> pd.DataFrame:
    """Evaluate a loaded locator (:func:`fklib.checkpoint.load_trained`) on one set; one row per image and predictor.

    Args:
        locator: the model, its config and decision rule.
        set_name: reader layout of ``data`` (``stgan``, ``attgan``, ``stargan``, ``interfacegan``, ``generic``, ...).
        data: the folder (default ``data/<set folder>``).
        split: ``test``/``val``/``train`` (identities from ``results/splits.csv``) or ``all``. A
            folder that is not the fetched set has no split: use ``all``.
        references: add the input-blind reference predictors.
        tau: binarisation threshold of the GT (and prediction) for AUC/F1/IoU.
        tta: average each prediction with the one on the mirrored image.
        max_per_property: keep only the first ``n`` fakes of each property and the first ``n``
            reals (quick runs such as the ``smoke`` profile); ``None`` keeps everything.
        properties: keep only the fakes of these properties (and every real); ``None`` keeps all.
        skip_bad: evaluate the files that can be read; the others' messages are in
            ``df.attrs["skipped"]``. Without it a bad file raises (every bad file named).

    Raises:
        BadFilesError: files of ``data`` that could not be read (without ``skip_bad``).
    """
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
    if set_folder_name(set_name) is None and split != "all":
        raise ValueError("a generic folder has no split: use --split all")
    dev = resolve_device(device)
    cfg = locator.config
    skipped: list[str] | None = [] if skip_bad else None
    items = load_set(set_name, folder=data, split=None if split == "all" else split, bad_files=skipped)
    if not items:
        raise ValueError(f"no {split} images in {data or set_name} (a folder outside results/splits.csv "
                         "needs --split all)")
    if max_per_property is not None:
        items = limit_items(items, max_per_property)
    if properties is not None:  # before scoring: a few properties of a large set cost only their images
        keep = set(properties)
        items = [it for it in items if it.label == 0 or it.property in keep]
    refs = fit_references(cfg) if references else None
    rule = evaluation_rule(locator, dev, tta)
    df = score_items(locator.model, items, cfg.size, references=refs, rule=rule, batch_size=batch_size,
                     device=dev, tta=tta, tau=tau)
    df.attrs["threshold"] = rule.threshold
    df.attrs["peak_floor"] = rule.peak_floor
    df.attrs["skipped"] = skipped or []
    return df


#: The columns of :func:`summarize`: detection, the per-image map means and the map level.
SUMMARY_METRICS = (*DETECTION_METRICS, *MAP_METRICS, "level_in", "level_out")


def summarize(df: pd.DataFrame, metrics: Sequence[str] = SUMMARY_METRICS) -> pd.DataFrame:
    """Per (predictor, gan, property) table by :func:`fklib.metrics.groups.group_rows` (the one definition
    of a cell): ``n`` fakes, ``n_reals`` (the split's reals, with every group), ACC, bACC, TPR, TNR, mean map
    metrics on fakes and the map level (``level_in`` / ``level_out``: predicted over true level inside and
    outside the truth's region). The ``mean`` row of a predictor is the cell of all its fakes with the
    reals (pooled), ``property`` ``"(all properties)"``."""
    if df.empty:
        return pd.DataFrame()
    long = group_rows(df, by=["gan", "property"], metrics=list(metrics), add_mean=True)
    keys = ["predictor", "gan", "property", "n", "n_reals"]
    long = long.assign(_row=long.groupby(keys, sort=False).ngroup())
    table = long.set_index(["_row", "metric"])["value"].unstack("metric")
    table = long.drop_duplicates("_row").set_index("_row")[keys].join(table)[[*keys, *metrics]].reset_index(drop=True)
    table.columns.name = None
    table.loc[table["gan"] == "mean", "property"] = "(all properties)"
    return table


def summary_means(df: pd.DataFrame, metrics=("acc", "coss", "psnr", "ssim", "auc", "f1", "iou")) -> dict:
    """The ``mean`` row of :func:`summarize` per predictor (all fakes with the reals; 4 decimals; None for NaN)."""
    s = summarize(df)
    rows = s[s["gan"] == "mean"].set_index("predictor")
    return {p: {k: (None if math.isnan(rows.loc[p, k]) else round(float(rows.loc[p, k]), 4)) for k in metrics}
            for p in rows.index}


def side_by_side(summary: pd.DataFrame, metrics=("bacc", "tpr", "tnr", "acc", "coss", "psnr", "ssim", "auc",
                                                 "level_in", "level_out")
                 ) -> pd.DataFrame:
    """Wide view: one row per (gan, property), columns ``<metric>/<predictor>``."""
    wide = summary.pivot_table(index=["gan", "property"], columns="predictor", values=list(metrics), sort=False)
    order = [p for p in (MODEL, *REFERENCE_KINDS) if p in summary["predictor"].unique()]
    wide = wide.reindex(columns=[(m, p) for m in metrics for p in order])
    wide.columns = [f"{m}/{p}" for m, p in wide.columns]
    return wide

