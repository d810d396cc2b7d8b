"""Evaluation of a checkpoint on any folder in a reader layout, with the input-blind references.

``python -m fklib evaluate --checkpoint C [--data DIR] [--set stgan|attgan|stargan|interfacegan|generic]
[--split test|val|train|all] --out FILE.csv``

One row per (predictor, image): the model and the three input-blind reference predictors
(``zeros``, ``global_mean``, ``property_mean``; means over the *training* fakes of the
checkpoint's training sets). Columns: predictor, set, gan, property, identity, label, source,
score (mean of the predicted map), prob (classifier probability, NaN without a classifier),
pred_fake (the detection decision), and the map metrics coss, psnr, ssim, mae, auc, f1, iou.

Conventions (as in the paper, §5.1):

- Evaluation happens at the checkpoint's resolution: image and GT map get the Dataset's
  resize (bilinear, anti-aliased); the paper evaluated at 224 px, our ``cpu`` profile at 128.
- Localization metrics are averaged over **fake** images only.
- ACC of a (GAN, property) group is measured on its fakes together with all the real images
  of the evaluated split. With a classifier the decision is ``sigmoid(logit) > 0.5``; without
  one it is ``mean(map) > t`` with ``t`` chosen on the validation split of the training sets.
  The input-blind references make no detection (ACC is NaN for them).
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from .data import FakeMapDataset, load_set
from .data.sets import set_folder_name
from .models.fuse import fold_batchnorm
from .metrics import (ReferenceMaps, choose_threshold, coss_batch, f1_from_stats, iou_from_stats, pixel_auc,
                      pixel_stats, psnr_batch, ssim_batch)
from .train import TrainConfig, model_from_checkpoint, resolve_device, training_items

REFERENCES = ("zeros", "global_mean", "property_mean")
METRICS = ("coss", "psnr", "ssim", "mae", "auc", "f1", "iou")


@torch.no_grad()
def predict_batch(model: torch.nn.Module, x: torch.Tensor, tta: bool = False):
    """Map and logit of a batch; with ``tta`` the mean over the image and its horizontal mirror."""
    out = model(x)
    if not tta:
        return out.map, out.logit
    mirrored = model(x.flip(-1))
    pred = (out.map + mirrored.map.flip(-1)) / 2
    logit = None if out.logit is None else (out.logit + mirrored.logit) / 2
    return pred, logit


@torch.no_grad()
def predict(model: torch.nn.Module, items, size: int, batch_size: int = 64, device: str | torch.device = "cpu",
            tta: bool = False):
    """Run ``model`` over ``items``; yield ``(indices, images, gt_maps, pred_maps, logits)`` batches (CPU tensors).

    With ``tta`` each prediction is averaged with the prediction on the mirrored image.
    """
    device = torch.device(device)
    ds = FakeMapDataset(items, size=size)
    loader = torch.utils.data.DataLoader(ds, batch_size=batch_size)
    folded = None
    for batch in loader:
        if folded is None:  # a copy with BatchNorm folded into the convolutions: same maps, faster
            folded = fold_batchnorm(model.to(device).eval(), batch["image"][:1].to(device))
        pred, logit = predict_batch(folded, batch["image"].to(device), tta)
        logit = None if logit is None else logit.float().cpu()
        yield batch["index"], batch["image"], batch["gt_map"], pred.float().cpu(), logit


def map_metrics(pred: torch.Tensor, gt: torch.Tensor, tau: float = 0.1) -> dict[str, np.ndarray]:
    """Per-image metrics of a batch of ``B x 1 x H x W`` maps: coss, psnr, ssim, mae, auc, f1, iou."""
    out = {"coss": coss_batch(pred, gt).numpy(), "psnr": psnr_batch(pred, gt).numpy(),
           "ssim": ssim_batch(pred, gt).numpy(), "mae": (pred - gt).abs().flatten(1).mean(1).numpy()}
    auc, f1, iou = [], [], []
    for p, g in zip(pred[:, 0].numpy(), gt[:, 0].numpy()):
        stats = pixel_stats(p, g, tau)
        auc.append(pixel_auc(p, g, tau))
        f1.append(f1_from_stats(stats))
        iou.append(iou_from_stats(stats))
    out.update(auc=np.array(auc, float), f1=np.array(f1, float), iou=np.array(iou, float))
    return out


def fit_references(cfg: TrainConfig) -> ReferenceMaps:
    """Mean GT maps (global, per property) over the training fakes of the checkpoint's training sets."""
    items = training_items(dataclasses.replace(cfg, include_reconstruction=False), "train")
    ds = FakeMapDataset(items, size=cfg.size)
    maps = np.stack([ds[i]["gt_map"][0].numpy() for i in range(len(ds))])
    return ReferenceMaps.fit(maps, np.array([it.label for it in items]), [it.property for it in items])


def no_cl_threshold(model, cfg: TrainConfig, device, tta: bool = False) -> float:
    """Detection threshold on the map mean for a model without classifier, chosen on validation."""
    items = training_items(cfg, "val")
    scores, labels = [], []
    for idx, _, _, pred, _ in predict(model, items, cfg.size, device=device, tta=tta):
        scores += pred.flatten(1).mean(1).tolist()
        labels += [items[i].label for i in idx.tolist()]
    return float(choose_threshold(np.array(scores), np.array(labels)))


def limit_items(items, n: int) -> list:
    """The first ``n`` items of each property (reals count as the property ``Real``), in order."""
    seen: dict[str, int] = {}
    out = []
    for it in items:
        k = it.property
        if seen.get(k, 0) < n:
            seen[k] = seen.get(k, 0) + 1
            out.append(it)
    return out


def evaluate_checkpoint(checkpoint: str | Path, set_name: str = "stgan", data: str | Path | None = None,
                        split: str = "test", batch_size: int = 64, device: str = "auto",
                        references: bool = True, tau: float = 0.1, tta: bool = False, model=None,
                        cfg: TrainConfig | None = None, max_per_property: int | None = None) -> pd.DataFrame:
    """Evaluate a checkpoint (or an already built ``model`` + ``cfg``) on one set; one row per image and predictor.

    Args:
        checkpoint: a checkpoint written by :func:`fklib.train.train` (ignored when ``model`` is given).
        set_name: reader layout of ``data`` (``stgan``, ``attgan``, ``stargan``, ``interfacegan``, ``generic``).
        data: the folder (default ``data/<set folder>``).
        split: ``test``/``val``/``train`` (identities from ``results/splits.csv``) or ``all``. A
            folder that is not the fetched set has no split: use ``all``.
        references: add the three input-blind reference predictors.
        tau: binarisation threshold of the GT (and prediction) for AUC/F1/IoU.
        tta: average each prediction with the one on the mirrored image.
        max_per_property: keep only the first ``n`` fakes of each property and the first ``n``
            reals (quick runs such as the ``smoke`` profile); ``None`` keeps everything.
    """
    if model is None:
        model, cfg, _ = model_from_checkpoint(checkpoint)
    dev = resolve_device(device)
    if split not in ("train", "val", "test", "all"):
        raise ValueError(f"unknown split {split!r}; expected train, val, test or all")
    full = set_folder_name(set_name)
    if full is None and split != "all":
        raise ValueError("a generic folder has no split: use --split all")
    items = load_set(set_name, folder=data, split=None if split == "all" else split)
    if not items:
        raise ValueError(f"no {split} images in {data or set_name} (a folder outside results/splits.csv "
                         "needs --split all)")

    if max_per_property is not None:
        items = limit_items(items, max_per_property)
    refs = fit_references(cfg) if references else None
    threshold = None if cfg.classifier else no_cl_threshold(model, cfg, dev, tta)
    rows = []
    for idx, _, gt, pred, logit in predict(model, items, cfg.size, batch_size, dev, tta):
        batch_items = [items[i] for i in idx.tolist()]
        score = pred.flatten(1).mean(1).numpy()
        if logit is not None:
            prob = torch.sigmoid(logit).numpy()
            decision = prob > 0.5
        else:
            prob = np.full(len(idx), math.nan)
            decision = score > threshold
        predictors = [("model", pred, score, prob, decision)]
        if refs is not None:
            for kind in REFERENCES:
                rp = torch.from_numpy(np.stack([refs.predict(kind, it.property, tuple(gt.shape[-2:]))
                                                for it in batch_items]))[:, None].float()
                nan = np.full(len(idx), math.nan)
                predictors.append((kind, rp, rp.flatten(1).mean(1).numpy(), nan, nan))
        for name, p, sc, pr, dec in predictors:
            m = map_metrics(p, gt, tau)
            for j, it in enumerate(batch_items):
                row = {"predictor": name, **it.meta(), "score": float(sc[j]), "prob": float(pr[j]),
                       "pred_fake": float(dec[j])}
                row.update({k: float(v[j]) for k, v in m.items()})
                rows.append(row)
    df = pd.DataFrame(rows)
    df.attrs["threshold"] = threshold
    return df


def summarize(df: pd.DataFrame) -> pd.DataFrame:
    """Per (predictor, gan, property) table: n fakes, ACC (fakes + the split's reals), mean map metrics on fakes."""
    out = []
    for predictor, sub in df.groupby("predictor", sort=False):
        reals = sub[sub["label"] == 0]
        for (gan, prop), fakes in sub[sub["label"] == 1].groupby(["gan", "property"], sort=True):
            both = pd.concat([fakes, reals])
            acc = float(((both["pred_fake"] > 0.5) == (both["label"] == 1)).mean()) \
                if both["pred_fake"].notna().all() else math.nan
            row = {"predictor": predictor, "gan": gan, "property": prop, "n": len(fakes), "acc": acc}
            row.update({k: float(fakes[k].mean(skipna=True)) for k in METRICS})
            out.append(row)
    table = pd.DataFrame(out)
    if table.empty:
        return table
    mean_rows = []
    for predictor, sub in table.groupby("predictor", sort=False):
        row = {"predictor": predictor, "gan": "mean", "property": "(all properties)", "n": int(sub["n"].sum()),
               "acc": float(sub["acc"].mean())}
        row.update({k: float(sub[k].mean()) for k in METRICS})
        mean_rows.append(row)
    return pd.concat([table, pd.DataFrame(mean_rows)], ignore_index=True)


def side_by_side(summary: pd.DataFrame, metrics=("acc", "coss", "psnr", "ssim")) -> pd.DataFrame:
    """Wide view: one row per (gan, property), columns ``<metric>/<predictor>``."""
    wide = summary.pivot_table(index=["gan", "property"], columns="predictor", values=list(metrics), sort=False)
    order = [p for p in ("model", *REFERENCES) if p in summary["predictor"].unique()]
    wide = wide.reindex(columns=[(m, p) for m in metrics for p in order])
    wide.columns = [f"{m}/{p}" for m, p in wide.columns]
    return wide
