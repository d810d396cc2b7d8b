"""Cosine map loss (beyond the paper): ``1 - COSS`` per image, blind to the map's scale."""

from __future__ import annotations

import torch
from torch import nn

from fklib.losses import _functional as F


def cosine_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``mean_b (1 - cos(pred_b, target_b))`` over the images whose target is not all zero (``0`` if none).

    The evaluation's COSS per image (:func:`fklib.metrics.functional.coss`), as a loss: it asks for the map's shape
    and ignores its level, so it is meant beside a term that sets the level (``"l1+10*l2+coss"``).

    Args:
        pred: predicted fakeness map in ``[0, 1]``.
        target: ground-truth gray map in ``[0, 1]`` (eq. 4); a real image's all-zero map takes no part.

    Shape:
        - pred, target: ``(B, 1, H, W)`` or ``(B, H, W)``.
        - output: scalar.
    """
    return F.cosine(pred, target)


class CosineLoss(nn.Module):
    """Module form of :func:`cosine_loss`."""

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return cosine_loss(pred, target)
