"""Pieces shared by the locator models.

- :class:`LocatorOutput` -- what every model returns: the fakeness map and the real/fake logit.
- :class:`ImageNetNormalize` -- the models take images in [0, 1] and normalise them themselves.
- :func:`attend` -- the face-attention product of paper Sec. 4.4 / Fig. 4: the attention map,
  resized to a feature map's size, multiplied channel-wise into it.
- :class:`ClassifierHead` -- global average pool -> dropout -> linear, one real/fake logit.
- :class:`ConvBNReLU`, :class:`DoubleConv` -- conv blocks of the U-Net-style decoders.
"""

from __future__ import annotations

from typing import NamedTuple, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "LocatorOutput", "PriorBlend", "IMAGENET_MEAN", "IMAGENET_STD", "ImageNetNormalize", "resize_attention", "attend",
    "check_inputs", "ClassifierHead", "ConvBNReLU", "DoubleConv", "upsample_to", "count_parameters",
]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class LocatorOutput(NamedTuple):
    """Output of every locator model.

    Attributes:
        map: B x 1 x H x W fakeness prediction map in [0, 1] (after the sigmoid limiting layer),
            at the input resolution.
        logit: B real/fake logits (fake = positive), or ``None`` for a model built with
            ``classifier=False`` (the paper's "no cl" variant).
        property_logits: B x K logits over the edited property (auxiliary multi-task head,
            beyond the paper), or ``None`` for a model built with ``num_properties=0``.
        coarse_map: the model's own low-resolution map before its upsampling to ``map``, for
            a loss defined at that resolution (``dffd_xception``: the 19 x 19 attention map
            at 299 px, trained by :class:`fklib.losses.DFFDLoss`); ``None`` for the others.
        region: B x 1 x H x W prediction of the face-attention map (the edited property's region),
            a training-only auxiliary target, for a model built with ``region_head=True``; else ``None``.
        texture: B x 1 x H x W texture map of a hybrid locator before the gate mixes in the layout map
            (trained with the map loss too, so that the texture branch localizes on its own); else ``None``.
    """

    map: Tensor
    logit: Optional[Tensor]
    property_logits: Optional[Tensor] = None
    coarse_map: Optional[Tensor] = None
    region: Optional[Tensor] = None
    texture: Optional[Tensor] = None


class ImageNetNormalize(nn.Module):
    """``(x - mean) / std`` with the ImageNet statistics (buffers, not saved in the state dict).

    Args:
        mean, std: per-channel statistics (RGB).
        channels_last: return the result in ``torch.channels_last`` memory format, so that the
            convolutions after it run channels-last (about 1.5-2x faster on CPU with oneDNN,
            and the layout tensor cores prefer). Values are unchanged.

    Shape:
        x: B x 3 x H x W in [0, 1] -> same shape.
    """

    def __init__(self, mean: tuple[float, float, float] = IMAGENET_MEAN,
                 std: tuple[float, float, float] = IMAGENET_STD, *, channels_last: bool = False) -> None:
        super().__init__()
        self.channels_last = channels_last
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        out = (x - self.mean.to(x.dtype)) / self.std.to(x.dtype)
        return out.contiguous(memory_format=torch.channels_last) if self.channels_last else out


def resize_attention(attention: Tensor, size: tuple[int, int]) -> Tensor:
    """Bilinear resize (``align_corners=False``) of a B x 1 x h x w attention map to ``size``."""
    if tuple(attention.shape[-2:]) == tuple(size):
        return attention
    return F.interpolate(attention, size=size, mode="bilinear", align_corners=False)


def attend(feature: Tensor, attention: Optional[Tensor]) -> tuple[Tensor, Optional[Tensor]]:
    """Multiply the face attention map channel-wise into an encoder feature map.

    The attention is resized (bilinear, ``align_corners=False``) to the feature map's size and
    broadcast over its channels. The resized map is returned too: encoders pass it to the next,
    coarser stage, so each halving is a bilinear 2x downsample (an exact 2x2 mean) and the
    pyramid is anti-aliased. An all-ones map stays exactly ones, so ``attention`` of ones gives
    bit-identical results to ``attention=None``, which skips the product (the paper's test-time
    "white map").

    Args:
        feature: B x C x h x w encoder feature map.
        attention: B x 1 x H x W map in [0, 1] at any resolution, or ``None`` (no-op).

    Returns:
        ``(feature * attention_resized, attention_resized)``, or ``(feature, None)``.
    """
    if attention is None:
        return feature, None
    att = resize_attention(attention.to(feature.dtype), tuple(feature.shape[-2:]))
    return feature * att, att


def check_inputs(x: Tensor, attention: Optional[Tensor]) -> None:
    """Raise ``ValueError`` unless ``x`` is B x 3 x H x W and ``attention`` is None or B x 1 x H x W."""
    if x.dim() != 4 or x.shape[1] != 3:
        raise ValueError(f"expected x of shape B x 3 x H x W, got {tuple(x.shape)}")
    if attention is not None:
        b, _, h, w = x.shape
        if attention.dim() != 4 or tuple(attention.shape) != (b, 1, h, w):
            raise ValueError(f"expected attention of shape {(b, 1, h, w)} (B x 1 x H x W), "
                             f"got {tuple(attention.shape)}")


def upsample_to(x: Tensor, size: tuple[int, int]) -> Tensor:
    """Bilinear resize (``align_corners=False``) of ``x`` to spatial ``size`` (no-op when equal)."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


class ClassifierHead(nn.Module):
    """Real/fake classifier on the encoder's deepest features: global average pool -> dropout -> linear.

    Args:
        in_channels: channels of the deepest encoder feature map.
        dropout: dropout probability before the linear layer.
        out_features: 1 for the real/fake logit; K for a K-way head (the property head).

    Shape:
        x: B x C x h x w -> B logits (``out_features == 1``) or B x K.
    """

    def __init__(self, in_channels: int, dropout: float = 0.2, out_features: int = 1) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(in_channels, out_features)

    def forward(self, x: Tensor) -> Tensor:
        out = self.fc(self.dropout(torch.flatten(self.pool(x), 1)))
        return out.squeeze(1) if out.shape[1] == 1 else out


class ConvBNReLU(nn.Sequential):
    """Conv (no bias, same padding) -> BatchNorm -> ReLU.

    Args:
        in_channels, out_channels: channels.
        kernel_size: odd kernel size.
        stride: convolution stride.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, stride: int = 1) -> None:
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=kernel_size // 2, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )


class DoubleConv(nn.Sequential):
    """Two 3x3 :class:`ConvBNReLU` (the U-Net block).

    Args:
        in_channels, out_channels: channels.
        mid_channels: channels between the two convs (default ``out_channels``).
    """

    def __init__(self, in_channels: int, out_channels: int, mid_channels: Optional[int] = None) -> None:
        mid = mid_channels or out_channels
        super().__init__(ConvBNReLU(in_channels, mid), ConvBNReLU(mid, out_channels))


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters of ``model`` (only those with ``requires_grad`` if ``trainable_only``)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


class PriorBlend(nn.Module):
    """A locator whose map is blended with property prior maps weighted by its own property head.

    ``map = alpha * model_map + (1 - alpha) * sum_k softmax(property_logits)_k * prior_k``

    ``prior_k`` is the mean ground-truth map of property class ``k`` over the training fakes
    (zeros for the ``Real`` class), set by the training code; ``alpha`` is chosen on the
    validation split. This adds what the input-blind per-property mean map knows (where an
    edit of each property usually lands) in proportion to how sure the model is of the edited
    property. Beyond the paper.

    Args:
        model: a locator built with ``num_properties = K``.
        priors: ``K x H x W`` prior maps in ``[0, 1]`` (resized to the input size when they differ).
        alpha: weight of the model's own map in ``[0, 1]``.
    """

    def __init__(self, model: nn.Module, priors: Tensor, alpha: float) -> None:
        super().__init__()
        if priors.ndim != 3:
            raise ValueError(f"PriorBlend: priors must be K x H x W, got {tuple(priors.shape)}")
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"PriorBlend: alpha must be in [0, 1], got {alpha}")
        self.model = model
        self.register_buffer("priors", priors.float()[:, None])
        self.alpha = float(alpha)

    def forward(self, x: Tensor, attention: Optional[Tensor] = None) -> LocatorOutput:
        out = self.model(x, attention)
        if out.property_logits is None:
            raise ValueError("PriorBlend needs a model with a property head (num_properties > 0)")
        if out.property_logits.shape[1] != self.priors.shape[0]:
            raise ValueError(f"PriorBlend: {out.property_logits.shape[1]} property logits but "
                             f"{self.priors.shape[0]} prior maps")
        priors = self.priors
        if priors.shape[-2:] != out.map.shape[-2:]:
            priors = F.interpolate(priors, size=out.map.shape[-2:], mode="bilinear", align_corners=False)
        prior_map = torch.einsum("bk,kchw->bchw", out.property_logits.float().softmax(1), priors)
        blended = self.alpha * out.map + (1.0 - self.alpha) * prior_map.to(out.map.dtype)
        return LocatorOutput(blended, out.logit, out.property_logits)
