"""Losses of the locator (paper §4.3): one map loss per module over a shared functional core.

Each loss is both a function and an ``nn.Module``; all take ``pred`` (predicted fakeness map
in ``[0, 1]``, after the sigmoid) and ``target`` (ground-truth gray map, eq. 4), same shape,
``Bx1xHxW`` or ``BxHxW``.

- :func:`l1_loss` / :class:`L1Loss`       -- eq. 5, mean absolute error.
- :func:`l2_loss` / :class:`L2Loss`       -- eq. 6, mean squared error.
- :func:`focal_loss` / :class:`FocalLoss` -- eqs. 7-8 with the gray target as a soft label.
- :func:`dice_loss` / :class:`DiceLoss`   -- ``1 -`` soft Dice coefficient (eq. 9), per image.
- :func:`ssim_loss` / :class:`SSIMLoss`   -- ``1 - SSIM`` (beyond the paper).
- :func:`cosine_loss` / :class:`CosineLoss` -- ``1 - COSS`` per image, scale-free (beyond the paper; ``"coss"``).
  Sums like ``"l1+ssim"``, weighted like ``"l1+10*l2+coss"`` (:func:`loss_terms`).
- :class:`LocatorLoss`                    -- map loss + ``cls_weight`` x BCE of the classifier.
- :func:`dffd_gt` / :class:`DFFDLoss`     -- the Table-2 baseline (DFFD): L1 of its 19x19 map against
  the GT resized and thresholded at 0.1, + BCE; it takes ``LocatorOutput.coarse_map``.
- :func:`make_criterion`                  -- ``TrainConfig.loss`` -> ``LocatorLoss`` or ``DFFDLoss`` (``"dffd"``).
"""

from fklib.losses.cosine import CosineLoss, cosine_loss
from fklib.losses.dffd import DFFDLoss, dffd_gt
from fklib.losses.dice import DiceLoss, dice_loss
from fklib.losses.focal import FocalLoss, focal_loss
from fklib.losses.l1 import L1Loss, l1_loss
from fklib.losses.l2 import L2Loss, l2_loss
from fklib.losses.locator import MAP_LOSSES, LocatorLoss, SumLoss, loss_terms, make_criterion, make_map_loss
from fklib.losses.ssim import SSIMLoss, ssim_loss

__all__ = [
    "l1_loss", "L1Loss",
    "l2_loss", "L2Loss",
    "focal_loss", "FocalLoss",
    "dice_loss", "DiceLoss",
    "ssim_loss", "SSIMLoss",
    "cosine_loss", "CosineLoss",
    "MAP_LOSSES", "loss_terms", "make_map_loss", "LocatorLoss", "SumLoss",
    "dffd_gt", "DFFDLoss", "make_criterion",
]
