"""Training the locator: setup, one epoch, validation, checkpoints, resume, DDP -- ``fit`` ties them.

``python -m fklib train --profile cpu [--config my.yaml] [--override key=value ...] [--resume | --overwrite]``

A run is described by one :class:`~fklib.config.TrainConfig`. :func:`fit` calls, in order:
:func:`fklib.engine.run.setup` (process, data, model, optimisation, resume), then per epoch :func:`train_one_epoch`,
:func:`validate` (rank 0) and :func:`save_epoch`, then :func:`finish` (prior blend, the no-classifier
threshold, the wall time).

Checkpoints (``<out_dir>/last.pt`` every epoch, ``<out_dir>/best.pt`` on a better validation
score) are written by :func:`fklib.checkpoint.save_checkpoint` (atomic, weights-only loadable).
Each holds the config, the git commit, the data manifest hash, the SHA-256 of its weights (checked
on load), the epoch, the history, and (``last.pt``) the optimizer, scheduler and RNG states for
``--resume``. A folder that already holds a run is refused unless ``--resume`` or ``--overwrite``;
with ``--overwrite`` the old checkpoints are removed only once the new run's set-up has succeeded
(a config or data error keeps them).

Determinism: on CPU a run is a function of its config (seeded shuffling per epoch, seeded
flips from torch's RNG, whose state is checkpointed), so an interrupted run resumed from
``last.pt`` ends with the same weights as an uninterrupted one.

Multi-GPU / multi-node: launch with ``torchrun --nproc_per_node N -m fklib train ...``; the
process group comes from torchrun's environment (NCCL on CUDA, gloo on CPU), the model is
wrapped in DistributedDataParallel and the training set is sharded with a DistributedSampler.
Only rank 0 validates and writes checkpoints.
"""

from __future__ import annotations

import json
import re
import time

import numpy as np
import torch
import torch.distributed as dist
from tqdm.auto import tqdm

from ..checkpoint import DecisionRule, load_checkpoint, save_checkpoint
from ..config import PROPERTY_CLASSES, TrainConfig, property_classes
from ..files import remove_partials
from ..metrics import decision_accuracy
from ..models import PriorBlend
from .evaluate import balanced_decision, no_cl_threshold
from .priors import choose_prior_alpha, property_prior_maps, validation_score
from .scoring import score_items
from .run import Run, dist_info, setup

#: The map metrics the validation records (besides loss and ACC).
VALIDATION_METRICS = ("coss", "psnr", "ssim")


# --- one epoch, validation, checkpoints ---------------------------------------------------------

def loss_map(criterion, out) -> torch.Tensor:
    """The map ``criterion`` is computed on: ``out.coarse_map`` for a loss with ``uses_coarse_map``
    (:class:`fklib.losses.DFFDLoss`, the DFFD baseline's 19x19 attention map), ``out.map`` otherwise.
    """
    if getattr(criterion, "uses_coarse_map", False):
        if out.coarse_map is None:
            raise ValueError("loss 'dffd' needs a model with a coarse map (model=dffd_xception)")
        return out.coarse_map
    return out.map


def property_targets(properties: list[str], device: torch.device,
                     classes: tuple[str, ...] = PROPERTY_CLASSES) -> torch.Tensor:
    """Class indices in ``classes`` (a property head's; -100, ignored by cross-entropy, for others)."""
    index = {p: i for i, p in enumerate(classes)}
    return torch.tensor([index.get(p, -100) for p in properties], device=device)


def epoch_loader(run: Run, epoch: int) -> torch.utils.data.DataLoader:
    """The epoch's training batches: a seeded shuffle (``seed * 100003 + epoch``) or the DDP shard; with
    sampling weights (:func:`fklib.engine.run.sampling_weights`) a seeded draw with replacement of
    ``samples_per_epoch`` items (each rank takes every ``world``-th)."""
    cfg = run.cfg
    if run.weights is not None:
        gen = torch.Generator().manual_seed(cfg.seed * 100003 + epoch)
        n = cfg.samples_per_epoch or len(run.train_ds)
        idx = torch.multinomial(run.weights, n, replacement=True, generator=gen)[run.rank::run.world]
        return torch.utils.data.DataLoader(run.train_ds, batch_size=cfg.batch_size, sampler=idx.tolist(),
                                           num_workers=cfg.num_workers, drop_last=True)
    if run.sampler is not None:
        run.sampler.set_epoch(epoch)
        return torch.utils.data.DataLoader(run.train_ds, batch_size=cfg.batch_size, sampler=run.sampler,
                                           num_workers=cfg.num_workers, drop_last=True)
    gen = torch.Generator().manual_seed(cfg.seed * 100003 + epoch)
    return torch.utils.data.DataLoader(run.train_ds, batch_size=cfg.batch_size, shuffle=True, generator=gen,
                                       num_workers=cfg.num_workers, drop_last=True)


def attention_inputs(cfg: TrainConfig, att: torch.Tensor | None) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """(the map the model multiplies in, the auxiliary target) of a training batch for ``cfg.attention_mode``
    (see :class:`~fklib.config.TrainConfig`); ``dropout`` draws from torch's global RNG."""
    if att is None or cfg.attention_mode in ("paper", "skip"):
        return att, None
    if cfg.attention_mode == "auxiliary":
        return None, att
    if cfg.attention_mode == "dropout":
        return (None if float(torch.rand(())) < cfg.attention_dropout else att), None
    mean = att.mean(dim=(2, 3), keepdim=True)
    if cfg.attention_mode == "normalized":
        return att / mean.clamp_min(1e-6), None
    return (1.0 + att) / (1.0 + mean), None  # residual


def training_loss(run: Run, batch: dict) -> torch.Tensor:
    """The criterion (+ the property head's cross-entropy) of one training batch, under bf16 autocast on CUDA."""
    cfg, device = run.cfg, run.device
    x = batch["image"].to(device, non_blocking=True)
    y = batch["gt_map"].to(device, non_blocking=True)
    label = batch["label"].to(device, non_blocking=True)
    att, region_target = attention_inputs(cfg, batch["attention"].to(device, non_blocking=True)
                                          if cfg.attention else None)
    if run.use_amp and cfg.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=run.use_amp):
        out = run.ddp_model(x, attention=att)
    logit = None if out.logit is None else out.logit.float()
    loss = run.criterion(loss_map(run.criterion, out).float(), y, logit, label)["loss"]
    if out.texture is not None:  # a hybrid locator: its texture map must localize on its own too
        loss = loss + run.criterion(out.texture.float(), y, None, label)["loss"]
    if region_target is not None:
        loss = loss + cfg.attention_weight * torch.nn.functional.l1_loss(out.region.float(), region_target)
    if cfg.property_weight > 0:
        targets = property_targets(batch["property"], device, property_classes(cfg))
        loss = loss + cfg.property_weight * torch.nn.functional.cross_entropy(
            out.property_logits.float(), targets, ignore_index=-100)
    return loss


def train_one_epoch(run: Run, epoch: int, progress: bool = True) -> dict:
    """One pass over the training batches; returns the epoch's record (``train_loss``, seconds, lr)."""
    t0 = time.time()
    run.ddp_model.train()
    running, seen = 0.0, 0
    bar = tqdm(epoch_loader(run, epoch), desc=f"epoch {epoch + 1}/{run.cfg.epochs}",
               disable=not progress or run.rank != 0, leave=False)
    for batch in bar:
        loss = training_loss(run, batch)
        run.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        run.optimizer.step()
        run.scheduler.step()
        running += float(loss.detach()) * len(batch["image"])
        seen += len(batch["image"])
        bar.set_postfix(loss=f"{running / seen:.4f}")
    return {"epoch": epoch + 1, "train_loss": running / max(seen, 1), "seconds": round(time.time() - t0, 1),
            "lr": run.scheduler.get_last_lr()[0]}


def validate(model: torch.nn.Module, items, size: int, device: torch.device, criterion,
             num_workers: int = 0) -> dict:
    """Mean loss, map metrics on the fakes (COSS, PSNR, SSIM) and ACC of ``model`` on ``items``.

    The rows come from :func:`fklib.engine.scoring.score_items` (the model itself, not a BN-folded
    copy); the loss is the criterion of each batch, weighted by its size.
    """
    totals = {"loss": 0.0, "n": 0}

    def add_loss(batch: dict, out) -> None:
        y, label = batch["gt_map"].to(device), batch["label"].to(device)
        losses = criterion(loss_map(criterion, out), y, out.logit, label)
        totals["loss"] += float(losses["loss"]) * len(y)
        totals["n"] += len(y)

    rows = score_items(model, items, size, device=device, metrics=VALIDATION_METRICS, fold=False,
                       num_workers=num_workers, on_batch=add_loss)
    fakes = rows[rows["label"] == 1]
    res = {"loss": totals["loss"] / max(totals["n"], 1)}
    for k in VALIDATION_METRICS:
        res[k] = float(np.mean(fakes[k].to_numpy())) if len(fakes) else float("nan")
    res["acc"] = decision_accuracy(rows["pred_fake"], rows["label"]) if rows["prob"].notna().all() else float("nan")
    return res


def save_epoch(run: Run, epoch: int, record: dict, score: float) -> None:
    """Append ``record`` to the history; write ``last.pt`` and, on a better ``score``, ``best.pt``."""
    run.history.append(record)
    state = {k: v.detach().cpu() for k, v in run.model.state_dict().items()}
    payload = {**run.meta, "model": state, "epoch": epoch, "history": json.dumps(run.history),
               "val_score": float(score)}
    if score > run.best_score:
        run.best_score = score
        save_checkpoint(run.best_path, payload)
    save_checkpoint(run.last_path, {**payload, "optimizer": run.optimizer.state_dict(),
                                    "scheduler": json.dumps(run.scheduler.state_dict()),
                                    "rng_cpu": torch.get_rng_state(), "best_score": float(run.best_score)})


# --- after the last epoch -----------------------------------------------------------------------

def finish(run: Run, log=print) -> torch.nn.Module:
    """Rank 0, after training: the prior blend's weight (``prior_blend``), the no-classifier
    threshold or (``balanced_decision``) the classifier's balanced-accuracy threshold chosen on validation, the full per-epoch history (``history``, every epoch run; the
    weights are those of ``best_epoch``) and the run's wall time, stored in ``best.pt``. Returns the
    model as evaluated (a :class:`~fklib.models.PriorBlend` for a blended run)."""
    cfg, model = run.cfg, run.model
    if run.rank != 0 or not run.best_path.is_file():
        return model
    ckpt = load_checkpoint(run.best_path)
    extra: dict = {}
    if cfg.prior_blend and cfg.property_weight > 0 and run.val_items:
        model.load_state_dict(ckpt["model"])
        priors = property_prior_maps(run.train_items, cfg.size, property_classes(cfg))
        alpha, scores = choose_prior_alpha(model, priors, run.val_items, cfg.size, run.device)
        log(f"prior blend: alpha={alpha} (validation scores {', '.join(f'{a}: {v:.4f}' for a, v in scores.items())})")
        extra = {"prior_maps": priors, "prior_alpha": float(alpha), "prior_scores": json.dumps(scores)}
        model = PriorBlend(model, priors, alpha)
    elif not cfg.classifier and run.val_items:
        model.load_state_dict(ckpt["model"])
        extra = DecisionRule(False, no_cl_threshold(model, run.val_items, cfg.size, run.device)).payload()
    elif cfg.classifier and cfg.balanced_decision and run.val_items:
        model.load_state_dict(ckpt["model"])
        threshold, floor = balanced_decision(model, run.val_items, cfg.size, run.device)
        extra = DecisionRule(True, threshold, floor).payload()
        log(f"decision (balanced accuracy on validation): p(fake) > {threshold:.4f}"
            + (f" and map peak > {floor:.4f}" if floor is not None else ""))
    # the whole history (best.pt was written at its best epoch) and the wall time of this call (a
    # resumed run: of the last part)
    save_checkpoint(run.best_path, {**ckpt, **extra, "history": json.dumps(run.history),
                                    "best_epoch": json.loads(ckpt["history"])[-1]["epoch"],
                                    "train_wall_seconds": round(time.time() - run.t_start, 1)})
    return model


def epochs_without_improvement(history: list[dict]) -> int:
    """How many of the last epochs of ``history`` came after its best ``val_score`` (0: the last is the best)."""
    scores = [h.get("val_score", float("-inf")) for h in history]
    return len(scores) - 1 - max(range(len(scores)), key=lambda i: (scores[i], -i)) if scores else 0


def stop_early(run: Run, epoch: int, log=print) -> bool:
    """Before ``epoch``: have the last ``cfg.patience`` epochs of the history not beaten the best validation
    score? (decided by rank 0, shared with every rank)"""
    cfg = run.cfg
    if cfg.patience is None or not run.history:
        return False
    stop = torch.tensor(float(run.rank == 0 and epochs_without_improvement(run.history) >= cfg.patience))
    if run.world > 1:
        dist.broadcast(stop, src=0)
    if stop.item():
        log(f"stopping after epoch {epoch}: {cfg.patience} epochs without a better validation score "
            f"(patience); the best epoch's weights are kept")
    return bool(stop.item())


#: The checkpoint files of a run folder.
RUN_FILES = ("best.pt", "last.pt")


def check_run_folder(cfg: TrainConfig, resume: bool = False, overwrite: bool = False) -> list:
    """Refuse to start a fresh run over the checkpoints of an existing one, before any data or model;
    return the old checkpoints that ``overwrite`` is to replace (removed by :func:`replace_old_run` once
    the new run's set-up has succeeded).

    A folder holding ``best.pt`` or ``last.pt`` needs ``resume`` (continue it) or ``overwrite``.

    Raises:
        ValueError: naming the folder and its checkpoints.
    """
    folder = cfg.checkpoint_dir()
    found = [folder / n for n in RUN_FILES if (folder / n).is_file()]
    if not found or resume:
        return []
    if not overwrite:
        raise ValueError(f"{folder}: already holds a run ({', '.join(p.name for p in found)}); "
                         "pass --resume to continue it or --overwrite to replace it")
    return found


def replace_old_run(cfg: TrainConfig, old: list) -> None:
    """Rank 0, after the set-up: remove the ``old`` checkpoints ``--overwrite`` replaces (so that nothing of
    the old run is taken for the new one's) and the partial checkpoint files a killed run left."""
    if dist_info()[0] != 0:
        return
    for p in old:
        p.unlink(missing_ok=True)
    remove_partials(cfg.checkpoint_dir(), "|".join(re.escape(n) for n in RUN_FILES))


def fit(cfg: TrainConfig, resume: bool = False, progress: bool = True, log=print,
        train_items: list | None = None, val_items: list | None = None, overwrite: bool = False) -> dict:
    """Train according to ``cfg``; return ``{"best": path, "last": path, "history": [...], "model": model}``.

    With ``resume=True`` training continues from ``<out_dir>/last.pt`` (same config required). A
    folder that already holds a run's checkpoints is refused unless ``resume`` or ``overwrite``
    (:func:`check_run_folder`). ``best`` is written only by an epoch with a finite validation score:
    the caller checks that it exists.

    With ``overwrite`` the old checkpoints are removed only after :func:`fklib.engine.run.setup` has
    succeeded: a config or data error leaves the old run as it was.

    ``train_items`` / ``val_items`` (lists of :class:`~fklib.data.readers.Item`), when given,
    replace ``training_items(cfg, "train")`` / ``training_items(cfg, "val")``: data that is no
    set of ``data/`` (e.g. :mod:`fklib.studies.upsampling_generators`' partial fakes). The config's ``sets``,
    ``properties``, ``protocol`` and caps are then not applied to them, and the checkpoint does
    not identify them: the caller keeps track (see :func:`fklib.studies.cache.ensure_trained`).
    """
    old = check_run_folder(cfg, resume, overwrite)
    run = setup(cfg, resume, log, train_items, val_items)
    replace_old_run(cfg, old)
    for epoch in range(run.start_epoch, cfg.epochs):
        if stop_early(run, epoch, log):  # also a resumed run that had stopped early
            break
        record = train_one_epoch(run, epoch, progress)
        if run.rank == 0:
            if run.val_items:
                val = validate(run.model, run.val_items, cfg.size, run.device, run.criterion, cfg.num_workers)
                record.update({f"val_{k}": v for k, v in val.items()})
                score = validation_score(val)
            else:
                score = -record["train_loss"]
            record["val_score"] = score
            log("  ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in record.items()))
            save_epoch(run, epoch, record, score)
        if run.world > 1:
            # Parameters agree through DDP's gradient all-reduce; BatchNorm running statistics are
            # per rank between DDP's per-forward broadcasts: take rank 0's so every rank ends equal.
            for buf in run.model.buffers():
                dist.broadcast(buf, src=0)
            dist.barrier()
    model = finish(run, log)
    return {"best": run.best_path, "last": run.last_path, "history": run.history, "model": model}
