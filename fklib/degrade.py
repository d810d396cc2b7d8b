"""Real-world degradations and the disorganization test's quadrant permutation (paper §5.2, RQ5).

Pure transforms only (the experiments that use them are :mod:`fklib.studies.robustness`).
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
:func:`degrade_item` degrades an :class:`~fklib.data.Item`, :func:`degrade_image` chains all four
on a uint8 image (the teaching demo); :func:`permute_quadrants` and :func:`disorganize_item` cut
image and GT map into four quadrants and permute them (Figs. 8, 9); :func:`gamma` is the ratio
the paper plots. :class:`RandomDegradation` is a training augmentation (``TrainConfig.degrade_augment``).
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, replace
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch
import torchvision.transforms.v2.functional as TF
from PIL import Image
from torchvision.transforms import InterpolationMode

from .convert import image_to_tensor, tensor_to_image
from .faces.align import invert, warp
from .faces.compose import placement
from .metrics import PAPER_METRICS

#: The metrics whose ratio γ Figs. 8 and 10 plot: the paper's table metrics with its ACC replaced by the
#: balanced ACC (our test sets hold 10 fakes per real, so ACC hides the reals called fake).
GAMMA_METRICS = ("bacc", *PAPER_METRICS[1:])


# --- helpers ------------------------------------------------------------------------------------

def _check_image(x: torch.Tensor, name: str) -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(x).__name__}")
    if x.ndim not in (3, 4) or x.shape[-3] != 3:
        raise ValueError(f"{name}: expected a 3xHxW or Bx3xHxW image, got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise ValueError(f"{name}: expected a float image in [0, 1], got dtype {x.dtype}")


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
    arr = tensor_to_image(x)
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
#: Training augmentation levels of the universal model (``TrainConfig.degrade_axes="augment"``): what
#: shared images usually undergo -- JPEG quality 50..95, mild blur, light noise, up to halved sides --
#: rather than the sweep's extremes, which leave little texture to learn from.
AUGMENT_AXES: dict[str, tuple] = {
    "jpeg": (95, 90, 80, 70, 60, 50),
    "blur": (3, 5),
    "noise": (4, 9, 16, 25),
    "lowres": (1.25, 1.5, 2),
}
IMDL_AXES: dict[str, tuple] = {
    "jpeg": (100, 90, 80, 70, 60, 50),
    "blur": (3, 7, 11, 15, 19, 23),
    "noise": (3, 7, 11, 15, 19, 23),
}
#: The training augmentation level sets by name (:attr:`fklib.config.TrainConfig.degrade_axes`).
AXES_BY_NAME: dict[str, dict[str, tuple]] = {"paper": PAPER_AXES, "augment": AUGMENT_AXES}


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


#: JPEG qualities of :class:`RandomJPEG` (``TrainConfig.jpeg_p``): the range a photo shared on the web has
#: usually been saved at.
JPEG_TRAIN_QUALITIES = (95, 90, 85, 80, 75, 70, 60)


@dataclass
class RandomJPEG:
    """Training augmentation: with probability ``p`` save the image once as a JPEG of a quality drawn from
    ``qualities`` (uniformly). Applied to reals and fakes alike (the GT map is left as it is), so that
    compression is never a sign of fakeness and the evidence must survive it. ``seed=None``: torch's
    global RNG; else a private generator. Callable on a ``3 x H x W`` float image in [0, 1]."""

    p: float = 0.5
    qualities: Sequence[int] = JPEG_TRAIN_QUALITIES
    seed: int | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.p <= 1.0:
            raise ValueError(f"RandomJPEG: p must be in [0, 1], got {self.p}")
        if not self.qualities or not all(1 <= int(q) <= 100 for q in self.qualities):
            raise ValueError(f"RandomJPEG: qualities must be integers in 1..100, got {self.qualities!r}")
        self._gen = None if self.seed is None else torch.Generator().manual_seed(int(self.seed))

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if float(torch.rand((), generator=self._gen)) >= self.p:
            return x
        q = self.qualities[int(torch.randint(len(self.qualities), (), generator=self._gen))]
        return degrade(x, "jpeg", int(q))


#: Scales of :class:`RandomResample` (log-uniform): a face judged by ``locate`` has at least 25 px between its
#: eyes (``fklib.locate.MIN_EYE_SPAN``), 0.88x the training framing's 28.5 px. Larger faces are shrunk back with
#: anti-aliasing, close to the identity beyond 2x, while the cost grows with the square of the scale (about 10 ms
#: at 1x, 40 ms at 2x, 105 ms at 3x per 128 px image on one core): the hard cases, near 1x, are inside.
RESAMPLE_SCALES = (0.85, 2.0)
#: Largest rotation (degrees) of :class:`RandomResample` (the test pictures rotate faces by up to 20 degrees).
RESAMPLE_MAX_ANGLE = 20.0


def resample_round_trip(x: torch.Tensor, scale: float, angle_deg: float, shift: tuple[float, float] = (0.0, 0.0),
                        pad: int = 8) -> torch.Tensor:
    """A ``3 x H x W`` float image in [0, 1] placed into a picture by a similarity (``scale``, rotation
    ``angle_deg``, sub-pixel ``shift``; :func:`fklib.faces.compose.placement`), saved as uint8, and aligned back by
    the inverse similarity with ``locate``'s own warp (:func:`fklib.faces.align.warp`: bilinear, anti-aliased when
    shrinking): the two resamplings a face goes through in a photo, with its geometry unchanged (the GT map
    stays valid). The image is reflection-padded by ``pad`` px first, so its border does not meet the black canvas."""
    h, w = x.shape[-2:]
    padded = torch.nn.functional.pad(x[None], (pad, pad, pad, pad), mode="reflect")[0]
    arr = (padded.clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    side = int(np.ceil(scale * max(arr.shape[:2]) * 1.4143)) + 4  # the rotated face fits whole
    m = placement(scale, angle_deg, (side / 2 + shift[0], side / 2 + shift[1]), crop_size=arr.shape[0])
    placed = warp(arr, m, (side, side))
    back = warp(placed, invert(m), arr.shape[:2])[pad:pad + h, pad:pad + w]
    return torch.from_numpy(back).permute(2, 0, 1).float() / 255


@dataclass
class RandomResample:
    """Training augmentation: with probability ``p``, :func:`resample_round_trip` at a scale drawn log-uniformly from
    ``scales``, a rotation uniform in ``±max_angle`` degrees and a sub-pixel shift, so that the texture evidence
    survives the resampling of a face found in a photo and aligned (issue 30); reals and fakes alike, GT unchanged.
    Square images only. ``seed=None``: torch's global RNG; else a private generator."""

    p: float = 0.5
    scales: tuple[float, float] = RESAMPLE_SCALES
    max_angle: float = RESAMPLE_MAX_ANGLE
    seed: int | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.p <= 1.0:
            raise ValueError(f"RandomResample: p must be in [0, 1], got {self.p}")
        if not 0 < self.scales[0] <= self.scales[1]:
            raise ValueError(f"RandomResample: scales must be 0 < low <= high, got {self.scales!r}")
        self._gen = None if self.seed is None else torch.Generator().manual_seed(int(self.seed))

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if float(torch.rand((), generator=self._gen)) >= self.p:
            return x
        u = torch.rand(4, generator=self._gen).tolist()
        lo, hi = math.log(self.scales[0]), math.log(self.scales[1])
        return resample_round_trip(x, math.exp(lo + u[0] * (hi - lo)), (2 * u[1] - 1) * self.max_angle, (u[2], u[3]))


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


# --- items and whole images ----------------------------------------------------------------------

def degrade_item(item, name: str, level, seed: int = 0, regenerate_gt: bool = False):
    """A copy of an :class:`~fklib.data.readers.Item` whose image is degraded (at its own resolution, 8-bit).

    The GT map stays that of the undegraded item (``cached_map``), as the paper's RQ5 keeps the
    real/fake pair's map. ``regenerate_gt=True`` is the other reading ("processed by the real
    image and the degraded fake image"): eq. 4 of the real and the degraded fake.
    """
    x = image_to_tensor(item.image)
    y = degrade(x, name, level, seed)
    img = tensor_to_image(y) if y is not x else item.image
    if regenerate_gt:
        return replace(item, image=img, cached_map=None)
    return replace(item, image=img, cached_map=np.asarray(item.gt_map(), dtype=np.float32))


def disorganize_item(item, perm: Sequence[int]):
    """A copy of ``item`` with image and GT map cut in four quadrants and permuted by ``perm``."""
    gt = permute_quadrants(np.asarray(item.gt_map(), dtype=np.float32), perm)
    ref = None if item.reference is None else permute_quadrants_hwc(item.reference, perm)
    return replace(item, image=permute_quadrants_hwc(item.image, perm), reference=ref,
                   cached_map=np.ascontiguousarray(gt))


#: The settings of :func:`degrade_image`, with their identity values.
IDENTITY_SETTINGS: dict[str, Any] = {"jpeg_quality": None, "blur_kernel": 1, "noise_variance": 0.0,
                                     "downscale": 1.0, "seed": 0}


def degrade_image(rgb: np.ndarray, jpeg_quality: int | None = None, blur_kernel: int = 1,
                  noise_variance: float = 0.0, downscale: float = 1.0, seed: int = 0) -> np.ndarray:
    """Degrade an ``H x W x 3`` uint8 image with all four degradations; returns ``H x W x 3`` uint8.

    The steps run in this order (each skipped at its identity setting):

    1. ``downscale``: side reduced by this factor and resized back (:func:`low_resolution`; 1 = off);
    2. ``blur_kernel``: Gaussian blur with an odd ``k x k`` kernel (:func:`gaussian_blur`; 1 = off);
    3. ``noise_variance``: additive Gaussian noise, variance in 0-255 units, seeded by ``seed``
       (:func:`gaussian_noise`; 0 = off);
    4. ``jpeg_quality``: JPEG compression at quality 1..100 (:func:`jpeg`; ``None`` = off).

    JPEG comes last, as when a processed picture is finally saved/shared. The intermediate image
    stays float; the result is rounded to 8 bits once. With every setting at its identity the
    input array itself is returned (unchanged, no copy).

    Raises:
        ValueError: not an ``H x W x 3`` uint8 image, or a setting out of range.
    """
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"degrade_image: expected an H x W x 3 uint8 RGB array, got {rgb.shape} {rgb.dtype}")
    x = image_to_tensor(rgb)
    y = low_resolution(x, downscale)
    y = gaussian_blur(y, blur_kernel)
    y = gaussian_noise(y, noise_variance, seed)
    y = jpeg(y, jpeg_quality)
    if y is x:  # every step at its identity setting
        return rgb
    return tensor_to_image(y)


def degradation_settings(settings: dict) -> dict[str, Any]:
    """The five settings of :func:`degrade_image` (missing ones at their identity), coerced to their types.

    Raises:
        TypeError: an unknown setting.
    """
    unknown = set(settings) - set(IDENTITY_SETTINGS)
    if unknown:
        raise TypeError(f"unknown degradation setting(s) {sorted(unknown)}; known: {list(IDENTITY_SETTINGS)}")
    s = {**IDENTITY_SETTINGS, **settings}
    s["jpeg_quality"] = None if s["jpeg_quality"] is None else int(s["jpeg_quality"])
    s["blur_kernel"] = int(s["blur_kernel"])
    s["noise_variance"] = float(s["noise_variance"])
    s["downscale"] = float(s["downscale"])
    s["seed"] = int(s["seed"])
    return s


def describe_degradation(settings: dict) -> str:
    """A short human-readable summary of the settings, e.g. ``JPEG q30, blur 5`` (``none`` when off)."""
    s = {**IDENTITY_SETTINGS, **settings}
    parts = []
    if float(s["downscale"]) != 1:
        parts.append(f"downscale x{float(s['downscale']):g}")
    if int(s["blur_kernel"]) > 1:
        parts.append(f"blur {int(s['blur_kernel'])}")
    if float(s["noise_variance"]) > 0:
        parts.append(f"noise var {float(s['noise_variance']):g}")
    if s["jpeg_quality"] is not None:
        parts.append(f"JPEG q{int(s['jpeg_quality'])}")
    return ", ".join(parts) if parts else "none"
