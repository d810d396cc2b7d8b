"""Colour maps and overlays in numpy only (no matplotlib): used by ``locate`` and by every figure.

- :func:`jet` -- values in [0, 1] to the jet colour map (piecewise linear).
- :func:`overlay` -- a fakeness map blended over an image (paper Fig. 1, ``locate``'s overlay).
- :data:`PARSING_PALETTE`, :func:`colorize_parsing` -- a colour per CelebAMask-HQ class.
"""

from __future__ import annotations

import numpy as np

#: A colour per CelebAMask-HQ class (0 background is black).
PARSING_PALETTE = np.array([
    [0, 0, 0], [204, 153, 128], [255, 140, 0], [120, 120, 255], [0, 200, 0], [0, 140, 0], [140, 70, 20],
    [100, 40, 10], [255, 200, 200], [230, 170, 170], [255, 0, 120], [220, 0, 0], [150, 0, 0], [90, 40, 160],
    [0, 160, 160], [255, 255, 0], [160, 160, 0], [255, 180, 90], [60, 60, 60]], dtype=np.uint8)


def colorize_parsing(parsing: np.ndarray) -> np.ndarray:
    """``HxW`` class indices -> ``HxWx3`` uint8 colours (:data:`PARSING_PALETTE`)."""
    return PARSING_PALETTE[np.clip(parsing, 0, len(PARSING_PALETTE) - 1)]


def jet(m: np.ndarray) -> np.ndarray:
    """``HxW`` values in [0, 1] -> ``HxWx3`` float RGB of the jet colour map (piecewise linear, numpy only)."""
    x = np.clip(np.asarray(m, np.float32), 0, 1)[..., None]
    centres = np.array([3.0, 2.0, 1.0], np.float32)  # red, green, blue peaks at x = 3/4, 1/2, 1/4
    return np.clip(1.5 - np.abs(4.0 * x - centres), 0, 1)


def overlay(fake: np.ndarray, pred: np.ndarray, alpha: float = 0.5, vmax: float = 1.0, colours=None) -> np.ndarray:
    """``HxWx3`` float image in [0, 1]: the map (``colours`` of ``pred / vmax``, clipped at ``vmax``; default
    :func:`jet`, where ``vmax`` and above is red) blended over the uint8 image (``python -m fklib locate``'s
    overlay; the figures pass their colour bar's colours, :func:`fklib.report.figures.map_colours`)."""
    if not vmax > 0:
        raise ValueError(f"overlay: vmax must be > 0, got {vmax}")
    scaled = np.clip(np.asarray(pred, np.float32) / np.float32(vmax), 0.0, 1.0)
    return ((1 - alpha) * np.asarray(fake, np.float32) / 255.0 + alpha * (colours or jet)(scaled)).clip(0, 1)
