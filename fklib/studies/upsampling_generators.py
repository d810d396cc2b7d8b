"""Upsampling-family study (beyond the paper) and spectral fingerprints of fake texture.

Paper §3.2 names three kinds of upsampling -- transposed convolution, interpolation (nearest,
bilinear, bicubic) and unpooling -- and claims each leaves a "fake texture", though the seven
GANs it tests use only the first two. Here we build one small encoder-decoder generator per
family (:data:`FAMILIES`), train it by our code to reconstruct ``celebamask_hq`` faces at 128 px
(L1, a CPU budget of about a minute), and make partial fakes the way GAN edits reach the image
through skip connections: the generated pixels of one parsed region (:data:`REGIONS`) are
composited into the real face with a soft mask, so the ground truth is eq. 4 as for real GANs.

- :func:`create_generator`, :func:`train_generator` -- the generators (no skip connections: the
  output is a full redraw through the family's upsampler).
- :func:`soft_region_mask`, :func:`composite`, :func:`make_partial_fakes` -- partial fakes as
  :class:`~fklib.data.readers.Item` s (``gan = "up_<family>"``, ``property`` = the region).
- :func:`face_split`, :func:`build_family_sets` -- the fixed split of the faces and every family's
  items per split, with generator weights cached in ``checkpoints/upsampling/<family>.pt`` and
  composites in ``data/cache/upsampling/`` (both git-ignored).
- :func:`mean_log_spectrum`, :func:`spectra_figure` -- mean 2-D FFT log-magnitude of the gray
  (fake - real) residual, for real GAN items and the families alike.

The parsed regions come from CelebAMask-HQ's own annotation (its label maps), not from our
parser: the faces are CelebAMask-HQ's.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .. import paths
from ..convert import image_to_tensor
from ..data.maps import BT601
from ..data.readers import REAL, Item
from ..files import savez_atomically, write_atomically
from ..parsing.parser import load_celebamask
from ..parsing.regions import CLASSES

#: The upsampling families of paper §3.2 (interpolation split into its three kinds).
FAMILIES = ("transposed", "nearest", "bilinear", "bicubic", "unpooling")
#: Region name -> CelebAMask-HQ classes composited from the generator. ``eyes`` includes the
#: brows: at 128 px the eyes alone are a few dozen pixels.
REGIONS: dict[str, tuple[str, ...]] = {
    "hair": ("hair",),
    "mouth": ("mouth", "u_lip", "l_lip"),
    "eyes": ("l_eye", "r_eye", "l_brow", "r_brow"),
}
#: Pseudo-region: the whole redraw (mask of ones), like STGAN's reconstructions; for spectra.
WHOLE = "whole"
#: A region with fewer pixels than this in a face is not composited (e.g. no hair visible).
MIN_REGION_PIXELS = 20
CACHE_VERSION = "1"


# --- generators -----------------------------------------------------------------------------------

class _Up(nn.Module):
    """One decoder stage: the family's x2 upsampling followed by a 3x3 convolution (+ ReLU)."""

    def __init__(self, family: str, c_in: int, c_out: int, last: bool = False) -> None:
        super().__init__()
        self.family, self.last = family, last
        if family == "transposed":  # DCGAN / STGAN style: the upsampler is the learned 4x4 stride-2 layer
            self.up = nn.ConvTranspose2d(c_in, c_out, kernel_size=4, stride=2, padding=1)
            self.conv = nn.Identity()
        else:
            if family == "unpooling":
                self.up = nn.MaxUnpool2d(2)
            elif family in ("nearest", "bilinear", "bicubic"):
                kw = {} if family == "nearest" else {"align_corners": False}
                self.up = nn.Upsample(scale_factor=2, mode=family, **kw)
            else:
                raise ValueError(f"unknown upsampling family {family!r}; expected one of {FAMILIES}")
            self.conv = nn.Conv2d(c_in, c_out, kernel_size=3, padding=1)
        self.act = nn.Sigmoid() if last else nn.ReLU(inplace=True)

    def forward(self, h: torch.Tensor, indices: torch.Tensor | None) -> torch.Tensor:
        h = self.up(h, indices) if self.family == "unpooling" else self.up(h)
        return self.act(self.conv(h))


class UpsamplingGenerator(nn.Module):
    """A small encoder-decoder without skip connections whose decoder upsamples by one family.

    Encoder: per stage a 3x3 convolution + ReLU and a 2x2 max-pool (the pool's indices are kept
    for unpooling); a 3x3 bottleneck. Decoder: per stage the family's x2 upsampler and a 3x3
    convolution + ReLU (``transposed``: one 4x4 stride-2 transposed convolution); the last stage
    convolves straight to RGB with a sigmoid, so the final upsampling's texture reaches the
    output through a single layer, as in GAN decoders. ``unpooling`` is SegNet's max-unpooling
    with the encoder's indices (zeros at the other three positions of each 2x2 cell, paper Fig. 3).
    Channels ``base, 2 base, 4 base`` (depth 3).

    Shape:
        x: ``B x 3 x H x W`` in [0, 1] (``H``, ``W`` divisible by ``2**depth``) -> same shape in [0, 1].
    """

    def __init__(self, family: str, base: int = 16, depth: int = 3) -> None:
        super().__init__()
        if family not in FAMILIES:
            raise ValueError(f"unknown upsampling family {family!r}; expected one of {FAMILIES}")
        self.family, self.depth = family, depth
        chans = [base * 2 ** min(i, 2) for i in range(depth)]
        c_prev = 3
        self.down = nn.ModuleList()
        for c in chans:
            self.down.append(nn.Sequential(nn.Conv2d(c_prev, c, 3, padding=1), nn.ReLU(inplace=True)))
            c_prev = c
        self.pool = nn.MaxPool2d(2, return_indices=True)
        self.bottleneck = nn.Sequential(nn.Conv2d(c_prev, c_prev, 3, padding=1), nn.ReLU(inplace=True))
        outs = [3, *chans[:-1]]  # stage i maps chans[i] -> outs[i]; stage 0 gives RGB
        self.up = nn.ModuleList(_Up(family, chans[i], outs[i], last=i == 0) for i in reversed(range(depth)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x
        indices = []
        for block in self.down:
            h, idx = self.pool(block(h))
            indices.append(idx)
        h = self.bottleneck(h)
        for block, idx in zip(self.up, reversed(indices)):
            h = block(h, idx)
        return h


def create_generator(family: str, base: int = 16, depth: int = 3) -> UpsamplingGenerator:
    """A fresh :class:`UpsamplingGenerator` of ``family`` (one of :data:`FAMILIES`)."""
    return UpsamplingGenerator(family, base=base, depth=depth)


def _as_float_images(faces) -> torch.Tensor:
    """``N x H x W x 3`` uint8 (numpy) or ``N x 3 x H x W`` float tensor -> float tensor in [0, 1]."""
    if isinstance(faces, torch.Tensor):
        return faces.float()
    arr = np.asarray(faces)
    if arr.ndim == 3:
        arr = arr[None]
    if arr.ndim != 4 or arr.shape[-1] != 3:
        raise ValueError(f"expected N x H x W x 3 faces, got shape {arr.shape}")
    return image_to_tensor(arr)


def train_generator(family: str, faces, epochs: int = 8, size: int = 128, seed: int = 0, base: int = 16,
                    batch_size: int = 16, lr: float = 3e-3, log=None) -> tuple[UpsamplingGenerator, dict]:
    """Train a ``family`` generator to reconstruct ``faces`` (L1, Adam, cosine decay, random mirror).

    Args:
        faces: ``N x H x W x 3`` uint8 faces (resized to ``size`` when they differ).
        epochs: passes over ``faces``. Measured CPU cost: about 14-18 ms per 128-px face and
            epoch with ``base=16`` (one thread, on a shared 2-core machine), so 8 epochs of the
            500 ``generator`` faces take about a minute; reconstruction L1 about 0.06.
        seed: seeds initialisation, shuffling and mirroring.

    Returns:
        The generator (eval mode) and a report ``{"family", "epochs", "n", "seconds", "l1"}``
        (``l1``: mean training loss of the last epoch).
    """
    torch.manual_seed(seed)
    x_all = _as_float_images(faces)
    if x_all.shape[-2:] != (size, size):
        x_all = F.interpolate(x_all, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    model = create_generator(family, base=base)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    steps = max(len(x_all) // batch_size, 1) * epochs
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    gen = torch.Generator().manual_seed(seed)
    t0, last = time.time(), math.nan
    model.train()
    for epoch in range(epochs):
        perm = torch.randperm(len(x_all), generator=gen)
        total, seen = 0.0, 0
        for k in range(0, len(perm) - batch_size + 1, batch_size):
            x = x_all[perm[k:k + batch_size]]
            flip = torch.rand(len(x), generator=gen) < 0.5
            x = torch.where(flip[:, None, None, None], x.flip(-1), x)
            loss = F.l1_loss(model(x), x)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(x)
            seen += len(x)
        last = total / max(seen, 1)
        if log is not None:
            log(f"{family} epoch {epoch + 1}/{epochs}: L1 {last:.4f} ({time.time() - t0:.0f} s)")
    report = {"family": family, "epochs": epochs, "n": len(x_all), "seconds": time.time() - t0, "l1": last}
    return model.eval(), report


@torch.no_grad()
def generate(generator: nn.Module, faces, batch_size: int = 64) -> np.ndarray:
    """The generator's redraw of ``faces`` (``N x H x W x 3`` uint8) as ``N x H x W x 3`` float32 in [0, 1]."""
    x = _as_float_images(faces)
    generator.eval()
    out = [generator(x[i:i + batch_size]) for i in range(0, len(x), batch_size)]
    return torch.cat(out).permute(0, 2, 3, 1).numpy().astype(np.float32)


# --- partial fakes --------------------------------------------------------------------------------

def soft_region_mask(parsing_labels: np.ndarray, region: str | Sequence[str], sigma: float = 2.0) -> np.ndarray:
    """Feathered mask of a parsed region: 1 on the region, falling smoothly to 0 outside.

    ``m = max(binary, clip(2 * gauss_sigma(binary), 0, 1))``, and values below 1/512 set to 0:
    the region itself is 1, the feather extends about ``3 sigma`` pixels outward, and
    everywhere else the mask is exactly 0 (the composite equals the real image there).

    Args:
        parsing_labels: ``H x W`` CelebAMask-HQ class indices.
        region: a key of :data:`REGIONS`, :data:`WHOLE` (all ones) or a sequence of class names.
        sigma: feather width in pixels (0: the hard binary mask).

    Returns:
        ``H x W`` float32 in ``[0, 1]``.
    """
    from scipy.ndimage import gaussian_filter  # lazy: scipy only for this step; importing the module does not need it

    labels = np.asarray(parsing_labels)
    if labels.ndim != 2:
        raise ValueError(f"soft_region_mask: expected H x W class indices, got shape {labels.shape}")
    if isinstance(region, str) and region == WHOLE:
        return np.ones(labels.shape, dtype=np.float32)
    names = REGIONS[region] if isinstance(region, str) and region in REGIONS else region
    if isinstance(names, str):
        raise KeyError(f"unknown region {region!r}; known: {sorted(REGIONS)} or a tuple of class names")
    index = {c: i for i, c in enumerate(CLASSES)}
    binary = np.isin(labels, [index[c] for c in names]).astype(np.float32)
    if sigma <= 0:
        return binary
    m = np.maximum(binary, np.clip(2.0 * gaussian_filter(binary, sigma), 0.0, 1.0))
    m[m < 1.0 / 512] = 0.0
    return m.astype(np.float32)


def composite(real: np.ndarray, generated: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``real * (1 - m) + generated * m``, rounded to uint8.

    Args:
        real: ``H x W x 3`` uint8.
        generated: ``H x W x 3`` float in [0, 1] (or uint8).
        mask: ``H x W`` float in [0, 1].
    """
    real_f = real.astype(np.float32)
    gen_f = generated.astype(np.float32) * (255.0 if generated.dtype != np.uint8 else 1.0)
    m = np.asarray(mask, dtype=np.float32)[..., None]
    out = real_f * (1.0 - m) + gen_f * m
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def make_partial_fakes(generator: nn.Module | None, faces: np.ndarray, parsings: np.ndarray,
                       regions: Sequence[str] = tuple(REGIONS), ids: Sequence[str] | None = None,
                       family: str | None = None, sigma: float = 2.0, include_reals: bool = True,
                       generated: np.ndarray | None = None, set_name: str | None = None) -> list[Item]:
    """Partial fakes of ``faces``: per face and region, the generator's pixels composited with a soft mask.

    Args:
        generator: a trained generator (ignored when ``generated`` is given).
        faces: ``N x H x W x 3`` uint8 real faces.
        parsings: ``N x H x W`` class indices of the faces.
        regions: keys of :data:`REGIONS` (or :data:`WHOLE`: the full redraw); a region smaller than
            :data:`MIN_REGION_PIXELS` in a face is skipped for that face.
        ids: identities (default ``"0"``, ``"1"``, ...).
        family: names the items (``gan = "up_<family>"``; default the generator's family).
        generated: precomputed :func:`generate` output (skips running the generator).
        set_name: the items' ``set`` (default ``up_<family>``).

    Returns:
        Per face: the real face (label 0, ``gan="real"``, property ``Real``) when ``include_reals``,
        then one fake per region (label 1, ``reference`` = the real face, ``property`` = the
        region); ``Item.gt_map()`` is eq. 4 of (real, composite).
    """
    faces = np.asarray(faces)
    parsings = np.asarray(parsings)
    if faces.ndim != 4 or parsings.shape != faces.shape[:3]:
        raise ValueError(f"make_partial_fakes: faces {faces.shape} and parsings {parsings.shape} do not match")
    family = family or getattr(generator, "family", "unknown")
    gan = f"up_{family}"
    set_name = set_name or gan
    ids = [str(i) for i in range(len(faces))] if ids is None else [str(i) for i in ids]
    if generated is None:
        generated = generate(generator, faces)
    items = []
    for k in range(len(faces)):
        real = faces[k]
        if include_reals:
            items.append(Item(real, None, 0, set_name, "real", REAL, ids[k], f"celebamask_hq/{ids[k]}#real"))
        for region in regions:
            binary = soft_region_mask(parsings[k], region, sigma=0)
            if binary.sum() < MIN_REGION_PIXELS:
                continue
            mask = soft_region_mask(parsings[k], region, sigma)
            fake = composite(real, generated[k], mask)
            items.append(Item(fake, real, 1, set_name, gan, region, ids[k], f"celebamask_hq/{ids[k]}#{gan}/{region}"))
    return items


# --- the study's data: split, generators, cached composites --------------------------------------

#: Sizes of the fixed face split (the rest of the 1,500 faces is ``train``).
SPLIT_SIZES = {"generator": 500, "val": 100, "test": 200}


def face_split(ids: Sequence[str], seed: int = 0, sizes: Mapping[str, int] = SPLIT_SIZES) -> dict[str, list[str]]:
    """A fixed, seeded split of CelebAMask-HQ ids: ``generator`` (trains the generators), ``train``,
    ``val``, ``test`` (the locator's). Disjoint; each sorted like the ids.

    A seeded permutation of the ids (sorted numerically) is cut in the order generator, val,
    test; the remaining ids are ``train``. The parser's hold-out (:func:`fklib.parsing.parsing_split`)
    is not consulted: the regions come from the dataset's own label maps.
    """
    ids = sorted((str(i) for i in ids), key=lambda s: (len(s), s))
    order = np.random.default_rng(seed).permutation(len(ids))
    need = sum(sizes.values())
    if need >= len(ids):
        raise ValueError(f"face_split: {len(ids)} ids cannot hold {dict(sizes)} and a train part")
    out, start = {}, 0
    for name in ("generator", "val", "test"):
        take = order[start:start + sizes[name]]
        out[name] = sorted((ids[i] for i in take), key=lambda s: (len(s), s))
        start += sizes[name]
    taken = {i for part in out.values() for i in part}
    out["train"] = [i for i in ids if i not in taken]
    return {k: out[k] for k in ("generator", "train", "val", "test")}


def _generator_path(family: str, folder: Path | None) -> Path:
    return (folder or paths.project_root() / "checkpoints" / "upsampling") / f"{family}.pt"


def load_or_train_generator(family: str, faces: np.ndarray, epochs: int, size: int = 128, seed: int = 0,
                            base: int = 16, folder: str | Path | None = None, retrain: bool = False,
                            log=None) -> tuple[UpsamplingGenerator, dict]:
    """The generator of ``family`` from ``<folder>/<family>.pt`` when its settings match, else trained and saved.

    The file holds the weights and the settings (family, epochs, size, seed, base, number of
    faces and a hash of them); it loads with ``weights_only=True``. Weights that no longer fit
    the architecture are retrained.
    """
    faces = np.asarray(faces)
    settings = {"family": family, "epochs": epochs, "size": size, "seed": seed, "base": base, "n": len(faces),
                "faces": hashlib.sha256(np.ascontiguousarray(faces).tobytes()).hexdigest()[:16]}
    path = _generator_path(family, Path(folder) if folder else None)
    if path.is_file() and not retrain:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
        if json.loads(ckpt["settings"]) == settings:
            model = create_generator(family, base=base)
            try:
                model.load_state_dict(ckpt["model"])
                return model.eval(), json.loads(ckpt["report"])
            except RuntimeError:  # written by an older architecture: train again
                pass
    model, report = train_generator(family, faces, epochs=epochs, size=size, seed=seed, base=base, log=log)
    payload = {"model": model.state_dict(), "settings": json.dumps(settings), "report": json.dumps(report)}
    write_atomically(path, lambda tmp: torch.save(payload, tmp))
    return model, report


def build_family_sets(families: Sequence[str] = FAMILIES, regions: Sequence[str] = tuple(REGIONS),
                      splits: Sequence[str] = ("train", "val", "test"), epochs: int = 8, size: int = 128,
                      seed: int = 0, sigma: float = 2.0, base: int = 16, retrain: bool = False,
                      max_faces: int | None = None, checkpoint_dir: str | Path | None = None,
                      cache_dir: str | Path | None = None, log=print) -> dict[str, dict[str, list[Item]]]:
    """Items of every family and split: reals plus partial fakes of each region.

    Faces: CelebAMask-HQ at ``size`` (:func:`fklib.parsing.parser.load_celebamask`, cached),
    split by :func:`face_split`. Each family's generator trains on the ``generator`` faces
    (:func:`load_or_train_generator`, cached in ``checkpoints/upsampling/``); its redraws of the
    other splits' faces are cached (8-bit) in ``data/cache/upsampling/<family>-<split>-<key>.npz``,
    keyed by the generator's settings and report and the faces, so a rerun only composites
    (a few seconds per family). ``regions=("whole",)`` gives the full redraws (for spectra).

    Args:
        max_faces: cap on faces per locator split (smoke runs; the first ones of each split).
        retrain: train the generators even when cached weights match.

    Returns:
        ``{family: {split: [Item, ...]}}``; real items are shared (the same arrays) across families.
    """
    ids, images, labels = load_celebamask(size)
    index = {i: k for k, i in enumerate(ids)}
    parts = face_split(ids, seed)
    pick = {s: np.array([index[i] for i in (parts[s][:max_faces] if max_faces else parts[s])]) for s in splits}
    cache_root = Path(cache_dir) if cache_dir else paths.cache_dir() / "upsampling"
    gen_faces = images[np.array([index[i] for i in parts["generator"]])]
    out: dict[str, dict[str, list[Item]]] = {}
    for family in families:
        if family not in FAMILIES:
            raise ValueError(f"unknown upsampling family {family!r}; expected one of {FAMILIES}")
        t0 = time.time()
        model, report = load_or_train_generator(family, gen_faces, epochs, size, seed, base, checkpoint_dir,
                                                retrain, log)
        out[family] = {}
        for split in splits:
            sel = pick[split]
            key = hashlib.sha256(json.dumps({"v": CACHE_VERSION, "family": family, "report": report,
                                             "ids": [ids[k] for k in sel]}, sort_keys=True).encode())
            path = cache_root / f"{family}-{split}-{key.hexdigest()[:16]}.npz"
            if path.is_file():
                with np.load(path, allow_pickle=False) as z:
                    generated = z["generated"].astype(np.float32) / 255.0
            else:
                generated = generate(model, images[sel])
                savez_atomically(path, generated=np.clip(np.rint(generated * 255.0), 0, 255).astype(np.uint8))
                generated = np.clip(np.rint(generated * 255.0), 0, 255).astype(np.float32) / 255.0
            out[family][split] = make_partial_fakes(None, images[sel], labels[sel], regions,
                                                    ids=[ids[k] for k in sel], family=family, sigma=sigma,
                                                    generated=generated)
        if log is not None:
            n = {s: len(v) for s, v in out[family].items()}
            log(f"{family}: generator L1 {report['l1']:.4f} (trained in {report['seconds']:.0f} s); "
                f"items {n} ({time.time() - t0:.0f} s)")
    return out


# --- spectra --------------------------------------------------------------------------------------

def _pairs(fakes, reals) -> tuple[list[np.ndarray], list[np.ndarray]]:
    if reals is None:
        items = [it for it in fakes if getattr(it, "reference", None) is not None and it.label == 1]
        if not items:
            raise ValueError("mean_log_spectrum: no partial fakes (items with a reference image) given")
        return [it.image for it in items], [it.reference for it in items]
    fakes, reals = list(fakes), list(reals)
    if len(fakes) != len(reals):
        raise ValueError(f"mean_log_spectrum: {len(fakes)} fakes but {len(reals)} reals")
    return fakes, reals


def mean_log_spectrum(fakes, reals=None, max_items: int | None = None, eps: float = 1e-3,
                      laplacian: bool = False) -> np.ndarray:
    """Mean 2-D FFT log-magnitude of the gray residual ``fake - real``, zero frequency centred.

    For each pair: ``r = Gray(fake - real)`` (BT.601 luma of the signed difference, images on
    the [0, 1] scale), ``S = fftshift(log(|FFT2(r)| + eps))``; the result is the mean of ``S``
    over the pairs. Periodic upsampling artefacts (period 2, 4, 8 px of a x2 cascade) show as
    peaks at ``H/2``, ``H/4``, ``H/8`` cycles from the centre (the Nyquist frequency is row /
    column 0 of the shifted array).

    Args:
        fakes: :class:`~fklib.data.readers.Item` s (their ``reference`` is the real; reals and
            whole-image syntheses are skipped), or ``H x W x 3`` arrays paired with ``reals``.
        reals: ``H x W x 3`` arrays (uint8 0..255, or float in [0, 1]) when ``fakes`` are arrays.
        max_items: use the first ``max_items`` pairs only.
        laplacian: take the 3x3 Laplacian of the residual first (reflect border): paper §3.2 notes
            that interpolation leaves periodicity in the second derivative, found by a Laplace
            operator; it also flattens the low-frequency shape of the edited region.

    Returns:
        ``H x W`` float64.

    Raises:
        ValueError: no pairs, or pairs of different sizes.
    """
    from scipy.ndimage import laplace  # lazy: scipy only for this step; importing the module does not need it

    fk, rl = _pairs(fakes, reals)
    if max_items is not None:
        fk, rl = fk[:max_items], rl[:max_items]
    total, shape = None, None
    for f, r in zip(fk, rl):
        f, r = np.asarray(f), np.asarray(r)
        scale = 255.0 if f.dtype == np.uint8 else 1.0
        if f.shape != r.shape or f.ndim != 3 or f.shape[-1] != 3:
            raise ValueError(f"mean_log_spectrum: fake {f.shape} and real {r.shape} must be equal H x W x 3")
        if shape is None:
            shape = f.shape
        elif f.shape != shape:
            raise ValueError(f"mean_log_spectrum: pairs of different sizes ({shape} and {f.shape})")
        res = ((f.astype(np.float64) - r.astype(np.float64)) / scale) @ BT601.astype(np.float64)
        if laplacian:
            res = laplace(res, mode="reflect")
        s = np.fft.fftshift(np.log(np.abs(np.fft.fft2(res)) + eps))
        total = s if total is None else total + s
    if total is None:
        raise ValueError("mean_log_spectrum: no pairs")
    return total / len(fk)

