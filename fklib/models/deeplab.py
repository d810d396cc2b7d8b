"""``deeplabv3_resnet101``: the paper's backbone (Sec. 5.1), torchvision's DeepLabV3-ResNet101.

With ``pretrained=True`` the COCO-with-VOC-labels weights are loaded only when torchvision's
checkpoint file is already in torch's hub cache (``torch.hub.get_dir()/checkpoints/``); nothing
is ever downloaded. Put the file there by hand on a machine without internet::

    <torch hub dir>/checkpoints/deeplabv3_resnet101_coco-586e9e4e.pth

The 21-class last conv of the segmentation head is replaced by a 1-channel conv (random init);
the auxiliary FCN head is not used.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Mapping, Optional
from urllib.parse import urlparse

import torch
from torch import Tensor, nn

from .common import ClassifierHead, ImageNetNormalize, LocatorOutput, attend, check_inputs, upsample_to
from .registry import register_model

__all__ = ["DeepLabV3ResNet101", "AttentiveResNetBackbone", "coco_voc_checkpoint_path", "load_coco_voc_state_dict"]

#: keys of the torchvision checkpoint that are not loaded: the 21-class last conv and the aux head
_SKIPPED_PREFIXES = ("classifier.4.", "aux_classifier.")


def coco_voc_checkpoint_path() -> Path:
    """Where torchvision caches ``DeepLabV3_ResNet101_Weights.COCO_WITH_VOC_LABELS_V1`` (may not exist)."""
    from torchvision.models.segmentation import DeepLabV3_ResNet101_Weights  # lazy: torchvision only for the paper's backbone (locate never imports it)

    filename = os.path.basename(urlparse(DeepLabV3_ResNet101_Weights.COCO_WITH_VOC_LABELS_V1.url).path)
    return Path(torch.hub.get_dir()) / "checkpoints" / filename


class AttentiveResNetBackbone(nn.Module):
    """The ResNet body of torchvision's DeepLabV3 (conv1 ... layer4), with the face attention
    multiplied into the outputs of ``layer1`` to ``layer4``.

    The submodules keep torchvision's names (``conv1``, ``bn1``, ..., ``layer4``), so the state
    dict keys under ``backbone.`` match torchvision's checkpoint.

    Args:
        body: torchvision's ``IntermediateLayerGetter`` (``model.backbone``) or any module whose
            children run in order and include ``layer1`` ... ``layer4``.

    Shape:
        x: B x 3 x H x W (normalised) -> B x 2048 x H/8 x W/8 (dilated ResNet, output stride 8).
    """

    ATTENDED = ("layer1", "layer2", "layer3", "layer4")

    def __init__(self, body: nn.Module) -> None:
        super().__init__()
        for name, module in body.named_children():
            self.add_module(name, module)
        missing = [n for n in self.ATTENDED if not hasattr(self, n)]
        if missing:
            raise ValueError(f"backbone lacks {missing}")

    def forward(self, x: Tensor, attention: Optional[Tensor] = None) -> Tensor:
        att = attention
        for name, module in self.named_children():
            x = module(x)
            if name in self.ATTENDED:
                x, att = attend(x, att)
        return x


def load_coco_voc_state_dict(model: "DeepLabV3ResNet101", state_dict: Mapping[str, Tensor]) -> None:
    """Load torchvision's DeepLabV3-ResNet101 COCO/VOC weights into ``model``, except the
    21-class last conv (``classifier.4``) and the auxiliary head.

    Raises:
        RuntimeError: a backbone or segmentation-head tensor is missing or has the wrong shape.
    """
    kept = {k: v for k, v in state_dict.items() if not k.startswith(_SKIPPED_PREFIXES)}
    result = model.load_state_dict(kept, strict=False)
    missing = [k for k in result.missing_keys
               if k.startswith(("backbone.", "classifier.")) and not k.startswith(_SKIPPED_PREFIXES)]
    if missing or result.unexpected_keys:
        raise RuntimeError(f"DeepLabV3 checkpoint does not match: missing {missing[:5]}, "
                           f"unexpected {result.unexpected_keys[:5]}")


@register_model("deeplabv3_resnet101")
class DeepLabV3ResNet101(nn.Module):
    """The paper's locator: torchvision DeepLabV3-ResNet101 with a 1-channel sigmoid map.

    ImageNet normalisation -> dilated ResNet-101 (attention multiplied into layer1..layer4) ->
    DeepLabV3 head (ASPP) with a 1-channel last conv -> bilinear upsampling of the map logits to
    the input size -> sigmoid limiting layer. The real/fake classifier head sits on the
    2048-channel backbone output.

    Args:
        pretrained: load the COCO/VOC segmentation weights from the local torch hub cache
            (:func:`coco_voc_checkpoint_path`); when the file is absent a ``UserWarning`` names
            the expected path and the model starts from scratch. Nothing is downloaded.
        classifier: add the real/fake head (pool -> dropout -> linear); ``False`` makes
            ``logit`` None (the paper's "no cl" variant).
        dropout: dropout before the classifier's linear layer.
        channels_last: run the convolutions in channels-last memory format (same values).

    Shape:
        x: B x 3 x H x W in [0, 1] (the paper uses 224 x 224; H, W divisible by 32 work).
        attention: optional B x 1 x H x W in [0, 1]; None means ones.
        Output: :class:`LocatorOutput` with ``map`` B x 1 x H x W in [0, 1] and ``logit`` B (or None).
        Training needs B >= 2 (BatchNorm after the ASPP's image pooling).
    """

    def __init__(self, *, pretrained: bool = True, classifier: bool = True, dropout: float = 0.2,
                 channels_last: bool = True) -> None:
        super().__init__()
        from torchvision.models.segmentation import deeplabv3_resnet101  # lazy: torchvision only for the paper's backbone (locate never imports it)

        net = deeplabv3_resnet101(weights=None, weights_backbone=None, num_classes=1, aux_loss=False)
        self.normalize = ImageNetNormalize(channels_last=channels_last)
        self.backbone = AttentiveResNetBackbone(net.backbone)
        self.classifier = net.classifier  # DeepLabHead: ASPP -> 3x3 conv -> 1x1 conv to 1 channel
        self.cls_head: Optional[ClassifierHead] = ClassifierHead(2048, dropout) if classifier else None
        if pretrained:
            path = coco_voc_checkpoint_path()
            if path.is_file():
                load_coco_voc_state_dict(self, torch.load(path, map_location="cpu", weights_only=True))
            else:
                warnings.warn(
                    f"deeplabv3_resnet101: pretrained COCO/VOC weights not found at {path}; training from "
                    f"scratch. Nothing is downloaded: copy torchvision's checkpoint file to that path to use them.",
                    UserWarning, stacklevel=2)

    def forward(self, x: Tensor, attention: Optional[Tensor] = None) -> LocatorOutput:
        check_inputs(x, attention)
        feats = self.backbone(self.normalize(x), attention)
        logit = self.cls_head(feats) if self.cls_head is not None else None
        seg = upsample_to(self.classifier(feats), tuple(x.shape[-2:]))
        return LocatorOutput(torch.sigmoid(seg), logit)
