"""Face attention maps (paper §4.4, Fig. 6): the edited region, blurred, rescaled to ``[floor, 1]``."""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter

from .regions import region_mask


def attention_map(parsing: np.ndarray, prop: str, sigma: float = 8.0, floor: float = 0.3) -> np.ndarray:
    """Face attention map of property ``prop`` from a class-index parsing map.

    ``A = floor + (1 - floor) * blur(mask) / max(blur(mask))`` with ``mask`` =
    :func:`~fklib.parsing.regions.region_mask` and ``blur`` a Gaussian of standard deviation
    ``sigma`` pixels (``sigma = 0``: no blur). Inside the region (away from its border) the map
    is 1; far from it, ``floor``: the rest of the face keeps a lower but non-zero weight. An
    empty region (e.g. no eyeglasses found) gives a map of ones, as at test time.

    Args:
        parsing: ``HxW`` class indices (CelebAMask-HQ order).
        prop: property name (dataset spelling).
        sigma: Gaussian blur in pixels.
        floor: the minimum weight, in ``[0, 1]``.

    Returns:
        ``HxW`` float32 in ``[floor, 1]``.
    """
    if not 0.0 <= floor <= 1.0:
        raise ValueError(f"attention_map: floor must be in [0, 1], got {floor}")
    if sigma < 0:
        raise ValueError(f"attention_map: sigma must be >= 0, got {sigma}")
    mask = region_mask(parsing, prop).astype(np.float32)
    if not mask.any():
        return np.ones(mask.shape, dtype=np.float32)
    blurred = gaussian_filter(mask, sigma) if sigma > 0 else mask
    blurred = blurred / blurred.max()
    return (floor + (1.0 - floor) * blurred).astype(np.float32)
