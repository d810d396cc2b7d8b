"""How a run is stored: checkpoints (``.pt`` and shipped ``.safetensors``), the model rebuilt from one, run metadata.

- :func:`save_checkpoint` / :func:`load_checkpoint` -- training checkpoints: plain dicts of tensors
  and primitive values written to a temporary file and renamed; they load with
  ``torch.load(path, weights_only=True)``, so loading never runs code. A ``.safetensors`` file
  (:func:`save_locator`, what ``python -m fklib export`` ships) loads into the same payload dict.
  Any other file is refused in one line saying what it is (:func:`what_file_is`: a safetensors file
  with another suffix, JSON, text, a pickle, a symlink loop, ...), never with torch's advice to load
  it with ``weights_only=False``.
  Both record the SHA-256 of their weights (:func:`weights_sha256`, key ``weights_sha256``), checked
  on every load: a damaged file is refused naming it (files written before the hash load as before).
- :class:`DecisionRule` -- how a checkpoint turns p(fake) and its map into fake / real; the payload keys
  it is stored under (:data:`DECISION_KEYS`) are known here only.
- :func:`load_trained` -- a checkpoint loaded once into a :class:`LoadedLocator` (model, config, decision
  rule, weights hash, where it came from): what everything that needs a trained model takes.
- :func:`build_model` -- the model of a :class:`~fklib.config.TrainConfig`;
  :func:`load_init_weights` -- a fine-tuning start (``init_from``).
- :func:`run_metadata` -- what every checkpoint records: config, git commit, data manifest hash,
  machine.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import platform
import re
import stat
import subprocess
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from . import paths
from .config import ConfigError, TrainConfig, property_classes
from .data import manifest_hash
from .data.fetching import sha256_file
from .data.sets import set_folder_name
from .files import honour_umask, partial_target, write_atomically
from .models import PriorBlend, create_model
from .metrics.classification import PROB_THRESHOLD, decide, map_peak
from .models.registry import accepts

#: The payload keys of the decision rule (:class:`DecisionRule`): the classifier's threshold, the map-peak
#: floor (both chosen on validation by training), and a no-cl model's threshold on the map mean.
DECISION_THRESHOLD, DECISION_PEAK_FLOOR, NO_CL_THRESHOLD = "decision_threshold", "decision_peak_floor", "no_cl_threshold"
DECISION_KEYS = (DECISION_THRESHOLD, DECISION_PEAK_FLOOR, NO_CL_THRESHOLD)
#: Metadata keys stored as strings in a shipped locator's safetensors header.
LOCATOR_META_KEYS = ("config", "git_commit", "data_manifest_hash", "history", "prior_alpha", "machine", "command",
                     "train_seconds", "train_time_kind", "prior_scores", *DECISION_KEYS, "best_epoch", "weights_sha256")


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
    """Write ``payload`` with torch.save to a temp file beside ``path``, then rename
    (:func:`fklib.files.write_atomically`: an interrupted write leaves the old file and no partial one).

    A payload with ``model`` weights gets their :func:`weights_sha256` (key ``weights_sha256``).
    """
    path = Path(path)
    if "model" in payload:
        payload = {**payload, "weights_sha256": weights_sha256(weight_tensors(payload))}
    write_atomically(path, lambda tmp: torch.save(payload, tmp))


#: What a checkpoint is expected to be, said after "not a checkpoint".
_EXPECTED = "expected a .pt checkpoint written by torch.save or a .safetensors locator"


def _looks_like_safetensors(head: bytes, size: int) -> bool:
    """The first bytes of a safetensors file: an 8-byte little-endian header length, then a JSON object."""
    n = int.from_bytes(head[:8], "little") if len(head) >= 9 else 0
    return 2 <= n <= size - 8 and head[8:9] == b"{"


def what_file_is(path: Path) -> str:
    """What ``path`` holds, from its first bytes: ``"zip"`` (torch.save's format), ``"safetensors"``, or a
    phrase for anything else ("a JSON file", "a text file", "a Python pickle", "an empty file", ...)."""
    size = path.stat().st_size
    if size == 0:
        return "an empty file"
    with open(path, "rb") as f:
        head = f.read(1 << 16)
    if head.startswith(b"PK\x03\x04"):
        return "zip"
    if _looks_like_safetensors(head, size):
        return "safetensors"
    if head[:1] == b"\x80":
        return "a plain Python pickle (loading one can run code; it is not read)"
    try:
        text = head.decode("utf-8") if len(head) == size else head[:-4].decode("utf-8", errors="strict")
    except UnicodeDecodeError:
        text = None
    if text is not None and "\x00" not in text:
        if text.lstrip()[:1] in ("{", "[") and size <= (64 << 20):
            try:
                json.loads(path.read_text(encoding="utf-8"))
                return "a JSON file"
            except ValueError:
                pass
        return "a text file"
    return "an unknown binary format"


def _torch_refusal(err: BaseException) -> str:
    """Why torch's weights-only loader refused a file, in a few words (never its advice to load unsafely)."""
    text = str(err)
    found = re.search(r"Unsupported global: GLOBAL ([\w.]+)", text)
    if found:
        return (f"a torch file whose pickle refers to {found.group(1)} (loading it could run code; only tensors "
                "and plain values are loaded)")
    if "failed finding central directory" in text or "failed reading zip archive" in text:
        return "a truncated or damaged torch file (its zip archive has no central directory)"
    found = re.search(r"WeightsUnpickler error: ([^\n]+)", text)
    detail = found.group(1).strip() if found else (text.splitlines()[0] if text else type(err).__name__)
    # whole sentences only: the first one, then as many more as fit in 200 characters (never cut mid-sentence)
    sentences = re.split(r"(?<=[.!?])\s+", detail)
    kept = sentences[0]
    for more in sentences[1:]:
        if len(kept) + 1 + len(more) > 200:
            break
        kept = f"{kept} {more}"
    return f"a damaged or foreign torch file ({type(err).__name__}: {kept})"


def load_checkpoint(path: str | Path) -> dict:
    """Load a checkpoint safely: ``.pt`` with ``weights_only=True`` (tensors and primitive values only),
    ``.safetensors`` as written by :func:`save_locator`; checked by :func:`check_payload`.

    Raises:
        FileNotFoundError: no such file.
        ValueError: naming the file in one line: not loadable (saying what the file is: a safetensors file
            with another suffix, JSON, text, a pickle, a folder, a symlink loop, ...), not an fklib
            checkpoint, or damaged.
    """
    path = Path(path)
    try:
        st = path.stat()
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise ValueError(f"{path}: a symlink loop, not a checkpoint") from None
        if path.is_symlink():
            raise FileNotFoundError(f"{path}: a broken symlink (to {os.readlink(path)}): no such checkpoint") from None
        raise FileNotFoundError(f"{path}: no such checkpoint") from None
    if stat.S_ISDIR(st.st_mode):
        raise ValueError(f"{path}: a folder, not a checkpoint file")
    if not stat.S_ISREG(st.st_mode):
        raise ValueError(f"{path}: not a regular file, not a checkpoint")
    if partial_target(path).suffix == ".safetensors":  # also the partial file of one (export evaluates it)
        return check_payload(path, load_locator(path))
    kind = what_file_is(path)
    if kind == "safetensors":
        raise ValueError(f"{path}: a safetensors file, but named like a .pt checkpoint: rename it to end in "
                         ".safetensors")
    if kind != "zip":
        raise ValueError(f"{path}: {kind}, not a checkpoint ({_EXPECTED})")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unpickling failure is a bad file for the user
        raise ValueError(f"{path}: {_torch_refusal(err)}, not an fklib checkpoint") from None
    return check_payload(path, payload)


def save_locator(payload: dict, out: str | Path, atomic: bool = True) -> Path:
    """Write a checkpoint payload (as :func:`load_checkpoint` returns it) as safetensors: float32 weights,
    ``prior_maps`` when present, and the :data:`LOCATOR_META_KEYS` as string metadata (with the
    :func:`weights_sha256` of the stored tensors); no pickle: :func:`write_locator` of :func:`shipped_payload`."""
    return write_locator(shipped_payload(payload), out, atomic)


def write_locator(shipped: dict, out: str | Path, atomic: bool = True) -> Path:
    """Write a payload already in its shipped form (:func:`shipped_payload`: float32 weights and their SHA-256) as
    safetensors. The file gets the umask's mode (safetensors makes it ``0600``). ``atomic``: through a partial file
    renamed to ``out``; ``False`` writes ``out`` itself (a partial name of the caller's, as ``export`` renames its
    files together)."""
    from safetensors.torch import save_file  # lazy: only reading or writing a .safetensors file needs it

    out = Path(out)
    tensors = weight_tensors(shipped)
    meta = {"fklib_checkpoint": "1", "format": "fklib-locator"}
    for key in LOCATOR_META_KEYS:  # weights_sha256 among them: of the tensors as stored (float32)
        if key in shipped:
            value = shipped[key]
            meta[key] = value if isinstance(value, str) else json.dumps(value)
    if atomic:
        return write_atomically(out, lambda tmp: save_file(tensors, str(tmp), metadata=meta))
    out.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(out), metadata=meta)
    return honour_umask(out)


def shipped_payload(payload: dict) -> dict:
    """``payload`` with its weights as :func:`save_locator` stores them (float32, contiguous) and their
    :func:`weights_sha256`: the locator built from it (:meth:`LoadedLocator.from_payload`) is the shipped file's."""
    model = {k: v.detach().float().contiguous() if v.is_floating_point() else v.contiguous()
             for k, v in payload["model"].items()}
    out = {**payload, "model": model}
    if "prior_maps" in payload:
        out["prior_maps"] = payload["prior_maps"].float().contiguous()
    out["weights_sha256"] = weights_sha256(weight_tensors(out))
    return out


def load_locator(path: str | Path) -> dict:
    """Read a file written by :func:`save_locator` into a checkpoint payload dict (unchecked: see
    :func:`load_checkpoint`)."""
    from safetensors import safe_open  # lazy: only reading or writing a .safetensors file needs it

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
    for key in ("prior_alpha", *DECISION_KEYS):
        if key in payload:
            payload[key] = float(payload[key])
    return payload


# --- models -------------------------------------------------------------------------------------

def config_of(payload: dict) -> TrainConfig:
    """The :class:`TrainConfig` recorded in a checkpoint payload."""
    return TrainConfig.from_dict(json.loads(payload["config"]))


def build_model(cfg: TrainConfig, pretrained: bool = True) -> torch.nn.Module:
    """The config's model; ``pretrained=False`` skips loading ImageNet/COCO weights (a checkpoint follows).

    Raises:
        ConfigError: naming ``model_kwargs``: the model's constructor refused them (``{base: 0}``).
    """
    kwargs = model_arguments(cfg, pretrained)
    try:
        return create_model(cfg.model, classifier=cfg.classifier, **kwargs)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"config field 'model_kwargs': expected arguments model {cfg.model!r} accepts, got "
                          f"{cfg.model_kwargs!r} ({err})") from None


def check_model_config(cfg: TrainConfig) -> None:
    """Build the config's model without weights (on the ``meta`` device, torch's RNG state kept) so that
    ``model_kwargs`` its constructor refuses fail now, in one line naming the field, before any data.

    Raises:
        ConfigError: see :func:`build_model`.
    """
    rng = torch.get_rng_state()
    try:
        with torch.device("meta"):
            build_model(cfg, pretrained=False)
    finally:
        torch.set_rng_state(rng)


def model_arguments(cfg: TrainConfig, pretrained: bool = True) -> dict:
    """The keyword arguments :func:`build_model` passes to the config's model (besides ``classifier``)."""
    kwargs = dict(cfg.model_kwargs)
    if cfg.property_weight > 0:
        kwargs["num_properties"] = len(property_classes(cfg))
    if cfg.attention and cfg.attention_mode == "skip":
        kwargs["attention_on"] = "skips"
    if cfg.attention and cfg.attention_mode == "auxiliary":
        kwargs["region_head"] = True
    if kwargs.get("hybrid") and "prior_size" not in kwargs:  # the layout maps at the training resolution
        kwargs["prior_size"] = cfg.size
    if not pretrained and accepts(cfg.model, "pretrained"):
        kwargs["pretrained"] = False
    return kwargs


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


# --- the decision rule and the loaded locator ----------------------------------------------------

@dataclass(frozen=True)
class DecisionRule:
    """How a trained locator calls an image fake or real (:func:`fklib.metrics.decide`, the functional core).

    With a classifier: ``p(fake) > threshold`` (:data:`fklib.metrics.PROB_THRESHOLD` when ``None``) and, with a
    ``peak_floor``, also ``map peak > peak_floor``. Without one (the paper's "no cl"): ``mean(map) > threshold``;
    no threshold: no decision (NaN).

    Attributes:
        classifier: whether the model has the real/fake classifier head.
        threshold: on p(fake) (classifier) or on the map mean (no classifier); ``None``: see above.
        peak_floor: the map-peak floor (classifier only; ``None``: the classifier decides alone).
    """

    classifier: bool = True
    threshold: float | None = None
    peak_floor: float | None = None

    @classmethod
    def of_payload(cls, payload: dict, classifier: bool) -> "DecisionRule":
        """The rule a checkpoint payload stores (:data:`DECISION_KEYS`); missing keys are ``None``."""
        def value(key: str) -> float | None:
            v = payload.get(key)
            return None if v is None else float(v)
        if classifier:
            return cls(True, value(DECISION_THRESHOLD), value(DECISION_PEAK_FLOOR))
        return cls(False, value(NO_CL_THRESHOLD), None)

    def payload(self) -> dict:
        """The payload entries that store this rule (the inverse of :meth:`of_payload`)."""
        if not self.classifier:
            return {} if self.threshold is None else {NO_CL_THRESHOLD: self.threshold}
        out = {} if self.threshold is None else {DECISION_THRESHOLD: self.threshold}
        return out if self.peak_floor is None else {**out, DECISION_PEAK_FLOOR: self.peak_floor}

    @property
    def effective_threshold(self) -> float | None:
        """The threshold applied: with a classifier :data:`~fklib.metrics.PROB_THRESHOLD` when none is stored."""
        return PROB_THRESHOLD if self.classifier and self.threshold is None else self.threshold

    def decide(self, prob, score, peak=None) -> np.ndarray:
        """0/1 (NaN: no decision) per image from ``prob`` (``(N,)`` or ``None``), the maps' means ``score``
        and their peaks ``peak`` (:func:`fklib.metrics.map_peak`; needed with a peak floor)."""
        return decide(prob if self.classifier else None, score, self.threshold, peak, self.peak_floor)

    def call(self, probability: float | None, m: np.ndarray, peak: float | None = None) -> float:
        """1.0 (fake), 0.0 (real) or NaN (no decision) of one ``H x W`` map and its p(fake); ``peak``: the
        map's :func:`~fklib.metrics.map_peak` when already known."""
        peak = float(map_peak(np.asarray(m)[None])[0]) if peak is None else peak
        prob = None if probability is None else np.array([probability])
        return float(self.decide(prob, np.array([float(np.mean(m))]), np.array([peak]))[0])

    def word(self, probability: float | None, m: np.ndarray, peak: float | None = None) -> str:
        """``fake`` / ``real`` (``unknown (no classifier)`` without a decision) of one map (:meth:`call`)."""
        d = self.call(probability, m, peak)
        return "unknown (no classifier)" if np.isnan(d) else ("fake" if d == 1.0 else "real")


#: The picture decision of a locator: a JSON file beside its weights (``models/fakelocator.picture.json`` for
#: ``models/fakelocator.safetensors``), written by ``python experiments/locate_photos.py picture-decision`` from
#: validation faces placed into pictures. A face that ``locate`` finds in a picture and warps to the training
#: framing has been resampled, which moves p(fake) and lowers the map's peak; the picture decision is the threshold
#: on p(fake) and, when the file has the field ``peak_floor`` (a number, or ``null`` for none), the map-peak floor
#: chosen for such faces (without the field the checkpoint's floor is kept). It holds for the weights whose hash it
#: names only.
PICTURE_RULE_SUFFIX = ".picture.json"


def picture_rule_path(weights: str | Path) -> Path:
    """Where the picture decision of the locator stored at ``weights`` lives (:data:`PICTURE_RULE_SUFFIX`)."""
    weights = Path(weights)
    return weights.with_name(weights.stem + PICTURE_RULE_SUFFIX)


def load_picture_rule(rule: "DecisionRule", weights_sha256: str, source: str | Path) -> tuple["DecisionRule", dict | None]:
    """The rule for faces found in pictures: ``rule`` with the threshold of the picture decision file beside
    ``source`` when that file names these weights (``weights_sha256``), with the file's record; else ``(rule, None)``.

    Raises:
        ValueError: the file exists but is not a picture decision (naming the file and the field).
    """
    path = picture_rule_path(source)
    if not rule.classifier or not path.is_file():
        return rule, None
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise ValueError(f"{path}: not a readable picture decision file ({err})") from None
    threshold = record.get("threshold") if isinstance(record, dict) else None
    # below 0: every p(fake) passes and the peak floor decides alone (choose_decision's midpoint under the score -1)
    if not isinstance(threshold, (int, float)) or isinstance(threshold, bool) or not -1.0 <= threshold <= 1.0:
        raise ValueError(f"{path}: field 'threshold' must be a number in [-1, 1]")
    floor = record.get("peak_floor", rule.peak_floor)
    if floor is not None and (not isinstance(floor, (int, float)) or isinstance(floor, bool) or not 0.0 <= floor <= 1.0):
        raise ValueError(f"{path}: field 'peak_floor' must be null or a number in [0, 1]")
    if record.get("weights_sha256") != weights_sha256:
        return rule, None  # made for other weights: the checkpoint's own rule decides
    return DecisionRule(True, float(threshold), None if floor is None else float(floor)), {**record, "file": str(path)}


@dataclass
class LoadedLocator:
    """A trained locator loaded once (:func:`load_trained`): what every evaluation, study and app takes.

    Attributes:
        model: the network (eval mode, CPU); a checkpoint with prior maps comes wrapped in
            :class:`fklib.models.PriorBlend`.
        config: the :class:`~fklib.config.TrainConfig` it was trained with.
        rule: its :class:`DecisionRule`.
        weights_sha256: :func:`weights_sha256` of its weights as stored.
        source: the file it was loaded from.
        meta: the payload's other entries (history, prior scores, machine, ...; no weights).
    """

    model: torch.nn.Module
    config: TrainConfig
    rule: DecisionRule
    weights_sha256: str
    source: Path
    meta: dict = field(default_factory=dict, repr=False)

    @property
    def size(self) -> int:
        """The training (and evaluation) resolution."""
        return self.config.size

    def decide(self, probability: float | None, m: np.ndarray, peak: float | None = None) -> str:
        """``fake`` / ``real`` of one map and its p(fake) by this locator's rule (:meth:`DecisionRule.word`)."""
        return self.rule.word(probability, m, peak)

    @classmethod
    def from_payload(cls, payload: dict, source: str | Path) -> "LoadedLocator":
        """The locator of a checked payload (:func:`load_checkpoint`), ``source`` naming it in errors.

        Raises:
            ValueError: naming ``source``: a config whose model cannot be built, weights that do not fit it
                or are not finite, prior maps without their weight.
        """
        source = Path(source)
        cfg = config_of(payload)
        try:
            model = build_model(cfg, pretrained=False)  # the checkpoint holds the trained weights
        except ConfigError as err:
            raise ValueError(f"{source}: {err}") from None
        check_weights(source, model, payload["model"], cfg.model)
        model.load_state_dict(payload["model"])
        if "prior_maps" in payload:
            if "prior_alpha" not in payload:
                raise ValueError(f"{source}: has prior maps but no 'prior_alpha' (not a complete fklib checkpoint)")
            model = PriorBlend(model, payload["prior_maps"], float(payload["prior_alpha"]))
        sha = payload.get("weights_sha256") or weights_sha256(weight_tensors(payload))
        meta = {k: v for k, v in payload.items() if k not in ("model", "prior_maps")}
        return cls(model.eval(), cfg, DecisionRule.of_payload(payload, cfg.classifier), sha, source, meta)


def load_trained(path: str | Path) -> LoadedLocator:
    """Load a checkpoint (``.pt`` or shipped ``.safetensors``) once into a :class:`LoadedLocator`.

    Raises:
        FileNotFoundError, ValueError: naming the file (see :func:`load_checkpoint` and :func:`check_weights`).
    """
    return LoadedLocator.from_payload(load_checkpoint(path), path)


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
