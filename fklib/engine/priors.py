"""The property prior blend (beyond the paper): per-property mean maps and the blend weight chosen on validation."""

from __future__ import annotations

import torch

from ..config import PROPERTY_CLASSES
from ..data import FakeMapDataset
from ..metrics import coss_batch, psnr_batch, ssim_batch
from .scoring import predict

#: Blend weights tried on validation: 0, 0.1, ..., 1.
ALPHAS = tuple(round(0.1 * i, 1) for i in range(11))


def validation_score(metrics: dict) -> float:
    """The model-selection score on validation: mean of COSS, SSIM and PSNR/40 (higher is better)."""
    return (metrics["coss"] + metrics["ssim"] + metrics["psnr"] / 40.0) / 3.0


def property_prior_maps(items, size: int, classes: tuple[str, ...] = PROPERTY_CLASSES) -> torch.Tensor:
    """Mean GT map per entry of ``classes`` (a property head's, :func:`fklib.config.property_classes`) over
    ``items`` at ``size`` (``K x S x S``; zeros where a class has no item)."""
    ds = FakeMapDataset(items, size=size)
    sums = torch.zeros(len(classes), size, size)
    counts = torch.zeros(len(classes))
    for i, it in enumerate(items):
        if it.property in classes:
            k = classes.index(it.property)
            sums[k] += ds[i]["gt_map"][0]
            counts[k] += 1
    return sums / counts.clamp_min(1)[:, None, None]


@torch.no_grad()
def choose_prior_alpha(model: torch.nn.Module, priors: torch.Tensor, val_items, size: int,
                       device: torch.device) -> tuple[float, dict]:
    """The blend weight of :data:`ALPHAS` with the best :func:`validation_score` on the validation fakes.

    Returns ``(alpha, {alpha: score})``; the blended map is ``alpha * map + (1 - alpha) * prior``
    with the prior weighted by the model's property probabilities (:class:`fklib.models.PriorBlend`).
    """
    maps, probs, gts = [], [], []
    for batch, out in predict(model, val_items, size, device=device, fold=False):
        fake = batch["label"] > 0.5
        if not fake.any():
            continue
        maps.append(out.map[fake.to(out.map.device)].float().cpu())
        probs.append(out.property_logits[fake.to(out.map.device)].float().softmax(1).cpu())
        gts.append(batch["gt_map"][fake])
    m, p, g = torch.cat(maps), torch.cat(probs), torch.cat(gts)
    prior_map = torch.einsum("bk,khw->bhw", p, priors)[:, None]
    scores = {}
    for alpha in ALPHAS:
        x = alpha * m + (1 - alpha) * prior_map
        metrics = {"coss": coss_batch(x, g).mean().item(), "psnr": psnr_batch(x, g).mean().item(),
                   "ssim": ssim_batch(x, g).mean().item()}
        scores[alpha] = validation_score(metrics)
    best = max(scores, key=scores.get)
    return best, scores
