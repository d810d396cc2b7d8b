"""Locator models: encoder-decoder networks giving a fakeness map in [0, 1] and a real/fake logit.

Public API::

    create_model(name, **kwargs) -> nn.Module      # by registered name; unknown name -> ValueError
    list_models() -> ["deeplabv3_resnet101", "dffd_xception", "efficientnet_lite0_unet", "unet_small"]
    register_model                                  # decorator for new models
    out = model(x, attention=None)                  # x: B x 3 x H x W in [0, 1] (not normalised)
    out.map    # B x 1 x H x W in [0, 1] (sigmoid limiting layer), at the input resolution
    out.logit  # B real/fake logits, None for classifier=False ("no cl")
    out.coarse_map  # the model's own low-resolution map (dffd_xception: 19 x 19 at 299 px), else None

Every model normalises its input with the ImageNet statistics itself, and multiplies the optional
face attention map (B x 1 x H x W, paper Sec. 4.4; None = ones = the test-time white map)
channel-wise into each encoder feature map, resized to that map's size.

| name | what | parameters |
|---|---|---|
| ``unet_small`` | from-scratch U-Net, ``base=16``, 4 downsamplings | 0.84 M |
| ``efficientnet_lite0_unet`` | EfficientNet-Lite0 (ImageNet, offline) + light decoder + full-res branch | 3.83 M |
| ``deeplabv3_resnet101`` | the paper's torchvision DeepLabV3-ResNet101 (COCO/VOC weights if cached) | 58.63 M |
| ``dffd_xception`` | Table 2's baseline (Stehouwer et al. 2019): Xception + 19x19 regression attention map, from scratch | 0.36 M (``width=0.125``, CPU baseline), 1.35 M (0.25, default), 20.8 M (1.0) |
"""

from .common import (IMAGENET_MEAN, IMAGENET_STD, ClassifierHead, ImageNetNormalize, LocatorOutput, PriorBlend, attend,
                     count_parameters)
from .deeplab import DeepLabV3ResNet101, coco_voc_checkpoint_path, load_coco_voc_state_dict
from .dffd import DFFDXception
from .efficientnet_unet import (EfficientNetLite0Encoder, EfficientNetLite0UNet, EfficientNetLiteEncoder,
                               EfficientNetLiteUNet, SRMFilters, lite0_weights_path, lite_weights_path)
from .registry import create_model, is_model, list_models, min_input_size, register_model
from .unet import UNetSmall

__all__ = [
    "create_model", "list_models", "register_model", "is_model", "min_input_size", "LocatorOutput", "PriorBlend",
    "count_parameters",
    "ImageNetNormalize", "ClassifierHead", "attend", "IMAGENET_MEAN", "IMAGENET_STD",
    "UNetSmall", "EfficientNetLite0UNet", "EfficientNetLite0Encoder", "EfficientNetLiteUNet", "EfficientNetLiteEncoder",
    "SRMFilters", "lite0_weights_path", "lite_weights_path",
    "DeepLabV3ResNet101", "coco_voc_checkpoint_path", "load_coco_voc_state_dict",
    "DFFDXception",
]
