"""Pictures with a known answer: face crops placed into larger pictures by known similarity transforms.

Used by the tests and ``experiments/locate_photos.py``: a crop (a test-split real or fake, ``S x S``) is
warped into a picture by ``crop -> picture`` transform ``T`` (scale, rotation, translation), over a
textured background; its ground-truth map is warped by the same ``T``, so the expected map in picture
coordinates is exact (zero outside the face crop).
"""

from __future__ import annotations

import io
import math

import numpy as np

from .align import warp


def placement(scale: float, angle_deg: float, center: tuple[float, float], crop_size: int = 128) -> np.ndarray:
    """The ``crop -> picture`` similarity that scales a ``crop_size`` crop by ``scale``, rotates it by
    ``angle_deg`` (counter-clockwise on screen) about its centre, and puts that centre at ``center``
    (``x, y`` in picture pixels)."""
    a = math.radians(angle_deg)
    c, s = scale * math.cos(a), scale * math.sin(a)
    rot = np.array([[c, s], [-s, c]])  # y points down: counter-clockwise on screen
    half = crop_size / 2
    return np.hstack([rot, (np.asarray(center, np.float64) - rot @ [half, half])[:, None]])


def background(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A face-free textured ``height x width`` RGB background: smooth colour blobs, edges and fine noise."""
    rng = np.random.default_rng(seed)
    from PIL import Image

    low = (rng.random((6, 8, 3)) * 200 + 30).astype(np.uint8)
    base = np.asarray(Image.fromarray(low).resize((width, height), Image.BICUBIC), np.float32)
    yy, xx = np.mgrid[0:height, 0:width]
    stripes = 18 * np.sin(xx / rng.uniform(9, 30) + yy / rng.uniform(15, 60))[..., None]
    noise = rng.normal(0, 6, (height, width, 3))
    return np.clip(base + stripes + noise, 0, 255).astype(np.uint8)


def place_faces(picture: np.ndarray, crops: list[np.ndarray], transforms: list[np.ndarray],
                maps: list[np.ndarray] | None = None) -> tuple[np.ndarray, list[np.ndarray]]:
    """``crops`` pasted into a copy of ``picture`` by their ``crop -> picture`` ``transforms``.

    Args:
        picture: ``H x W x 3`` uint8 background.
        crops: ``S x S x 3`` uint8 face crops.
        transforms: one ``2 x 3`` ``crop -> picture`` transform per crop (:func:`placement`).
        maps: optional ``S x S`` ground-truth maps of the crops.

    Returns:
        the picture, and each map warped into the picture's grid by the same transform (empty without ``maps``).
    """
    out = picture.astype(np.float32).copy()
    shape = picture.shape[:2]
    for crop, t in zip(crops, transforms):
        inside = warp(np.ones(crop.shape[:2], np.float32), t, shape)  # 1 inside the crop, fading over one pixel
        warped = warp(crop.astype(np.float32), t, shape)
        out = out * (1 - inside[..., None]) + warped
    placed_maps = [warp(np.asarray(m, np.float32), t, shape).clip(0, 1) for m, t in zip(maps or [], transforms)]
    return np.rint(out).clip(0, 255).astype(np.uint8), placed_maps


def png_bytes(picture: np.ndarray) -> bytes:
    """``picture`` encoded as PNG (what an upload would carry)."""

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(picture).save(buf, format="PNG")
    return buf.getvalue()
