"""L2 map loss (paper eq. 6)."""

from __future__ import annotations

import torch
from torch import nn

from fklib.losses import _functional as F


def l2_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error between a predicted and a ground-truth fakeness map (eq. 6).

    ``L2 = (1 / n) * sum (pred - target) ** 2`` over all ``n`` elements of the batch.

    Args:
        pred: predicted fakeness map in ``[0, 1]`` (after the model's sigmoid).
        target: ground-truth gray map in ``[0, 1]`` (eq. 4).

    Shape:
        - pred: ``(B, 1, H, W)`` or ``(B, H, W)``.
        - target: same shape as ``pred``.
        - output: scalar (0-dim tensor).

    Raises:
        ValueError: the shapes differ or are not ``Bx1xHxW`` / ``BxHxW``.
    """
    return F.l2(pred, target)


class L2Loss(nn.Module):
    """Module form of :func:`l2_loss` (eq. 6)."""

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return l2_loss(pred, target)
