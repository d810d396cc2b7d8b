"""How a run is stored: checkpoints (``.pt`` and shipped ``.safetensors``), the model rebuilt from one, run metadata.

- :func:`save_checkpoint` / :func:`load_checkpoint` -- training checkpoints: plain dicts of tensors
  and primitive values written to a temporary file and renamed; they load with
  ``torch.load(path, weights_only=True)``, so loading never runs code. A ``.safetensors`` file
  (:func:`save_locator`, what ``python -m fklib export`` ships) loads into the same payload dict.
  Both record the SHA-256 of their weights (:func:`weights_sha256`, key ``weights_sha256``), checked
  on every load: a damaged file is refused naming it (files written before the hash load as before).
- :func:`build_model` -- the model of a :class:`~fklib.config.TrainConfig`;
  :func:`model_from_checkpoint` -- the trained model of a checkpoint (with its prior blend), its
  config and payload; :func:`load_init_weights` -- a fine-tuning start (``init_from``).
- :func:`run_metadata` -- what every checkpoint records: config, git commit, data manifest hash,
  machine.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
from pathlib import Path

import torch

from . import paths
from .config import PROPERTY_CLASSES, TrainConfig
from .data import manifest_hash
from .data.fetching import sha256_file
from .data.sets import set_folder_name
from .models import PriorBlend, create_model
from .metrics.classification import stored_threshold
from .models.registry import accepts

#: Metadata keys stored as strings in a shipped locator's safetensors header.
LOCATOR_META_KEYS = ("config", "git_commit", "data_manifest_hash", "history", "prior_alpha", "machine", "command",
                     "train_seconds", "train_time_kind", "prior_scores", "no_cl_threshold", "decision_threshold", "best_epoch", "weights_sha256")


# --- run metadata -------------------------------------------------------------------------------

def git_commit() -> str:
    """The project's ``git rev-parse HEAD`` (``unknown`` outside a checkout)."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=paths.project_root(), capture_output=True,
                             text=True, timeout=10)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def machine_description() -> str:
    """``<arch>, <n> cores[, <GPU name>]`` of this machine."""
    text = f"{platform.machine()}, {os.cpu_count()} cores"
    if torch.cuda.is_available():
        text += f", {torch.cuda.get_device_name(0)}"
    return text


def data_manifest_hash(sets: list[str]) -> str:
    """Manifest hash of the training sets' files (empty for a run on items passed directly)."""
    return manifest_hash(tuple(f"{set_folder_name(s)}/" for s in sets)) if sets else ""


def run_metadata(cfg: TrainConfig, init_sha256: str | None = None) -> dict:
    """The fields every checkpoint of a run carries: config (JSON), git commit, data manifest hash, machine."""
    meta = {"config": json.dumps(cfg.to_dict(), sort_keys=True), "git_commit": git_commit(),
            "data_manifest_hash": data_manifest_hash(cfg.sets), "fklib_checkpoint": 1,
            "machine": machine_description()}
    if init_sha256:
        meta["init_sha256"] = init_sha256
    return meta


# --- weights integrity --------------------------------------------------------------------------

def weight_tensors(payload: dict) -> dict[str, torch.Tensor]:
    """The tensors a checkpoint's weights consist of, named as a shipped locator stores them:
    ``model.<name>`` for each entry of ``payload["model"]``, and ``prior_maps`` when present."""
    tensors = {f"model.{k}": v for k, v in payload["model"].items()}
    if "prior_maps" in payload:
        tensors["prior_maps"] = payload["prior_maps"]
    return tensors


def weights_sha256(tensors: dict[str, torch.Tensor]) -> str:
    """SHA-256 over ``tensors`` in sorted name order: each name, dtype, shape and raw bytes."""
    h = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def check_payload(path: Path, payload) -> dict:
    """``payload`` when it is an fklib checkpoint whose weights match their recorded SHA-256.

    Raises:
        ValueError: naming ``path``: no weights or no config, a config that is not valid JSON or not a
            valid :class:`TrainConfig`, or weights that differ from the stored ``weights_sha256``
            (a damaged or modified file). A file without a stored hash (older files) is accepted.
    """
    model = payload.get("model") if isinstance(payload, dict) else None
    if not isinstance(model, dict) or not all(isinstance(v, torch.Tensor) for v in model.values()):
        raise ValueError(f"{path}: not an fklib checkpoint (no 'model' weights in it)")
    if "config" not in payload:
        raise ValueError(f"{path}: not an fklib checkpoint (no 'config' in it)")
    try:
        config_of(payload)
    except (TypeError, ValueError) as err:  # json.JSONDecodeError and ConfigError are ValueErrors
        raise ValueError(f"{path}: its config is not valid ({err})") from None
    stored = payload.get("weights_sha256")
    if stored is not None and weights_sha256(weight_tensors(payload)) != stored:
        raise ValueError(f"{path}: its weights do not match the SHA-256 recorded in it (the file is damaged "
                         "or was modified); use an intact copy")
    return payload


# --- files --------------------------------------------------------------------------------------

def save_checkpoint(path: Path, payload: dict) -> None:
    """Write ``payload`` with torch.save to a temp file beside ``path``, then rename.

    A payload with ``model`` weights gets their :func:`weights_sha256` (key ``weights_sha256``).
    """
    path = Path(path)
    if "model" in payload:
        payload = {**payload, "weights_sha256": weights_sha256(weight_tensors(payload))}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
    torch.save(payload, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: str | Path) -> dict:
    """Load a checkpoint safely: ``.pt`` with ``weights_only=True`` (tensors and primitive values only),
    ``.safetensors`` as written by :func:`save_locator`; checked by :func:`check_payload`.

    Raises:
        FileNotFoundError: no such file.
        ValueError: naming the file: not loadable, not an fklib checkpoint, or damaged.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such checkpoint")
    if path.suffix == ".safetensors":
        return check_payload(path, load_locator(path))
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unpickling failure is a bad file for the user
        raise ValueError(f"{path}: not a loadable fklib checkpoint ({type(err).__name__}: {err})") from err
    return check_payload(path, payload)


def save_locator(payload: dict, out: str | Path) -> Path:
    """Write a checkpoint payload (as :func:`load_checkpoint` returns it) as safetensors: float32 weights,
    ``prior_maps`` when present, and the :data:`LOCATOR_META_KEYS` as string metadata (with the
    :func:`weights_sha256` of the stored tensors); no pickle."""
    from safetensors.torch import save_file

    out = Path(out)
    tensors = {f"model.{k}": v.detach().float().contiguous() if v.is_floating_point() else v.contiguous()
               for k, v in payload["model"].items()}
    if "prior_maps" in payload:
        tensors["prior_maps"] = payload["prior_maps"].float().contiguous()
    meta = {"fklib_checkpoint": "1", "format": "fklib-locator"}
    for key in LOCATOR_META_KEYS:
        if key in payload:
            value = payload[key]
            meta[key] = value if isinstance(value, str) else json.dumps(value)
    meta["weights_sha256"] = weights_sha256(tensors)  # of the tensors as stored (float32)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.part")
    save_file(tensors, str(tmp), metadata=meta)
    os.replace(tmp, out)
    return out


def load_locator(path: str | Path) -> dict:
    """Read a file written by :func:`save_locator` into a checkpoint payload dict (unchecked: see
    :func:`load_checkpoint`)."""
    from safetensors import safe_open

    path = Path(path)
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as err:  # noqa: BLE001 - any header/parse failure is a bad file for the user
        raise ValueError(f"{path}: not a readable safetensors file ({type(err).__name__}: {err})") from err
    if meta.get("format") != "fklib-locator" or "config" not in meta:
        raise ValueError(f"{path}: a safetensors file, but not an fklib locator (no config in its metadata)")
    payload = {k: v for k, v in meta.items() if k not in ("format", "fklib_checkpoint")}
    payload["model"] = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
    if "prior_maps" in tensors:
        payload["prior_maps"] = tensors["prior_maps"]
    for key in ("prior_alpha", "no_cl_threshold", "decision_threshold"):
        if key in payload:
            payload[key] = float(payload[key])
    return payload


# --- models -------------------------------------------------------------------------------------

def config_of(payload: dict) -> TrainConfig:
    """The :class:`TrainConfig` recorded in a checkpoint payload."""
    return TrainConfig.from_dict(json.loads(payload["config"]))


def build_model(cfg: TrainConfig, pretrained: bool = True) -> torch.nn.Module:
    """The config's model; ``pretrained=False`` skips loading ImageNet/COCO weights (a checkpoint follows)."""
    kwargs = dict(cfg.model_kwargs)
    if cfg.property_weight > 0:
        kwargs["num_properties"] = len(PROPERTY_CLASSES)
    if cfg.attention and cfg.attention_mode == "skip":
        kwargs["attention_on"] = "skips"
    if cfg.attention and cfg.attention_mode == "auxiliary":
        kwargs["region_head"] = True
    if kwargs.get("hybrid") and "prior_size" not in kwargs:  # the layout maps at the training resolution
        kwargs["prior_size"] = cfg.size
    if not pretrained and accepts(cfg.model, "pretrained"):
        kwargs["pretrained"] = False
    return create_model(cfg.model, classifier=cfg.classifier, **kwargs)


def _names(keys: list[str]) -> str:
    return ", ".join(keys[:3]) + (f", ... ({len(keys)} in all)" if len(keys) > 3 else "")


def check_weights(path: Path, model: torch.nn.Module, state: dict, model_name: str) -> None:
    """Raise a ``ValueError`` naming ``path`` unless ``state`` fits ``model`` exactly (same tensor names
    and shapes) and holds only finite values."""
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    extra = sorted(set(state) - set(own))
    shapes = sorted(k for k in set(own) & set(state) if tuple(own[k].shape) != tuple(state[k].shape))
    problems = ([f"{len(missing)} missing ({_names(missing)})"] if missing else []) + \
               ([f"{len(extra)} unexpected ({_names(extra)})"] if extra else []) + \
               ([f"{len(shapes)} of another shape ({_names(shapes)})"] if shapes else [])
    if problems:
        raise ValueError(f"{path}: its weights do not fit the {model_name!r} model of its config: tensors "
                         + "; ".join(problems))
    bad = sorted(k for k, v in state.items() if v.is_floating_point() and not bool(torch.isfinite(v).all()))
    if bad:
        raise ValueError(f"{path}: {len(bad)} weight tensor(s) hold NaN or infinite values ({_names(bad)}): "
                         "the file is damaged")


def model_from_checkpoint(path: str | Path) -> tuple[torch.nn.Module, TrainConfig, dict]:
    """Rebuild the model of a checkpoint (eval mode, CPU) with its config and the raw payload.

    A checkpoint with ``prior_maps`` comes wrapped in :class:`fklib.models.PriorBlend`. The model carries the
    checkpoint's decision threshold as ``model.decision_threshold`` (:func:`fklib.metrics.stored_threshold`;
    ``None`` when it stores none), which :func:`fklib.engine.score_items` applies when given no other.

    Raises:
        FileNotFoundError, ValueError: naming the file (see :func:`load_checkpoint` and :func:`check_weights`).
    """
    ckpt = load_checkpoint(path)
    cfg = config_of(ckpt)
    model = build_model(cfg, pretrained=False)  # the checkpoint holds the trained weights
    check_weights(Path(path), model, ckpt["model"], cfg.model)
    model.load_state_dict(ckpt["model"])
    if "prior_maps" in ckpt:
        if "prior_alpha" not in ckpt:
            raise ValueError(f"{path}: has prior maps but no 'prior_alpha' (not a complete fklib checkpoint)")
        model = PriorBlend(model, ckpt["prior_maps"], float(ckpt["prior_alpha"]))
    model.decision_threshold = stored_threshold(ckpt, cfg.classifier)
    return model.eval(), cfg, ckpt


def init_checkpoint_path(init_from: str) -> Path:
    """The checkpoint file of :attr:`TrainConfig.init_from`: a ``.pt`` / ``.safetensors`` path (relative ones
    from the project root, wherever the process runs), else ``<checkpoints>/<run>/best.pt``."""
    path = Path(init_from)
    if path.suffix in (".pt", ".safetensors"):
        return path if path.is_absolute() else paths.project_root() / path
    return paths.checkpoints_dir() / init_from / "best.pt"


def load_init_weights(model: torch.nn.Module, init_from: str, log=print) -> str:
    """Load another run's weights into ``model`` for fine-tuning; return that file's SHA-256.

    Tensors whose name or shape ``model`` lacks (e.g. a property head the new run has not) are
    skipped and the model's own extra tensors keep their initialisation; both are logged.
    """
    init_path = init_checkpoint_path(init_from)
    state, own = load_checkpoint(init_path)["model"], model.state_dict()
    skipped = sorted(k for k, v in state.items() if k not in own or own[k].shape != v.shape)
    fresh = sorted(k for k in own if k not in state or k in skipped)
    model.load_state_dict({k: v for k, v in state.items() if k not in skipped}, strict=False)
    if skipped or fresh:
        log(f"init_from {init_path}: {len(skipped)} tensor(s) skipped {skipped[:3]}, "
            f"{len(fresh)} freshly initialised {fresh[:3]}")
    return sha256_file(init_path)
