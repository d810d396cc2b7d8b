"""A universal model's recipe and training chain in words, written from the checkpoints' own configs.

- :func:`recipe_text` -- a training config as one paragraph (the card and notebook 01 print it, so no text that
  describes a recipe is typed anywhere: it follows :data:`fklib.config.PROFILES` and the checkpoint).
- :func:`training_chain` -- a checkpoint and, through each config's ``init_from``, every run it was fine-tuned from,
  with their histories (the training-curves figure draws them all); :func:`chain_sentence` -- each stage's recipe.
"""

from __future__ import annotations

from pathlib import Path

from .. import paths
from ..checkpoint import config_of, load_checkpoint
from .cache import history_frame


#: Words of the network options the recipe names (``model_kwargs``).
_MODEL_WORDS = {"hf": "an {V} high-frequency noise stream", "hybrid": "the hybrid face-and-texture head (the layout of "
                "the recognised property, gated per pixel against the texture map)"}


def recipe_text(cfg: dict) -> str:
    """A training config (``TrainConfig.to_dict()`` or a checkpoint's config) as one paragraph: network, loss and
    heads, data and its sampling, every augmentation with its probability, schedule and start. Written from the
    config's fields only (missing fields are left out), so the card and notebook 01 never describe a recipe by hand."""
    def get(k, default=None):
        return cfg.get(k, default)

    kw = get("model_kwargs") or {}
    net = [w.format(V=str(kw[k]).upper()) for k, w in _MODEL_WORDS.items() if kw.get(k)]
    parts = [f"`{get('model')}` at {get('size')} px" + (f" with {' and '.join(net)}" if net else "")]
    heads = [f"loss `{get('loss')}`"]
    if get("classifier", True):
        heads.append(f"a real/fake classifier of weight {get('cls_weight')}"
                     + (" balanced over the drawn classes" if get("balance_classes") else ""))
    if get("property_weight"):
        heads.append(f"a property head of weight {get('property_weight')}"
                     + (f" ({get('property_classes')} classes)" if get("property_classes") else ""))
    if get("attention"):
        heads.append(f"face attention (`{get('attention_mode')}`)")
    parts.append(", ".join(heads))
    sets = ", ".join(get("sets") or [])
    data = f"the training identities of {sets}" + (" (STGAN with its reconstructions)" if get("include_reconstruction") else "")
    if get("properties"):
        data += f", properties {', '.join(get('properties'))}"
    if get("set_balance"):
        shares = get("set_shares") or {}
        data += ("; each set drawn by its share (" + ", ".join(f"{k} {v:g}" for k, v in shares.items()) + ")"
                 if shares else "; every set drawn equally")
        if get("real_fraction") is not None:
            data += f", reals {get('real_fraction'):.0%} of a set's draws"
    parts.append(data)
    aug = []
    if get("splice_p"):
        aug.append(f"splices of a partial edit into its own real (p = {get('splice_p'):g}; masks "
                   f"{', '.join(get('splice_kinds') or [])}"
                   + (f"; fakes of {', '.join(get('splice_sets'))} only" if get("splice_sets") else "") + ")")
    if get("degrade_augment"):
        aug.append(f"degradations (p = {get('degrade_p'):g}; `{get('degrade_axes')}` levels of JPEG, blur, noise, "
                   "low resolution)")
    if get("resample_p"):
        aug.append(f"a random similarity placement and alignment back, as `locate` warps a face out of a photo "
                   f"(p = {get('resample_p'):g})")
    if get("jpeg_p"):
        aug.append(f"a JPEG save of reals and fakes alike (p = {get('jpeg_p'):g})")
    if get("flip"):
        aug.append("horizontal flips")
    if aug:
        parts.append("augmentation: " + "; ".join(aug))
    draws = f" of {get('samples_per_epoch')} draws" if get("samples_per_epoch") else ""
    parts.append(f"{get('epochs')} epoch{'' if get('epochs') == 1 else 's'}{draws}, batch {get('batch_size')}, Adam lr {get('lr'):g}, "
                 f"{get('schedule')} schedule" + (f", warm-up {get('warmup')}" if get("warmup") else "")
                 + (f", fine-tuned from `{get('init_from')}`" if get("init_from") else ", from the model's initialisation")
                 + ("; the decision threshold chosen on validation for balanced accuracy" if get("balanced_decision") else ""))
    return "; ".join(parts) + "."


def _init_path(init_from: str) -> Path | None:
    """The checkpoint an ``init_from`` names (a path, else a run name's ``best.pt``), or ``None`` when it is not here."""
    path = Path(init_from)
    path = path if path.is_absolute() else paths.project_root() / path
    if path.is_file():
        return path
    run = paths.checkpoints_dir() / init_from / "best.pt"
    return run if run.is_file() else None


def training_chain(checkpoint: str | Path, max_stages: int = 8) -> list[dict]:
    """The training stages behind ``checkpoint``, first to last: it and, through each config's ``init_from``, the runs
    it was fine-tuned from. Each stage: ``label`` (the file's name, its run, its epochs and draws), ``path``,
    ``config`` (dict), ``history`` (:func:`fklib.studies.cache.history_frame`), ``minutes`` and ``time_kind`` (what
    the checkpoint's training time measures); a start that is not here ends the chain with a stage of ``history``
    ``None`` naming it."""
    stages, path = [], Path(checkpoint)
    while path is not None and len(stages) < max_stages:
        payload = load_checkpoint(path)
        cfg = config_of(payload)
        seconds = float(payload.get("train_wall_seconds", payload.get("train_seconds", "nan")))
        stem = path.parent.name if path.name in ("best.pt", "last.pt") else path.stem
        draws = f" x {cfg.samples_per_epoch} draws" if cfg.samples_per_epoch else ""
        stages.append({"label": f"{stem} (run {cfg.name}: {cfg.epochs} epochs{draws}, lr {cfg.lr:g})", "path": path,
                       "config": cfg.to_dict(), "history": history_frame(path), "minutes": seconds / 60,
                       "time_kind": str(payload.get("train_time_kind", "wall clock of the training command"))})
        if not cfg.init_from:
            break
        nxt = _init_path(cfg.init_from)
        if nxt is None:
            stages.append({"label": f"{cfg.init_from} (not here)", "path": None, "config": {}, "history": None})
        path = nxt
    return stages[::-1]


def chain_sentence(stages: list[dict]) -> str:
    """Notebook 01's words for :func:`training_chain`: each stage's recipe in order (:func:`fklib.studies.card.recipe_text`)."""
    parts = [f"**stage {k} of {len(stages)}, {s['label']}**: " + (
        recipe_text(s["config"]) + f" Trained in {s['minutes']:.1f} min ({s['time_kind']})." if s["config"] else
        "its checkpoint is not in this checkout.") for k, s in enumerate(stages, 1)]
    return "\n\n".join(parts)
