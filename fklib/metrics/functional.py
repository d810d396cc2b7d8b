"""Per-image fakeness-map metrics (paper §5.1: COSS, PSNR, SSIM), plus MAE and in-region forms.

Every function takes two ``HxW`` maps in ``[0, 1]`` -- the prediction and the ground truth of
eq. 4 -- as numpy arrays or torch tensors, computes in float64, and returns a python float.
An optional boolean ``HxW`` ``mask`` restricts the metric to the masked pixels (the in-region
numbers of Table 5); an empty mask gives ``nan``.

:func:`ssim_batch` is the batched torch form of :func:`ssim` for ``Bx1xHxW`` tensors.
"""

from __future__ import annotations

import math
from typing import Union

import numpy as np
import torch
import torch.nn.functional as TF

#: A 2-D map given as a numpy array or a torch tensor.
MapLike = Union[np.ndarray, torch.Tensor]

#: PSNR's MSE floor: identical maps give ``10 * log10(1 / 1e-10) = 100`` dB.
PSNR_MIN_MSE = 1e-10

#: SSIM constants (scikit-image defaults): window side, K1, K2, data range.
SSIM_WIN = 7
SSIM_K1 = 0.01
SSIM_K2 = 0.03


def to_numpy(x: MapLike | np.ndarray, dtype: type = np.float64) -> np.ndarray:
    """``x`` as a numpy array of ``dtype`` (torch tensors are detached and moved to the CPU)."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=dtype)


def as_map_pair(pred: MapLike, gt: MapLike, name: str) -> tuple[np.ndarray, np.ndarray]:
    """``(pred, gt)`` as float64 ``HxW`` arrays; ``ValueError`` unless both are 2-D of one shape."""
    p, g = to_numpy(pred), to_numpy(gt)
    if p.ndim != 2 or g.ndim != 2:
        raise ValueError(f"{name}: expected HxW maps, got pred {p.shape} and gt {g.shape}")
    if p.shape != g.shape:
        raise ValueError(f"{name}: pred {p.shape} and gt {g.shape} differ in shape")
    return p, g


def as_mask(mask: MapLike | None, shape: tuple[int, ...], name: str) -> np.ndarray | None:
    """``mask`` as a boolean array of ``shape`` (``None`` stays ``None``).

    Bool and integer masks are accepted (nonzero = inside); float masks raise ``ValueError``
    so that a soft map is never silently taken as a region.
    """
    if mask is None:
        return None
    if isinstance(mask, torch.Tensor):
        mask = mask.detach().cpu().numpy()
    m = np.asarray(mask)
    if m.dtype != np.bool_ and not np.issubdtype(m.dtype, np.integer):
        raise ValueError(f"{name}: mask must be boolean (or integer 0/1), got dtype {m.dtype}")
    if m.shape != tuple(shape):
        raise ValueError(f"{name}: mask {m.shape} and maps {tuple(shape)} differ in shape")
    return m != 0


def _select(p: np.ndarray, g: np.ndarray, mask: MapLike | None, name: str) -> tuple[np.ndarray, np.ndarray]:
    """The pixels of ``p`` and ``g`` inside ``mask`` (all of them without a mask; none for an empty one)."""
    m = as_mask(mask, p.shape, name)
    return (p, g) if m is None else (p[m], g[m])


def coss(pred: MapLike, gt: MapLike, mask: MapLike | None = None) -> float:
    """Cosine similarity of the flattened maps: ``<p, g> / (||p|| * ||g||)``.

    Zero norms (the map of a real image is all zero): both maps all zero gives ``1.0``; exactly
    one all zero gives ``0.0``. With ``mask`` only the masked pixels form the vectors; an
    empty mask gives ``nan``.

    Args:
        pred: predicted map in ``[0, 1]``.
        gt: ground-truth map in ``[0, 1]``.
        mask: optional boolean region.

    Shape:
        - pred, gt, mask: ``(H, W)``.

    Returns:
        python float in ``[0, 1]`` for non-negative maps (``nan`` for an empty mask).

    Raises:
        ValueError: maps not 2-D, shapes differ, or a bad mask.
    """
    p, g = as_map_pair(pred, gt, "coss")
    p, g = _select(p, g, mask, "coss")
    if p.size == 0:
        return math.nan
    p, g = p.ravel(), g.ravel()
    norm_p, norm_g = float(np.linalg.norm(p)), float(np.linalg.norm(g))
    if norm_p == 0.0 and norm_g == 0.0:
        return 1.0
    if norm_p == 0.0 or norm_g == 0.0:
        return 0.0
    return float(np.dot(p, g) / (norm_p * norm_g))


def psnr(pred: MapLike, gt: MapLike, mask: MapLike | None = None) -> float:
    """Peak signal-to-noise ratio with data range 1: ``10 * log10(1 / max(MSE, 1e-10))``.

    ``MSE = mean((pred - gt) ** 2)``. The floor on the MSE makes identical maps give exactly
    ``100.0`` dB instead of infinity. With ``mask`` the mean runs over the masked pixels
    only; an empty mask gives ``nan``.

    Args:
        pred: predicted map in ``[0, 1]``.
        gt: ground-truth map in ``[0, 1]``.
        mask: optional boolean region.

    Shape:
        - pred, gt, mask: ``(H, W)``.

    Returns:
        python float in dB, at most 100.

    Raises:
        ValueError: maps not 2-D, shapes differ, or a bad mask.
    """
    p, g = as_map_pair(pred, gt, "psnr")
    p, g = _select(p, g, mask, "psnr")
    if p.size == 0:
        return math.nan
    mse = max(float(np.mean((p - g) ** 2)), PSNR_MIN_MSE)
    return -10.0 * math.log10(mse)


def mae(pred: MapLike, gt: MapLike, mask: MapLike | None = None) -> float:
    """Mean absolute error ``mean(|pred - gt|)`` (over the masked pixels with ``mask``; empty mask: ``nan``).

    Shape:
        - pred, gt, mask: ``(H, W)``.
    """
    p, g = as_map_pair(pred, gt, "mae")
    p, g = _select(p, g, mask, "mae")
    if p.size == 0:
        return math.nan
    return float(np.mean(np.abs(p - g)))


def ssim_map(pred: MapLike, gt: MapLike) -> np.ndarray:
    """The full SSIM map of scikit-image (``structural_similarity(..., full=True)``), float64 ``HxW``.

    Settings, pinned to scikit-image's defaults: a 7x7 uniform window (``scipy.ndimage.
    uniform_filter``, reflected borders), sample covariances (``N / (N - 1)``, ``N = 49``),
    ``K1 = 0.01``, ``K2 = 0.03``, data range 1, so ``C1 = 1e-4`` and ``C2 = 9e-4``::

        S = (2 mu_p mu_g + C1) (2 s_pg + C2) / ((mu_p^2 + mu_g^2 + C1) (s_p^2 + s_g^2 + C2))

    Raises:
        ValueError: maps not 2-D, shapes differ, or a side shorter than 7.
    """
    from skimage.metrics import structural_similarity  # lazy: skimage costs ~0.2 s at import (locate, losses)

    p, g = as_map_pair(pred, gt, "ssim")
    if min(p.shape) < SSIM_WIN:
        raise ValueError(f"ssim: maps must be at least {SSIM_WIN}x{SSIM_WIN}, got {p.shape}")
    _, s = structural_similarity(p, g, win_size=SSIM_WIN, data_range=1.0, gaussian_weights=False,
                                 use_sample_covariance=True, K1=SSIM_K1, K2=SSIM_K2, full=True)
    return s


def ssim(pred: MapLike, gt: MapLike, mask: MapLike | None = None) -> float:
    """Structural similarity, equal to ``skimage.metrics.structural_similarity(pred, gt, data_range=1.0)``.

    Without ``mask``: the mean of :func:`ssim_map` over the map cropped by ``(7 - 1) // 2 = 3``
    pixels on every border (scikit-image's mean SSIM). With ``mask``: the mean of the full,
    uncropped :func:`ssim_map` over the masked pixels; an empty mask gives ``nan``.

    Args:
        pred: predicted map in ``[0, 1]``.
        gt: ground-truth map in ``[0, 1]``.
        mask: optional boolean region.

    Shape:
        - pred, gt, mask: ``(H, W)`` with ``H, W >= 7``.

    Returns:
        python float in ``[-1, 1]``.

    Raises:
        ValueError: maps not 2-D, shapes differ, a side shorter than 7, or a bad mask.
    """
    s = ssim_map(pred, gt)
    m = as_mask(mask, s.shape, "ssim")
    if m is None:
        pad = (SSIM_WIN - 1) // 2
        return float(s[pad:-pad, pad:-pad].mean(dtype=np.float64))
    if not m.any():
        return math.nan
    return float(s[m].mean(dtype=np.float64))


def _as_batch_pair(pred: torch.Tensor, gt: torch.Tensor, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Check a batch of maps (``Bx1xHxW`` or ``BxHxW`` torch tensors); return them as ``Bx1xHxW``."""
    if not isinstance(pred, torch.Tensor) or not isinstance(gt, torch.Tensor):
        raise ValueError(f"{name}: pred and gt must be torch tensors")
    if pred.shape != gt.shape:
        raise ValueError(f"{name}: pred {tuple(pred.shape)} and gt {tuple(gt.shape)} differ in shape")
    if pred.ndim == 3:
        pred, gt = pred.unsqueeze(1), gt.unsqueeze(1)
    if pred.ndim != 4 or pred.shape[1] != 1:
        raise ValueError(f"{name}: expected Bx1xHxW or BxHxW maps, got {tuple(pred.shape)}")
    return pred, gt


def coss_batch(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """Batched torch :func:`coss` (no mask): one cosine similarity per image, same zero-norm rules.

    Shape:
        - pred, gt: ``(B, 1, H, W)`` (or ``(B, H, W)``).
        - output: ``(B,)`` float64.
    """
    pred, gt = _as_batch_pair(pred, gt, "coss_batch")
    p = pred.detach().to(torch.float64).flatten(1)
    g = gt.detach().to(torch.float64).flatten(1)
    norm_p, norm_g = p.norm(dim=1), g.norm(dim=1)
    out = (p * g).sum(1) / (norm_p * norm_g).clamp_min(torch.finfo(torch.float64).tiny)
    out = torch.where((norm_p == 0) | (norm_g == 0), torch.zeros_like(out), out)
    return torch.where((norm_p == 0) & (norm_g == 0), torch.ones_like(out), out)


def psnr_batch(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """Batched torch :func:`psnr` (no mask): ``10 log10(1 / max(MSE, 1e-10))`` per image.

    Shape:
        - pred, gt: ``(B, 1, H, W)`` (or ``(B, H, W)``).
        - output: ``(B,)`` float64.
    """
    pred, gt = _as_batch_pair(pred, gt, "psnr_batch")
    mse = (pred.detach().to(torch.float64) - gt.detach().to(torch.float64)).pow(2).flatten(1).mean(1)
    return -10.0 * torch.log10(mse.clamp_min(PSNR_MIN_MSE))


def ssim_batch(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """Batched torch SSIM: one value per image, the same definition as :func:`ssim` (no mask).

    Computed in float64 with a 7x7 box filter (``avg_pool2d``, stride 1, no padding): the
    unpadded ("valid") output is exactly scikit-image's map cropped by 3 pixels, since the
    reflected border never reaches the cropped region. Sample covariances (``49 / 48``),
    ``C1 = (0.01)^2``, ``C2 = (0.03)^2``, data range 1.

    Args:
        pred: predicted maps in ``[0, 1]``.
        gt: ground-truth maps in ``[0, 1]``.

    Shape:
        - pred, gt: ``(B, 1, H, W)`` (or ``(B, H, W)``), ``H, W >= 7``.
        - output: ``(B,)`` float64 on the input's device.

    Raises:
        ValueError: shapes differ, are not ``Bx1xHxW`` / ``BxHxW``, or a side is shorter than 7.
    """
    return ssim_values(pred.detach().to(torch.float64), gt.detach().to(torch.float64))


def ssim_values(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """Differentiable core of :func:`ssim_batch`: same definition, in the inputs' dtype, no detach.

    Used by the SSIM training loss (:func:`fklib.losses.ssim_loss`).

    Shape:
        - pred, gt: ``(B, 1, H, W)`` (or ``(B, H, W)``), ``H, W >= 7``.
        - output: ``(B,)``.
    """
    pred, gt = _as_batch_pair(pred, gt, "ssim")
    if min(pred.shape[-2:]) < SSIM_WIN:
        raise ValueError(f"ssim: maps must be at least {SSIM_WIN}x{SSIM_WIN}, got {tuple(pred.shape)}")
    x, y = pred, gt
    # one pooling call over the five moments: x, y, x^2, y^2, xy
    stack = torch.cat([x, y, x * x, y * y, x * y], dim=1)
    mu_x, mu_y, m_xx, m_yy, m_xy = TF.avg_pool2d(stack, SSIM_WIN, stride=1).unbind(dim=1)
    n = SSIM_WIN * SSIM_WIN
    cov_norm = n / (n - 1)
    var_x = cov_norm * (m_xx - mu_x * mu_x)
    var_y = cov_norm * (m_yy - mu_y * mu_y)
    cov_xy = cov_norm * (m_xy - mu_x * mu_y)
    c1 = SSIM_K1 ** 2
    c2 = SSIM_K2 ** 2
    s = ((2 * mu_x * mu_y + c1) * (2 * cov_xy + c2)) / ((mu_x ** 2 + mu_y ** 2 + c1) * (var_x + var_y + c2))
    return s.flatten(1).mean(dim=1)
