"""``unet_small``: a small from-scratch U-Net (fast tests, quick CPU experiments)."""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .common import ClassifierHead, DoubleConv, ImageNetNormalize, LocatorOutput, attend, check_inputs, upsample_to
from .registry import register_model

__all__ = ["UNetSmall"]


@register_model("unet_small")
class UNetSmall(nn.Module):
    """A small U-Net locator trained from scratch (about 0.84M parameters at ``base=16``).

    Encoder: a :class:`DoubleConv` at full resolution, then 4 x (2x2 max-pool + DoubleConv) with
    ``base * (1, 2, 4, 8, 8)`` channels (the deepest level is not widened, as in the bilinear
    U-Net). Decoder: 4 x (bilinear 2x upsample + concat skip + DoubleConv), a 1x1 conv and the
    sigmoid limiting layer. BatchNorm + ReLU throughout. The face attention is multiplied into
    each of the 5 encoder feature maps (paper Sec. 4.4).

    Args:
        base: channels of the full-resolution level.
        classifier: add the real/fake classifier head on the deepest features; ``False`` makes
            ``logit`` None (the paper's "no cl" variant).
        dropout: dropout before the classifier's linear layer.
        channels_last: run the convolutions in channels-last memory format (same values).
        num_properties: K > 0 adds a K-way edited-property head on the deepest features
            (auxiliary multi-task training, beyond the paper); 0 = none.

    Shape:
        x: B x 3 x H x W in [0, 1] (H, W divisible by 16 keep every level aligned; other sizes work down to
            :attr:`MIN_INPUT_SIZE`, below which the fourth max-pool has no pixel left).
        attention: optional B x 1 x H x W in [0, 1]; None means ones.
        Output: :class:`LocatorOutput` with ``map`` B x 1 x H x W in [0, 1] and ``logit`` B (or None).
    """

    #: The smallest input side (px): 4 max-pools of 2 need 2**4 pixels (``fklib.models.min_input_size``).
    MIN_INPUT_SIZE = 16

    def __init__(self, *, base: int = 16, classifier: bool = True, dropout: float = 0.2,
                 channels_last: bool = True, num_properties: int = 0) -> None:
        super().__init__()
        if base < 1:
            raise ValueError(f"base must be positive, got {base}")
        chans = [base, base * 2, base * 4, base * 8, base * 8]
        self.normalize = ImageNetNormalize(channels_last=channels_last)
        self.encoder = nn.ModuleList([DoubleConv(3, chans[0])])
        self.encoder.extend(DoubleConv(c_in, c_out) for c_in, c_out in zip(chans[:-1], chans[1:]))
        # decoder level i: upsample level i+1, concat level i's skip, DoubleConv -> chans[i] (chans[0] at the top)
        dec_out = [chans[0], chans[0], chans[1], chans[2]]
        self.decoder = nn.ModuleList(
            DoubleConv(deep + skip, out) for deep, skip, out in
            zip([dec_out[1], dec_out[2], dec_out[3], chans[4]], chans[:4], dec_out)
        )
        self.final = nn.Conv2d(chans[0], 1, kernel_size=1)
        self.cls_head: Optional[ClassifierHead] = ClassifierHead(chans[-1], dropout) if classifier else None
        self.property_head = ClassifierHead(chans[-1], dropout, num_properties) if num_properties > 0 else None

    def forward(self, x: Tensor, attention: Optional[Tensor] = None) -> LocatorOutput:
        check_inputs(x, attention)
        h = self.normalize(x)
        att = attention
        skips: list[Tensor] = []
        for i, block in enumerate(self.encoder):
            if i:
                h = F.max_pool2d(h, 2)
            h, att = attend(block(h), att)
            skips.append(h)
        logit = self.cls_head(h) if self.cls_head is not None else None
        prop = self.property_head(h) if self.property_head is not None else None
        for i in reversed(range(len(self.decoder))):
            skip = skips[i]
            h = self.decoder[i](torch.cat([upsample_to(h, tuple(skip.shape[-2:])), skip], dim=1))
        return LocatorOutput(torch.sigmoid(self.final(h)), logit, prop)
