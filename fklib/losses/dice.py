"""Soft Dice map loss (paper eq. 9)."""

from __future__ import annotations

import torch
from torch import nn

from fklib.losses import _functional as F


def dice_loss(pred: torch.Tensor, target: torch.Tensor, smooth: float = 1.0) -> torch.Tensor:
    """Soft Dice loss: one minus the Dice coefficient of eq. 9, averaged over the batch.

    Eq. 9 is the coefficient ``2|A n B| / (|A| + |B|)``; on gray maps the set sizes become
    sums. Per image ``b``, summing over all its pixels::

        dice_b = (2 * sum(p * y) + smooth) / (sum(p) + sum(y) + smooth)

    and the loss is ``mean_b(1 - dice_b)``. ``smooth`` (default 1.0) keeps the ratio defined
    on empty maps: a real image (target all zero) predicted all zero has ``dice_b = 1``, loss 0.

    Args:
        pred: predicted fakeness map in ``[0, 1]`` (after the model's sigmoid).
        target: ground-truth gray map in ``[0, 1]`` (eq. 4).
        smooth: additive smoothing of numerator and denominator.

    Shape:
        - pred: ``(B, 1, H, W)`` or ``(B, H, W)``.
        - target: same shape as ``pred``.
        - output: scalar (0-dim tensor).

    Raises:
        ValueError: the shapes differ or are not ``Bx1xHxW`` / ``BxHxW``.
    """
    return F.dice(pred, target, smooth=smooth)


class DiceLoss(nn.Module):
    """Module form of :func:`dice_loss` (``1 - `` eq. 9); default ``smooth=1.0``."""

    def __init__(self, smooth: float = 1.0) -> None:
        super().__init__()
        self.smooth = smooth

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return dice_loss(pred, target, smooth=self.smooth)

    def extra_repr(self) -> str:
        return f"smooth={self.smooth}"
