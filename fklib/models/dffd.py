"""``dffd_xception``: the paper's baseline (Table 2), the DFFD attention-map classifier.

Stehouwer et al. 2019, "On the Detection of Digital Face Manipulation" (CVPR 2020; code
``JStehouwer/FFD_CVPR2020``, ``xception.py`` with ``maptype='reg'``): an Xception classifier
whose *regression-map* attention module (a 3x3 separable conv of the middle-flow features to
one channel, then a sigmoid) gives a coarse manipulation map that is multiplied into the
features. At a 299 px input the middle flow is 19 x 19, so the map is 19 x 19; the FakeLocator
paper (Sec. 1, Table 2) upsamples it to the evaluation resolution before its metrics, which is
what ``map`` of the output is here.

Topology, as in DFFD's code (channels at ``width = 1``):

- entry flow: 3x3/2 conv (no padding) 32 -> BN -> ReLU -> 3x3 conv (no padding) 64 -> BN ->
  ReLU, then three residual blocks of two separable convs + BN with a 3x3/2 max-pool and a 1x1/2
  conv + BN shortcut (128, 256, 728 channels); 299 -> 149 -> 147 -> 74 -> 37 -> 19;
- middle flow: ``middle_blocks`` (DFFD: 8) residual blocks of three ReLU -> separable conv -> BN
  at 728 channels; the attention map is computed and multiplied in after the first half of them
  (DFFD: after ``block7``, the 4th of 8);
- exit flow: a strided residual block to 1024, separable convs to 1536 and 2048 (BN, ReLU),
  ReLU -> global average pool -> linear to one real/fake logit (DFFD has two softmax classes; one
  logit with a BCE is the same model: ``softmax((0, z))[1] = sigmoid(z)``).

Initialisation: PyTorch's defaults (``init="torch"``). DFFD's published models start from the
ImageNet Xception, and there its attention-map conv keeps PyTorch's default initialisation
(``init_weights`` runs only without the ImageNet weights). We have no Xception weights offline, so
everything is trained from scratch; DFFD's from-scratch ``init_weights`` (conv/linear N(0, 0.01),
BatchNorm weights N(1, 0.01); ``init="dffd"``) makes the map conv a product of two tiny factors,
and in a CPU budget of a few hundred steps the map then hardly leaves a constant 0.5 (measured on
STGAN Bald, width 0.125, lr 1e-3, batch 8: after 35 steps map mean 0.47 and std 0.04, L1 term 0.48,
against 0.09, 0.13 and 0.11 with the default init). Inputs are normalised with
mean = std = 0.5 per channel (DFFD's ``xcp`` config).
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .common import ClassifierHead, ImageNetNormalize, LocatorOutput, attend, check_inputs, upsample_to
from .registry import register_model

__all__ = ["DFFDXception", "SeparableConv2d", "XceptionBlock", "DFFD_MEAN", "DFFD_STD"]

#: DFFD's input normalisation for the Xception backbone (``CONFIGS['xcp']['norms']``).
DFFD_MEAN = (0.5, 0.5, 0.5)
DFFD_STD = (0.5, 0.5, 0.5)

# Xception channel widths at width = 1: stem (2), entry blocks (3), middle, exit block, exit convs (2).
_STEM = (32, 64)
_ENTRY = (128, 256, 728)
_MIDDLE = 728
_EXIT = (1024, 1536, 2048)


class SeparableConv2d(nn.Sequential):
    """Depthwise k x k conv (``groups = in_channels``) followed by a 1x1 pointwise conv, no biases."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, padding: int = 1) -> None:
        super().__init__(
            nn.Conv2d(in_channels, in_channels, kernel_size, padding=padding, groups=in_channels, bias=False),
            nn.Conv2d(in_channels, out_channels, 1, bias=False),
        )


class XceptionBlock(nn.Module):
    """Xception residual block (DFFD's ``Block``).

    ``reps`` x (ReLU -> 3x3 separable conv -> BN); the channel change happens in the first
    (``grow_first``) or the last separable conv; a stride > 1 ends the branch with a 3x3 max-pool
    of that stride (padding 1). The shortcut is a 1x1 strided conv + BN when channels or stride
    change, the identity otherwise. ``start_with_relu=False`` drops the leading ReLU.
    """

    def __init__(self, in_channels: int, out_channels: int, reps: int, stride: int = 1,
                 start_with_relu: bool = True, grow_first: bool = True) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c = in_channels
        for i in range(reps):
            grow = (i == 0) if grow_first else (i == reps - 1)
            c_out = out_channels if grow else c
            # the first ReLU must not act in place: its input is also the shortcut's input
            layers += [nn.ReLU(inplace=i > 0), SeparableConv2d(c, c_out), nn.BatchNorm2d(c_out)]
            c = c_out
        if not start_with_relu:
            layers = layers[1:]
        if stride != 1:
            layers.append(nn.MaxPool2d(3, stride, 1))
        self.rep = nn.Sequential(*layers)
        self.skip: Optional[nn.Sequential] = None
        if out_channels != in_channels or stride != 1:
            self.skip = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                                      nn.BatchNorm2d(out_channels))

    def forward(self, x: Tensor) -> Tensor:
        return self.rep(x) + (x if self.skip is None else self.skip(x))


def _dffd_init(module: nn.Module) -> None:
    """DFFD's ``init_weights``: conv/linear N(0, 0.01) and zero bias; BatchNorm N(1, 0.01) and zero bias."""
    if isinstance(module, (nn.Conv2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.01)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.01)
        nn.init.zeros_(module.bias)


@register_model("dffd_xception")
class DFFDXception(nn.Module):
    """The DFFD baseline: Xception with the regression attention map (Stehouwer et al. 2019).

    The input is resized (bilinear, anti-aliased, ``align_corners=False``, as PIL's resize in
    DFFD's data loader) to ``input_size`` x ``input_size``; the attention map of the middle flow
    (19 x 19 at 299 px) is ``coarse_map``; ``map`` is that map upsampled (bilinear,
    ``align_corners=False``) back to the input's H x W -- a soft map in [0, 1] (the sigmoid
    output; DFFD trains it towards a binary GT, :func:`fklib.losses.dffd_gt`, but does not
    binarise it).

    Args:
        width: multiplier of Xception's channel widths (1.0 = the real Xception / DFFD; 0.25 is
            practical on a CPU). Every width is ``max(1, round(c * width))``.
        middle_blocks: residual blocks in the middle flow (Xception/DFFD: 8); the attention map
            is applied after ``middle_blocks // 2`` of them (DFFD: after the 4th).
        input_size: side of the square the input is resized to (DFFD: 299, giving the 19 x 19
            map); ``None`` keeps the input's own size.
        classifier: must be ``True``: DFFD is a classifier (its map is an attention inside the
            classifier); ``False`` raises ``ValueError``.
        dropout: dropout before the final linear layer (DFFD: none).
        num_properties: must be 0 (DFFD has no property head); > 0 raises ``ValueError``.
        init: ``"torch"`` (PyTorch's defaults, the default) or ``"dffd"`` (DFFD's from-scratch
            ``init_weights``; see the module docstring).
        channels_last: run the convolutions in channels-last memory format (same values; about
            3x faster training on CPU for the depthwise convolutions).

    The optional face ``attention`` (paper Sec. 4.4) is multiplied, via :func:`attend`, into the
    stem output and each entry-flow block's output (our encoders' convention); DFFD itself has
    none, and the Table-2 baseline is trained without it (``attention=None`` = ones = no-op).

    Shape:
        x: B x 3 x H x W in [0, 1], any H, W (``input_size`` >= 32 keeps every stage non-empty).
        attention: optional B x 1 x H x W in [0, 1]; None means ones.
        Output: :class:`LocatorOutput` with ``map`` B x 1 x H x W in [0, 1], ``logit`` B, and
        ``coarse_map`` B x 1 x s x s in [0, 1], the entry flow's output size:
        ``s = ceil(((input_size - 3) // 2 - 1) / 8)`` (19 at 299, 4 at 64).
    """

    def __init__(self, *, width: float = 0.25, middle_blocks: int = 8, input_size: Optional[int] = 299,
                 classifier: bool = True, dropout: float = 0.0, num_properties: int = 0, init: str = "torch",
                 channels_last: bool = True) -> None:
        super().__init__()
        if not classifier:
            raise ValueError("dffd_xception is a classifier (its map is an attention inside the classifier): "
                             "classifier=False is not supported")
        if num_properties:
            raise ValueError(f"dffd_xception has no property head (num_properties={num_properties}); "
                             "train it with property_weight=0 and prior_blend=false")
        if width <= 0:
            raise ValueError(f"width must be positive, got {width}")
        if middle_blocks < 1:
            raise ValueError(f"middle_blocks must be >= 1, got {middle_blocks}")
        if input_size is not None and input_size < 32:
            raise ValueError(f"input_size must be >= 32 (or None), got {input_size}")
        if init not in ("dffd", "torch"):
            raise ValueError(f"init must be 'dffd' or 'torch', got {init!r}")

        def ch(c: int) -> int:
            return max(1, int(round(c * width)))

        self.width = float(width)
        self.input_size = input_size
        self.attention_after = middle_blocks // 2
        self.normalize = ImageNetNormalize(DFFD_MEAN, DFFD_STD, channels_last=channels_last)
        s0, s1 = ch(_STEM[0]), ch(_STEM[1])
        self.stem = nn.ModuleList([
            nn.Sequential(nn.Conv2d(3, s0, 3, stride=2, bias=False), nn.BatchNorm2d(s0), nn.ReLU(inplace=True)),
            nn.Sequential(nn.Conv2d(s0, s1, 3, bias=False), nn.BatchNorm2d(s1), nn.ReLU(inplace=True)),
        ])
        e = [ch(c) for c in _ENTRY]
        self.entry = nn.ModuleList([
            XceptionBlock(s1, e[0], 2, 2, start_with_relu=False, grow_first=True),
            XceptionBlock(e[0], e[1], 2, 2),
            XceptionBlock(e[1], e[2], 2, 2),
        ])
        m = ch(_MIDDLE)
        if m != e[2]:  # both are 728 * width
            raise AssertionError("entry and middle widths differ")
        self.middle = nn.ModuleList(XceptionBlock(m, m, 3, 1) for _ in range(middle_blocks))
        self.map_conv = SeparableConv2d(m, 1)  # DFFD's RegressionMap: separable 3x3 conv to 1 channel, sigmoid
        x0, x1, x2 = (ch(c) for c in _EXIT)
        self.exit = nn.Sequential(
            XceptionBlock(m, x0, 2, 2, start_with_relu=True, grow_first=False),
            SeparableConv2d(x0, x1), nn.BatchNorm2d(x1), nn.ReLU(inplace=True),
            SeparableConv2d(x1, x2), nn.BatchNorm2d(x2), nn.ReLU(inplace=True),
        )
        self.cls_head = ClassifierHead(x2, dropout)
        if init == "dffd":
            self.apply(_dffd_init)

    def forward(self, x: Tensor, attention: Optional[Tensor] = None) -> LocatorOutput:
        check_inputs(x, attention)
        size = tuple(x.shape[-2:])
        if self.input_size is not None and size != (self.input_size, self.input_size):
            h = F.interpolate(x, size=(self.input_size, self.input_size), mode="bilinear", align_corners=False,
                              antialias=True)
        else:
            h = x
        h = self.normalize(h)
        att = attention
        for layer in (*self.stem, *self.entry):
            h, att = attend(layer(h), att)
        for block in self.middle[:self.attention_after]:
            h = block(h)
        coarse = torch.sigmoid(self.map_conv(h))
        h = h * coarse
        for block in self.middle[self.attention_after:]:
            h = block(h)
        logit = self.cls_head(self.exit(h))
        return LocatorOutput(upsample_to(coarse, size), logit, None, coarse)
