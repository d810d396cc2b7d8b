"""Reading images into aligned uint8 RGB arrays, with clear errors for bad files.

Conversion rule (documented once, used by every reader):

- The EXIF (or TIFF) orientation is applied first (:func:`PIL.ImageOps.exif_transpose`): the
  array is the image as a viewer shows it, e.g. a phone JPEG stored sideways with orientation 6.
- RGB is returned as is.
- Grayscale (``L``, ``I``, ``I;16``, ``F``, ``1``) is replicated to three channels; 16-bit and
  float images are scaled to 0..255 first (``I;16``: divided by 257; a float image with values
  in [0, 1] times 255, one in [0, 255] as is; a float image with NaN or infinite values is refused).
- Images with transparency (``RGBA``, ``LA``, ``P`` with a transparent index, ``PA``) are
  alpha-composited onto **black**, then alpha is dropped: transparent pixels read as black.
- Other modes (``P``, ``CMYK``, ``YCbCr``, ...) go through Pillow's ``convert("RGB")``.

A missing path raises :class:`FileNotFoundError`; anything Pillow cannot decode (not an
image, corrupt, truncated) raises :class:`ValueError`; both name the file. Images larger
than ``max_pixels`` are refused before decoding (a guard against decompression bombs).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, ImageOps

#: Pixels allowed in one image before decoding is refused (about 16k x 16k).
DEFAULT_MAX_PIXELS = 16384 * 16384


def _to_rgb(img: Image.Image) -> Image.Image:
    mode = img.mode
    if mode == "RGB":
        return img
    if mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(img).astype(np.float64)
        if not np.isfinite(arr).all():
            raise ValueError("a float image with NaN or infinite values")
        if mode.startswith("I;16"):
            arr = arr / 257.0
        elif mode == "F" and arr.min(initial=0) >= 0 and arr.max(initial=0) <= 1:
            arr = arr * 255.0  # floats in [0, 1] (how image pipelines store them), not levels 0 and 1
        elif arr.max(initial=0) > 255 or arr.min(initial=0) < 0:
            lo, hi = float(arr.min()), float(arr.max())
            arr = (arr - lo) / (hi - lo if hi > lo else 1.0) * 255.0
        gray = np.clip(np.rint(arr), 0, 255).astype(np.uint8)
        return Image.fromarray(np.repeat(gray[..., None], 3, axis=2), "RGB")
    if mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
        mode = "RGBA"
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        black = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
        return Image.alpha_composite(black, rgba).convert("RGB")
    return img.convert("RGB")


def load_rgb(path: str | Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Read an image file as an ``HxWx3`` uint8 RGB array (see the module doc for the rule).

    Args:
        path: the image file.
        max_pixels: refuse images with more pixels than this (decompression-bomb guard).

    Raises:
        FileNotFoundError: ``path`` does not exist (the message names it).
        ValueError: ``path`` is not a decodable image, is truncated, or is too large.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    if not path.is_file():
        raise ValueError(f"{path}: is not a file")
    # Never accept truncated files silently.
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                w, h = img.size
                if w * h > max_pixels:
                    raise ValueError(
                        f"{path}: {w}x{h} = {w * h} pixels exceeds the limit of {max_pixels} "
                        "(decompression-bomb guard)"
                    )
                img.load()
                ImageOps.exif_transpose(img, in_place=True)  # as shown: EXIF orientation applied
                rgb = _to_rgb(img)
                arr = np.array(rgb, dtype=np.uint8)
    except ValueError as err:
        if str(path) in str(err):
            raise
        raise ValueError(f"{path}: cannot decode image ({err})") from err
    except (OSError, SyntaxError, Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise ValueError(f"{path}: not a readable image ({type(err).__name__}: {err})") from err
    if arr.ndim != 3 or arr.shape[2] != 3:  # pragma: no cover - _to_rgb guarantees RGB
        raise ValueError(f"{path}: decoded to shape {arr.shape}, expected HxWx3")
    return arr


def load_label(path: str | Path) -> np.ndarray:
    """Read a class-index label image (palette or grayscale PNG) as an ``HxW`` uint8 array.

    The pixel values are the class indices themselves (no palette lookup).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        with Image.open(path) as img:
            img.load()
            if img.mode not in ("P", "L"):
                raise ValueError(f"{path}: label image has mode {img.mode}, expected a palette or grayscale PNG")
            return np.array(img, dtype=np.uint8)
    except ValueError:
        raise
    except (OSError, SyntaxError) as err:
        raise ValueError(f"{path}: not a readable label image ({type(err).__name__}: {err})") from err
