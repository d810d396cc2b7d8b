"""Training the locator: profiles, seeded loop, validation, atomic checkpoints, resume, DDP.

``python -m fklib train --profile cpu [--config my.yaml] [--set key=value ...] [--resume]``

A run is described by one :class:`TrainConfig` (a small dataclass). Named profiles give the
starting values (:data:`PROFILES`); a YAML file and ``--set key=value`` override fields.

Checkpoints (``<out_dir>/last.pt`` every epoch, ``<out_dir>/best.pt`` on a better validation
score) are plain dicts of tensors and primitive values written to a temporary file and
renamed; they load with ``torch.load(path, weights_only=True)``, so loading never runs code.
Each holds the config, the git commit, the data manifest hash, the epoch, the history, and
(``last.pt``) the optimizer, scheduler and RNG states for ``--resume``.

Determinism: on CPU a run is a function of its config (seeded shuffling per epoch, seeded
flips from torch's RNG, whose state is checkpointed), so an interrupted run resumed from
``last.pt`` ends with the same weights as an uninterrupted one.

Multi-GPU / multi-node: launch with ``torchrun --nproc_per_node N -m fklib train ...``; the
process group comes from torchrun's environment (NCCL on CUDA, gloo on CPU), the model is
wrapped in DistributedDataParallel and the training set is sharded with a DistributedSampler.
Only rank 0 validates and writes checkpoints.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from . import paths
from .data import FakeMapDataset, load_set, manifest_hash
from .data.readers import ENTIRE, REAL, RECONSTRUCTION, STGAN_PROPERTIES
from .data.sets import set_folder_name
from .models import PriorBlend, create_model
from .models.registry import accepts


@dataclass
class TrainConfig:
    """Everything that defines a training run (see :data:`PROFILES` for the named starting points).

    Attributes:
        name: run name; checkpoints go to ``out_dir`` (default ``checkpoints/<name>``).
        model: registry name for :func:`fklib.models.create_model`; ``model_kwargs`` passed on.
        classifier: add the real/fake classifier head (``False`` = the paper's "no cl").
        loss: map loss (``l1``, ``l2``, ``focal``, ``dice``, ``ssim`` or a sum such as ``l1+ssim``);
            ``cls_weight`` = λ for the BCE term. ``dffd`` is the Table-2 baseline's own objective
            (:class:`fklib.losses.DFFDLoss` on the model's ``coarse_map``; use with
            ``model=dffd_xception``, see :func:`baseline_config`).
        property_weight: > 0 adds an auxiliary head predicting the edited property (``Real``,
            the 13 STGAN/AttGAN attributes, ``Reconstruction``, ``Entire``; :data:`PROPERTY_CLASSES`)
            trained with cross-entropy of this weight (beyond the paper).
        prior_blend: with a property head, blend the map with the per-property training mean
            maps weighted by the predicted property (:class:`fklib.models.PriorBlend`); the
            blend weight is chosen on the validation split after training and stored in
            ``best.pt`` (beyond the paper).
        balance_classes: weight the classifier's BCE so that reals and fakes count equally
            (``pos_weight = n_real / n_fake`` of the training items).
        size: training and evaluation resolution (px).
        epochs, batch_size, lr, betas, weight_decay: Adam settings (the paper: 10, 8, 1e-4,
            (0.99, 0.999), 1e-7).
        schedule: ``constant`` or ``cosine`` (cosine decay to 0 over all steps, after ``warmup`` steps).
        flip: paired random horizontal flips.
        sets: training sets (short names: ``stgan``, ``stargan``, ``interfacegan``).
        properties: keep only these properties' fakes (``None`` = all); reals are kept when
            ``include_reals``.
        protocol: ``paired`` (reals and fakes of the same training persons) or ``paper``
            (reals from one half of the persons, fakes from the other; paper §5.1).
        include_reconstruction: also train on STGAN/AttGAN reconstructions (property
            ``Reconstruction``: no attribute changed, only the GAN's redraw), as extra fakes.
        data_dir: folder holding the set folders (default ``data/``).
        max_items: cap on training items per set (smoke runs); ``None`` = all.
        val_max_items: cap on validation items per set.
        seed: seeds shuffling, flips and initialisation.
        num_workers: DataLoader workers.
        device: ``auto`` (CUDA when available), ``cpu`` or ``cuda``.
        amp, channels_last: bf16 autocast and channels-last memory format, used on CUDA only.
        attention: multiply face attention maps (region of the edited property from our face
            parser, blurred; :class:`fklib.parsing.ParsingAttention`) into the encoder during
            training; test time uses none (ones), as in the paper. ``attention_sigma`` and
            ``attention_floor`` shape the map.
        degrade_augment: degrade training images at random (:class:`fklib.degrade.RandomDegradation`:
            p = 0.5, one of JPEG / blur / noise / low resolution at a level of
            :data:`fklib.degrade.PAPER_AXES`; GT maps unchanged; beyond the paper).
        init_from: start from the weights of another run instead of the model's own
            initialisation (fine-tuning; optimizer, schedule and epochs are fresh): a run name
            (``<checkpoints>/<name>/best.pt``) or a path to a ``.pt`` checkpoint. Tensors whose
            name or shape the config's model lacks (e.g. a property head the new run has not) are
            skipped and the model's own extra tensors keep their initialisation; both are logged.
            The checkpoint records the file's SHA-256 as ``init_sha256``. ``None`` (default): no such start.
    """

    name: str = "run"
    model: str = "efficientnet_lite0_unet"
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    classifier: bool = True
    loss: str = "l1"
    loss_kwargs: dict[str, Any] = field(default_factory=dict)
    cls_weight: float = 0.1
    property_weight: float = 0.0
    balance_classes: bool = False
    prior_blend: bool = False
    size: int = 128
    epochs: int = 8
    batch_size: int = 16
    lr: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = 1e-7
    schedule: str = "cosine"
    warmup: int = 0
    flip: bool = True
    sets: list[str] = field(default_factory=lambda: ["stgan"])
    properties: list[str] | None = None
    include_reals: bool = True
    protocol: str = "paired"
    include_reconstruction: bool = False
    data_dir: str | None = None
    max_items: int | None = None
    val_max_items: int | None = None
    seed: int = 0
    num_workers: int = 0
    device: str = "auto"
    amp: bool = True
    channels_last: bool = True
    attention: bool = False
    attention_sigma: float = 8.0
    attention_floor: float = 0.3
    degrade_augment: bool = False
    init_from: str | None = None
    out_dir: str | None = None

    def checkpoint_dir(self) -> Path:
        return Path(self.out_dir) if self.out_dir else paths.checkpoints_dir() / self.name

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["betas"] = list(self.betas)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown config key(s) {sorted(unknown)}; known: {sorted(known)}")
        d = dict(d)
        if "betas" in d:
            d["betas"] = tuple(d["betas"])
        return cls(**d)


#: Classes of the auxiliary property head (``property_weight > 0``); other properties are ignored.
PROPERTY_CLASSES = (REAL, *STGAN_PROPERTIES, RECONSTRUCTION, ENTIRE)

#: Named starting points. ``paper`` is §5.1 of the paper; ``cpu`` is tuned for quality within
#: minutes on 2 cores; ``smoke`` only proves the pipeline runs.
PROFILES: dict[str, TrainConfig] = {
    "paper": TrainConfig(name="paper", model="deeplabv3_resnet101", size=224, epochs=10, batch_size=8, lr=1e-4,
                         betas=(0.99, 0.999), weight_decay=1e-7, schedule="constant", flip=False, cls_weight=1.0),
    # Chosen on the validation split (results/tables/recipes.csv): L2 + SSIM map loss, classifier
    # weight 1 with balanced classes, the property head and its prior blend, reconstructions as
    # extra fakes; 16 epochs fit in about 16 minutes on 2 CPU cores.
    "cpu": TrainConfig(name="cpu", loss="l2+ssim", cls_weight=1.0, balance_classes=True, property_weight=0.5,
                       prior_blend=True, include_reconstruction=True, epochs=16),
    "smoke": TrainConfig(name="smoke", model="unet_small", model_kwargs={"base": 8}, epochs=1, batch_size=8,
                         max_items=48, val_max_items=28, size=64),
}


def make_config(profile: str = "cpu", config_file: str | Path | None = None,
                overrides: dict[str, Any] | None = None) -> TrainConfig:
    """Profile, then YAML file (may name its own ``profile``), then explicit overrides."""
    values: dict[str, Any] = {}
    if config_file is not None:
        import yaml

        path = Path(config_file)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such config file")
        loaded = yaml.safe_load(path.read_text()) or {}
        if not isinstance(loaded, dict):
            raise ValueError(f"{path}: expected a mapping of config keys")
        profile = loaded.pop("profile", profile)
        values.update(loaded)
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; known: {sorted(PROFILES)}")
    values.update(overrides or {})
    base = PROFILES[profile].to_dict()
    base.update(values)
    return TrainConfig.from_dict(base)


#: Per-profile settings of the Table-2 baseline (DFFD) on top of the profile (see :func:`baseline_config`).
BASELINE_PROFILES: dict[str, dict[str, Any]] = {
    # DFFD's own recipe: the real Xception widths at 299 px, Adam lr 1e-4 and weight decay 1e-3,
    # batch 16 (train_map_supervised.py), no flips; 100 epochs of the 200 STGAN Bald items.
    "paper": dict(model_kwargs={"width": 1.0, "middle_blocks": 8, "input_size": 299}, epochs=100, batch_size=16,
                  lr=1e-4, betas=(0.9, 0.999), weight_decay=1e-3, schedule="constant", flip=False),
    # From scratch on 2 CPU cores in about 3 minutes: an eighth of Xception's widths (0.35 M parameters;
    # a quarter costs 3x more per step) at DFFD's 299 px (19 x 19 map), batch 8 for more steps
    # (200 in all), a larger learning rate with cosine decay.
    "cpu": dict(model_kwargs={"width": 0.125, "middle_blocks": 8, "input_size": 299}, epochs=8, batch_size=8,
                lr=1e-3, weight_decay=1e-3, schedule="cosine", flip=True),
    # Proves the pipeline runs.
    "smoke": dict(model_kwargs={"width": 0.125, "middle_blocks": 2, "input_size": 64}, epochs=1, batch_size=8,
                  lr=1e-3, weight_decay=1e-3),
}


def baseline_config(profile: str = "cpu", **overrides: Any) -> TrainConfig:
    """The Table-2 baseline: DFFD (Stehouwer et al. 2019) trained on STGAN *Bald* (paper §5.2, RQ1).

    Starts from training profile ``profile`` (its ``size`` is kept: the model resizes its input
    to 299 px itself and its map is upsampled back, so evaluation runs at the profile's
    resolution -- 128 px for ``cpu``, 224 px for ``paper``, as the paper enlarged the baseline's
    maps to 224 x 224), then sets: ``model="dffd_xception"``, ``loss="dffd"``
    (:class:`fklib.losses.DFFDLoss`, map and classifier terms weighted 1 as in DFFD),
    ``properties=["Bald"]``, ``sets=["stgan"]``, ``classifier=True``, ``cls_weight=1``, no
    property head (``property_weight=0``, ``prior_blend=False``), no reconstructions, no class
    balancing, no face attention, and the optimisation settings of :data:`BASELINE_PROFILES`.
    ``overrides`` (any :class:`TrainConfig` field) come last and replace whole fields (give all
    of ``model_kwargs`` when changing one of them).
    """
    if profile not in BASELINE_PROFILES:
        raise ValueError(f"unknown baseline profile {profile!r}; known: {sorted(BASELINE_PROFILES)}")
    values: dict[str, Any] = dict(
        name=f"dffd_baseline_{profile}", model="dffd_xception", loss="dffd", loss_kwargs={}, classifier=True,
        cls_weight=1.0, property_weight=0.0, prior_blend=False, include_reconstruction=False, balance_classes=False,
        sets=["stgan"], properties=["Bald"], include_reals=True, attention=False,
    )
    values.update(BASELINE_PROFILES[profile])
    values.update(overrides)
    return make_config(profile, overrides=values)


def parse_override(text: str) -> tuple[str, Any]:
    """``key=value`` with the value parsed as YAML (``epochs=3``, ``properties=[Bald]``)."""
    import yaml

    if "=" not in text:
        raise ValueError(f"override {text!r} must look like key=value")
    key, value = text.split("=", 1)
    return key.strip(), yaml.safe_load(value)


# --- helpers ------------------------------------------------------------------------------------

def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=paths.project_root(), capture_output=True,
                             text=True, timeout=10)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def data_manifest_hash(sets: list[str]) -> str:
    return manifest_hash(tuple(f"{set_folder_name(s)}/" for s in sets)) if sets else ""


def _machine() -> str:
    from .export import machine_description

    return machine_description()


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)


def save_checkpoint(path: Path, payload: dict) -> None:
    """Write ``payload`` with torch.save to a temp file beside ``path``, then rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
    torch.save(payload, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: str | Path) -> dict:
    """Load a checkpoint safely: ``.pt`` with ``weights_only=True`` (tensors and primitive values only),
    ``.safetensors`` as written by :func:`fklib.export.save_locator`."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such checkpoint")
    if path.suffix == ".safetensors":  # a shipped locator (fklib.export)
        from .export import load_locator

        return load_locator(path)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unpickling failure is a bad file for the user
        raise ValueError(f"{path}: not a loadable fklib checkpoint ({type(err).__name__}: {err})") from err


def build_model(cfg: TrainConfig, pretrained: bool = True) -> torch.nn.Module:
    """The config's model; ``pretrained=False`` skips loading ImageNet/COCO weights (a checkpoint follows)."""
    kwargs = dict(cfg.model_kwargs)
    if cfg.property_weight > 0:
        kwargs["num_properties"] = len(PROPERTY_CLASSES)
    if not pretrained and accepts(cfg.model, "pretrained"):
        kwargs["pretrained"] = False
    return create_model(cfg.model, classifier=cfg.classifier, **kwargs)


def property_targets(properties: list[str], device: torch.device) -> torch.Tensor:
    """Class indices in :data:`PROPERTY_CLASSES` (-100, ignored by cross-entropy, for others)."""
    index = {p: i for i, p in enumerate(PROPERTY_CLASSES)}
    return torch.tensor([index.get(p, -100) for p in properties], device=device)


def model_from_checkpoint(path: str | Path) -> tuple[torch.nn.Module, TrainConfig, dict]:
    """Rebuild the model of a checkpoint (eval mode, CPU) with its config and the raw payload."""
    ckpt = load_checkpoint(path)
    cfg = TrainConfig.from_dict(json.loads(ckpt["config"]))
    model = build_model(cfg, pretrained=False)  # the checkpoint holds the trained weights
    model.load_state_dict(ckpt["model"])
    if "prior_maps" in ckpt:
        model = PriorBlend(model, ckpt["prior_maps"], float(ckpt["prior_alpha"]))
    return model.eval(), cfg, ckpt


def property_prior_maps(items, size: int) -> torch.Tensor:
    """Mean GT map per :data:`PROPERTY_CLASSES` entry over ``items`` at ``size`` (``K x S x S``; zeros if absent)."""
    ds = FakeMapDataset(items, size=size)
    sums = torch.zeros(len(PROPERTY_CLASSES), size, size)
    counts = torch.zeros(len(PROPERTY_CLASSES))
    for i, it in enumerate(items):
        if it.property in PROPERTY_CLASSES:
            k = PROPERTY_CLASSES.index(it.property)
            sums[k] += ds[i]["gt_map"][0]
            counts[k] += 1
    return sums / counts.clamp_min(1)[:, None, None]


@torch.no_grad()
def choose_prior_alpha(model: torch.nn.Module, priors: torch.Tensor, val_items, size: int,
                       device: torch.device) -> tuple[float, dict]:
    """The blend weight in {0, 0.1, ..., 1} with the best :func:`validation_score` on the validation fakes."""
    from .metrics import coss_batch, psnr_batch, ssim_batch

    loader = torch.utils.data.DataLoader(FakeMapDataset(val_items, size=size), batch_size=64)
    maps, probs, gts = [], [], []
    model.eval()
    for batch in loader:
        fake = batch["label"] > 0.5
        if not fake.any():
            continue
        out = model(batch["image"][fake].to(device))
        maps.append(out.map.float().cpu())
        probs.append(out.property_logits.float().softmax(1).cpu())
        gts.append(batch["gt_map"][fake])
    m, p, g = torch.cat(maps), torch.cat(probs), torch.cat(gts)
    prior_map = torch.einsum("bk,khw->bhw", p, priors)[:, None]
    scores = {}
    for alpha in [round(0.1 * i, 1) for i in range(11)]:
        x = alpha * m + (1 - alpha) * prior_map
        metrics = {"coss": coss_batch(x, g).mean().item(), "psnr": psnr_batch(x, g).mean().item(),
                   "ssim": ssim_batch(x, g).mean().item()}
        scores[alpha] = validation_score(metrics)
    best = max(scores, key=scores.get)
    return best, scores


def _filter(items, cfg: TrainConfig, split_ids: tuple[set, set] | None = None):
    out = []
    for it in items:
        if it.label == 0:
            if not cfg.include_reals:
                continue
            if split_ids is not None and it.identity not in split_ids[0]:
                continue
        else:
            if cfg.properties is not None and it.property not in cfg.properties:
                continue
            if split_ids is not None and it.identity not in split_ids[1]:
                continue
        out.append(it)
    return out


def training_items(cfg: TrainConfig, split: str = "train") -> list:
    """The items of a split for this config (properties, reals, protocol and caps applied)."""
    from .data import paper_protocol

    items = []
    for s in cfg.sets:
        folder = Path(cfg.data_dir) / set_folder_name(s) if cfg.data_dir else None
        part = load_set(s, folder=folder, split=split,
                        include_reconstruction=cfg.include_reconstruction and split == "train")
        protocol_ids = None
        if cfg.protocol == "paper" and split == "train":
            ids = sorted({it.identity for it in part})
            reals, fakes = paper_protocol(ids, cfg.seed)
            protocol_ids = (set(reals), set(fakes))
        elif cfg.protocol not in ("paired", "paper"):
            raise ValueError(f"unknown protocol {cfg.protocol!r}; expected 'paired' or 'paper'")
        part = _filter(part, cfg, protocol_ids)
        cap = cfg.max_items if split == "train" else cfg.val_max_items
        if cap is not None and len(part) > cap:
            idx = np.random.default_rng(cfg.seed).choice(len(part), cap, replace=False)
            part = [part[i] for i in sorted(idx)]
        items += part
    if not items:
        raise ValueError(f"no {split} items for sets={cfg.sets} properties={cfg.properties}")
    return items


def loss_map(criterion, out) -> torch.Tensor:
    """The map ``criterion`` is computed on: ``out.coarse_map`` for a loss with ``uses_coarse_map``
    (:class:`fklib.losses.DFFDLoss`, the DFFD baseline's 19x19 attention map), ``out.map`` otherwise.
    """
    if getattr(criterion, "uses_coarse_map", False):
        if out.coarse_map is None:
            raise ValueError("loss 'dffd' needs a model with a coarse map (model=dffd_xception)")
        return out.coarse_map
    return out.map


@torch.no_grad()
def validate(model: torch.nn.Module, loader, device: torch.device, criterion) -> dict:
    """Mean loss and map metrics (COSS, PSNR, SSIM on fakes) and classifier accuracy on ``loader``."""
    from .metrics import coss_batch, psnr_batch, ssim_batch

    model.eval()
    totals = {"loss": 0.0, "n": 0, "coss": [], "psnr": [], "ssim": [], "correct": 0, "n_cls": 0}
    for batch in loader:
        x, y, label = batch["image"].to(device), batch["gt_map"].to(device), batch["label"].to(device)
        out = model(x)
        losses = criterion(loss_map(criterion, out), y, out.logit, label)
        totals["loss"] += float(losses["loss"]) * len(x)
        totals["n"] += len(x)
        fake = label > 0.5
        if fake.any():
            p, g = out.map[fake].float().cpu(), y[fake].float().cpu()
            totals["coss"] += coss_batch(p, g).tolist()
            totals["psnr"] += psnr_batch(p, g).tolist()
            totals["ssim"] += ssim_batch(p, g).tolist()
        if out.logit is not None:
            totals["correct"] += int(((out.logit > 0) == fake).sum())
            totals["n_cls"] += len(x)
    res = {"loss": totals["loss"] / max(totals["n"], 1)}
    for k in ("coss", "psnr", "ssim"):
        res[k] = float(np.mean(totals[k])) if totals[k] else float("nan")
    res["acc"] = totals["correct"] / totals["n_cls"] if totals["n_cls"] else float("nan")
    return res


def validation_score(metrics: dict) -> float:
    """The model-selection score on validation: mean of COSS, SSIM and PSNR/40 (higher is better)."""
    return (metrics["coss"] + metrics["ssim"] + metrics["psnr"] / 40.0) / 3.0


def _lr_factor(cfg: TrainConfig, step: int, total: int) -> float:
    if cfg.warmup and step < cfg.warmup:
        return (step + 1) / cfg.warmup
    if cfg.schedule == "constant":
        return 1.0
    if cfg.schedule == "cosine":
        t = (step - cfg.warmup) / max(total - cfg.warmup, 1)
        return 0.5 * (1.0 + math.cos(math.pi * min(t, 1.0)))
    raise ValueError(f"unknown schedule {cfg.schedule!r}; expected 'constant' or 'cosine'")


def _dist_info() -> tuple[int, int, int]:
    if "RANK" in os.environ and "WORLD_SIZE" in os.environ:
        return int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), int(os.environ.get("LOCAL_RANK", 0))
    return 0, 1, 0


def init_checkpoint_path(init_from: str) -> Path:
    """The checkpoint file of :attr:`TrainConfig.init_from`: a ``.pt`` path as is, else ``<checkpoints>/<run>/best.pt``."""
    path = Path(init_from)
    return path if path.suffix == ".pt" else paths.checkpoints_dir() / init_from / "best.pt"


def train(cfg: TrainConfig, resume: bool = False, progress: bool = True, log=print,
          train_items: list | None = None, val_items: list | None = None) -> dict:
    """Train according to ``cfg``; return ``{"best": path, "last": path, "history": [...]}``.

    With ``resume=True`` training continues from ``<out_dir>/last.pt`` (same config required).

    ``train_items`` / ``val_items`` (lists of :class:`~fklib.data.readers.Item`), when given,
    replace ``training_items(cfg, "train")`` / ``training_items(cfg, "val")``: data that is no
    set of ``data/`` (e.g. :mod:`fklib.upsampling`'s partial fakes). The config's ``sets``,
    ``properties``, ``protocol`` and caps are then not applied to them, and the checkpoint does
    not identify them: the caller keeps track (see :func:`fklib.robustness.ensure_trained_on`).
    """
    from tqdm.auto import tqdm

    t_start = time.time()
    rank, world, local_rank = _dist_info()
    distributed = world > 1
    device = resolve_device(cfg.device)
    if distributed and not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend)
    if device.type == "cuda" and distributed:
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    use_amp = cfg.amp and device.type == "cuda"
    seed_everything(cfg.seed)
    if device.type == "cpu":
        torch.use_deterministic_algorithms(True, warn_only=True)
        # Deterministic mode also fills every torch.empty with NaN (a quarter of a DFFD CPU step);
        # results do not depend on it, so keep determinism without the fill.
        torch.utils.deterministic.fill_uninitialized_memory = False

    out_dir = cfg.checkpoint_dir()
    last_path, best_path = out_dir / "last.pt", out_dir / "best.pt"

    train_items = training_items(cfg, "train") if train_items is None else list(train_items)
    if rank != 0:
        val_items = []
    elif val_items is None:
        val_items = training_items(cfg, "val")
    else:
        val_items = list(val_items)
    attention = None
    if cfg.attention:  # face attention from our parser during training only (paper §4.4)
        from .parsing import ParsingAttention, load_parser

        attention = ParsingAttention(train_items, load_parser(), sigma=cfg.attention_sigma,
                                     floor=cfg.attention_floor)
    transform = None
    if cfg.degrade_augment:  # random real-world degradations of the training images (fklib.degrade)
        from .degrade import RandomDegradation

        transform = RandomDegradation(p=0.5)
    train_ds = FakeMapDataset(train_items, size=cfg.size, flip=cfg.flip, attention=attention, transform=transform)
    val_ds = FakeMapDataset(val_items, size=cfg.size) if val_items else None

    model = build_model(cfg, pretrained=cfg.init_from is None)
    init_sha256 = None
    if cfg.init_from is not None:  # fine-tuning: start from another run's weights
        from .data.fetching import sha256_file

        init_path = init_checkpoint_path(cfg.init_from)
        state, own = load_checkpoint(init_path)["model"], model.state_dict()
        skipped = sorted(k for k, v in state.items() if k not in own or own[k].shape != v.shape)
        fresh = sorted(k for k in own if k not in state or k in skipped)
        model.load_state_dict({k: v for k, v in state.items() if k not in skipped}, strict=False)
        if skipped or fresh:
            log(f"init_from {init_path}: {len(skipped)} tensor(s) skipped {skipped[:3]}, "
                f"{len(fresh)} freshly initialised {fresh[:3]}")
        init_sha256 = sha256_file(init_path)
    model = model.to(device)
    if use_amp and cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, betas=tuple(cfg.betas), weight_decay=cfg.weight_decay)
    n_fake = sum(it.label for it in train_items)
    pos_weight = (len(train_items) - n_fake) / n_fake if cfg.balance_classes and n_fake else None
    from .losses import make_criterion  # imported here: loading a checkpoint (locate) needs no losses

    # LocatorLoss, or DFFDLoss for loss="dffd" (the Table-2 baseline; fed the coarse map, see loss_map)
    criterion = make_criterion(cfg.loss, cls_weight=cfg.cls_weight if cfg.classifier else 0.0, pos_weight=pos_weight,
                               **cfg.loss_kwargs)

    sampler = None
    if distributed:
        sampler = torch.utils.data.distributed.DistributedSampler(train_ds, num_replicas=world, rank=rank,
                                                                  shuffle=True, seed=cfg.seed, drop_last=True)
    steps_per_epoch = (len(sampler) if sampler is not None else len(train_ds)) // cfg.batch_size
    steps_per_epoch = max(steps_per_epoch, 1)
    total_steps = steps_per_epoch * cfg.epochs
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: _lr_factor(cfg, s, total_steps))

    start_epoch, history, best_score = 0, [], -math.inf
    if resume and last_path.is_file():
        ckpt = load_checkpoint(last_path)
        saved = TrainConfig.from_dict(json.loads(ckpt["config"])).to_dict()  # keys added later: defaults
        if saved != cfg.to_dict():
            diff = sorted(k for k in saved if saved.get(k) != cfg.to_dict().get(k))
            raise ValueError(f"{last_path}: written with a different config (keys {diff}); cannot resume")
        model.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["optimizer"])
        sched.load_state_dict(json.loads(ckpt["scheduler"]))
        torch.set_rng_state(ckpt["rng_cpu"])
        start_epoch = int(ckpt["epoch"]) + 1
        history = json.loads(ckpt["history"])
        best_score = float(ckpt["best_score"])
        log(f"resumed from {last_path} after epoch {start_epoch}")

    ddp_model = model
    if distributed:
        ddp_model = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None)

    meta = {"config": json.dumps(cfg.to_dict(), sort_keys=True), "git_commit": git_commit(),
            "data_manifest_hash": data_manifest_hash(cfg.sets), "fklib_checkpoint": 1,
            "machine": _machine(), **({"init_sha256": init_sha256} if init_sha256 else {})}
    for epoch in range(start_epoch, cfg.epochs):
        t0 = time.time()
        ddp_model.train()
        if sampler is not None:
            sampler.set_epoch(epoch)
            loader = torch.utils.data.DataLoader(train_ds, batch_size=cfg.batch_size, sampler=sampler,
                                                 num_workers=cfg.num_workers, drop_last=True)
        else:
            gen = torch.Generator().manual_seed(cfg.seed * 100003 + epoch)
            loader = torch.utils.data.DataLoader(train_ds, batch_size=cfg.batch_size, shuffle=True, generator=gen,
                                                 num_workers=cfg.num_workers, drop_last=True)
        running, seen = 0.0, 0
        bar = tqdm(loader, desc=f"epoch {epoch + 1}/{cfg.epochs}", disable=not progress or rank != 0, leave=False)
        for batch in bar:
            x = batch["image"].to(device, non_blocking=True)
            y = batch["gt_map"].to(device, non_blocking=True)
            label = batch["label"].to(device, non_blocking=True)
            att = batch["attention"].to(device, non_blocking=True) if cfg.attention else None
            if use_amp and cfg.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=use_amp):
                out = ddp_model(x, attention=att)
            losses = criterion(loss_map(criterion, out).float(), y, None if out.logit is None else out.logit.float(),
                               label)
            if cfg.property_weight > 0:
                targets = property_targets(batch["property"], device)
                losses["loss"] = losses["loss"] + cfg.property_weight * torch.nn.functional.cross_entropy(
                    out.property_logits.float(), targets, ignore_index=-100)
            opt.zero_grad(set_to_none=True)
            losses["loss"].backward()
            opt.step()
            sched.step()
            running += float(losses["loss"].detach()) * len(x)
            seen += len(x)
            bar.set_postfix(loss=f"{running / seen:.4f}")
        record = {"epoch": epoch + 1, "train_loss": running / max(seen, 1), "seconds": round(time.time() - t0, 1),
                  "lr": sched.get_last_lr()[0]}
        if rank == 0:
            if val_ds is not None:
                vloader = torch.utils.data.DataLoader(val_ds, batch_size=64, num_workers=cfg.num_workers)
                val = validate(model, vloader, device, criterion)
                record.update({f"val_{k}": v for k, v in val.items()})
                score = validation_score(val)
            else:
                score = -record["train_loss"]
            record["val_score"] = score
            history.append(record)
            log("  ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in record.items()))
            state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
            payload = {**meta, "model": state, "epoch": epoch, "history": json.dumps(history),
                       "val_score": float(score)}
            if score > best_score:
                best_score = score
                save_checkpoint(best_path, payload)
            save_checkpoint(last_path, {**payload, "optimizer": opt.state_dict(),
                                        "scheduler": json.dumps(sched.state_dict()),
                                        "rng_cpu": torch.get_rng_state(), "best_score": float(best_score)})
        if distributed:
            # Parameters agree through DDP's gradient all-reduce; BatchNorm running statistics are
            # per rank between DDP's per-forward broadcasts: take rank 0's so every rank ends equal.
            for buf in model.buffers():
                dist.broadcast(buf, src=0)
            dist.barrier()
    if rank == 0 and cfg.prior_blend and cfg.property_weight > 0 and val_items:
        ckpt = load_checkpoint(best_path)
        model.load_state_dict(ckpt["model"])
        priors = property_prior_maps(train_items, cfg.size)
        alpha, scores = choose_prior_alpha(model, priors, val_items, cfg.size, device)
        log(f"prior blend: alpha={alpha} (validation scores {', '.join(f'{a}: {v:.4f}' for a, v in scores.items())})")
        save_checkpoint(best_path, {**ckpt, "prior_maps": priors, "prior_alpha": float(alpha),
                                    "prior_scores": json.dumps(scores)})
        model = PriorBlend(model, priors, alpha)
    if rank == 0 and best_path.is_file():  # wall time of this call (a resumed run: of the last part)
        save_checkpoint(best_path, {**load_checkpoint(best_path), "train_wall_seconds": round(time.time() - t_start, 1)})
    result = {"best": best_path, "last": last_path, "history": history, "model": model}
    return result
