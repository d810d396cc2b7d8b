"""The one trained-model cache of the studies: a finished run with the same config (and items) is reused.

:func:`ensure_trained` returns ``best.pt`` of a config, training it only when no finished run with
the same config exists in its folder (``train_wall_seconds`` marks a finished run). For a model
trained on items passed directly (not a set of ``data/``), ``<run>/items.json`` records a
fingerprint of the training and validation items, which must match too.

Every model :func:`ensure_trained` returns is also written, one JSON line per event, to the file named by
``$FKLIB_TRAINING_LEDGER`` when it is set (:func:`ledger_event`): the pipeline sets it for each notebook and reads
it to print progress and to record, per notebook, which study models were trained and for how long
(:mod:`fklib.pipeline`).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

from .. import paths
from ..checkpoint import config_of, data_manifest_hash, load_checkpoint
from ..config import TrainConfig, resolve_device
from ..engine import fit
from .common import universal_config
from .profiles import study_profile
from ..paths import LEDGER_ENV  # the ledger's file (unset: no ledger); the pipeline sets it and reads the ledger


def items_fingerprint(items) -> str:
    """SHA-256 (16 hex digits) over the items' metadata, images and references (identifies a data set)."""
    h = hashlib.sha256()
    for it in items:
        h.update(json.dumps(it.meta(), sort_keys=True).encode())
        for arr in (it.image, it.reference):
            if arr is not None:
                a = np.ascontiguousarray(arr)
                h.update(f"{a.shape}{a.dtype}".encode())
                h.update(a.tobytes())
    return h.hexdigest()[:16]


def _finished_with(best: Path, cfg: TrainConfig) -> dict | None:
    """The payload of ``best`` when it is a finished run of ``cfg``, else ``None``."""
    if not best.is_file():
        return None
    ckpt = load_checkpoint(best)
    if "train_wall_seconds" in ckpt and config_of(ckpt).to_dict() == cfg.to_dict():
        return ckpt
    return None


#: Config fields that say where a run is stored, not what it is: ignored when matching the shipped model.
WHERE_FIELDS = ("name", "out_dir")


def config_differences(a: TrainConfig, b: TrainConfig) -> list[str]:
    """The fields (besides :data:`WHERE_FIELDS`) whose values differ between two configs, sorted; ``device`` is
    compared as this machine resolves it (``auto`` on a machine without CUDA is ``cpu``)."""
    da, db = a.to_dict(), b.to_dict()
    for d in (da, db):
        d["device"] = str(resolve_device(d["device"]))
    return sorted(k for k in da if k not in WHERE_FIELDS and da[k] != db.get(k))


def shipped_mismatch(cfg: TrainConfig, shipped: Path | None = None) -> str | None:
    """``None`` when the shipped locator (default :func:`fklib.paths.default_locator`) is a run of ``cfg`` -- its
    recorded config equals ``cfg`` but for :data:`WHERE_FIELDS`, and its data manifest hash is that of ``cfg``'s
    training sets --, else what differs, in words."""
    shipped = paths.default_locator() if shipped is None else Path(shipped)
    if not shipped.is_file():
        return f"{shipped} does not exist"
    payload = load_checkpoint(shipped)  # checks the weights' SHA-256
    differ = config_differences(config_of(payload), cfg)
    if differ:
        return f"{shipped} was trained with other values of {', '.join(differ)}"
    if payload.get("data_manifest_hash") != data_manifest_hash(cfg.sets):
        return f"{shipped} was trained on other data (its data manifest hash differs from that of {cfg.sets})"
    return None


def shipped_run(cfg: TrainConfig, shipped: Path | None = None) -> Path | None:
    """The shipped locator when it is a run of ``cfg`` (:func:`shipped_mismatch` finds nothing), else ``None``."""
    shipped = paths.default_locator() if shipped is None else Path(shipped)
    return shipped if shipped_mismatch(cfg, shipped) is None else None


#: What a ledger line's ``event`` says: training ``start`` / ``trained`` (finished now), a finished run ``reused``,
#: the ``shipped`` model taken.
LEDGER_EVENTS = ("start", "trained", "reused", "shipped")


def ledger_event(event: str, run: str, checkpoint: str | Path, minutes: float | None = None) -> None:
    """Append one JSON line ``{"event", "run", "checkpoint", "minutes", "time"}`` to the file named by
    :data:`LEDGER_ENV` (nothing when it is unset). ``minutes``: the training minutes of the model (measured now for
    ``trained``, recorded in the checkpoint for ``reused`` / ``shipped``; the last run's estimate or ``None`` for
    ``start``). A ledger that cannot be written is skipped: it only feeds progress lines and time records."""
    if event not in LEDGER_EVENTS:
        raise ValueError(f"unknown ledger event {event!r}; expected one of {LEDGER_EVENTS}")
    path = os.environ.get(LEDGER_ENV)
    if not path:
        return
    line = json.dumps({"event": event, "run": run, "checkpoint": str(checkpoint),
                       "minutes": None if minutes is None else round(float(minutes), 3), "time": time.time()})
    try:
        with open(path, "a") as f:
            f.write(line + "\n")
    except OSError:
        pass


def recorded_minutes(checkpoint: str | Path) -> float | None:
    """The training minutes a checkpoint records (``train_wall_seconds``, or ``train_seconds`` of an exported
    model), ``None`` when it records none."""
    payload = load_checkpoint(checkpoint)
    seconds = payload.get("train_wall_seconds", payload.get("train_seconds"))
    return None if seconds is None else float(seconds) / 60


class ShippedModelMismatch(RuntimeError):
    """The profile's universal model should be the shipped one but is not (the message says why and what to do)."""


def ensure_trained(cfg: TrainConfig, train_items=None, val_items=None, retrain: bool = False, log=print,
                   expect_shipped: bool = False) -> Path:
    """The checkpoint of ``cfg``: the shipped locator when it is a run of ``cfg`` (:func:`shipped_run`: one
    model behind ``locate`` and ``results/``), else ``best.pt`` of a finished run with the same config (and
    items) in its folder, else a new training. ``retrain`` skips both reuses.

    ``expect_shipped`` (the universal model of a profile whose record says it uses the shipped model): when
    the shipped model is not a run of ``cfg`` and no finished run of ``cfg`` exists, raise
    :class:`ShippedModelMismatch` saying what differs and how to go on, instead of training silently.

    ``train_items`` / ``val_items``: data passed to :func:`fklib.engine.fit` directly (both or neither);
    the run is then reused only when ``<run>/items.json`` holds the same :func:`items_fingerprint` s.
    """
    log = log or (lambda *_: None)
    if not retrain and train_items is None:
        shipped = shipped_run(cfg)
        if shipped is not None:
            log(f"{cfg.name}: using the shipped {shipped} (same config and training data)")
            if os.environ.get(LEDGER_ENV):
                ledger_event("shipped", cfg.name, shipped, recorded_minutes(shipped))
            return shipped
    folder = cfg.checkpoint_dir()
    best = folder / "best.pt"
    with_items = train_items is not None
    fp = None
    if with_items:
        fp = {"train": items_fingerprint(train_items), "val": items_fingerprint(val_items),
              "n_train": len(train_items), "n_val": len(val_items)}
    sidecar = folder / "items.json"
    if not retrain:
        ckpt = _finished_with(best, cfg)
        if ckpt is not None and not with_items:
            log(f"{cfg.name}: reusing {best} (same config, trained in {ckpt['train_wall_seconds'] / 60:.1f} min)")
            ledger_event("reused", cfg.name, best, ckpt["train_wall_seconds"] / 60)
            return best
        if ckpt is not None and sidecar.is_file() and json.loads(sidecar.read_text()) == fp:
            log(f"{cfg.name}: reusing {best} (same config and items)")
            ledger_event("reused", cfg.name, best, ckpt["train_wall_seconds"] / 60)
            return best
    if expect_shipped and not retrain:
        raise ShippedModelMismatch(
            f"{cfg.name}: the profile's universal model is not the shipped one ({shipped_mismatch(cfg)}); rerun with "
            "--retrain to train it (README, 'Measured times'), or train and export it (python -m fklib train, "
            "python -m fklib export) first")
    if with_items:
        log(f"{cfg.name}: training {cfg.model}, {cfg.epochs} epochs at {cfg.size} px on {len(train_items)} items ...")
        sidecar.unlink(missing_ok=True)
    else:
        log(f"{cfg.name}: training {cfg.model}, loss {cfg.loss}, {cfg.epochs} epochs at {cfg.size} px ...")
    ledger_event("start", cfg.name, best)
    t0 = time.time()
    res = fit(cfg, progress=False, log=log, train_items=train_items,
              val_items=list(val_items) if with_items else None, overwrite=True)  # the folder's run is stale
    if with_items:
        folder.mkdir(parents=True, exist_ok=True)
        sidecar.write_text(json.dumps(fp))
    ledger_event("trained", cfg.name, res["best"], (time.time() - t0) / 60)
    return Path(res["best"])


def full_history(checkpoint: str | Path) -> tuple[list[dict], int]:
    """Every epoch's record of a run and its best epoch (the one whose weights ``checkpoint`` holds).

    Runs finished before ``best.pt`` kept the whole history stored it only up to the best epoch; their
    ``last.pt`` beside it (same config) has the rest.
    """
    ckpt = load_checkpoint(checkpoint)
    history = json.loads(ckpt["history"])
    # written at its best epoch, an old best.pt's history ends there
    best = int(ckpt["best_epoch"]) if "best_epoch" in ckpt else int(history[-1]["epoch"]) if history else 0
    last = Path(checkpoint).with_name("last.pt")
    if "best_epoch" not in ckpt and last.is_file() and last != Path(checkpoint):
        other = load_checkpoint(last)
        if other.get("config") == ckpt.get("config"):
            later = json.loads(other["history"])
            if len(later) > len(history) and later[:len(history)] == history:
                history = later
    return history, best


#: The validation-score gain of the last epoch over every earlier one that counts as "still improving".
IMPROVING_BY = 0.002


def still_improving(history: list[dict], best: int) -> bool:
    """Whether the last epoch is the best one and beats the earlier epochs' best validation score by more than
    :data:`IMPROVING_BY`."""
    if not history or best != len(history):
        return False
    scores = [h.get("val_score", math.nan) for h in history]
    earlier = [v for v in scores[:-1] if np.isfinite(v)]
    return not earlier or scores[-1] - max(earlier) > IMPROVING_BY


def training_summary(checkpoint: str | Path) -> dict:
    """Wall time, epochs run, the best epoch (whose weights are kept) and its validation record;
    ``still_improving``: the best epoch is the last one and its validation score beats every earlier epoch's by more
    than :data:`IMPROVING_BY` (a flat curve whose last value is highest by a hair is not "still improving")."""
    ckpt = load_checkpoint(checkpoint)
    history, best = full_history(checkpoint)
    record = next((h for h in history if h.get("epoch") == best), history[-1] if history else {})
    seconds = float(ckpt.get("train_wall_seconds", ckpt.get("train_seconds", math.nan)))  # .pt / shipped
    return {"minutes": round(seconds / 60, 2), "epochs": len(history),
            "best_epoch": best, "still_improving": still_improving(history, best),
            **{k: v for k, v in record.items() if k.startswith("val_")}}


def history_frame(checkpoint: str | Path) -> pd.DataFrame:
    """The per-epoch training history (loss, validation metrics, seconds) of a run, every epoch run;
    column ``best`` marks the epoch whose weights ``checkpoint`` holds."""
    history, best = full_history(checkpoint)
    frame = pd.DataFrame(history)
    if len(frame):
        frame["best"] = frame["epoch"] == best
    return frame


def safe_patience(history: list[dict]) -> int:
    """The smallest ``TrainConfig.patience`` that would have kept this run's weights: every epoch before its best one
    (the first highest ``val_score``) followed fewer epochs without improvement than that, so the run, stopped early
    (:func:`fklib.engine.train.stop_early`; the schedule still spans all epochs), follows the same trajectory up to the
    best epoch and keeps the same weights -- on the same machine, where training is deterministic."""
    from ..engine.train import epochs_without_improvement  # lazy: the engine's training loop

    scores = [h.get("val_score", float("-inf")) for h in history]
    if not scores:
        return 1
    best = max(range(len(scores)), key=lambda i: (scores[i], -i))
    waits = [epochs_without_improvement(history[:e]) for e in range(1, best + 1)]
    return 1 + max(waits, default=0)


def patience_savings(checkpoints: dict[str, str | Path]) -> pd.DataFrame:
    """Per run (name -> ``best.pt``): epochs run, the best epoch, :func:`safe_patience`, the epoch a run with that
    patience stops after (best + patience, at most the epochs run), and the epochs and minutes it saves (minutes in
    proportion to epochs). Budgets that keep every number: the issue-42 analysis reads this on the recorded runs."""
    rows = []
    for name, ck in checkpoints.items():
        history, best = full_history(ck)
        summary = training_summary(ck)
        patience = safe_patience(history)
        stop = min(best + patience, len(history))
        saved = len(history) - stop
        rows.append({"run": name, "epochs": len(history), "best_epoch": best, "safe_patience": patience,
                     "stop_epoch": stop, "epochs_saved": saved,
                     "minutes": summary["minutes"],
                     "minutes_saved": round(summary["minutes"] * saved / len(history), 2) if history else 0.0})
    return pd.DataFrame(rows)


def universal_model(profile: str, retrain: bool = False, log=print) -> Path:
    """The universal model of ``profile`` (:func:`fklib.studies.common.universal_config`) by :func:`ensure_trained`;
    a profile whose record uses the shipped model (:attr:`fklib.studies.profiles.StudyProfile.uses_shipped_model`)
    never trains it silently: without ``retrain`` a mismatch is a :class:`ShippedModelMismatch` naming what differs."""
    return ensure_trained(universal_config(profile), retrain=retrain, log=log,
                          expect_shipped=study_profile(profile).uses_shipped_model)


def training_sentence(summary: dict, history: pd.DataFrame) -> str:
    """Notebook 01's reading of a run (:func:`training_summary`, :func:`history_frame`): its time, the kept epoch
    and its validation record, and whether validation was still improving at the end (:func:`still_improving`)."""
    best = history.loc[history["best"]].iloc[0] if "best" in history else history.loc[history["val_score"].idxmax()]
    improving = (" -- the best epoch is the last one: validation was still improving, so more epochs might help"
                 if summary["still_improving"] else "")
    return (f"Trained in {summary['minutes']:.1f} min; the kept weights are those of the best validation epoch, "
            f"{summary['best_epoch']} of {summary['epochs']}{improving}, with COSS {best['val_coss']:.3f}, PSNR "
            f"{best['val_psnr']:.2f} dB, SSIM {best['val_ssim']:.3f} and ACC {best['val_acc']:.3f} on the validation "
            f"identities.")
