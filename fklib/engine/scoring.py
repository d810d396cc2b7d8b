"""The one loop that runs a model over items, and the per-image rows every evaluation is built from.

- :func:`batches` -- items -> Dataset batches at the evaluation resolution (image and GT map get the
  same bilinear, anti-aliased resize).
- :func:`predict` -- the model over those batches (eval mode, BatchNorm folded, optional mirror
  test-time augmentation): yields ``(batch, output)``.
- :func:`decide` -- the fake/real decision (defined once, in :mod:`fklib.metrics.classification`; a checkpoint's
  settings of it are its :class:`fklib.checkpoint.DecisionRule`).
- :func:`score_items` -- one row per (predictor, image): the model and, when given, the input-blind
  reference predictors (:class:`fklib.metrics.ReferenceMaps`); what ``evaluate``, every study and
  the training validation use.

Row columns: ``predictor``, the item's metadata (``set``, ``gan``, ``property``, ``identity``,
``label``, ``source``), ``score`` (mean of the map), ``peak`` (its :func:`~fklib.metrics.map_peak`, read by the
decision; NaN for the references, which make none), ``prob`` (classifier probability, NaN without a classifier), ``pred_fake`` (:func:`decide`; NaN for a predictor that makes no detection) and the
map metrics :data:`fklib.metrics.MAP_METRICS` (NaN where not computed), plus ``<m>_region`` with
``regions``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence

import numpy as np
import pandas as pd
import torch

from ..checkpoint import DecisionRule
from ..data import FakeMapDataset
from ..metrics import MAP_METRICS, References, batch_map_metrics, region_map_metrics
from ..metrics.classification import decide, map_peak
from ..metrics.groups import MODEL  # the model's rows' name, defined once (the reference predictors': their kind)
from ..models import LocatorOutput
from ..models.fuse import fold_batchnorm
from .references import BatchReferences


def batches(items, size: int, batch_size: int = 64, num_workers: int = 0) -> torch.utils.data.DataLoader:
    """A DataLoader of :class:`fklib.data.FakeMapDataset` samples of ``items`` at ``size`` (no flips, in order)."""
    return torch.utils.data.DataLoader(FakeMapDataset(items, size=size), batch_size=batch_size,
                                       num_workers=num_workers)


@torch.no_grad()
def forward(model: torch.nn.Module, x: torch.Tensor, tta: bool = False) -> LocatorOutput:
    """The model's output for a batch; with ``tta`` map and logit are the means over the image and
    its horizontal mirror (the mirrored map flipped back)."""
    out = model(x)
    if not tta:
        return out
    mirrored = model(x.flip(-1))
    pred = (out.map + mirrored.map.flip(-1)) / 2
    logit = None if out.logit is None else (out.logit + mirrored.logit) / 2
    return LocatorOutput(pred, logit, out.property_logits, out.coarse_map)


@torch.no_grad()
def predict(model: torch.nn.Module, items, size: int, batch_size: int = 64, device: str | torch.device = "cpu",
            tta: bool = False, fold: bool = True, num_workers: int = 0) -> Iterator[tuple[dict, LocatorOutput]]:
    """Run ``model`` over ``items`` in order; yield ``(batch, output)`` per batch.

    ``batch`` is the DataLoader's dict on the CPU (``image``, ``gt_map``, ``label``, ``index``, metadata);
    ``output`` the :class:`~fklib.models.LocatorOutput` on ``device``. The model is put in eval mode;
    with ``fold`` (default) it runs as a copy with BatchNorm folded into its convolutions (same maps,
    faster; the training validation runs the model itself).
    """
    device = torch.device(device)
    runner = None
    for batch in batches(items, size, batch_size, num_workers):
        x = batch["image"].to(device)
        if runner is None:
            model = model.to(device).eval()
            runner = fold_batchnorm(model, x[:1]) if fold else model
        yield batch, forward(runner, x, tta)


def _metric_values(pred: torch.Tensor, gt: torch.Tensor, index: list[int], metrics: Sequence[str], tau: float,
                   regions: Mapping[int, np.ndarray] | None) -> dict[str, np.ndarray]:
    n = len(index)
    out = {m: np.full(n, math.nan) for m in MAP_METRICS}
    if regions is not None:
        out.update(region_map_metrics(pred, gt, [regions.get(i) for i in index]))
    elif metrics:
        out.update(batch_map_metrics(pred, gt, tau, metrics))
    return out


def _rows(name: str, items: list, index: list[int], score: np.ndarray, prob: np.ndarray | None,
          decision: np.ndarray, values: dict[str, np.ndarray], peak: np.ndarray) -> list[dict]:
    prob = np.full(len(index), math.nan) if prob is None else prob
    rows = []
    for j, i in enumerate(index):
        row = {"predictor": name, **items[i].meta(), "score": float(score[j]), "peak": float(peak[j]),
               "prob": float(prob[j]), "pred_fake": float(decision[j])}
        row.update({k: float(v[j]) for k, v in values.items()})
        rows.append(row)
    return rows


def score_items(model: torch.nn.Module | None, items, size: int, *, references: References | None = None,
                reference_kinds: Sequence[str] | None = None, rule: DecisionRule | None = None,
                batch_size: int = 64, device: str | torch.device = "cpu", tta: bool = False, tau: float = 0.1,
                metrics: Sequence[str] = MAP_METRICS, regions: Mapping[int, np.ndarray] | None = None,
                fold: bool = True, num_workers: int = 0,
                on_batch: Callable[[dict, LocatorOutput], None] | None = None) -> pd.DataFrame:
    """Per-image rows of ``model`` (and of the reference predictors) on ``items``: see the module doc.

    Args:
        model: a locator, or ``None`` for reference rows only.
        items: :class:`~fklib.data.Item` s (any mix of reals and fakes).
        size: the evaluation resolution (the model's training resolution).
        references: reference predictors (:func:`fklib.engine.references.fit_reference_maps`) whose
            ``reference_kinds`` (default: all it has fitted) get rows too.
        rule: the model's decision rule (:attr:`fklib.checkpoint.LoadedLocator.rule`); ``None``: p(fake) > 0.5
            (no decision for a model without classifier).
        tta: mirror test-time augmentation (:func:`forward`).
        tau: binarisation threshold of the GT and the prediction for AUC / F1 / IoU.
        metrics: the map metrics to compute (a subset of :data:`~fklib.metrics.MAP_METRICS`; the
            others are NaN).
        regions: item index -> boolean ``size x size`` region: instead of ``metrics``, COSS / PSNR /
            SSIM over the whole map and inside the region (``<m>_region``; paper Table 5).
        fold: run a BatchNorm-folded copy of the model (see :func:`predict`).
        on_batch: called with ``(batch, output)`` after each model batch (e.g. the validation loss).

    Returns:
        one row per predictor and image; per batch, the model's rows then each reference kind's.
    """
    items = list(items)
    rule = rule or DecisionRule()
    rows: list[dict] = []
    refs = BatchReferences(references, reference_kinds) if references is not None else None
    if model is not None:
        stream = ((b, o) for b, o in predict(model, items, size, batch_size, device, tta, fold, num_workers))
    else:
        stream = ((b, None) for b in batches(items, size, batch_size, num_workers))
    for batch, out in stream:
        index, gt = batch["index"].tolist(), batch["gt_map"]
        if out is not None:
            if on_batch is not None:
                on_batch(batch, out)
            pred = out.map.float().cpu()
            score = pred.flatten(1).mean(1).numpy()
            prob = None if out.logit is None else torch.sigmoid(out.logit.float().cpu()).numpy()
            peak = map_peak(pred)
            rows += _rows(MODEL, items, index, score, prob, rule.decide(prob, score, peak),
                          _metric_values(pred, gt, index, metrics, tau, regions), peak)
        if refs is not None:
            for kind, maps in refs.maps(batch, [items[i] for i in index]).items():
                ref = torch.from_numpy(maps)[:, None].float()
                score = ref.flatten(1).mean(1).numpy()
                rows += _rows(kind, items, index, score, None, decide(None, score, None),
                              _metric_values(ref, gt, index, metrics, tau, regions), np.full(len(index), math.nan))
    return pd.DataFrame(rows)

