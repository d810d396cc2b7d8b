"""Ground-truth fakeness maps (paper §4.2, eq. 4) and their binary form (Fig. 5, DFFD protocol)."""

from __future__ import annotations

import numpy as np
from PIL import Image

#: ITU-R BT.601 luma weights: the ``Gray`` function of eq. 4.
BT601 = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def _check_rgb(name: str, arr: np.ndarray) -> None:
    if not isinstance(arr, np.ndarray) or arr.ndim != 3 or arr.shape[2] != 3:
        shape = getattr(arr, "shape", type(arr).__name__)
        raise ValueError(f"gt_map: {name} must be an HxWx3 array, got {shape}")
    if arr.dtype != np.uint8:
        raise ValueError(f"gt_map: {name} must be uint8 (0..255), got {arr.dtype}")


def gt_map(real: np.ndarray, fake: np.ndarray) -> np.ndarray:
    """Gray-scale ground-truth fakeness map, exactly eq. 4 of the paper.

    ``M[i, j] = Gray(|X[i, j, :] - X'[i, j, :]|) / 255`` with ``Gray`` the BT.601 luma
    ``0.299 R + 0.587 G + 0.114 B`` applied to the per-channel absolute difference.

    Args:
        real: ``HxWx3`` uint8, the real image ``X``.
        fake: ``HxWx3`` uint8, the fake image ``X'`` made from it.

    Returns:
        ``HxW`` float32 in ``[0, 1]``. A real image compared with itself gives all zeros.

    Raises:
        ValueError: shapes differ or the inputs are not ``HxWx3`` uint8.
    """
    _check_rgb("real", real)
    _check_rgb("fake", fake)
    if real.shape != fake.shape:
        raise ValueError(f"gt_map: real {real.shape} and fake {fake.shape} differ in size")
    diff = np.abs(real.astype(np.int16) - fake.astype(np.int16)).astype(np.float32)
    gray = diff @ BT601
    gray /= np.float32(255.0)
    return np.clip(gray, 0.0, 1.0, out=gray)


def real_map(height: int, width: int) -> np.ndarray:
    """The map of a real image: all zeros (no fake texture), ``HxW`` float32."""
    return np.zeros((height, width), dtype=np.float32)


def entire_map(height: int, width: int) -> np.ndarray:
    """The map of a whole-image synthesis ("Entire"): all ones, ``HxW`` float32."""
    return np.ones((height, width), dtype=np.float32)


def binary_map(gray_map: np.ndarray, threshold: float = 0.1, size: int | tuple[int, int] | None = None) -> np.ndarray:
    """Binary fakeness map: ``1`` where the gray map is **greater than** ``threshold``, else ``0``.

    With ``size`` the gray map is first resized (Pillow bilinear, which averages over the
    source footprint when shrinking) to ``size`` -- the DFFD protocol of Stehouwer et al.
    resizes the gray difference to 19x19 and thresholds it at 0.1.

    Args:
        gray_map: ``HxW`` float map in ``[0, 1]`` (e.g. from :func:`gt_map`).
        threshold: pixels strictly above it become 1.
        size: ``None`` (keep), an int ``s`` (``s x s``) or ``(height, width)``.

    Returns:
        float32 array of 0.0 and 1.0, ``HxW`` or of the given size.
    """
    gray_map = np.asarray(gray_map, dtype=np.float32)
    if gray_map.ndim != 2:
        raise ValueError(f"binary_map: expected an HxW map, got shape {gray_map.shape}")
    if size is not None:
        h, w = (size, size) if isinstance(size, int) else size
        gray_map = np.asarray(Image.fromarray(gray_map, mode="F").resize((w, h), Image.BILINEAR), dtype=np.float32)
    # float32 against float32, the rule of the pixel metrics (fklib.metrics.pixel.above) and dffd_gt
    return (gray_map > np.float32(threshold)).astype(np.float32)
