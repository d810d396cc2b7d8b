"""Inference-time folding of BatchNorm into the convolution before it (same outputs, fewer passes).

In eval mode ``BN(conv(x)) = conv'(x)`` with ``W' = W * g / s`` and ``b' = (b - mu) * g / s + beta``
per output channel, where ``s = sqrt(running_var + eps)``. :func:`fold_batchnorm` finds every
BatchNorm2d whose input is exactly the output of a Conv2d (by running one example forward),
folds it and replaces it with ``nn.Identity``. About a fifth of the CPU inference time of the
EfficientNet-Lite0 U-Net is BatchNorm.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


def _parent_and_name(root: nn.Module, qualified: str) -> tuple[nn.Module, str]:
    parts = qualified.split(".")
    parent = root
    for p in parts[:-1]:
        parent = getattr(parent, p)
    return parent, parts[-1]


@torch.no_grad()
def fold_batchnorm(model: nn.Module, example: torch.Tensor) -> nn.Module:
    """Return an eval-mode copy of ``model`` with every conv -> BatchNorm2d pair folded.

    Args:
        model: any module (left unchanged).
        example: an input batch used once to see which BatchNorm follows which convolution.

    Returns:
        A deep copy in eval mode; its outputs equal the original's in eval mode up to float rounding.
    """
    folded = copy.deepcopy(model).eval()
    produced: dict[int, str] = {}
    pairs: list[tuple[str, str]] = []
    names = {m: n for n, m in folded.named_modules()}
    hooks = []
    for module in folded.modules():
        if isinstance(module, nn.Conv2d):
            hooks.append(module.register_forward_hook(
                lambda m, inp, out: produced.__setitem__(id(out), names[m])))
        elif isinstance(module, nn.BatchNorm2d):
            hooks.append(module.register_forward_pre_hook(
                lambda m, inp: pairs.append((produced[id(inp[0])], names[m])) if id(inp[0]) in produced else None))
    try:
        folded(example)
    finally:
        for h in hooks:
            h.remove()
    seen = set()
    for conv_name, bn_name in pairs:
        if bn_name in seen:
            continue
        seen.add(bn_name)
        conv = folded.get_submodule(conv_name)
        bn = folded.get_submodule(bn_name)
        scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        conv.weight.copy_(conv.weight * scale.reshape(-1, 1, 1, 1))
        bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
        new_bias = (bias - bn.running_mean) * scale + bn.bias
        conv.bias = nn.Parameter(new_bias)
        parent, attr = _parent_and_name(folded, bn_name)
        setattr(parent, attr, nn.Identity())
    return folded
