"""Notebook 04, paper Table 5 and Figs. 6-7 (§4.4, RQ4): face-parsing attention, scored in the edited region.

Two models trained on STGAN *Blond_Hair* without and with the face attention map of our face
parser (test time: a white map), tested on other properties with COSS, PSNR and SSIM inside the
region of the modified property: our parser's region of the fake united with that of its real
source (an edit can remove the region, e.g. hair), computed at the evaluation resolution.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from ..checkpoint import model_from_checkpoint
from ..config import ATTENTION_MODES, KNOWN_PROPERTIES, TrainConfig, make_config
from ..data import FakeMapDataset, image_to_tensor, limit_items, load_set, tensor_to_image
from ..engine import decision_threshold, fit_references, score_items
from ..metrics import balanced_accuracy
from ..models.inference import ImagePredictor
from ..parsing import ParsingAttention, load_parser, parse, region_mask
from .cache import ensure_trained
from .common import EVAL_LIMIT, single_config

#: Table 5: trained on Blond_Hair with/without face parsing, tested on these STGAN properties.
TABLE5_TRAIN, TABLE5_TESTS = "Blond_Hair", ("Black_Hair", "Brown_Hair", "Mouth_Slightly_Open")
#: The resolution our face parser runs at.
PARSER_SIZE = 128


def table5_configs(profile: str) -> dict[str, TrainConfig]:
    """``no_fp`` and ``with_fp``: the single-property L1 model of :data:`TABLE5_TRAIN` without / with attention."""
    return {"no_fp": single_config(profile, TABLE5_TRAIN, "l1"),
            "with_fp": single_config(profile, TABLE5_TRAIN, "l1", attention=True)}


def variant_configs(profile: str) -> dict[str, TrainConfig]:
    """``no_fp`` and one model per face-attention variant (:data:`fklib.config.ATTENTION_MODES`; ``paper``
    is Table 5's ``with_fp``), all trained as Table 5 (STGAN :data:`TABLE5_TRAIN`, L1). Variants the
    profile's model cannot run (``skip`` and ``auxiliary`` need an EfficientNet-Lite U-Net) are left out."""
    base = table5_configs(profile)
    out = {"no_fp": base["no_fp"], "paper": base["with_fp"]}
    for mode in ATTENTION_MODES:
        if mode == "paper" or (mode in ("skip", "auxiliary") and not base["with_fp"].model.startswith("efficientnet_lite")):
            continue
        cfg = single_config(profile, TABLE5_TRAIN, "l1", attention=True)
        out[mode] = replace(cfg, name=f"{cfg.name}_{mode}", attention_mode=mode)
    return out


#: Item 5 of the attention study: properties left out of the universal model's training, tested on.
LEAVE_OUT = ("Black_Hair", "Mouth_Slightly_Open")
#: The reduced training budget of the two leave-out universal models (the ``cpu`` universal model: 12 x 2400).
LEAVE_OUT_BUDGET = {"smoke": {}, "cpu": {"epochs": 3, "samples_per_epoch": 1000}, "paper": {"epochs": 4}}


def leave_out_configs(profile: str, mode: str) -> dict[str, TrainConfig]:
    """The universal model of ``profile`` trained without the fakes of :data:`LEAVE_OUT` (in every set),
    at :data:`LEAVE_OUT_BUDGET`, without (``universal``) and with face attention of ``mode``
    (``universal_fp``)."""
    base = make_config(profile)
    keep = [p for p in KNOWN_PROPERTIES if p not in LEAVE_OUT]
    plain = replace(base, name=f"{base.name}_leave_out", properties=keep, **LEAVE_OUT_BUDGET[profile])
    if mode in ("skip", "auxiliary") and not plain.model.startswith("efficientnet_lite"):
        mode = "paper"
    return {"universal": plain,
            "universal_fp": replace(plain, name=f"{plain.name}_fp_{mode}", attention=True, attention_mode=mode)}


def variant_selection(rows: pd.DataFrame) -> pd.DataFrame:
    """Validation rows of every variant (:func:`evaluate_in_region` with ``method``) -> one row per
    variant: in-region COSS (masked) and balanced ACC per test property, ``collapsed`` (one answer to
    every validation image of some property), and ``score`` = the mean over the properties of
    (in-region COSS + balanced ACC) / 2; a collapsed variant scores NaN and cannot be chosen."""
    model = rows[rows["predictor"] == "model"]
    reals = model[model["label"] == 0]
    out = []
    for method, sub in model.groupby("method", sort=False):
        rec: dict = {"method": method}
        parts, collapsed = [], False
        for prop in TABLE5_TESTS:
            fakes = sub[(sub["label"] == 1) & (sub["property"] == prop)]
            both = pd.concat([fakes, reals[reals["method"] == method]])
            bacc = balanced_accuracy(both["pred_fake"], both["label"])
            coss = float(fakes["coss_region"].mean())
            collapsed |= both["pred_fake"].nunique() == 1
            rec[f"{prop}_coss"], rec[f"{prop}_bacc"] = coss, bacc
            parts.append((coss + bacc) / 2)
        rec["collapsed"] = bool(collapsed)
        rec["score"] = math.nan if collapsed else float(np.mean(parts))
        out.append(rec)
    return pd.DataFrame(out)


def choose_variant(selection: pd.DataFrame) -> str:
    """The attention variant (not ``no_fp``) with the best validation ``score`` of :func:`variant_selection`;
    ``paper`` when every variant collapsed."""
    cand = selection[(selection["method"] != "no_fp") & selection["score"].notna()]
    return str(cand.loc[cand["score"].idxmax(), "method"]) if len(cand) else "paper"


#: The table of the attention-variant search (``experiments/attention_variants.py``), in the results folder.
VARIANTS_TABLE = "table5_variants"


def variant_search(profile: str, log=print) -> tuple[pd.DataFrame, str]:
    """Train every attention variant of :func:`variant_configs`, score them on the validation identities
    (:func:`variant_selection`) and choose one (:func:`choose_variant`): ``(selection, chosen)``.
    The ``cpu`` profile's search is run once by ``experiments/attention_variants.py`` and its table
    committed; notebook 04 reads it (:func:`recorded_selection`) and trains only :func:`shown_variants`."""
    ckpts = {m: ensure_trained(cfg, log=log) for m, cfg in variant_configs(profile).items()}
    rows = pd.concat([evaluate_in_region(ck, TABLE5_TESTS, split="val", references=False, limit=EVAL_LIMIT[profile],
                                         method=m) for m, ck in ckpts.items()], ignore_index=True)
    selection = variant_selection(rows)
    return selection, choose_variant(selection)


def variants_note(chosen: str) -> str:
    """The note of the variant search's table."""
    return (f"Validation identities (STGAN val split), models trained on STGAN {TABLE5_TRAIN} as Table 5. "
            "`*_coss`: in-region COSS (masked); `*_bacc`: balanced ACC; `score`: mean of (COSS + bACC) / 2; "
            f"chosen: `{chosen}`. Recorded by `python experiments/attention_variants.py`.")


def recorded_selection(results_dir: str | Path) -> pd.DataFrame | None:
    """The variant search's table in ``<results_dir>/tables`` (:data:`VARIANTS_TABLE`), ``None`` when absent."""
    path = Path(results_dir) / "tables" / f"{VARIANTS_TABLE}.csv"
    return pd.read_csv(path) if path.is_file() else None


def shown_variants(chosen: str) -> list[str]:
    """The variants Table 5 prints: ``no_fp``, the paper's ``paper`` (= ``with_fp``) and the chosen one."""
    return ["no_fp", "paper"] + ([chosen] if chosen != "paper" else [])


def collapse_notes(rows: pd.DataFrame, by: tuple[str, ...] = ("method",)) -> list[str]:
    """One sentence per model (``by``) whose classifier gave one answer to every test image."""
    model = rows[rows["predictor"] == "model"]
    notes = []
    for key, sub in model.groupby(list(by), sort=False):
        answers = sub["pred_fake"].dropna().unique()
        if len(answers) == 1:
            name = key if isinstance(key, str) else "/".join(map(str, key))
            notes.append(f"`{name}` calls every one of its {len(sub)} test images "
                         f"{'fake' if answers[0] > 0.5 else 'real'}: its classifier collapsed (ACC = the share of "
                         f"that class, balanced ACC 0.5).")
    return notes


def identity_picks(rows: pd.DataFrame, method: str, prop: str, metric: str = "coss_region") -> dict[str, int]:
    """``median``, ``best`` and ``worst`` test edits of ``prop`` by ``method``'s ``metric``: label -> row index."""
    sub = rows[(rows["predictor"] == "model") & (rows["method"] == method) & (rows["property"] == prop)
               & rows[metric].notna()].sort_values(metric, kind="stable")
    if not len(sub):
        return {}
    return {"best": int(sub.index[-1]), "median": int(sub.index[len(sub) // 2]), "worst": int(sub.index[0])}


def edited_regions(items, size: int, parser=None) -> dict[int, np.ndarray]:
    """Item index -> boolean ``size x size`` region of its property, for every fake with a real source.

    :func:`fklib.parsing.region_mask` of our parser's map of the fake (as the model sees it, at
    ``size``) united with that of its real source resized the same way.
    """
    parser = parser or load_parser()
    fakes = [i for i, it in enumerate(items) if it.label == 1 and it.reference is not None]
    if not fakes:
        return {}
    ds = FakeMapDataset(items, size=size)
    seen = torch.stack([ds[i]["image"] for i in fakes])
    refs = torch.stack([image_to_tensor(items[i].reference) for i in fakes])
    refs = F.interpolate(refs, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    p_fake = parse(parser, tensor_to_image(seen), size=PARSER_SIZE)
    p_real = parse(parser, tensor_to_image(refs), size=PARSER_SIZE)
    return {i: region_mask(p_fake[k], items[i].property) | region_mask(p_real[k], items[i].property)
            for k, i in enumerate(fakes)}


def evaluate_in_region(checkpoint: str | Path, properties, set_name: str = "stgan", split: str = "test",
                       references: bool = True, limit: int | None = None, **keys) -> pd.DataFrame:
    """Per-image rows with in-region metrics (paper Table 5): ``coss``, ``psnr``, ``ssim`` of the whole
    map and ``coss_region``, ``psnr_region``, ``ssim_region`` over :func:`edited_regions`, plus
    ``region_fraction`` (the region's share of the image); images without a region get NaN
    in-region metrics. Reals and the fakes of ``properties`` of the split; ``keys`` as columns."""
    model, cfg, payload = model_from_checkpoint(checkpoint)
    items = [it for it in load_set(set_name, split=split) if it.label == 0 or it.property in properties]
    if limit is not None:
        items = limit_items(items, limit)
    regions = edited_regions(items, cfg.size)
    threshold = decision_threshold(model, cfg, payload, torch.device("cpu"))
    rows = score_items(model, items, cfg.size, references=fit_references(cfg) if references else None,
                       threshold=threshold, regions=regions)
    fraction = {it.source: float(regions[i].mean()) if i in regions else 0.0 for i, it in enumerate(items)}
    rows.insert(rows.columns.get_loc("score"), "region_fraction", rows["source"].map(fraction))
    return rows.assign(**keys)


def attention_example(prop: str = "Black_Hair", set_name: str = "stgan", split: str = "test") -> dict:
    """Paper Fig. 6's panels for the first test edit of ``prop``: ``item``, ``image``, ``parsing``
    (of the fake), ``region`` (of fake and real source), ``attention`` (the training attention map)."""
    edit = next(it for it in load_set(set_name, split=split) if it.property == prop)
    att = ParsingAttention([edit], load_parser())
    region = region_mask(att.parsing(edit.image), edit.property) | region_mask(att.parsing(edit.reference),
                                                                               edit.property)
    return {"item": edit, "image": np.asarray(edit.image), "parsing": att.parsing(edit.image), "region": region,
            "attention": att(edit)}


def predicted_maps(checkpoints: dict[str, str | Path], image: np.ndarray) -> dict[str, np.ndarray]:
    """Each checkpoint's map of one image, at the image's size (paper Fig. 7's predictions)."""
    out = {}
    for name, ck in checkpoints.items():
        model, cfg, _ = model_from_checkpoint(ck)
        out[name] = ImagePredictor(model, cfg.size).predict_array(np.asarray(image))[0]
    return out
