"""The paper's experiments as functions the notebooks call (one per table / figure).

Profiles (the notebooks' ``profile`` parameter; ``python -m fklib.pipeline --profile``):

- ``smoke``: proves the pipeline runs (tiny from-scratch U-Net, 64 px, 1 epoch, capped data);
  its numbers mean nothing.
- ``cpu`` (default): the universal model of :data:`fklib.train.PROFILES` ``["cpu"]`` and
  single-property models (Tables 2, 4, 5) with the same EfficientNet-Lite0 U-Net at 128 px, a
  shorter schedule (:data:`SINGLE_EPOCHS`), on 2 CPU cores.
- ``paper``: the paper's settings (DeepLabV3-ResNet101, 224 px, Adam 1e-4, 10 epochs) on a GPU.

Every model is trained on the training identities of ``results/splits.csv`` and reported on
the test identities; a checkpoint whose config matches is reused (:func:`ensure_trained`).
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from .train import TrainConfig, load_checkpoint, make_config, train

#: Epochs of the single-property models per profile (the universal model uses its profile's).
SINGLE_EPOCHS = {"smoke": 1, "cpu": 12, "paper": 10}
#: Table 2's rows: method -> (map loss, classifier).
TABLE2_METHODS = {"l1_no_cl": ("l1", False), "l1": ("l1", True), "l2": ("l2", True),
                  "dice": ("dice", True), "focal": ("focal", True)}
#: Table 4's pairs: training property -> test (set, property) cells, first the gray "itself" cell.
TABLE4_TESTS = {
    "Bald": [("stgan", "Bald"), ("attgan", "Bald"), ("attgan", "Black_Hair"), ("attgan", "Eyeglasses")],
    "Mouth_Slightly_Open": [("stgan", "Mouth_Slightly_Open"), ("attgan", "Mouth_Slightly_Open"),
                            ("stargan", "Black_Hair"), ("stargan", "Blond_Hair"), ("stargan", "Brown_Hair"),
                            ("stargan", "Male"), ("stargan", "Young")],
}
#: Table 5: trained on Blond_Hair with/without face parsing, tested on these STGAN properties.
TABLE5_TRAIN, TABLE5_TESTS = "Blond_Hair", ("Black_Hair", "Brown_Hair", "Mouth_Slightly_Open")
#: Test images kept per property in the notebooks' evaluations (``None``: the whole test split).
EVAL_LIMIT = {"smoke": 4, "cpu": None, "paper": None}
#: Sets of Table 3 (the universal model is trained on STGAN only: the others are cross-GAN).
TABLE3_SETS = ("stgan", "attgan", "stargan", "interfacegan")
_SHORT = {"Bald": "bald", "Mouth_Slightly_Open": "smile", "Blond_Hair": "blond"}


def universal_config(profile: str) -> TrainConfig:
    """The universal model of ``profile`` (:data:`fklib.train.PROFILES`)."""
    return make_config(profile)


def single_config(profile: str, prop: str, loss: str = "l1", classifier: bool = True, attention: bool = False,
                  name: str | None = None) -> TrainConfig:
    """A model trained on STGAN fakes of one property (+ the training reals), as in Tables 2, 4 and 5.

    Starts from ``profile`` and removes what is specific to the universal model (property head,
    prior blend, reconstructions); classifier weight 1 (balanced), :data:`SINGLE_EPOCHS`.

    With the EfficientNet U-Net (``cpu``): batch 8 (the paper's) and ``map_prior=0.05`` (the
    untrained map starts near the GT level instead of 0.5). Chosen on the validation split
    (STGAN Bald, L1, 12 epochs): batch 16 with PyTorch's init reached val COSS 0.789, PSNR 19.7,
    SSIM 0.366 -- still climbing, below the input-blind mean map; batch 8 + ``map_prior`` reached
    0.852, 26.2, 0.691 for about the same compute.
    """
    if profile not in SINGLE_EPOCHS:
        raise ValueError(f"unknown profile {profile!r}; expected one of {sorted(SINGLE_EPOCHS)}")
    tag = name or "_".join([_SHORT.get(prop, prop.lower()), loss, *([] if classifier else ["nocl"]),
                            *(["fp"] if attention else [])])
    over = dict(name=f"{profile}_{tag}", properties=[prop], sets=["stgan"], loss=loss, classifier=classifier,
                cls_weight=1.0, balance_classes=True, property_weight=0.0, prior_blend=False,
                include_reconstruction=False, attention=attention, epochs=SINGLE_EPOCHS[profile])
    if make_config(profile).model == "efficientnet_lite0_unet":
        over.update(batch_size=8, model_kwargs={"map_prior": 0.05})
    return make_config(profile, overrides=over)


def baseline(profile: str) -> TrainConfig:
    """The DFFD baseline of Table 2 (:func:`fklib.train.baseline_config`), named per profile."""
    from .train import baseline_config

    return baseline_config(profile)


def table2_configs(profile: str) -> dict[str, TrainConfig]:
    """Table 2's models: the DFFD baseline and one FakeLocator per loss, all on STGAN Bald."""
    runs = {"dffd_baseline": baseline(profile)}
    runs.update({m: single_config(profile, "Bald", loss, cls) for m, (loss, cls) in TABLE2_METHODS.items()})
    return runs


def _same_config(saved: dict, cfg: TrainConfig) -> bool:
    return TrainConfig.from_dict(saved).to_dict() == cfg.to_dict()


def ensure_trained(cfg: TrainConfig, retrain: bool = False, log=print) -> Path:
    """``best.pt`` of ``cfg``: reused when a finished run with the same config exists, else trained."""
    best = cfg.checkpoint_dir() / "best.pt"
    if best.is_file() and not retrain:
        ckpt = load_checkpoint(best)
        if "train_wall_seconds" in ckpt and _same_config(json.loads(ckpt["config"]), cfg):
            log(f"{cfg.name}: reusing {best} (same config, trained in {ckpt['train_wall_seconds'] / 60:.1f} min)")
            return best
    log(f"{cfg.name}: training {cfg.model}, loss {cfg.loss}, {cfg.epochs} epochs at {cfg.size} px ...")
    return Path(train(cfg, progress=False, log=lambda *_: None)["best"])


def training_summary(checkpoint: str | Path) -> dict:
    """Wall time, epochs and the last validation record of a checkpoint."""
    ckpt = load_checkpoint(checkpoint)
    history = json.loads(ckpt["history"])
    return {"minutes": round(float(ckpt.get("train_wall_seconds", math.nan)) / 60, 2), "epochs": len(history),
            **{k: v for k, v in (history[-1] if history else {}).items() if k.startswith("val_")}}


def history_frame(checkpoint: str | Path) -> pd.DataFrame:
    """The per-epoch training history (loss, validation metrics, seconds) of a checkpoint."""
    return pd.DataFrame(json.loads(load_checkpoint(checkpoint)["history"]))


# ------------------------------------------------------------------------------------------------
# evaluation

def evaluate(checkpoint: str | Path, set_name: str = "stgan", properties=None, split: str = "test",
             references: bool = True, limit: int | None = None, **keys) -> pd.DataFrame:
    """Per-image rows of :func:`fklib.evaluate.evaluate_checkpoint`, keeping the fakes of ``properties``
    (all when ``None``) and every real; ``keys`` are added as constant columns (e.g. ``method="l1"``).
    ``limit``: at most this many images per property (see :data:`EVAL_LIMIT`)."""
    from .evaluate import evaluate_checkpoint

    df = evaluate_checkpoint(checkpoint, set_name, split=split, references=references, device="auto",
                             max_per_property=limit)
    if properties is not None:
        df = df[(df["label"] == 0) | df["property"].isin(list(properties))]
    return df.assign(**keys).reset_index(drop=True)


@torch.no_grad()
def evaluate_in_region(checkpoint: str | Path, properties, set_name: str = "stgan", split: str = "test",
                       references: bool = True, limit: int | None = None, **keys) -> pd.DataFrame:
    """Like :func:`evaluate` plus in-region metrics (paper Table 5): ``coss_region``, ``psnr_region``,
    ``ssim_region`` over the region of the modified property.

    The region is :func:`fklib.parsing.region_mask` of our face parser's map of the fake, united
    with that of its real source (an edit can remove the region, e.g. hair); it is computed at the
    evaluation resolution. Images whose region is empty get NaN in-region metrics.
    """
    from .data import load_set
    from .evaluate import fit_references, predict
    from .metrics import coss, psnr, ssim
    from .parsing import load_parser, parse, region_mask
    from .train import model_from_checkpoint

    model, cfg, _ = model_from_checkpoint(checkpoint)
    from .evaluate import limit_items

    items = [it for it in load_set(set_name, split=split) if it.label == 0 or it.property in properties]
    if limit is not None:
        items = limit_items(items, limit)
    xs, gts, preds, logits = [], [], [], []
    for _, img, g, p, lg in predict(model, items, cfg.size):  # BN-folded, in item order
        xs.append(img)
        gts.append(g[:, 0])
        preds.append(p[:, 0])
        logits.append(lg)
    x, gt, pred = torch.cat(xs), torch.cat(gts).numpy(), torch.cat(preds).numpy()
    prob = torch.sigmoid(torch.cat(logits)).numpy() if logits[0] is not None else np.full(len(x), np.nan)
    threshold = None
    if not cfg.classifier:
        from .evaluate import no_cl_threshold

        threshold = no_cl_threshold(model, cfg, torch.device("cpu"))
    parser = load_parser()
    fakes = [i for i, it in enumerate(items) if it.label == 1]
    regions = {}
    if fakes:
        as_u8 = lambda t: (t.permute(0, 2, 3, 1).numpy() * 255).round().astype(np.uint8)  # noqa: E731
        p_fake = parse(parser, as_u8(x[fakes]), size=128)
        refs = torch.stack([torch.from_numpy(items[i].reference).permute(2, 0, 1).float() / 255 for i in fakes])
        refs = torch.nn.functional.interpolate(refs, size=(cfg.size, cfg.size), mode="bilinear",
                                               align_corners=False, antialias=True)
        p_real = parse(parser, as_u8(refs), size=128)
        for k, i in enumerate(fakes):
            regions[i] = region_mask(p_fake[k], items[i].property) | region_mask(p_real[k], items[i].property)
    predictors = [("model", pred)]
    if references:
        ref = fit_references(cfg)
        for kind in ("zeros", "global_mean", "property_mean"):
            predictors.append((kind, np.stack([ref.predict(kind, it.property, gt.shape[-2:]) for it in items])))
    rows = []
    for name, p in predictors:
        for i, it in enumerate(items):
            row = {"predictor": name, **it.meta(), "region_fraction": float(regions[i].mean()) if i in regions else 0.0}
            if name == "model":
                row["prob"] = float(prob[i])
                row["pred_fake"] = float(prob[i] > 0.5) if threshold is None else float(p[i].mean() > threshold)
            else:
                row["prob"] = row["pred_fake"] = math.nan
            row.update(coss=coss(p[i], gt[i]), psnr=psnr(p[i], gt[i]), ssim=ssim(p[i], gt[i]))
            m = regions.get(i)
            ok = m is not None and m.any()
            row.update(coss_region=coss(p[i], gt[i], m) if ok else math.nan,
                       psnr_region=psnr(p[i], gt[i], m) if ok else math.nan,
                       ssim_region=ssim(p[i], gt[i], m) if ok else math.nan)
            rows.append(row)
    return pd.DataFrame(rows).assign(**keys)


def count_items(cfg: TrainConfig, split: str = "train") -> tuple[int, int]:
    """(fakes, reals) a config trains on (or validates on with ``split="val"``)."""
    from .train import training_items

    items = training_items(cfg, split)
    n_fake = sum(it.label for it in items)
    return n_fake, len(items) - n_fake


def table_frame(df: pd.DataFrame, table: int, by, on, metrics=("acc", "coss", "psnr", "ssim"), aliases=None,
                predictors=None, add_mean: bool = False, order: tuple[str, list] | None = None) -> pd.DataFrame:
    """Per-image rows -> the wide table with the paper's value and our delta per cell.

    ``order = (column, values)`` sorts the rows by that column's listed values (others last, stable)."""
    from .report import table_rows, to_wide, with_paper

    long = table_rows(df, by=list(by), metrics=metrics, predictors=predictors, add_mean=add_mean)
    wide = to_wide(with_paper(long, table, on=list(on), aliases=aliases))
    wide = wide.dropna(axis=1, how="all")  # e.g. paper/delta columns of metrics the paper lacks
    if order is not None:
        key = wide[order[0]].map({v: i for i, v in enumerate(order[1])}).fillna(len(order[1]))
        wide = wide.assign(_k=key).sort_values("_k", kind="stable").drop(columns="_k").reset_index(drop=True)
    return wide


def checkpoint_config(checkpoint: str | Path) -> TrainConfig:
    return TrainConfig.from_dict(json.loads(load_checkpoint(checkpoint)["config"]))


def replace(cfg: TrainConfig, **changes) -> TrainConfig:
    """``dataclasses.replace`` for notebooks (e.g. a shorter smoke run)."""
    return dataclasses.replace(cfg, **changes)
