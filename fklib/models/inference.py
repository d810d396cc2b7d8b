"""One image of any size through a locator: resized to the model's resolution, the map resized back."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..convert import image_to_tensor
from .fuse import fold_batchnorm


class ImagePredictor:
    """A locator ready for single images (BatchNorm folded, eval mode).

    Args:
        model: a locator (returns :class:`~fklib.models.LocatorOutput`).
        size: its input resolution (the training resolution).
        device: ``cpu`` or ``cuda``.

    ``predictor.predict_array(rgb)`` takes an ``H x W x 3`` uint8 image, resizes it to ``size``
    (bilinear with anti-aliasing), and returns the map resized back to ``H x W`` (bilinear, in
    [0, 1]) and the classifier's fake probability (``None`` without a classifier).
    """

    def __init__(self, model: torch.nn.Module, size: int, device: str | torch.device = "cpu") -> None:
        self.size = int(size)
        self.device = torch.device(device)
        example = torch.zeros(1, 3, self.size, self.size, device=self.device)
        self.model = fold_batchnorm(model.to(self.device).eval(), example)

    @torch.no_grad()
    def predict_array(self, rgb: np.ndarray) -> tuple[np.ndarray, float | None]:
        """``H x W x 3`` uint8 RGB -> (``H x W`` map at the input size, fake probability or None)."""
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise ValueError(f"expected an H x W x 3 uint8 RGB array, got {rgb.shape} {rgb.dtype}")
        h, w = rgb.shape[:2]
        x = image_to_tensor(rgb)[None].to(self.device)
        if (h, w) != (self.size, self.size):
            x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", align_corners=False,
                              antialias=True).clamp_(0, 1)
        out = self.model(x)
        pred = out.map.float()
        if (h, w) != (self.size, self.size):
            pred = F.interpolate(pred, size=(h, w), mode="bilinear", align_corners=False)
        prob = None if out.logit is None else float(torch.sigmoid(out.logit.float())[0])
        return pred[0, 0].clamp_(0, 1).cpu().numpy(), prob
