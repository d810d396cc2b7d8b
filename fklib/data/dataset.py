"""A torch Dataset over :class:`~fklib.data.readers.Item` s: image, GT map, label, attention, metadata."""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..convert import image_to_tensor
from .readers import Item


def resize_pair(image: torch.Tensor, gt_map: torch.Tensor, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Resize a ``3xHxW`` image and a ``1xHxW`` map to ``size x size`` with the same transform.

    Both use bilinear interpolation with anti-aliasing (``align_corners=False``); a map
    in ``[0, 1]`` stays in ``[0, 1]``. Nothing happens when the size already matches.
    """
    if image.shape[-2:] == (size, size):
        return image, gt_map
    both = torch.cat([image, gt_map], dim=0)[None]
    out = F.interpolate(both, size=(size, size), mode="bilinear", align_corners=False, antialias=True)[0]
    return out[:3].clamp_(0, 1), out[3:].clamp_(0, 1)


class FakeMapDataset(torch.utils.data.Dataset):
    """Locator training/evaluation samples.

    Each sample is a dict:

    - ``image``: ``3 x S x S`` float32 in ``[0, 1]``;
    - ``gt_map``: ``1 x S x S`` float32 in ``[0, 1]`` (eq. 4; zeros for reals, ones for Entire);
    - ``label``: float32 scalar, 1 fake / 0 real;
    - ``attention``: ``1 x S x S`` face attention map (ones unless ``attention`` is given);
    - ``index`` and the item's metadata (``set``, ``gan``, ``property``, ``identity``, ``source``).

    Args:
        items: the items (e.g. from :func:`fklib.data.load_set`).
        size: output resolution ``S`` (128 default profile, 224 paper profile). Image and map
            get the same resize.
        flip: paired random horizontal flip (image, map and attention together), p = 0.5,
            drawn from torch's global RNG (seed it, or the DataLoader's worker seeds).
        attention: ``item -> HxW`` float map in ``[0, 1]`` at the item's resolution (face
            attention, paper §4.4); ``None`` yields ones.
        transform: applied to the **image only** (``3 x H x W`` float in ``[0, 1]`` at the item's
            resolution, before the resize), e.g. :class:`fklib.degrade.RandomDegradation`; the
            GT map is left as it is. ``None``: no transform.
        item_transform: applied to the item first (``Item -> Item``: image and GT change together),
            e.g. :class:`fklib.data.SpliceAugment`. ``None``: no transform.
    """

    def __init__(self, items: Sequence[Item], size: int = 128, flip: bool = False,
                 attention: Callable[[Item], np.ndarray] | None = None,
                 transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
                 item_transform: Callable[[Item], Item] | None = None):
        if size <= 0:
            raise ValueError(f"size must be positive, got {size}")
        self.items = list(items)
        self.size = size
        self.flip = flip
        self.attention = attention
        self.transform = transform
        self.item_transform = item_transform

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict:
        original = item = self.items[index]
        if self.item_transform is not None:
            item = self.item_transform(item)
        image = image_to_tensor(item.image)
        gt = torch.from_numpy(np.array(item.gt_map(), dtype=np.float32))[None]
        if self.transform is not None:
            image = self.transform(image)
        image, gt = resize_pair(image, gt, self.size)
        if self.attention is None:
            att = torch.ones_like(gt)
        else:
            # the attention of the item as it was read (a splice keeps its source's edited region)
            att = torch.from_numpy(np.asarray(self.attention(original), dtype=np.float32))[None]
            att = resize_pair(torch.zeros(3, *att.shape[-2:]), att, self.size)[1]
        if self.flip and torch.rand(()) < 0.5:
            image, gt, att = image.flip(-1), gt.flip(-1), att.flip(-1)
        meta = item.meta()
        meta.pop("label")
        return {"image": image.contiguous(), "gt_map": gt.contiguous(), "attention": att.contiguous(),
                "label": torch.tensor(float(item.label)), "index": index, **meta}
