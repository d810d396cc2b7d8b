"""Training objective of the locator: a map loss (§4.3) plus an optional classifier term."""

from __future__ import annotations

import inspect
import math
from typing import Any

import torch
import torch.nn.functional as TF
from torch import nn

from fklib.losses.cosine import CosineLoss
from fklib.losses.dffd import DFFDLoss
from fklib.losses.dice import DiceLoss
from fklib.losses.focal import FocalLoss
from fklib.losses.l1 import L1Loss
from fklib.losses.l2 import L2Loss
from fklib.losses.ssim import SSIMLoss

#: Map losses by name: the four of the paper's Table 2, plus ``ssim`` (1 - SSIM) and ``coss`` (1 - COSS per image,
#: scale-free).
MAP_LOSSES: dict[str, type[nn.Module]] = {
    "l1": L1Loss,
    "l2": L2Loss,
    "focal": FocalLoss,
    "dice": DiceLoss,
    "ssim": SSIMLoss,
    "coss": CosineLoss,
}


def loss_terms(name: str) -> list[tuple[float, str]]:
    """The ``(weight, map loss)`` terms of a loss name: ``"l1+10*l2+0.5*coss"`` -> ``[(1, 'l1'), (10, 'l2'),
    (0.5, 'coss')]``; a term without ``w*`` has weight 1.

    Raises:
        ValueError: an unknown map loss, or a weight that is not a number > 0.
    """
    terms = []
    for part in name.split("+"):
        weight, _, loss = part.strip().rpartition("*")
        try:
            w = float(weight) if weight else 1.0
        except ValueError:
            w = math.nan
        if not w > 0 or math.isinf(w):
            raise ValueError(f"loss term {part!r}: the weight must be a number > 0 (as in '10*l2')")
        if loss not in MAP_LOSSES:
            raise ValueError(f"unknown map loss {loss!r}; expected one of {sorted(MAP_LOSSES)} or a '+' sum of "
                             "them, each optionally weighted ('l1+10*l2')")
        terms.append((w, loss))
    return terms


class SumLoss(nn.Module):
    """Weighted sum of several map losses (``"l1+ssim"``, ``"l1+10*l2"``); weights default to 1."""

    def __init__(self, losses: list[nn.Module], weights: list[float] | None = None) -> None:
        super().__init__()
        self.losses = nn.ModuleList(losses)
        self.weights = [1.0] * len(losses) if weights is None else [float(w) for w in weights]
        if len(self.weights) != len(self.losses):
            raise ValueError(f"SumLoss: {len(self.losses)} losses but {len(self.weights)} weights")

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return sum(w * loss(pred, target) for w, loss in zip(self.weights, self.losses))


def make_map_loss(name: str, **loss_kwargs: Any) -> nn.Module:
    """Build the map loss registered under ``name``; ``"a+b"`` sums losses ``a`` and ``b``, ``"a+10*b"`` weighs
    ``b`` by 10 (:func:`loss_terms`).

    ``loss_kwargs`` go to every part of a sum that accepts them (e.g. ``alpha``, ``gamma`` for focal).

    Raises:
        ValueError: unknown name or a bad weight.
    """
    terms = loss_terms(name)
    if len(terms) == 1 and terms[0][0] == 1.0:
        return MAP_LOSSES[terms[0][1]](**loss_kwargs)
    built = []
    for _, part in terms:
        accepted = inspect.signature(MAP_LOSSES[part].__init__).parameters
        built.append(MAP_LOSSES[part](**{k: v for k, v in loss_kwargs.items() if k in accepted}))
    return SumLoss(built, [w for w, _ in terms])


class LocatorLoss(nn.Module):
    """Map loss plus weighted real/fake classifier loss.

    ``total = map_loss(pred_map, target_map) + cls_weight * cls``, where
    ``cls = binary_cross_entropy_with_logits(logit, label)`` (mean over the batch) when a
    classifier logit is given, and ``cls = 0`` when ``logit`` is ``None`` (a model without
    classifier, "no cl" in Table 2).

    Args:
        map_loss: name in :data:`MAP_LOSSES`.
        cls_weight: weight of the classifier term.
        pos_weight: weight of the fake (positive) class in the BCE (``pos_weight`` of
            :func:`torch.nn.functional.binary_cross_entropy_with_logits`); ``n_real / n_fake``
            balances a training set with few reals. ``None`` = 1.
        **loss_kwargs: passed to the map-loss class (e.g. ``alpha``/``gamma`` for focal,
            ``smooth`` for dice).

    Shape:
        - pred_map, target_map: ``(B, 1, H, W)`` or ``(B, H, W)``, maps in ``[0, 1]``.
        - logit: ``(B,)`` raw classifier output (before sigmoid), or ``None``.
        - label: ``(B,)``, 1 for fake and 0 for real (any numeric/bool dtype; cast to float).
        - output: dict of 0-dim tensors ``{"loss": total, "map": map term, "cls": classifier term}``.

    Raises:
        ValueError: unknown ``map_loss``; ``logit`` given without ``label``; ``logit`` and
            ``label`` not both of shape ``(B,)``; map shapes invalid (from the map loss).
    """

    def __init__(self, map_loss: str = "l1", cls_weight: float = 0.1, pos_weight: float | None = None,
                 **loss_kwargs: Any) -> None:
        super().__init__()
        self.map_loss_name = map_loss
        self.map_loss = make_map_loss(map_loss, **loss_kwargs)
        self.cls_weight = float(cls_weight)
        self.pos_weight = None if pos_weight is None else float(pos_weight)

    def forward(self, pred_map: torch.Tensor, target_map: torch.Tensor,
                logit: torch.Tensor | None = None, label: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        map_term = self.map_loss(pred_map, target_map)
        if logit is None:
            cls_term = torch.zeros((), dtype=map_term.dtype, device=map_term.device)
        else:
            if label is None:
                raise ValueError("LocatorLoss: a classifier logit needs a label")
            if logit.ndim != 1 or label.shape != logit.shape or logit.shape[0] != pred_map.shape[0]:
                raise ValueError(f"LocatorLoss: logit {tuple(logit.shape)} and label {tuple(label.shape)} "
                                 f"must both be (B,) with B = {pred_map.shape[0]}")
            pw = None if self.pos_weight is None else torch.tensor(self.pos_weight, dtype=logit.dtype,
                                                                     device=logit.device)
            cls_term = TF.binary_cross_entropy_with_logits(logit, label.to(logit.dtype), pos_weight=pw)
        total = map_term + self.cls_weight * cls_term
        return {"loss": total, "map": map_term, "cls": cls_term}

    def extra_repr(self) -> str:
        return f"map_loss={self.map_loss_name!r}, cls_weight={self.cls_weight}, pos_weight={self.pos_weight}"


def make_criterion(loss: str, cls_weight: float = 0.1, pos_weight: float | None = None,
                   **loss_kwargs: Any) -> nn.Module:
    """The training objective named by ``TrainConfig.loss``.

    ``"dffd"`` gives :class:`~fklib.losses.DFFDLoss` (the Table-2 baseline; it takes the model's
    ``coarse_map``, see :attr:`DFFDLoss.uses_coarse_map`); any map-loss name (or ``"a+b"`` sum)
    gives :class:`LocatorLoss`. ``loss_kwargs`` go to the chosen class.
    """
    if loss == "dffd":
        return DFFDLoss(cls_weight=cls_weight, pos_weight=pos_weight, **loss_kwargs)
    return LocatorLoss(loss, cls_weight=cls_weight, pos_weight=pos_weight, **loss_kwargs)
