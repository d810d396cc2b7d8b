"""The items a config trains and validates on: its sets, properties, reals, protocol and caps."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..config import TrainConfig
from ..data import ensure_splice_set, load_set, paper_protocol
from ..data.sets import set_folder_name


def _keep(items, cfg: TrainConfig, split_ids: tuple[set, set] | None = None) -> list:
    """Reals when ``cfg.include_reals``, fakes of ``cfg.properties``; with ``split_ids`` = (real ids,
    fake ids) of the paper protocol, each kind only from its own persons."""
    out = []
    for it in items:
        if it.label == 0:
            if not cfg.include_reals:
                continue
            if split_ids is not None and it.identity not in split_ids[0]:
                continue
        else:
            if cfg.properties is not None and it.property not in cfg.properties:
                continue
            if split_ids is not None and it.identity not in split_ids[1]:
                continue
        out.append(it)
    return out


def training_items(cfg: TrainConfig, split: str = "train") -> list:
    """The items of a split for this config (properties, reals, protocol and caps applied).

    Per set of ``cfg.sets``: :func:`fklib.data.load_set` of the split (reconstructions only in
    ``train`` with ``include_reconstruction``); with ``protocol="paper"`` the training reals and
    fakes come from disjoint halves of the persons (:func:`fklib.data.paper_protocol`); then at
    most ``max_items`` (``train``) or ``val_max_items`` (other splits) items per set, a seeded
    draw kept in order. The ``val`` split also gets the fakes of ``cfg.val_splice_sets``.

    Raises:
        ValueError: no item is left.
    """
    items = []
    for s in cfg.sets:
        folder = Path(cfg.data_dir) / set_folder_name(s) if cfg.data_dir else None
        part = load_set(s, folder=folder, split=split,
                        include_reconstruction=cfg.include_reconstruction and split == "train")
        protocol_ids = None
        if cfg.protocol == "paper" and split == "train":
            ids = sorted({it.identity for it in part})
            reals, fakes = paper_protocol(ids, cfg.seed)
            protocol_ids = (set(reals), set(fakes))
        part = _keep(part, cfg, protocol_ids)
        cap = cfg.max_items if split == "train" else cfg.val_max_items
        if cap is not None and len(part) > cap:
            idx = np.random.default_rng(cfg.seed).choice(len(part), cap, replace=False)
            part = [part[i] for i in sorted(idx)]
        items += part
    if split == "val":
        for name in cfg.val_splice_sets:  # fixed splices of the validation identities
            part = load_set("generic", folder=ensure_splice_set(name, cfg.data_dir))
            if cfg.val_max_items is not None and len(part) > cfg.val_max_items:
                idx = np.random.default_rng(cfg.seed).choice(len(part), cfg.val_max_items, replace=False)
                part = [part[i] for i in sorted(idx)]
            items += [it for it in part if it.label == 1]
    if not items:
        raise ValueError(f"no {split} items for sets={cfg.sets} properties={cfg.properties}")
    return items


def count_items(cfg: TrainConfig, split: str = "train") -> tuple[int, int]:
    """(fakes, reals) a config trains on (or validates on with ``split="val"``)."""
    items = training_items(cfg, split)
    n_fake = sum(it.label for it in items)
    return n_fake, len(items) - n_fake
