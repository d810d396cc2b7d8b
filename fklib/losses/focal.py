"""Focal map loss (paper eqs. 7-8) with the gray ground truth as a soft label."""

from __future__ import annotations

import torch
from torch import nn

from fklib.losses import _functional as F


def focal_loss(pred: torch.Tensor, target: torch.Tensor, alpha: float = 0.25, gamma: float = 2.0,
               eps: float = 1e-6) -> torch.Tensor:
    """Focal loss (Lin et al., eqs. 7-8) on probabilities, with a soft (gray) label.

    Per pixel, with ``p = clamp(pred, eps, 1 - eps)`` and ``y = target``::

        FL = -[ alpha * y * (1 - p)**gamma * log(p)
                + (1 - alpha) * (1 - y) * p**gamma * log(1 - p) ]

    averaged over all pixels of the batch. With a hard label ``y in {0, 1}`` this is
    exactly eq. 8, ``FL = -alpha_t * (1 - p_t)**gamma * log(p_t)`` with ``p_t = p`` and
    ``alpha_t = alpha`` where ``y = 1``, ``p_t = 1 - p`` and ``alpha_t = 1 - alpha`` otherwise.
    The clamp keeps ``log`` finite; its gradient is zero where ``pred`` is outside
    ``[eps, 1 - eps]``.

    Args:
        pred: predicted fakeness map in ``[0, 1]`` (after the model's sigmoid).
        target: ground-truth gray map in ``[0, 1]`` (eq. 4), used as a soft label.
        alpha: weight of the positive (fake) term; ``1 - alpha`` weights the negative term.
        gamma: focusing parameter.
        eps: clamp margin of ``p``.

    Shape:
        - pred: ``(B, 1, H, W)`` or ``(B, H, W)``.
        - target: same shape as ``pred``.
        - output: scalar (0-dim tensor).

    Raises:
        ValueError: the shapes differ or are not ``Bx1xHxW`` / ``BxHxW``.
    """
    return F.focal(pred, target, alpha=alpha, gamma=gamma, eps=eps)


class FocalLoss(nn.Module):
    """Module form of :func:`focal_loss` (eqs. 7-8); defaults ``alpha=0.25, gamma=2.0, eps=1e-6``."""

    def __init__(self, alpha: float = 0.25, gamma: float = 2.0, eps: float = 1e-6) -> None:
        super().__init__()
        self.alpha = alpha
        self.gamma = gamma
        self.eps = eps

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return focal_loss(pred, target, alpha=self.alpha, gamma=self.gamma, eps=self.eps)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}, gamma={self.gamma}, eps={self.eps}"
