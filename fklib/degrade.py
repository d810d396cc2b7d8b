"""Real-world degradations and the disorganization test (paper §5.2, RQ5, Figs. 8-10).

Degradations act on float images in ``[0, 1]``, ``3 x H x W`` or ``B x 3 x H x W``, and return
the same shape and dtype, clamped to ``[0, 1]``. Each has an identity setting that returns the
input unchanged (the very tensor):

- ``jpeg``: :func:`jpeg` (Pillow / libjpeg), level = quality 1..100, identity ``None``;
- ``blur``: :func:`gaussian_blur` (torchvision), level = odd kernel size, identity 0 or 1;
- ``noise``: :func:`gaussian_noise`, level = variance in 0-255 pixel units, identity 0;
- ``lowres``: :func:`low_resolution` (torchvision resize), level = side reduction ``r >= 1``, identity 1.

As in the paper (RQ5) a degradation is applied to the image the locator sees; the ground-truth
map is left unchanged (it stays eq. 4 of the undegraded pair; reals keep a map of zeros).

Sweep axes (:data:`PAPER_AXES`, :data:`IMDL_AXES`) map a degradation name to its levels;
:func:`robustness_sweep` runs a model over degraded copies of a set and reports mean metrics
per level with γ = metric(level) / metric(undegraded) (Fig. 10). :func:`disorganization_test`
cuts image and GT map into four quadrants, permutes them and reports γ per metric (Figs. 8, 9).
:class:`RandomDegradation` is a training augmentation (``TrainConfig.degrade_augment``).
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import numpy as np
import torch
import torchvision.transforms.v2.functional as TF
from PIL import Image
from torchvision.transforms import InterpolationMode

#: The metrics whose ratio γ the paper plots (Figs. 8 and 10).
GAMMA_METRICS = ("acc", "coss", "psnr", "ssim")


# --- helpers ------------------------------------------------------------------------------------

def _check_image(x: torch.Tensor, name: str) -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(x).__name__}")
    if x.ndim not in (3, 4) or x.shape[-3] != 3:
        raise ValueError(f"{name}: expected a 3xHxW or Bx3xHxW image, got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise ValueError(f"{name}: expected a float image in [0, 1], got dtype {x.dtype}")


def _to_uint8(x: torch.Tensor) -> torch.Tensor:
    return (x.clamp(0, 1) * 255.0).round().to(torch.uint8)


# --- the four degradations ----------------------------------------------------------------------

def jpeg(x: torch.Tensor, quality: int | None) -> torch.Tensor:
    """JPEG compression at ``quality`` (1..100) and decompression, with Pillow (libjpeg, default 4:2:0).

    The image is quantised to 8 bits first, as when a PNG is re-saved as JPEG (paper RQ5).
    ``quality=100`` still re-encodes (chroma subsampling and rounding change pixels);
    ``quality=None`` is the identity and returns ``x`` itself. (torchvision's ``jpeg`` does the
    same through ``torchvision.io``, whose codecs are deprecated since torchvision 0.29.)
    """
    _check_image(x, "jpeg")
    if quality is None:
        return x
    q = int(quality)
    if not 1 <= q <= 100:
        raise ValueError(f"jpeg: quality must be in 1..100 (or None), got {quality}")
    arr = _to_uint8(x).cpu().movedim(-3, -1).numpy()
    flat = arr.reshape(-1, *arr.shape[-3:])
    out = np.empty_like(flat)
    for i, img in enumerate(flat):
        buf = io.BytesIO()
        Image.fromarray(img).save(buf, format="JPEG", quality=q)
        buf.seek(0)
        with Image.open(buf) as dec:
            out[i] = np.asarray(dec.convert("RGB"))
    y = torch.from_numpy(out.reshape(arr.shape)).movedim(-1, -3)
    return y.to(device=x.device, dtype=x.dtype).div_(255.0)


def blur_sigma(kernel_size: int) -> float:
    """Default Gaussian standard deviation of a ``k x k`` kernel: ``0.3 ((k - 1) / 2 - 1) + 0.8``.

    OpenCV's ``getGaussianKernel`` rule, which torchvision (``0.15 k + 0.35``) and albumentations'
    ``GaussianBlur`` (used by IMDL-BenCo) also apply when no sigma is given.
    """
    return 0.3 * ((kernel_size - 1) * 0.5 - 1) + 0.8


def gaussian_blur(x: torch.Tensor, kernel_size: int, sigma: float | None = None) -> torch.Tensor:
    """Gaussian blur with a ``kernel_size x kernel_size`` kernel (torchvision, reflect padding).

    ``sigma=None`` uses :func:`blur_sigma` (the paper only names the filter size). ``kernel_size``
    0 or 1 is the identity (returns ``x``); other sizes must be odd.
    """
    _check_image(x, "gaussian_blur")
    k = int(kernel_size)
    if k in (0, 1):
        return x
    if k < 0 or k % 2 == 0:
        raise ValueError(f"gaussian_blur: kernel_size must be odd and positive (or 0/1 = none), got {kernel_size}")
    if k // 2 >= min(x.shape[-2:]):
        raise ValueError(f"gaussian_blur: kernel_size {k} too large for a {x.shape[-2]}x{x.shape[-1]} image")
    s = blur_sigma(k) if sigma is None else float(sigma)
    return TF.gaussian_blur(x, [k, k], [s, s]).clamp_(0, 1)


def gaussian_noise(x: torch.Tensor, variance: float, seed: int = 0) -> torch.Tensor:
    """Additive i.i.d. Gaussian noise of ``variance`` in **0-255 pixel units**, then clamped to [0, 1].

    ``x + N(0, sigma^2)`` with ``sigma = sqrt(variance) / 255`` on the [0, 1] scale, so
    ``variance=25`` is a standard deviation of 5 gray levels -- the unit of albumentations'
    ``GaussNoise(var_limit)`` used by IMDL-BenCo's grid (3..23). The noise comes from a
    ``torch.Generator`` seeded with ``seed`` (reproducible, independent of the global RNG;
    torchvision's ``gaussian_noise`` draws from the global RNG, hence not used). ``variance=0``
    is the identity.
    """
    _check_image(x, "gaussian_noise")
    v = float(variance)
    if v < 0 or not math.isfinite(v):
        raise ValueError(f"gaussian_noise: variance must be finite and >= 0, got {variance}")
    if v == 0:
        return x
    gen = torch.Generator(device="cpu").manual_seed(int(seed))
    noise = torch.randn(x.shape, generator=gen, dtype=torch.float32)
    sigma = math.sqrt(v) / 255.0
    return (x + (noise * sigma).to(device=x.device, dtype=x.dtype)).clamp_(0, 1)


def low_resolution(x: torch.Tensor, factor: float, mode: str = "bilinear") -> torch.Tensor:
    """Down-scale each side by ``factor`` (``round(H / factor)``), then back to ``H x W``.

    torchvision ``resize`` with anti-aliasing, ``mode`` ``bilinear`` (default) or ``bicubic``
    both ways. ``factor=1`` is the identity; ``factor < 1`` is refused.
    """
    _check_image(x, "low_resolution")
    f = float(factor)
    if not math.isfinite(f) or f < 1:
        raise ValueError(f"low_resolution: factor must be >= 1, got {factor}")
    if f == 1:
        return x
    interp = {"bilinear": InterpolationMode.BILINEAR, "bicubic": InterpolationMode.BICUBIC}.get(mode)
    if interp is None:
        raise ValueError(f"low_resolution: mode must be 'bilinear' or 'bicubic', got {mode!r}")
    h, w = x.shape[-2:]
    small = TF.resize(x, [max(1, round(h / f)), max(1, round(w / f))], interpolation=interp, antialias=True)
    return TF.resize(small, [h, w], interpolation=interp, antialias=True).clamp_(0, 1)


#: name -> ``fn(x, level, seed)``.
DEGRADATIONS: dict[str, Callable[[torch.Tensor, object, int], torch.Tensor]] = {
    "jpeg": lambda x, level, seed=0: jpeg(x, level),
    "blur": lambda x, level, seed=0: gaussian_blur(x, level),
    "noise": lambda x, level, seed=0: gaussian_noise(x, level, seed),
    "lowres": lambda x, level, seed=0: low_resolution(x, level),
}
#: name -> the level that leaves the image unchanged.
IDENTITY_LEVEL = {"jpeg": None, "blur": 1, "noise": 0, "lowres": 1}


def degrade(x: torch.Tensor, name: str, level, seed: int = 0) -> torch.Tensor:
    """Apply degradation ``name`` (a key of :data:`DEGRADATIONS`) at ``level``; ``seed`` for noise."""
    if name not in DEGRADATIONS:
        raise KeyError(f"unknown degradation {name!r}; known: {sorted(DEGRADATIONS)}")
    return DEGRADATIONS[name](x, level, seed)


# --- sweep axes ---------------------------------------------------------------------------------

#: Levels of Fig. 10 (paper §5.2 RQ5). The paper names the axes -- "the compression quality",
#: "the filter size of the Gaussian blur", "the variance of the Gaussian noise", "the reduction
#: ratio of each side of the image" -- but its text gives no tick values, and says only that
#: ACC, COSS and SSIM "decrease when the interference is extremely high". Our choice therefore
#: runs from mild to extreme: JPEG quality 90..10; odd blur kernels 3..13 (sigma by
#: :func:`blur_sigma`, 0.8..2.3 px); noise variance 10..400 in 0-255 units (sigma 3.2..20 gray
#: levels; the paper's unit is not stated); side reduction 1.5..8 (at 128 px down to 16 px).
PAPER_AXES: dict[str, tuple] = {
    "jpeg": (90, 70, 50, 30, 20, 10),
    "blur": (3, 5, 7, 9, 11, 13),
    "noise": (10, 25, 50, 100, 200, 400),
    "lowres": (1.5, 2, 3, 4, 6, 8),
}
#: IMDL-BenCo's robustness grid (``training_scripts/test_robust.py``): JPEG quality 50..100,
#: Gaussian blur kernel 3..23 (albumentations, sigma from the kernel size), Gaussian noise
#: variance 3..23 (albumentations ``var_limit``, 0-255 units). It has no low-resolution axis.
IMDL_AXES: dict[str, tuple] = {
    "jpeg": (100, 90, 80, 70, 60, 50),
    "blur": (3, 7, 11, 15, 19, 23),
    "noise": (3, 7, 11, 15, 19, 23),
}


# --- training augmentation ----------------------------------------------------------------------

@dataclass
class RandomDegradation:
    """Training augmentation: with probability ``p`` one degradation at one level of ``axes``.

    The degradation and the level are drawn uniformly. With ``seed=None`` draws come from
    torch's global RNG (like the Dataset's flips, so a resumed training run repeats them);
    with a ``seed`` from a private generator. Callable on a ``3 x H x W`` float image in [0, 1].
    """

    p: float = 0.5
    axes: Mapping[str, Sequence] | None = None
    seed: int | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.p <= 1.0:
            raise ValueError(f"RandomDegradation: p must be in [0, 1], got {self.p}")
        self.axes = dict(PAPER_AXES if self.axes is None else self.axes)
        for name, levels in self.axes.items():
            if name not in DEGRADATIONS:
                raise KeyError(f"RandomDegradation: unknown degradation {name!r}")
            if not levels:
                raise ValueError(f"RandomDegradation: no levels for {name!r}")
        self._names = sorted(self.axes)
        self._gen = None if self.seed is None else torch.Generator().manual_seed(int(self.seed))

    def _randint(self, n: int) -> int:
        return int(torch.randint(n, (), generator=self._gen))

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if float(torch.rand((), generator=self._gen)) >= self.p:
            return x
        name = self._names[self._randint(len(self._names))]
        levels = self.axes[name]
        level = levels[self._randint(len(levels))]
        return degrade(x, name, level, seed=self._randint(2**31 - 1))


# --- disorganization (quadrant permutation) -----------------------------------------------------

def _check_perm(perm: Sequence[int]) -> tuple[int, int, int, int]:
    perm = tuple(int(p) for p in perm)
    if sorted(perm) != [0, 1, 2, 3]:
        raise ValueError(f"expected a permutation of (0, 1, 2, 3), got {perm}")
    return perm  # type: ignore[return-value]


def permute_quadrants(x, perm: Sequence[int]):
    """Cut the last two axes into four quadrants and rearrange them: output quadrant ``i`` is input quadrant ``perm[i]``.

    Quadrants are numbered row-major: 0 top-left, 1 top-right, 2 bottom-left, 3 bottom-right.
    Works on torch tensors and numpy arrays of shape ``... x H x W`` with even ``H`` and ``W``
    (for an ``H x W x 3`` uint8 image, move the channel axis first, or use
    :func:`permute_quadrants_hwc`). Apply the same ``perm`` to the image and its GT map.

    Raises:
        ValueError: fewer than 2 dimensions, odd ``H`` or ``W``, or ``perm`` not a permutation of 4.
    """
    perm = _check_perm(perm)
    if x.ndim < 2:
        raise ValueError(f"permute_quadrants: expected ... x H x W, got shape {tuple(x.shape)}")
    h, w = x.shape[-2:]
    if h % 2 or w % 2:
        raise ValueError(f"permute_quadrants: H and W must be even to cut four equal quadrants, got {h}x{w}")
    hh, hw = h // 2, w // 2
    quads = [x[..., :hh, :hw], x[..., :hh, hw:], x[..., hh:, :hw], x[..., hh:, hw:]]
    q = [quads[p] for p in perm]
    if isinstance(x, torch.Tensor):
        return torch.cat([torch.cat([q[0], q[1]], -1), torch.cat([q[2], q[3]], -1)], -2)
    return np.concatenate([np.concatenate([q[0], q[1]], -1), np.concatenate([q[2], q[3]], -1)], -2)


def permute_quadrants_hwc(image: np.ndarray, perm: Sequence[int]) -> np.ndarray:
    """:func:`permute_quadrants` of an ``H x W x C`` array (channels last)."""
    return np.ascontiguousarray(np.moveaxis(permute_quadrants(np.moveaxis(image, -1, 0), perm), 0, -1))


def inverse_permutation(perm: Sequence[int]) -> tuple[int, ...]:
    """The permutation that undoes ``perm``: ``permute(permute(x, p), inverse(p)) == x``."""
    perm = _check_perm(perm)
    inv = [0] * 4
    for i, p in enumerate(perm):
        inv[p] = i
    return tuple(inv)


def random_quadrant_permutation(seed: int | np.random.Generator) -> tuple[int, ...]:
    """A seeded random permutation of the four quadrants that is never the identity."""
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    while True:
        perm = tuple(int(p) for p in rng.permutation(4))
        if perm != (0, 1, 2, 3):
            return perm


def gamma(after: Mapping[str, float], before: Mapping[str, float],
          metrics: Sequence[str] = GAMMA_METRICS) -> dict[str, float]:
    """γ = after / before per metric (Figs. 8, 10: "the percentage of the metric values compared with"
    the undisturbed case); NaN where a value is missing or ``before`` is 0 (1 if both are 0)."""
    out = {}
    for m in metrics:
        a, b = after.get(m, math.nan), before.get(m, math.nan)
        a, b = float(a), float(b)
        if math.isnan(a) or math.isnan(b):
            out[m] = math.nan
        elif b == 0:
            out[m] = 1.0 if a == 0 else math.nan
        else:
            out[m] = a / b
    return out


# --- item-level helpers and the experiments -------------------------------------------------------

def degrade_item(item, name: str, level, seed: int = 0, regenerate_gt: bool = False):
    """A copy of an :class:`~fklib.data.readers.Item` whose image is degraded (at its own resolution, 8-bit).

    The GT map stays that of the undegraded item (``cached_map``), as the paper's RQ5 keeps the
    real/fake pair's map. ``regenerate_gt=True`` is the other reading ("processed by the real
    image and the degraded fake image"): eq. 4 of the real and the degraded fake.
    """
    from dataclasses import replace

    x = torch.from_numpy(np.array(item.image, dtype=np.float32)).permute(2, 0, 1).div_(255.0)
    y = degrade(x, name, level, seed)
    img = _to_uint8(y).permute(1, 2, 0).numpy() if y is not x else item.image
    if regenerate_gt:
        return replace(item, image=img, cached_map=None)
    return replace(item, image=img, cached_map=np.asarray(item.gt_map(), dtype=np.float32))


def disorganize_item(item, perm: Sequence[int]):
    """A copy of ``item`` with image and GT map cut in four quadrants and permuted by ``perm``."""
    from dataclasses import replace

    gt = permute_quadrants(np.asarray(item.gt_map(), dtype=np.float32), perm)
    ref = None if item.reference is None else permute_quadrants_hwc(item.reference, perm)
    return replace(item, image=permute_quadrants_hwc(item.image, perm), reference=ref,
                   cached_map=np.ascontiguousarray(gt))


def _evaluate_items(model, items, size: int, device, batch_size: int, threshold: float | None,
                    tau: float) -> dict[str, np.ndarray]:
    """Per-image scores / decisions / map metrics of ``model`` on ``items`` (fklib.evaluate semantics)."""
    from .evaluate import map_metrics, predict

    n = len(items)
    out = {"score": np.full(n, math.nan), "prob": np.full(n, math.nan), "pred_fake": np.full(n, math.nan),
           "coss": np.full(n, math.nan), "psnr": np.full(n, math.nan), "ssim": np.full(n, math.nan),
           "mae": np.full(n, math.nan), "auc": np.full(n, math.nan), "f1": np.full(n, math.nan),
           "iou": np.full(n, math.nan)}
    for idx, _, gt, pred, logit in predict(model, items, size, batch_size, device):
        idx = idx.numpy()
        score = pred.flatten(1).mean(1).numpy()
        out["score"][idx] = score
        if logit is not None:
            prob = torch.sigmoid(logit.reshape(-1)).numpy()
            out["prob"][idx] = prob
            out["pred_fake"][idx] = prob > 0.5
        elif threshold is not None:
            out["pred_fake"][idx] = score > threshold
        for k, v in map_metrics(pred, gt, tau).items():
            out[k][idx] = v
    return out


def _summary(per_image: dict[str, np.ndarray], labels: np.ndarray) -> dict[str, float]:
    """ACC over all items (reals and fakes) and mean map metrics over the fakes (as in fklib.evaluate)."""
    dec = per_image["pred_fake"]
    acc = float(np.mean((dec > 0.5) == (labels == 1))) if not np.isnan(dec).any() else math.nan
    fake = labels == 1
    row = {"acc": acc}
    for k in ("coss", "psnr", "ssim", "mae", "auc", "f1", "iou"):
        vals = per_image[k][fake]
        vals = vals[~np.isnan(vals)]
        row[k] = float(vals.mean()) if vals.size else math.nan
    return row


def robustness_sweep(model, items, size: int, axes: Mapping[str, Sequence] | None = None,
                     device: str | torch.device = "cpu", batch_size: int = 64, seed: int = 0,
                     threshold: float | None = None, degrade_reals: bool = True, regenerate_gt: bool = False,
                     tau: float = 0.1, log=None):
    """Fig. 10: mean metrics of ``model`` on degraded copies of ``items``, one row per (degradation, level).

    Every item's image is degraded at its own resolution (uint8, before the Dataset's resize);
    GT maps are unchanged (reals keep zeros). ACC needs reals and fakes, so by default the reals
    are degraded too (``degrade_reals=False`` keeps them clean: only the fakes are degraded, the
    paper's wording). Noise item ``i`` uses seed ``seed + i``.

    Prediction and metrics are those of :mod:`fklib.evaluate`: :func:`~fklib.evaluate.predict`
    at ``size``, :func:`~fklib.evaluate.map_metrics` averaged over the **fakes**, ACC over reals
    and fakes with the decision ``sigmoid(logit) > 0.5``, or ``mean(map) > threshold`` for a
    model without classifier (ACC is NaN when neither is available).

    Args:
        axes: degradation -> levels (default :data:`PAPER_AXES`).
        regenerate_gt: recompute eq. 4 against the degraded fake instead (see :func:`degrade_item`).

    Returns:
        DataFrame with columns ``degradation, level, n, n_fake, acc, coss, psnr, ssim, mae, auc, f1,
        iou`` and ``gamma_<m>`` for ACC, COSS, PSNR, SSIM (relative to the undegraded run, which
        is the first row: degradation ``none``).
    """
    import pandas as pd

    axes = PAPER_AXES if axes is None else axes
    items = list(items)
    labels = np.array([it.label for it in items])
    rows = []
    base = _summary(_evaluate_items(model, items, size, device, batch_size, threshold, tau), labels)
    rows.append({"degradation": "none", "level": None, **base})
    for name, levels in axes.items():
        if name not in DEGRADATIONS:
            raise KeyError(f"unknown degradation {name!r}; known: {sorted(DEGRADATIONS)}")
        for level in levels:
            deg = [degrade_item(it, name, level, seed + i, regenerate_gt) if (degrade_reals or it.label == 1)
                   else it for i, it in enumerate(items)]
            row = _summary(_evaluate_items(model, deg, size, device, batch_size, threshold, tau), labels)
            rows.append({"degradation": name, "level": level, **row})
            if log is not None:
                log(f"{name} {level}: " + ", ".join(f"{k}={row[k]:.4f}" for k in GAMMA_METRICS))
    df = pd.DataFrame(rows)
    df.insert(2, "n", len(items))
    df.insert(3, "n_fake", int(labels.sum()))
    for m, g in ((m, [gamma(r, base)[m] for r in rows]) for m in GAMMA_METRICS):
        df[f"gamma_{m}"] = g
    return df


def disorganization_test(model, items, size: int, seed: int = 0, device: str | torch.device = "cpu",
                         batch_size: int = 64, threshold: float | None = None, tau: float = 0.1):
    """Figs. 8, 9: metrics before and after cutting each image and its GT map into four permuted quadrants.

    Item ``i`` gets :func:`random_quadrant_permutation` of ``seed + i`` (never the identity),
    applied at the item's resolution to the image and the GT map alike; prediction as in
    :func:`robustness_sweep`.

    Returns:
        Per-image DataFrame: the item's metadata, ``perm``, ``<m>_before`` / ``<m>_after`` for
        ``correct`` (the detection was right: 1/0), ``coss``, ``psnr``, ``ssim`` (map metrics NaN
        for reals) and per-image ``gamma_<m>`` of the map metrics. Aggregate with
        :func:`summarize_disorganization`.
    """
    import pandas as pd

    items = list(items)
    labels = np.array([it.label for it in items])
    perms = [random_quadrant_permutation(seed + i) for i in range(len(items))]
    shuffled = [disorganize_item(it, p) for it, p in zip(items, perms)]
    before = _evaluate_items(model, items, size, device, batch_size, threshold, tau)
    after = _evaluate_items(model, shuffled, size, device, batch_size, threshold, tau)
    rows = []
    for i, it in enumerate(items):
        row = {**it.meta(), "perm": "".join(map(str, perms[i]))}
        for tag, res in (("before", before), ("after", after)):
            dec = res["pred_fake"][i]
            row[f"correct_{tag}"] = math.nan if math.isnan(dec) else float((dec > 0.5) == (labels[i] == 1))
            for m in ("coss", "psnr", "ssim"):
                row[f"{m}_{tag}"] = float(res[m][i]) if labels[i] == 1 else math.nan
        g = gamma({m: row[f"{m}_after"] for m in ("coss", "psnr", "ssim")},
                  {m: row[f"{m}_before"] for m in ("coss", "psnr", "ssim")}, ("coss", "psnr", "ssim"))
        row.update({f"gamma_{m}": v for m, v in g.items()})
        rows.append(row)
    return pd.DataFrame(rows)


def summarize_disorganization(df) -> dict[str, dict[str, float]]:
    """Aggregate :func:`disorganization_test`: ``{"before": {...}, "after": {...}, "gamma": {...}}``.

    ``acc`` is the mean of ``correct`` over all items; ``coss``, ``psnr``, ``ssim`` are means over
    the fakes; γ is the ratio of the means (Fig. 8).
    """
    out = {}
    fakes = df[df["label"] == 1]
    for tag in ("before", "after"):
        out[tag] = {"acc": float(df[f"correct_{tag}"].mean()) if df[f"correct_{tag}"].notna().all() else math.nan,
                    **{m: float(fakes[f"{m}_{tag}"].mean()) for m in ("coss", "psnr", "ssim")}}
    out["gamma"] = gamma(out["after"], out["before"])
    return out
