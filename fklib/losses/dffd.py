"""Training objective of the DFFD baseline (Table 2; Stehouwer et al. 2019, code ``JStehouwer/FFD_CVPR2020``).

DFFD supervises its 19 x 19 attention map with an L1 loss against a *binary* manipulation mask
and its classifier with cross-entropy, summed with equal weights (``train.py``:
``loss = loss_l1 + loss_cse``). The mask is the gray absolute difference of the fake and its
source, thresholded at 0.1 (DFFD paper, Sec. 3.3), brought to the map's 19 x 19 by the
PIL bilinear resize of its data loader (``transforms.Resize((19, 19))``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as TF
from torch import nn

from fklib.losses._functional import check_maps

__all__ = ["dffd_gt", "DFFDLoss"]


def dffd_gt(gt_map: torch.Tensor, size: int | tuple[int, int] = 19, threshold: float = 0.1) -> torch.Tensor:
    """DFFD's binary map target: the gray difference map resized to ``size`` and thresholded.

    ``target = float(resize(gt_map, size) > threshold)`` where ``resize`` is bilinear with
    anti-aliasing, ``align_corners=False`` (torch's ``antialias=True`` bilinear is PIL's
    ``BILINEAR`` resize, which DFFD's ``transforms.Resize`` applies). The comparison is strictly
    greater and in float32, as the project's own binarisation at ``tau`` (:func:`fklib.metrics.pixel.above`).

    Order: we resize, then threshold (the issue's protocol), giving a binary 19 x 19 target.
    DFFD's released loader resizes masks that were binarised at full resolution, leaving
    fractional values on the edges; for a 128 px map the two agree except on boundary cells.

    Args:
        gt_map: ground-truth gray fakeness map in ``[0, 1]`` (eq. 4 of the paper).
        size: output side (int) or ``(h, w)``; DFFD: 19.
        threshold: binarisation threshold; DFFD: 0.1.

    Shape:
        gt_map: ``(B, 1, H, W)`` or ``(B, H, W)`` -> ``(B, 1, h, w)`` or ``(B, h, w)`` float, values 0/1.
    """
    if gt_map.ndim not in (3, 4) or (gt_map.ndim == 4 and gt_map.shape[1] != 1):
        raise ValueError(f"dffd_gt: expected Bx1xHxW or BxHxW, got {tuple(gt_map.shape)}")
    hw = (size, size) if isinstance(size, int) else tuple(size)
    x = gt_map if gt_map.ndim == 4 else gt_map[:, None]
    x = x.float()
    if tuple(x.shape[-2:]) != hw:
        x = TF.interpolate(x, size=hw, mode="bilinear", align_corners=False, antialias=True)
    out = (x > threshold).to(gt_map.dtype if gt_map.is_floating_point() else torch.float32)
    return out if gt_map.ndim == 4 else out[:, 0]


class DFFDLoss(nn.Module):
    """DFFD's loss: ``map_weight * L1(coarse_map, dffd_gt(gt_map)) + cls_weight * CE(logit, label)``.

    ``L1`` is the mean absolute error over all cells of the coarse map; the target is
    :func:`dffd_gt` of the (full-resolution) GT map at the coarse map's own size (19 x 19 at
    299 px; reals have an all-zero target). ``CE`` is the binary cross-entropy with logits
    (mean over the batch), the one-logit form of DFFD's two-class softmax cross-entropy. DFFD
    weights both terms 1 (``train.py``: ``loss = loss_l1 + loss_cse``).

    Same call as :class:`fklib.losses.LocatorLoss`, except that ``pred_map`` is the model's
    **coarse** map (``LocatorOutput.coarse_map``); the training loop passes that one when
    ``TrainConfig.loss == "dffd"``.

    Args:
        cls_weight: weight of the classifier term (DFFD: 1).
        map_weight: weight of the L1 map term (DFFD: 1).
        threshold: GT binarisation threshold of :func:`dffd_gt` (DFFD: 0.1).
        pos_weight: weight of the fake class in the BCE (``None`` = 1), as in ``LocatorLoss``.

    Shape:
        - pred_map: ``(B, 1, h, w)`` coarse map in ``[0, 1]``.
        - target_map: ``(B, 1, H, W)`` GT gray map in ``[0, 1]`` (any ``H, W``).
        - logit: ``(B,)``; label: ``(B,)``, 1 fake / 0 real.
        - output: ``{"loss": total, "map": L1 term, "cls": BCE term}`` (0-dim tensors).

    Raises:
        ValueError: ``logit`` is ``None`` (DFFD is a classifier), shapes do not agree.
    """

    #: The training loop feeds this loss ``LocatorOutput.coarse_map`` instead of ``map``.
    uses_coarse_map = True

    def __init__(self, cls_weight: float = 1.0, map_weight: float = 1.0, threshold: float = 0.1,
                 pos_weight: float | None = None) -> None:
        super().__init__()
        self.cls_weight = float(cls_weight)
        self.map_weight = float(map_weight)
        self.threshold = float(threshold)
        self.pos_weight = None if pos_weight is None else float(pos_weight)

    def forward(self, pred_map: torch.Tensor, target_map: torch.Tensor,
                logit: torch.Tensor | None = None, label: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        if pred_map.ndim != 4 or target_map.ndim != 4 or pred_map.shape[:2] != target_map.shape[:2]:
            raise ValueError(f"DFFDLoss: coarse map {tuple(pred_map.shape)} and GT {tuple(target_map.shape)} "
                             "must both be Bx1xhxw with the same B")
        target = dffd_gt(target_map, tuple(pred_map.shape[-2:]), self.threshold).to(pred_map.dtype)
        check_maps(pred_map, target, "DFFDLoss")
        map_term = (pred_map - target).abs().mean()
        if logit is None or label is None:
            raise ValueError("DFFDLoss: DFFD is a classifier; it needs a logit and a label")
        if logit.ndim != 1 or label.shape != logit.shape or logit.shape[0] != pred_map.shape[0]:
            raise ValueError(f"DFFDLoss: logit {tuple(logit.shape)} and label {tuple(label.shape)} "
                             f"must both be (B,) with B = {pred_map.shape[0]}")
        pw = None if self.pos_weight is None else torch.tensor(self.pos_weight, dtype=logit.dtype, device=logit.device)
        cls_term = TF.binary_cross_entropy_with_logits(logit, label.to(logit.dtype), pos_weight=pw)
        total = self.map_weight * map_term + self.cls_weight * cls_term
        return {"loss": total, "map": map_term, "cls": cls_term}

    def extra_repr(self) -> str:
        return (f"map_weight={self.map_weight}, cls_weight={self.cls_weight}, threshold={self.threshold}, "
                f"pos_weight={self.pos_weight}")
