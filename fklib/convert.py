"""Image <-> tensor conversion, defined once: uint8 ``HxWx3`` arrays and float ``3xHxW`` tensors in [0, 1].

- :func:`image_to_tensor`: ``HxWx3`` (or ``NxHxWx3``) uint8 -> ``3xHxW`` (``Nx3xHxW``) float32,
  value / 255 (exact: every uint8 value maps to the nearest float32 of k / 255).
- :func:`tensor_to_image`: the inverse for any float tensor: clamp to [0, 1], times 255, rounded
  half to even, uint8, channels last.
"""

from __future__ import annotations

import numpy as np
import torch


def image_to_tensor(image: np.ndarray) -> torch.Tensor:
    """``HxWx3`` (or ``NxHxWx3``) uint8 RGB -> float32 tensor ``3xHxW`` (``Nx3xHxW``) in [0, 1] (a copy).

    Raises:
        ValueError: not uint8 with 3 channels last.
    """
    arr = np.asarray(image)
    if arr.dtype != np.uint8 or arr.ndim not in (3, 4) or arr.shape[-1] != 3:
        raise ValueError(f"image_to_tensor: expected HxWx3 (or NxHxWx3) uint8, got {arr.shape} {arr.dtype}")
    return torch.from_numpy(np.array(arr, dtype=np.float32)).movedim(-1, -3).div_(255.0)


def tensor_to_image(x: torch.Tensor) -> np.ndarray:
    """Float tensor ``3xHxW`` (or ``Nx3xHxW``) -> uint8 numpy array ``HxWx3`` (``NxHxWx3``).

    ``round(clamp(x, 0, 1) * 255)`` (round half to even), channels moved last.
    """
    if x.ndim not in (3, 4) or x.shape[-3] != 3:
        raise ValueError(f"tensor_to_image: expected 3xHxW or Nx3xHxW, got {tuple(x.shape)}")
    return (x.detach().cpu().clamp(0, 1) * 255.0).round().to(torch.uint8).movedim(-3, -1).numpy()
