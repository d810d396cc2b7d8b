"""Shared functional core of the map losses (paper §4.3, eqs. 5-9).

Every function here takes ``pred`` (the predicted fakeness map, already in ``[0, 1]``
after the model's sigmoid) and ``target`` (the ground-truth gray map of eq. 4, in
``[0, 1]``), both ``Bx1xHxW`` or both ``BxHxW``, and returns a 0-dim tensor. The loss
modules in :mod:`fklib.losses` are thin wrappers around these functions.
"""

from __future__ import annotations

import torch


def check_maps(pred: torch.Tensor, target: torch.Tensor, name: str) -> None:
    """Raise ``ValueError`` unless ``pred`` and ``target`` are same-shaped ``Bx1xHxW`` or ``BxHxW`` tensors."""
    if not isinstance(pred, torch.Tensor) or not isinstance(target, torch.Tensor):
        raise ValueError(f"{name}: pred and target must be torch tensors, "
                         f"got {type(pred).__name__} and {type(target).__name__}")
    if pred.shape != target.shape:
        raise ValueError(f"{name}: pred {tuple(pred.shape)} and target {tuple(target.shape)} differ in shape")
    if pred.ndim == 4:
        if pred.shape[1] != 1:
            raise ValueError(f"{name}: expected Bx1xHxW maps, got {tuple(pred.shape)}")
    elif pred.ndim != 3:
        raise ValueError(f"{name}: expected Bx1xHxW or BxHxW maps, got {tuple(pred.shape)}")


def l1(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Eq. 5: ``mean(|pred - target|)`` over all elements."""
    check_maps(pred, target, "l1_loss")
    return (pred - target).abs().mean()


def l2(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Eq. 6: ``mean((pred - target) ** 2)`` over all elements."""
    check_maps(pred, target, "l2_loss")
    return (pred - target).pow(2).mean()


def focal(pred: torch.Tensor, target: torch.Tensor, alpha: float = 0.25, gamma: float = 2.0,
          eps: float = 1e-6) -> torch.Tensor:
    """Eqs. 7-8 with the gray target ``y`` used as a soft label, averaged over all pixels.

    ``FL = -[alpha * y * (1 - p)**gamma * log(p) + (1 - alpha) * (1 - y) * p**gamma * log(1 - p)]``
    with ``p = clamp(pred, eps, 1 - eps)``.
    """
    check_maps(pred, target, "focal_loss")
    p = pred.clamp(eps, 1.0 - eps)
    pos = alpha * target * (1.0 - p).pow(gamma) * torch.log(p)
    neg = (1.0 - alpha) * (1.0 - target) * p.pow(gamma) * torch.log(1.0 - p)
    return -(pos + neg).mean()


def soft_dice_score(pred: torch.Tensor, target: torch.Tensor, smooth: float = 1.0) -> torch.Tensor:
    """Per-image soft Dice coefficient (eq. 9), shape ``B``.

    ``dice_b = (2 * sum(p * y) + smooth) / (sum(p) + sum(y) + smooth)``, the sums over all
    pixels of image ``b``.
    """
    check_maps(pred, target, "dice_loss")
    dims = tuple(range(1, pred.ndim))
    inter = (pred * target).sum(dim=dims)
    total = pred.sum(dim=dims) + target.sum(dim=dims)
    return (2.0 * inter + smooth) / (total + smooth)


def dice(pred: torch.Tensor, target: torch.Tensor, smooth: float = 1.0) -> torch.Tensor:
    """Soft Dice loss: ``mean_b(1 - dice_b)`` with ``dice_b`` from :func:`soft_dice_score`."""
    return (1.0 - soft_dice_score(pred, target, smooth)).mean()


def cosine(pred: torch.Tensor, target: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Scale-free map loss: ``mean_b (1 - <p_b, y_b> / (||p_b|| ||y_b||))`` over the images whose target is not all
    zero (a real image's map has no direction); ``0`` when no image of the batch has one.

    The evaluation's COSS (:func:`fklib.metrics.functional.coss`) per image, so the term is blind to a map's scale
    as COSS and pixel AUC are, and weighs a GAN whose maps are faint (AttentionGAN's noise floor is 1.7 gray levels)
    as much as one whose maps are strong (StarGAN-128's 10.6).
    """
    check_maps(pred, target, "cosine_loss")
    p, y = pred.flatten(1), target.flatten(1)
    norm_y = y.norm(dim=1)
    keep = norm_y > 0
    if not bool(keep.any()):
        return (pred * 0.0).sum()
    p, y, norm_y = p[keep], y[keep], norm_y[keep]
    cos = (p * y).sum(1) / (p.norm(dim=1) * norm_y).clamp_min(eps)
    return (1.0 - cos).mean()
