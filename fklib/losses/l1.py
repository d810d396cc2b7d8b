"""L1 map loss (paper eq. 5)."""

from __future__ import annotations

import torch
from torch import nn

from fklib.losses import _functional as F


def l1_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean absolute error between a predicted and a ground-truth fakeness map (eq. 5).

    ``L1 = (1 / n) * sum |pred - target|`` over all ``n`` elements of the batch.

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
    return F.l1(pred, target)


class L1Loss(nn.Module):
    """Module form of :func:`l1_loss` (eq. 5)."""

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return l1_loss(pred, target)
