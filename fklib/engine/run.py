"""Setting a training run up: process and determinism, items, Dataset, model, optimiser, resume (:func:`setup`)."""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist

from ..checkpoint import build_model, check_model_config, config_of, load_checkpoint, load_init_weights, run_metadata
from ..config import TrainConfig, property_classes, resolve_device
from ..data import FakeMapDataset, SpliceAugment
from ..data.sets import SET_FOLDERS
from ..degrade import AXES_BY_NAME, RandomDegradation, RandomJPEG, RandomResample
from .priors import property_prior_maps
from ..losses import make_criterion
from ..parsing import ParsedImages, ParsingAttention, load_parser
from .items import training_items


@dataclass
class Run:
    """Everything :func:`setup` builds for a training run, and its progress."""

    cfg: TrainConfig
    device: torch.device
    rank: int
    world: int
    use_amp: bool
    train_items: list
    val_items: list
    train_ds: FakeMapDataset
    model: torch.nn.Module
    ddp_model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR
    criterion: torch.nn.Module
    sampler: torch.utils.data.distributed.DistributedSampler | None
    meta: dict
    weights: torch.Tensor | None = None
    start_epoch: int = 0
    history: list = field(default_factory=list)
    best_score: float = -math.inf
    t_start: float = field(default_factory=time.time)

    @property
    def best_path(self) -> Path:
        return self.cfg.checkpoint_dir() / "best.pt"

    @property
    def last_path(self) -> Path:
        return self.cfg.checkpoint_dir() / "last.pt"


def dist_info() -> tuple[int, int, int]:
    """(rank, world size, local rank) from torchrun's environment; (0, 1, 0) otherwise."""
    if "RANK" in os.environ and "WORLD_SIZE" in os.environ:
        return int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), int(os.environ.get("LOCAL_RANK", 0))
    return 0, 1, 0


def seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)


def init_process(cfg: TrainConfig) -> tuple[torch.device, int, int]:
    """Device, process group (under torchrun), seeding and CPU determinism; returns (device, rank, world)."""
    rank, world, local_rank = dist_info()
    device = resolve_device(cfg.device)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    if device.type == "cuda" and world > 1:
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    seed_everything(cfg.seed)
    if device.type == "cpu":
        torch.use_deterministic_algorithms(True, warn_only=True)
        # Deterministic mode also fills every torch.empty with NaN (a quarter of a DFFD CPU step);
        # results do not depend on it, so keep determinism without the fill.
        torch.utils.deterministic.fill_uninitialized_memory = False
    return device, rank, world


def training_dataset(cfg: TrainConfig, items: list) -> FakeMapDataset:
    """The training Dataset: flips, face attention (``cfg.attention``), the resampling of a face found in a photo
    (``cfg.resample_p``), degradations (``cfg.degrade_augment``),
    a JPEG save (``cfg.jpeg_p``, after them) and splices (``cfg.splice_p``; region masks from our parser's parsing of the real faces)."""
    attention = None
    if cfg.attention:  # face attention from our parser during training only (paper §4.4)
        attention = ParsingAttention(items, load_parser(), sigma=cfg.attention_sigma, floor=cfg.attention_floor)
    steps = [RandomResample(p=cfg.resample_p)] if cfg.resample_p > 0 else []  # first: the face as found in a photo
    if cfg.degrade_augment:
        steps.append(RandomDegradation(p=cfg.degrade_p, axes=AXES_BY_NAME[cfg.degrade_axes]))
    if cfg.jpeg_p > 0:  # after the other degradation: a photo is saved last
        steps.append(RandomJPEG(p=cfg.jpeg_p))
    transform = None if not steps else steps[0] if len(steps) == 1 else Chain(steps)
    splices = None
    if cfg.splice_p > 0:
        parsing = None
        if any(k != "blob" for k in cfg.splice_kinds):
            parsing = ParsedImages([it for it in items if it.reference is not None], load_parser(),
                                   references_only=True)
        splices = SpliceAugment(cfg.splice_p, cfg.splice_kinds, parsing,
                                sets=[SET_FOLDERS[k] for k in cfg.splice_sets] if cfg.splice_sets else None)
    return FakeMapDataset(items, size=cfg.size, flip=cfg.flip, attention=attention, transform=transform,
                          item_transform=splices)


@dataclass
class Chain:
    """Image transforms applied in order (``steps``)."""

    steps: list

    def __call__(self, x):
        for step in self.steps:
            x = step(x)
        return x


def sampling_weights(cfg: TrainConfig, items: list) -> torch.Tensor | None:
    """Per-item sampling weights of an epoch drawn with replacement, or ``None`` for a plain shuffle.

    With ``cfg.set_balance`` every training set (the items' ``set``) gets its share of ``cfg.set_shares``
    (relative weights by short or folder name; equal when empty) and, within
    a set, reals get ``cfg.real_fraction`` of it (``None``: the set's own proportion), spread evenly
    over the items of each (set, real/fake) group. Without it but with ``cfg.samples_per_epoch``,
    every item weighs the same.
    """
    if not cfg.set_balance:
        return torch.ones(len(items), dtype=torch.float64) if cfg.samples_per_epoch else None
    sets = sorted({it.set for it in items})
    short = {v: k for k, v in SET_FOLDERS.items() if v}
    shares = {s: float(cfg.set_shares.get(short.get(s, s), cfg.set_shares.get(s, 1.0))) for s in sets}
    total = sum(shares.values())
    counts: dict[tuple[str, int], int] = {}
    for it in items:
        counts[(it.set, it.label)] = counts.get((it.set, it.label), 0) + 1
    weights = []
    for it in items:
        n_real, n_fake = counts.get((it.set, 0), 0), counts.get((it.set, 1), 0)
        real_share = cfg.real_fraction if cfg.real_fraction is not None else n_real / (n_real + n_fake)
        if n_real == 0 or n_fake == 0:
            real_share = 1.0 if n_fake == 0 else 0.0
        share = real_share if it.label == 0 else 1.0 - real_share
        weights.append(share / counts[(it.set, it.label)] * shares[it.set] / total)
    return torch.tensor(weights, dtype=torch.float64)


def balanced_pos_weight(items: list, weights: torch.Tensor | None = None) -> float | None:
    """``pos_weight`` of the classifier's BCE that makes reals and fakes count equally: the real / fake
    ratio of the items as they are drawn (their sampling ``weights``' masses, else their counts)."""
    labels = torch.tensor([float(it.label) for it in items], dtype=torch.float64)
    w = torch.ones_like(labels) if weights is None else weights.to(torch.float64)
    fake, real = float((w * labels).sum()), float((w * (1 - labels)).sum())
    return real / fake if fake > 0 else None


def lr_factor(cfg: TrainConfig, step: int, total: int) -> float:
    """The schedule's factor on ``cfg.lr`` at ``step`` of ``total`` (linear warmup, then constant or cosine)."""
    if cfg.warmup and step < cfg.warmup:
        return (step + 1) / cfg.warmup
    if cfg.schedule == "constant":
        return 1.0
    t = (step - cfg.warmup) / max(total - cfg.warmup, 1)
    return 0.5 * (1.0 + math.cos(math.pi * min(t, 1.0)))


def setup(cfg: TrainConfig, resume: bool = False, log=print, train_items: list | None = None,
          val_items: list | None = None) -> Run:
    """Build a :class:`Run`: process, items, Dataset, model (and its ``init_from`` weights), optimiser,
    criterion, sampler, schedule, then the ``last.pt`` state with ``resume``; DDP-wrap under torchrun.

    ``model_kwargs`` the model's constructor refuses fail first (:func:`fklib.checkpoint.check_model_config`),
    before any data is read.
    """
    check_model_config(cfg)
    device, rank, world = init_process(cfg)
    use_amp = cfg.amp and device.type == "cuda"
    train_items = training_items(cfg, "train") if train_items is None else list(train_items)
    val_items = [] if rank != 0 else (training_items(cfg, "val") if val_items is None else list(val_items))
    train_ds = training_dataset(cfg, train_items)
    model = build_model(cfg, pretrained=cfg.init_from is None)
    init_sha256 = load_init_weights(model, cfg.init_from, log) if cfg.init_from is not None else None
    if getattr(model, "prior_maps", None) is not None and not bool(model.prior_maps.any()):
        # the hybrid locator's layout maps: the training fakes' mean GT map per property (resume restores them)
        model.prior_maps.copy_(property_prior_maps(train_items, cfg.size, property_classes(cfg))[:, None])
    model = model.to(device)
    if use_amp and cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, betas=tuple(cfg.betas), weight_decay=cfg.weight_decay)
    weights = sampling_weights(cfg, train_items)
    pos_weight = balanced_pos_weight(train_items, weights) if cfg.balance_classes else None
    # LocatorLoss, or DFFDLoss for loss="dffd" (the Table-2 baseline; fed the coarse map, see loss_map)
    criterion = make_criterion(cfg.loss, cls_weight=cfg.cls_weight if cfg.classifier else 0.0, pos_weight=pos_weight,
                               **cfg.loss_kwargs)
    sampler = None
    if world > 1:
        sampler = torch.utils.data.distributed.DistributedSampler(train_ds, num_replicas=world, rank=rank,
                                                                  shuffle=True, seed=cfg.seed, drop_last=True)
    n_epoch = (cfg.samples_per_epoch or len(train_ds)) // world if weights is not None else \
        (len(sampler) if sampler is not None else len(train_ds))
    steps_per_epoch = max(n_epoch // cfg.batch_size, 1)
    total_steps = steps_per_epoch * cfg.epochs
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(cfg, s, total_steps))
    run = Run(cfg, device, rank, world, use_amp, train_items, val_items, train_ds, model, model, opt, sched,
              criterion, sampler, meta={}, weights=weights)
    if resume and run.last_path.is_file():
        restore(run, log)
    if world > 1:
        run.ddp_model = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None)
    run.meta = run_metadata(cfg, init_sha256)
    return run


def restore(run: Run, log=print) -> None:
    """Continue ``run`` from its ``last.pt`` (same config required): weights, optimiser, schedule, RNG, history."""
    ckpt = load_checkpoint(run.last_path)
    saved = config_of(ckpt).to_dict()  # keys added later: defaults
    if saved != run.cfg.to_dict():
        diff = sorted(k for k in saved if saved.get(k) != run.cfg.to_dict().get(k))
        raise ValueError(f"{run.last_path}: written with a different config (keys {diff}); cannot resume")
    run.model.load_state_dict(ckpt["model"])
    run.optimizer.load_state_dict(ckpt["optimizer"])
    run.scheduler.load_state_dict(json.loads(ckpt["scheduler"]))
    torch.set_rng_state(ckpt["rng_cpu"])
    run.start_epoch = int(ckpt["epoch"]) + 1
    run.history = json.loads(ckpt["history"])
    run.best_score = float(ckpt["best_score"])
    log(f"resumed from {run.last_path} after epoch {run.start_epoch}")
