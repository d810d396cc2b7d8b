"""Face attention maps (paper §4.4, Fig. 6): the edited region, blurred, rescaled to ``[floor, 1]``."""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter

from .parser import parse
from .regions import PROPERTY_REGIONS, region_mask


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
    return attention_from_mask(region_mask(parsing, prop), sigma, floor)


def attention_from_mask(mask: np.ndarray, sigma: float = 8.0, floor: float = 0.3) -> np.ndarray:
    """:func:`attention_map` of an explicit boolean region ``mask`` (``HxW``)."""
    if not 0.0 <= floor <= 1.0:
        raise ValueError(f"attention_map: floor must be in [0, 1], got {floor}")
    if sigma < 0:
        raise ValueError(f"attention_map: sigma must be >= 0, got {sigma}")
    mask = np.asarray(mask).astype(np.float32)
    if not mask.any():
        return np.ones(mask.shape, dtype=np.float32)
    blurred = gaussian_filter(mask, sigma) if sigma > 0 else mask
    blurred = blurred / blurred.max()
    return (floor + (1.0 - floor) * blurred).astype(np.float32)


class ParsedImages:
    """Our parser's class-index map of each distinct image array of some items, computed once up front.

    ``parsed(arr)`` returns the ``HxW`` parsing of an array that was among the items' images or
    references, looked up by the array's memory (address, shape, strides): views of the same pixels
    -- the items of one real face in the decoded-data cache share them -- are parsed once.

    Args:
        items: the items whose ``image`` and ``reference`` arrays are parsed.
        parser: a face parser (:func:`fklib.parsing.load_parser`).
        size: the parser's working resolution.
        references_only: parse only the real references (e.g. the face regions of splices).
    """

    def __init__(self, items, parser, size: int = 128, references_only: bool = False) -> None:
        arrays, keys = [], {}
        for it in items:
            for arr in ((it.reference,) if references_only else (it.image, it.reference)):
                if arr is not None and self._key(arr) not in keys:
                    keys[self._key(arr)] = len(arrays)
                    arrays.append(np.asarray(arr))
        self._keys = keys
        self._maps: dict[int, np.ndarray] = {}
        by_shape: dict[tuple, list[int]] = {}
        for k, a in enumerate(arrays):
            by_shape.setdefault(a.shape, []).append(k)
        for idx in by_shape.values():
            for k, m in zip(idx, parse(parser, np.stack([arrays[k] for k in idx]), size=size)):
                self._maps[k] = m

    @staticmethod
    def _key(arr: np.ndarray) -> tuple:
        a = np.asarray(arr)
        return a.__array_interface__["data"][0], a.shape, a.strides

    def __call__(self, arr: np.ndarray) -> np.ndarray:
        return self._maps[self._keys[self._key(arr)]]


class ParsingAttention:
    """Face attention for training items: ``item -> HxW`` map, from parsing computed once up front.

    The region of an item's property is taken in the parsing of the image the locator sees
    and, for a partial edit, also in that of its real source (an edit may remove the region,
    e.g. ``Bald``): their union is blurred by :func:`attention_from_mask`. Real images and
    ``Entire`` get ones (nothing particular to emphasise). At test time no attention is given.

    Args:
        items: the training items.
        parser: a face parser (:func:`fklib.parsing.load_parser`).
        sigma, floor: see :func:`attention_map`.
    """

    def __init__(self, items, parser, sigma: float = 8.0, floor: float = 0.3, size: int = 128) -> None:
        self.sigma, self.floor = sigma, floor
        self.parsing = ParsedImages(items, parser, size)

    def __call__(self, item) -> np.ndarray:
        h, w = item.image.shape[:2]
        if item.label == 0 or item.property not in PROPERTY_REGIONS or PROPERTY_REGIONS[item.property] is None:
            return np.ones((h, w), np.float32)
        mask = region_mask(self.parsing(item.image), item.property)
        if item.reference is not None:
            mask |= region_mask(self.parsing(item.reference), item.property)
        return attention_from_mask(mask, self.sigma, self.floor)
