"""From a face's landmarks to the model's input and back: similarity transforms, warps, templates.

A transform is a ``2 x 3`` matrix ``M`` acting on continuous pixel coordinates ``(x, y, 1)`` (the centre
of pixel ``(row i, column j)`` is ``(j + 0.5, i + 0.5)``). :func:`align_face` finds the similarity
transform ``picture -> crop`` that puts a face's five landmarks where the training framing has them
(:data:`TEMPLATES`), resamples the crop, and :func:`map_to_picture` warps the crop's map back into the
picture's pixel grid (zero outside the crop).

- ``similarity_transform(src, dst)``: least-squares rotation + uniform scale + translation (Umeyama, 1991).
- ``warp(image, M, shape)``: output pixel ``p`` takes the input at ``M^-1 p`` (bilinear, zero outside);
  when the output is smaller than the input region (downscaling) the region is first resized with
  anti-aliasing, as the training sets' resizes were. (Bicubic instead of bilinear was measured on
  validation faces placed into pictures and agreed less often with the crop's decision: STGAN 62 % against
  70 %.)
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

#: Where MTCNN finds the five landmarks (:data:`fklib.faces.detect.LANDMARKS`, continuous pixel coordinates of
#: a 128 px crop) in each training framing: ``celeba178`` is the median over the 274 validation reals of
#: StarGAN-128 and AttentionGAN, ``stgan`` is derived from it by the exact crop geometry (and agrees with
#: STGAN's own validation reals within about 1 px); ``python experiments/locate_photos.py templates``. Measured
#: with faces scored >= 0.9; at today's :data:`fklib.faces.detect.MIN_SCORE` (0.7) one more face enters and
#: the medians move by at most 0.02 px (kept: the committed ``locate_*`` tables were made with these).
#: ``stgan``: CelebA aligned, crop 170 x 170 at top 26 / left 3 (STGAN); ``celeba178``: CelebA aligned,
#: centre crop 178 x 178 (StarGAN-128, AttentionGAN, StarGAN-256).
TEMPLATES: dict[str, np.ndarray] = {
    "stgan": np.array([[51.23, 65.56], [80.52, 65.55], [65.44, 83.84], [53.11, 96.8], [78.11, 96.72]]),
    "celeba178": np.array([[51.08, 66.93], [79.05, 66.92], [64.66, 84.38], [52.88, 96.76], [76.75, 96.69]]),
}
#: The framing :func:`align_face` uses unless told (chosen on the validation split: README, "locate").
DEFAULT_FRAMING = "stgan"


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The ``2 x 3`` similarity (rotation, uniform scale, translation; no reflection) that maps ``src``
    onto ``dst`` in the least-squares sense (Umeyama, 1991).

    Args:
        src, dst: ``N x 2`` points, ``N >= 2``.
    """
    src, dst = np.asarray(src, np.float64), np.asarray(dst, np.float64)
    if src.shape != dst.shape or src.ndim != 2 or src.shape[1] != 2 or len(src) < 2:
        raise ValueError(f"expected two N x 2 point sets (N >= 2), got {src.shape} and {dst.shape}")
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s, d = src - mu_s, dst - mu_d
    var = (s ** 2).sum() / len(src)
    if var == 0:
        raise ValueError("the source points coincide: no transform fits them")
    cov = d.T @ s / len(src)
    u, sig, vt = np.linalg.svd(cov)
    sign = np.diag([1.0, np.sign(np.linalg.det(u) * np.linalg.det(vt)) or 1.0])
    rot = u @ sign @ vt
    scale = float((sig * np.diag(sign)).sum() / var)
    return np.hstack([scale * rot, (mu_d - scale * rot @ mu_s)[:, None]])


def compose(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a`` after ``b`` (both ``2 x 3``)."""
    return (np.vstack([a, [0, 0, 1]]) @ np.vstack([b, [0, 0, 1]]))[:2]


def invert(m: np.ndarray) -> np.ndarray:
    """The inverse of a ``2 x 3`` affine transform."""
    return np.linalg.inv(np.vstack([m, [0, 0, 1]]))[:2]


def transform_points(m: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """``N x 2`` points mapped by ``m``."""
    pts = np.asarray(pts, np.float64)
    return pts @ m[:, :2].T + m[:, 2]


def scale_of(m: np.ndarray) -> float:
    """The transform's scale (square root of its determinant's magnitude)."""
    return math.sqrt(abs(np.linalg.det(m[:, :2])))


def warp(image: np.ndarray, m: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """``image`` (``H x W`` or ``H x W x C``, uint8 or float) warped by ``m`` (input -> output) onto an
    output of ``shape`` (rows, columns): bilinear, zero where the output falls outside the input.

    Downscaling (``scale_of(m) < 1``) first resizes the covered input region with anti-aliasing by the
    transform's scale, so a large face is not aliased.

    Returns:
        the output with ``image``'s dtype (uint8 rounded) and channel layout.
    """
    h_out, w_out = int(shape[0]), int(shape[1])
    arr = np.asarray(image)
    gray = arr.ndim == 2
    x = torch.tensor(arr[..., None] if gray else arr, dtype=torch.float32).permute(2, 0, 1)[None]
    inv = invert(m)  # output -> input
    s = 1.0 / scale_of(m)  # input pixels per output pixel
    if s > 1.25:
        corners = transform_points(inv, [[0, 0], [w_out, 0], [0, h_out], [w_out, h_out]])
        x0, y0 = np.floor(corners.min(0)).astype(int) - 2
        x1, y1 = np.ceil(corners.max(0)).astype(int) + 2
        x0, y0 = max(x0, 0), max(y0, 0)
        x1, y1 = min(x1, arr.shape[1]), min(y1, arr.shape[0])
        if x1 - x0 >= 2 and y1 - y0 >= 2:
            sub = x[:, :, y0:y1, x0:x1]
            nh, nw = max(1, round((y1 - y0) / s)), max(1, round((x1 - x0) / s))
            x = F.interpolate(sub, size=(nh, nw), mode="bilinear", align_corners=False, antialias=True)
            kx, ky = nw / (x1 - x0), nh / (y1 - y0)
            inv = np.array([[kx, 0, -kx * x0], [0, ky, -ky * y0]]) @ np.vstack([inv, [0, 0, 1]])
    h_in, w_in = x.shape[-2:]
    ys, xs = np.mgrid[0:h_out, 0:w_out].astype(np.float64) + 0.5
    src = np.stack([xs, ys], -1) @ inv[:, :2].T + inv[:, 2]
    grid = torch.from_numpy(np.stack([2 * src[..., 0] / w_in - 1, 2 * src[..., 1] / h_in - 1], -1)).float()[None]
    out = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)[0].permute(1, 2, 0).numpy()
    if gray:
        out = out[..., 0]
    if arr.dtype == np.uint8:
        return np.rint(out).clip(0, 255).astype(np.uint8)
    return out.astype(arr.dtype if np.issubdtype(arr.dtype, np.floating) else np.float32)


def face_transform(landmarks: np.ndarray, framing: str = DEFAULT_FRAMING, size: int = 128) -> np.ndarray:
    """The similarity ``picture -> crop`` putting ``landmarks`` (``5 x 2``) on the ``framing`` template
    of a ``size`` px crop."""
    if framing not in TEMPLATES:
        raise ValueError(f"unknown framing {framing!r}; known: {', '.join(TEMPLATES)}")
    return similarity_transform(landmarks, TEMPLATES[framing] * (size / 128))


def align_face(rgb: np.ndarray, landmarks: np.ndarray, framing: str = DEFAULT_FRAMING,
               size: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """The ``size x size`` crop of the face with these landmarks in the ``framing``, and the transform
    ``picture -> crop`` that made it."""
    m = face_transform(landmarks, framing, size)
    return warp(rgb, m, (size, size)), m


def map_to_picture(crop_map: np.ndarray, m: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A crop's map (``size x size`` float) warped back into the picture's grid (``shape``), zero outside
    the crop; ``m`` is the ``picture -> crop`` transform of :func:`align_face`."""
    return warp(np.asarray(crop_map, np.float32), invert(m), shape).clip(0, 1)
