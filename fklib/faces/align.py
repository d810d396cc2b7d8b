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


def _input_window(inv: np.ndarray, out_shape: tuple[int, int], in_shape: tuple[int, int], margin: int = 2):
    """The part of the input (``y0, y1, x0, x1``, clipped to it) that the output of ``out_shape`` samples
    through ``inv`` (output -> input), with ``margin`` pixels around; ``None`` when it misses the input."""
    h_out, w_out = out_shape
    corners = transform_points(inv, [[0, 0], [w_out, 0], [0, h_out], [w_out, h_out]])
    x0, y0 = np.floor(corners.min(0)).astype(int) - margin
    x1, y1 = np.ceil(corners.max(0)).astype(int) + margin
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, in_shape[1]), min(y1, in_shape[0])
    if x1 <= x0 or y1 <= y0:
        return None
    return int(y0), int(y1), int(x0), int(x1)


#: Output pixels :func:`warp` samples at once (its memory per block: a few tens of MB).
_WARP_BLOCK = 1 << 20


def warp(image: np.ndarray, m: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """``image`` (``H x W`` or ``H x W x C``, uint8 or float) warped by ``m`` (input -> output) onto an
    output of ``shape`` (rows, columns): bilinear, zero where the output falls outside the input.

    Only the part of the input the output covers is read (a face's crop from a 48 MP photo converts its
    own few hundred pixels, not the photo), and the output is sampled in blocks of rows. Downscaling
    (``scale_of(m) < 1``) first resizes that part with anti-aliasing by the transform's scale, so a large
    face is not aliased.

    Returns:
        the output with ``image``'s dtype (uint8 rounded) and channel layout.
    """
    h_out, w_out = int(shape[0]), int(shape[1])
    arr = np.asarray(image)
    gray = arr.ndim == 2
    out_dtype = arr.dtype if (arr.dtype == np.uint8 or np.issubdtype(arr.dtype, np.floating)) else np.float32
    channels = () if gray else (arr.shape[2],)
    inv = invert(m)  # output -> input
    window = _input_window(inv, (h_out, w_out), arr.shape[:2])
    if window is None or h_out == 0 or w_out == 0:
        return np.zeros((h_out, w_out, *channels), out_dtype)
    y0, y1, x0, x1 = window
    sub = arr[y0:y1, x0:x1]
    inv = np.array([[1.0, 0, -x0], [0, 1.0, -y0]]) @ np.vstack([inv, [0, 0, 1]])  # output -> the window
    x = torch.tensor(sub[..., None] if gray else sub, dtype=torch.float32).permute(2, 0, 1)[None]
    s = 1.0 / scale_of(m)  # input pixels per output pixel
    if s > 1.25 and x.shape[-1] >= 2 and x.shape[-2] >= 2:
        nh, nw = max(1, round(x.shape[-2] / s)), max(1, round(x.shape[-1] / s))
        kx, ky = nw / x.shape[-1], nh / x.shape[-2]
        x = F.interpolate(x, size=(nh, nw), mode="bilinear", align_corners=False, antialias=True)
        inv = np.array([[kx, 0, 0], [0, ky, 0]]) @ np.vstack([inv, [0, 0, 1]])
    h_in, w_in = x.shape[-2:]
    out = np.empty((h_out, w_out, x.shape[1]), np.float32)
    xs = np.arange(w_out, dtype=np.float64)[None, :] + 0.5
    rows = max(1, _WARP_BLOCK // w_out)  # the output in row blocks: a large window never needs full-size grids
    for r0 in range(0, h_out, rows):
        ys = np.arange(r0, min(r0 + rows, h_out), dtype=np.float64)[:, None] + 0.5
        sx = inv[0, 0] * xs + inv[0, 1] * ys + inv[0, 2]
        sy = inv[1, 0] * xs + inv[1, 1] * ys + inv[1, 2]
        grid = torch.from_numpy(np.stack([2 * sx / w_in - 1, 2 * sy / h_in - 1], -1).astype(np.float32))[None]
        out[r0:r0 + len(ys)] = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros",
                                             align_corners=False)[0].permute(1, 2, 0).numpy()
    if gray:
        out = out[..., 0]
    if out_dtype == np.uint8:
        return np.rint(out).clip(0, 255).astype(np.uint8)
    return out.astype(out_dtype)


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


def crop_window(m: np.ndarray, shape: tuple[int, int], size: int = 128):
    """The picture's pixels (``y0, y1, x0, x1``, within ``shape``) that the ``size`` px crop of the
    ``picture -> crop`` transform ``m`` covers; ``None`` when it lies outside the picture."""
    corners = transform_points(invert(m), [[0, 0], [size, 0], [0, size], [size, size]])
    x0, y0 = np.floor(corners.min(0)).astype(int)
    x1, y1 = np.ceil(corners.max(0)).astype(int)
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, shape[1]), min(y1, shape[0])
    if x1 <= x0 or y1 <= y0:
        return None
    return int(y0), int(y1), int(x0), int(x1)


def map_to_window(crop_map: np.ndarray, m: np.ndarray, shape: tuple[int, int]):
    """A crop's map warped back into the part of the picture (``shape``) its crop covers: ``(window,
    values)`` with ``window = (y0, y1, x0, x1)`` (:func:`crop_window`) and ``values`` of the window's shape
    (zero where the crop does not reach); ``(None, None)`` when the crop lies outside the picture.
    ``map_to_picture`` pastes it into a full-size array; ``locate`` works on the window alone."""
    crop_map = np.asarray(crop_map, np.float32)
    window = crop_window(m, shape, crop_map.shape[0])
    if window is None:
        return None, None
    y0, y1, x0, x1 = window
    shifted = compose(m, np.array([[1.0, 0, x0], [0, 1.0, y0]]))  # window -> crop
    return window, warp(crop_map, invert(shifted), (y1 - y0, x1 - x0)).clip(0, 1)


def map_to_picture(crop_map: np.ndarray, m: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A crop's map (``size x size`` float) warped back into the picture's grid (``shape``), zero outside
    the crop; ``m`` is the ``picture -> crop`` transform of :func:`align_face`."""
    out = np.zeros(tuple(shape), np.float32)
    window, values = map_to_window(crop_map, m, shape)
    if window is not None:
        y0, y1, x0, x1 = window
        out[y0:y1, x0:x1] = values
    return out


#: The largest mean distance (pixels of a 128 px crop) between a face's aligned landmarks and the template
#: for the face to be judged: MTCNN's faces fit within 0.6-3.7 px (24 validation faces placed into pictures),
#: 6.0 px at most on 63 CelebAMask-HQ portraits (median 1.8), its detections of turned faces within 5.4 px
#: (the experiment of :mod:`fklib.faces.detect`); the template's own mirror image (left and right swapped)
#: is 16.8 px away.
MAX_LANDMARK_ERROR = 10.0


def alignment_problem(landmarks: np.ndarray, framing: str = DEFAULT_FRAMING) -> str | None:
    """Why a face's landmarks cannot be aligned to the training framing, or ``None`` when they can.

    In the aligned crop (:func:`face_transform`, 128 px) the eyes must lie above the nose and the nose above
    the mouth, the left eye and mouth corner left of the right ones, and the landmarks within
    :data:`MAX_LANDMARK_ERROR` px of the template on average.
    """
    lm = np.asarray(landmarks, np.float64)
    if lm.shape != (5, 2) or not np.isfinite(lm).all():
        return "its landmarks are not five points"
    if np.hypot(*(lm[1] - lm[0])) < 1e-6:
        return "its two eyes are at one point"
    m = face_transform(lm, framing, 128)
    p = transform_points(m, lm)
    eyes, nose, mouth = p[:2, 1].max(), p[2, 1], p[3:, 1].min()
    if not (eyes < nose < mouth):
        return "its landmarks do not make an upright face (eyes above the nose above the mouth)"
    if not (p[0, 0] < p[1, 0] and p[3, 0] < p[4, 0]):
        return "its landmarks are a mirror image of a face (left and right swapped)"
    err = float(np.hypot(*(p - TEMPLATES[framing]).T).mean())
    if err > MAX_LANDMARK_ERROR:
        return f"its landmarks are {err:.1f} px (of 128) from a face's layout on average (at most {MAX_LANDMARK_ERROR:g})"
    return None
