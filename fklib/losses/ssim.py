"""SSIM map loss (beyond the paper's four): ``1 - SSIM``, the metric's own definition, differentiable."""

from __future__ import annotations

import torch
from torch import nn

from fklib.losses import _functional as F
from fklib.metrics.functional import ssim_values


def ssim_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``1 - mean_b SSIM(pred_b, target_b)`` with the evaluation's SSIM (7x7 box window, data range 1).

    Args:
        pred: predicted fakeness map in ``[0, 1]``.
        target: ground-truth gray map in ``[0, 1]``.

    Shape:
        - pred, target: ``(B, 1, H, W)`` or ``(B, H, W)``, ``H, W >= 7``.
        - output: scalar.
    """
    F.check_maps(pred, target, "ssim_loss")
    return 1.0 - ssim_values(pred, target).mean()


class SSIMLoss(nn.Module):
    """Module form of :func:`ssim_loss`."""

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return ssim_loss(pred, target)
