"""What a training run is: :class:`TrainConfig` (validated when built), the named profiles, the baseline.

``python -m fklib train --profile cpu [--config my.yaml] [--override key=value ...]`` builds its config
here: a profile gives the starting values (:data:`PROFILES`), a YAML file and ``--set`` override
fields (:func:`make_config`). Every field is coerced to its declared type and checked against its
range or its allowed values when the config is built (:meth:`TrainConfig.__post_init__`), so a
typo fails in one line naming the field before any data or model is touched.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from . import paths
from .data import ENTIRE, REAL, RECONSTRUCTION, STARGAN_PROPERTIES, STGAN_PROPERTIES
from .data.readers import ATTENTIONGAN_PROPERTIES
from .data.sets import SET_FOLDERS
from .data.splices import SPLICE_KINDS, SPLICE_SETS
from .losses import MAP_LOSSES, loss_terms, make_criterion
from .models import list_models, min_input_size
from .models.registry import accepts, keyword_arguments

#: The profiles, in the order of their cost: ``smoke`` proves the pipeline runs, ``cpu`` (default)
#: is the committed results on 2 CPU cores, ``paper`` is the paper's setting on a GPU.
PROFILE_NAMES = ("smoke", "cpu", "paper")
#: The profile a command runs when none is named: the committed ``results/``.
DEFAULT_PROFILE = "cpu"
#: Face-attention variants of :attr:`TrainConfig.attention_mode`.
ATTENTION_MODES = ("paper", "dropout", "normalized", "residual", "skip", "auxiliary")
#: Learning-rate schedules of :attr:`TrainConfig.schedule`.
SCHEDULES = ("constant", "cosine")
#: Training protocols of :attr:`TrainConfig.protocol`.
PROTOCOLS = ("paired", "paper")
#: The Table-2 baseline's own objective (DFFD), besides the map losses of :data:`fklib.losses.MAP_LOSSES`.
DFFD_LOSS = "dffd"
#: Sets a locator can train on (short names; the full folder names are accepted too).
TRAIN_SETS = tuple(k for k in SET_FOLDERS if k not in ("generic", "attgan"))
#: Properties that :attr:`TrainConfig.properties` may name.
KNOWN_PROPERTIES = tuple(dict.fromkeys((*STGAN_PROPERTIES, *STARGAN_PROPERTIES, *ATTENTIONGAN_PROPERTIES,
                                         RECONSTRUCTION, ENTIRE)))
#: Classes of the auxiliary property head (``property_weight > 0``); other properties are ignored.
PROPERTY_CLASSES = (REAL, *STGAN_PROPERTIES, RECONSTRUCTION, ENTIRE)
#: The property heads of :attr:`TrainConfig.property_classes`: ``stgan`` (STGAN's 13 attributes, which also name every
#: StarGAN and AttGAN edit) or ``all`` (besides them every other property a training set edits: AttentionGAN's
#: ``Smiling``).
PROPERTY_CLASS_SETS: dict[str, tuple[str, ...]] = {
    "stgan": PROPERTY_CLASSES,
    "all": (*PROPERTY_CLASSES, *(p for p in KNOWN_PROPERTIES if p not in PROPERTY_CLASSES)),
}
#: Names of the level sets of ``degrade_augment`` (:attr:`TrainConfig.degrade_axes`); the levels are
#: :data:`fklib.degrade.AXES_BY_NAME` (kept out of this module: the degradations import torchvision,
#: which ``locate`` never needs).
DEGRADE_AXES = ("paper", "augment")
_DEVICE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")
#: Model arguments that other fields set (:func:`fklib.checkpoint.build_model`): not for ``model_kwargs``.
RESERVED_MODEL_KWARGS = {"classifier": "the 'classifier' field", "num_properties": "'property_weight' > 0",
                         "attention_on": "attention_mode='skip'", "region_head": "attention_mode='auxiliary'"}


class ConfigError(ValueError):
    """A config field with a value of the wrong type or out of range; the message names the field."""


@dataclass
class TrainConfig:
    """Everything that defines a training run (see :data:`PROFILES` for the named starting points).

    Attributes:
        name: run name; checkpoints go to ``out_dir`` (default ``checkpoints/<name>``).
        model: registry name for :func:`fklib.models.create_model`; ``model_kwargs`` passed on (their
            names are checked against the constructor's signature when the config is built; their
            values when the model is built, before any data: :func:`fklib.checkpoint.check_model_config`).
        classifier: add the real/fake classifier head (``False`` = the paper's "no cl").
        loss: map loss (``l1``, ``l2``, ``focal``, ``dice``, ``ssim``, ``coss`` (1 - COSS per image, scale-free) or a
            sum such as ``l1+ssim``, each term optionally weighted: ``l1+10*l2+coss``);
            ``cls_weight`` = λ for the BCE term. ``dffd`` is the Table-2 baseline's own objective
            (:class:`fklib.losses.DFFDLoss` on the model's ``coarse_map``; use with
            ``model=dffd_xception``, see :func:`baseline_config`). ``loss_kwargs`` go to the loss
            (:func:`fklib.losses.make_criterion`, built once when the config is, to check them).
        property_weight: > 0 adds an auxiliary head predicting the edited property
            (:data:`PROPERTY_CLASSES`) trained with cross-entropy of this weight (beyond the paper);
            ``property_classes`` names its classes (:data:`PROPERTY_CLASS_SETS`: ``stgan`` or ``all``).
        prior_blend: with a property head, blend the map with the per-property training mean
            maps weighted by the predicted property (:class:`fklib.models.PriorBlend`); the
            blend weight is chosen on the validation split after training and stored in
            ``best.pt`` (beyond the paper).
        balance_classes: weight the classifier's BCE so that reals and fakes count equally
            (``pos_weight = n_real / n_fake`` of the training items).
        balanced_decision: after training, choose the classifier's decision threshold and the map-peak
            floor on the validation items for balanced accuracy (TPR + TNR) / 2, balanced over the sets
            (:func:`fklib.engine.evaluate.balanced_decision`), and store them in ``best.pt``
            (``decision_threshold``, ``decision_peak_floor``; else ``p(fake) > 0.5``).
        size: training and evaluation resolution (px); at least the model's smallest input
            (:func:`fklib.models.min_input_size`: 16 for ``unet_small``).
        epochs, batch_size, lr, betas, weight_decay: Adam settings (the paper: 10, 8, 1e-4,
            (0.99, 0.999), 1e-7).
        schedule: ``constant`` or ``cosine`` (cosine decay to 0 over all steps, after ``warmup`` steps).
        patience: stop once this many epochs in a row have not beaten the best validation score
            (the schedule still spans ``epochs``, so every epoch run is the one a full run would
            have run, and the kept weights are the best epoch's either way); ``None``: run all epochs.
        flip: paired random horizontal flips.
        sets: training sets (short names: ``stgan``, ``stargan``, ``interfacegan``); empty when the
            items are passed to :func:`fklib.engine.fit` directly.
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
        device: ``auto`` (CUDA when available), ``cpu``, ``cuda`` or ``cuda:N``.
        amp, channels_last: bf16 autocast and channels-last memory format, used on CUDA only.
        attention: multiply face attention maps (region of the edited property from our face
            parser, blurred; :class:`fklib.parsing.ParsingAttention`) into the encoder during
            training; test time uses none (ones), as in the paper. ``attention_sigma`` and
            ``attention_floor`` shape the map. ``attention_mode`` (beyond the paper, for the
            train/test mismatch of a product map; :data:`ATTENTION_MODES`): ``paper`` (the map as it
            is, multiplied into every encoder stage); ``dropout`` (a white map for a share
            ``attention_dropout`` of the training batches); ``normalized`` (the map divided by its
            mean over the image, so features keep their scale on average); ``residual`` (multiplier
            ``(1 + a) / (1 + mean a)``); ``skip`` (only the decoder's skip features are multiplied,
            never the encoder or the classifier); ``auxiliary`` (no product: a head predicts the
            map, L1 of weight ``attention_weight``, training only). EfficientNet-Lite models only
            for ``skip`` and ``auxiliary``.
        degrade_augment: degrade training images at random (:class:`fklib.degrade.RandomDegradation`:
            probability ``degrade_p``, one of JPEG / blur / noise / low resolution at a level of
            ``degrade_axes``: ``paper`` (:data:`fklib.degrade.PAPER_AXES`, the sweep's mild-to-extreme
            levels) or ``augment`` (:data:`fklib.degrade.AUGMENT_AXES`, everyday levels); GT maps
            unchanged; beyond the paper).
        jpeg_p: probability that a training image, real or fake of any set, is then saved once as a JPEG of
            a quality drawn from :data:`fklib.degrade.JPEG_TRAIN_QUALITIES` (95..60; :class:`fklib.degrade.RandomJPEG`),
            so that compression is never a cue and the evidence survives it; GT maps unchanged.
        resample_p: probability that a training image, real or fake, is placed by a random similarity and aligned
            back (:class:`fklib.degrade.RandomResample`: the two resamplings of a face that ``locate`` finds in a
            photo; GT unchanged), before the degradations and the JPEG save.
        splice_p: probability that a training partial edit becomes a splice of itself (its GAN pixels
            composited into its real source inside a random soft mask, :class:`fklib.data.SpliceAugment`;
            the GT is eq. 4 of the composite); ``splice_kinds`` are the mask kinds drawn from
            (``blob``, ``region``, ``union``; beyond the paper); ``splice_sets`` limits the splices to the partial edits of
            these training sets (short names; empty: every set).
        set_balance: sample each epoch with replacement so that every training set gets its share
            (``set_shares``: set -> relative weight; empty: equal shares), and within a set reals get
            ``real_fraction`` of it (``None``: the set's own proportion); ``samples_per_epoch`` sets the
            epoch's length (``None``: the number of training items).
        val_splice_sets: fixed splice sets (:data:`fklib.data.SPLICE_SETS`, e.g. ``stgan_val``) whose
            items join the validation items (model selection sees splices too).
        init_from: start from the weights of another run instead of the model's own
            initialisation (fine-tuning; optimizer, schedule and epochs are fresh): a run name
            (``<checkpoints>/<name>/best.pt``) or a path to a ``.pt`` checkpoint
            (:func:`fklib.checkpoint.load_init_weights`). ``None`` (default): no such start.
        out_dir: the run's folder (default ``<checkpoints>/<name>``).

    Raises:
        ConfigError: a field of the wrong type (after coercion: ``"1e-3"`` is a float, ``"3"`` an
            int) or out of range, an unknown model / loss / schedule / protocol / set / property.
    """

    name: str = "run"
    model: str = "efficientnet_lite0_unet"
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    classifier: bool = True
    loss: str = "l1"
    loss_kwargs: dict[str, Any] = field(default_factory=dict)
    cls_weight: float = 0.1
    property_weight: float = 0.0
    property_classes: str = "stgan"
    balance_classes: bool = False
    balanced_decision: bool = False
    prior_blend: bool = False
    size: int = 128
    epochs: int = 8
    patience: int | None = None
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
    attention_mode: str = "paper"
    attention_dropout: float = 0.5
    attention_weight: float = 0.5
    degrade_augment: bool = False
    degrade_p: float = 0.5
    degrade_axes: str = "paper"
    jpeg_p: float = 0.0
    resample_p: float = 0.0
    splice_p: float = 0.0
    splice_kinds: list[str] = field(default_factory=lambda: list(SPLICE_KINDS))
    splice_sets: list[str] = field(default_factory=list)
    set_balance: bool = False
    set_shares: dict[str, Any] = field(default_factory=dict)
    real_fraction: float | None = None
    samples_per_epoch: int | None = None
    val_splice_sets: list[str] = field(default_factory=list)
    init_from: str | None = None
    out_dir: str | None = None

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            setattr(self, f.name, _coerce(f.name, f.type, getattr(self, f.name)))
        _check_ranges(self)

    def checkpoint_dir(self) -> Path:
        return Path(self.out_dir) if self.out_dir else paths.checkpoints_dir() / self.name

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["betas"] = list(self.betas)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        if not isinstance(d, dict):
            raise ConfigError(f"a config must be a mapping of field names to values, got {type(d).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ConfigError(f"unknown config key(s) {sorted(unknown)}; known: {sorted(known)}")
        return cls(**d)


# --- coercion and checks ------------------------------------------------------------------------

def _fail(name: str, expected: str, value: Any) -> ConfigError:
    return ConfigError(f"config field {name!r}: expected {expected}, got {value!r}")


def _as_bool(name: str, v: Any) -> bool:
    if isinstance(v, bool):
        return v
    if isinstance(v, str) and v.strip().lower() in ("true", "false", "yes", "no", "1", "0"):
        return v.strip().lower() in ("true", "yes", "1")
    raise _fail(name, "true or false", v)


def _as_int(name: str, v: Any) -> int:
    if isinstance(v, bool):
        raise _fail(name, "an integer", v)
    if isinstance(v, int):
        return v
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if isinstance(v, str):
        try:
            f = float(v.strip())
        except ValueError:
            raise _fail(name, "an integer", v) from None
        if f.is_integer():
            return int(f)
    raise _fail(name, "an integer", v)


def _as_float(name: str, v: Any) -> float:
    if isinstance(v, bool):
        raise _fail(name, "a number", v)
    try:
        f = float(v.strip()) if isinstance(v, str) else float(v)
    except (TypeError, ValueError):
        raise _fail(name, "a number", v) from None
    if not math.isfinite(f):
        raise _fail(name, "a finite number", v)
    return f


def _as_str(name: str, v: Any) -> str:
    if isinstance(v, Path):
        return str(v)
    if not isinstance(v, str):
        raise _fail(name, "a string", v)
    return v


def _coerce(name: str, annotation: str, v: Any) -> Any:
    """``v`` as the field's declared type (annotations are strings under ``from __future__``)."""
    optional = annotation.endswith(" | None")
    base = annotation.removesuffix(" | None")
    if v is None:
        if optional:
            return None
        raise _fail(name, base, v)
    if base == "bool":
        return _as_bool(name, v)
    if base == "int":
        return _as_int(name, v)
    if base == "float":
        return _as_float(name, v)
    if base == "str":
        return _as_str(name, v)
    if base == "dict[str, Any]":
        if not isinstance(v, dict):
            raise _fail(name, "a mapping", v)
        return dict(v)
    if base == "list[str]":
        if isinstance(v, str):
            v = [v]
        if not isinstance(v, (list, tuple)):
            raise _fail(name, "a list of names", v)
        return [_as_str(name, x) for x in v]
    if base == "tuple[float, float]":
        if not isinstance(v, (list, tuple)) or len(v) != 2:
            raise _fail(name, "two numbers, e.g. [0.9, 0.999]", v)
        return (_as_float(name, v[0]), _as_float(name, v[1]))
    raise TypeError(f"TrainConfig.{name}: no coercion for annotation {annotation!r}")  # a programming error


def _check_ranges(c: TrainConfig) -> None:
    def need(ok: bool, name: str, expected: str) -> None:
        if not ok:
            raise _fail(name, expected, getattr(c, name))

    need(bool(c.name.strip()), "name", "a non-empty run name")
    need(c.model in list_models(), "model", f"one of {list_models()}")
    smallest = min_input_size(c.model)
    need(c.size >= smallest, "size", f"an integer >= {smallest} for model {c.model!r} (its downsampling needs "
                                     f"at least {smallest} px)")
    for key in c.model_kwargs:
        if key in RESERVED_MODEL_KWARGS:
            raise _fail("model_kwargs", f"no {key!r} (set by {RESERVED_MODEL_KWARGS[key]})", c.model_kwargs)
        if not (isinstance(key, str) and accepts(c.model, key)):
            allowed = [k for k in keyword_arguments(c.model) if k not in RESERVED_MODEL_KWARGS]
            raise _fail("model_kwargs", f"keyword arguments of model {c.model!r} ({', '.join(allowed)}); {key!r} "
                                        "is not one", c.model_kwargs)
    if c.loss != DFFD_LOSS:
        try:
            loss_terms(c.loss)
        except ValueError as err:
            raise _fail("loss", f"one of {sorted(MAP_LOSSES)}, a '+' sum of them, each optionally weighted "
                                f"(e.g. 'l2+ssim', 'l1+10*l2+coss'), or {DFFD_LOSS!r} ({err})", c.loss) from None
    if c.loss_kwargs:
        try:
            make_criterion(c.loss, **c.loss_kwargs)  # small modules: the loss's own signature and checks
        except (TypeError, ValueError) as err:
            raise _fail("loss_kwargs", f"keyword arguments of loss {c.loss!r} ({err})", c.loss_kwargs) from None
    for name in ("cls_weight", "property_weight", "weight_decay", "lr", "attention_sigma"):
        need(getattr(c, name) >= 0, name, "a number >= 0")
    need(c.patience is None or c.patience >= 1, "patience", "None or a whole number >= 1")
    for name in ("size", "epochs", "batch_size"):
        need(getattr(c, name) >= 1, name, "an integer >= 1")
    for name in ("warmup", "num_workers", "seed"):
        need(getattr(c, name) >= 0, name, "an integer >= 0")
    for name in ("max_items", "val_max_items", "samples_per_epoch"):
        need(getattr(c, name) is None or getattr(c, name) >= 1, name, "an integer >= 1 or null")
    need(all(0 <= b < 1 for b in c.betas), "betas", "two numbers in [0, 1)")
    need(0 <= c.attention_floor <= 1, "attention_floor", "a number in [0, 1]")
    need(c.attention_mode in ATTENTION_MODES, "attention_mode", f"one of {ATTENTION_MODES}")
    need(0 <= c.attention_dropout <= 1, "attention_dropout", "a probability in [0, 1]")
    need(c.attention_weight >= 0, "attention_weight", "a number >= 0")
    need(c.attention_mode not in ("skip", "auxiliary") or c.model.startswith("efficientnet_lite"), "attention_mode",
         "'skip' and 'auxiliary' with an efficientnet_lite*_unet model")
    need(c.property_classes in PROPERTY_CLASS_SETS, "property_classes", f"one of {tuple(PROPERTY_CLASS_SETS)}")
    need(c.schedule in SCHEDULES, "schedule", f"one of {SCHEDULES}")
    need(c.protocol in PROTOCOLS, "protocol", f"one of {PROTOCOLS}")
    full = {v for v in SET_FOLDERS.values() if v}
    need(all(s in TRAIN_SETS or s in full - {SET_FOLDERS["attgan"]} for s in c.sets), "sets",
         f"a list of {TRAIN_SETS} (AttGAN has no training split)")
    need(c.properties is None or (len(c.properties) > 0 and all(p in KNOWN_PROPERTIES for p in c.properties)),
         "properties", f"null or a list of {KNOWN_PROPERTIES}")
    need(bool(_DEVICE.match(c.device)), "device", "auto, cpu, cuda, cuda:N or mps")
    need(0 <= c.splice_p <= 1, "splice_p", "a probability in [0, 1]")
    need(0 <= c.degrade_p <= 1, "degrade_p", "a probability in [0, 1]")
    need(0 <= c.jpeg_p <= 1, "jpeg_p", "a probability in [0, 1]")
    need(0 <= c.resample_p <= 1, "resample_p", "a probability in [0, 1]")
    need(c.degrade_axes in DEGRADE_AXES, "degrade_axes", f"one of {tuple(DEGRADE_AXES)}")
    need(len(c.splice_kinds) > 0 and all(k in SPLICE_KINDS for k in c.splice_kinds), "splice_kinds",
         f"a non-empty list of {SPLICE_KINDS}")
    need(all(k in TRAIN_SETS for k in c.splice_sets), "splice_sets", f"a list of training sets {TRAIN_SETS} (empty: all)")
    need(all(k in TRAIN_SETS and isinstance(v, (int, float)) and v > 0 for k, v in c.set_shares.items()), "set_shares",
         f"a mapping of training sets {TRAIN_SETS} to positive weights (sets not in 'sets' are unused)")
    need(c.real_fraction is None or 0 < c.real_fraction < 1, "real_fraction", "null or a number in (0, 1)")
    need(all(v in SPLICE_SETS and v.endswith("_val") for v in c.val_splice_sets), "val_splice_sets",
         f"a list of the validation splice sets {[k for k in SPLICE_SETS if k.endswith('_val')]}")


# --- profiles -----------------------------------------------------------------------------------

#: Named starting points. ``paper`` is §5.1 of the paper; ``cpu`` is tuned for quality within
#: minutes on 2 cores; ``smoke`` only proves the pipeline runs.
#: The universal training data and its sampling (``cpu`` and ``smoke``): every training set we have --
#: STGAN with its reconstructions, the released StarGAN-128 generator, AttGAN and AttentionGAN, the disrupted
#: StarGAN-256 strips, InterFaceGAN; the 13-row AttGAN sample grid stays unseen -- drawn with set shares
#: 2 : 1.5 : 2 : 0.5 : 1 (AttGAN and AttentionGAN share one set) and reals 30 % of each set's draws, half of the
#: partial edits turned into blob / blob+region splices of themselves, everyday degradations (JPEG 50-95, mild
#: blur, noise, resize) on 30 %, then a JPEG save (quality 60-95) on half of every image, real or fake, so that
#: compression is never a cue (results/tables/recipes.csv, row all-gans).
UNIVERSAL_DATA: dict[str, Any] = dict(
    sets=["stgan", "stargan", "interfacegan", "stargan128", "attgan_attentiongan"], include_reconstruction=True,
    set_balance=True, set_shares={"stgan": 2, "stargan": 0.5, "interfacegan": 1, "stargan128": 1.5,
                                  "attgan_attentiongan": 2},
    real_fraction=0.3, splice_p=0.5, splice_kinds=["blob", "union"], degrade_augment=True, degrade_axes="augment",
    degrade_p=0.3, jpeg_p=0.5, val_splice_sets=["stgan_val", "stargan_val"])

#: The plain data of a single-set model (the paper's protocol; Tables 2, 4, 5, the baseline): no set
#: balancing, no splices, no degradations, no validation splices.
PLAIN_DATA: dict[str, Any] = dict(
    include_reconstruction=False, set_balance=False, set_shares={}, real_fraction=None, samples_per_epoch=None,
    splice_p=0.0, splice_kinds=list(SPLICE_KINDS), splice_sets=[], degrade_augment=False, degrade_axes="paper", degrade_p=0.5,
    jpeg_p=0.0, resample_p=0.0, val_splice_sets=[], init_from=None)

#: The ``cpu`` profile's network: see :class:`fklib.models.efficientnet_unet.EfficientNetLiteUNet`.
CPU_MODEL_KWARGS: dict[str, Any] = {"hf": "srm", "hf_channels": [0, 16, 24], "decoder_channels": [96, 48, 32, 16, 8],
                                    "fullres_channels": 8, "fuse_kernel": 1}
#: The ``cpu`` profile's recipe over :data:`UNIVERSAL_DATA` (issue 39; the profile's comment says what it is).
CPU_RECIPE: dict[str, Any] = dict(
    init_from="models/init/u4-resample.safetensors", loss="l1+30*l2+coss", cls_weight=0.1, balance_classes=False,
    balanced_decision=True, property_weight=0.0, property_classes="stgan", prior_blend=False,
    sets=["stgan", "stargan128", "attgan_attentiongan"], include_reconstruction=False, set_balance=True, set_shares={},
    real_fraction=0.25, samples_per_epoch=16000, epochs=1, batch_size=16, lr=3e-4, warmup=0, schedule="cosine",
    splice_p=0.5, splice_kinds=["blob"], splice_sets=["stgan"], degrade_augment=False, jpeg_p=0.5, resample_p=0.0,
    val_max_items=360, val_splice_sets=["stgan_val", "stargan_val"])

PROFILES: dict[str, TrainConfig] = {
    "smoke": TrainConfig(name="smoke", model="unet_small", model_kwargs={"base": 8}, epochs=1, batch_size=8,
                         max_items=48, val_max_items=28, size=64, **{**UNIVERSAL_DATA, "samples_per_epoch": 64}),
    # Issue 39's recipe (results/tables/recipes.csv, row c-coss-30l2; results/tables/recipe_ablation.md, chosen on
    # the validation splits): the EfficientNet-Lite0 U-Net with a cheap SRM noise stream (16/24 channels at strides
    # 2/4), a thinner decoder and a 1x1 full-resolution fusion (speed: benchmarks/bench_locator.py), as a plain
    # texture locator (no hybrid layout term, no property loss), fine-tuned from the model shipped before it
    # (models/init/u4-resample.safetensors, itself staged in models/init/: models/README.md) for one epoch of
    # 16,000 draws at lr 3e-4 (cosine, no warm-up): map loss L1 + 30 L2 + (1 - COSS) -- the last term per image and
    # scale-free, as COSS and AUC are (the shape: row a-loss-+coss); the L2 weight 30 keeps the map's level (F1 at
    # tau = 0.1) that the scale-free term alone loses on StarGAN-128 and AttentionGAN -- and a 0.1 BCE whose
    # decision is chosen on validation for balanced accuracy;
    # equal shares of the STGAN, StarGAN-128 and AttGAN + AttentionGAN training splits with 25 % reals, half of the
    # STGAN fakes turned into blob splices of themselves, a JPEG save (quality 60-95) on half of every image, real
    # or fake, flips. Validation capped at 360 images per set.
    "cpu": TrainConfig(name="cpu", model_kwargs=dict(CPU_MODEL_KWARGS), **{**UNIVERSAL_DATA, **CPU_RECIPE}),
    "paper": TrainConfig(name="paper", model="deeplabv3_resnet101", size=224, epochs=10, batch_size=8, lr=1e-4,
                         betas=(0.99, 0.999), weight_decay=1e-7, schedule="constant", flip=False, cls_weight=1.0),
}
assert tuple(PROFILES) == PROFILE_NAMES


def property_classes(cfg: TrainConfig) -> tuple[str, ...]:
    """The classes of ``cfg``'s property head, in head order (:data:`PROPERTY_CLASS_SETS`)."""
    return PROPERTY_CLASS_SETS[cfg.property_classes]


def check_profile(profile: str) -> str:
    """``profile`` itself when it is one of :data:`PROFILE_NAMES`; else a :class:`ConfigError` listing them."""
    if profile not in PROFILE_NAMES:
        raise ConfigError(f"unknown profile {profile!r}; expected one of {PROFILE_NAMES}")
    return profile


def load_config_file(path: str | Path) -> dict:
    """The mapping of a YAML config file (``FileNotFoundError`` / :class:`ConfigError` naming the file)."""
    import yaml  # lazy: only a command with --config needs it

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such config file")
    try:
        loaded = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML ({err})".replace("\n", " ")) from None
    if not isinstance(loaded, dict):
        raise ConfigError(f"{path}: expected a mapping of config keys")
    return loaded


#: Environment variable: when set (to anything but ``""`` or ``0``), every config is shrunk by
#: :data:`DRY_RUN_OVERRIDES` -- a dry run of a profile's whole pipeline (e.g. ``paper`` on a CPU before
#: any GPU time) that exercises every code path in minutes; its numbers mean nothing.
DRY_RUN_ENV = "FKLIB_DRY_RUN"
#: What a dry run sets last, over every profile, file and override (``samples_per_epoch`` only where set).
DRY_RUN_OVERRIDES: dict[str, Any] = dict(epochs=1, max_items=8, val_max_items=6, batch_size=4, num_workers=0)


def dry_run() -> bool:
    """Whether :data:`DRY_RUN_ENV` asks for a dry run."""
    return os.environ.get(DRY_RUN_ENV, "") not in ("", "0")


def make_config(profile: str = DEFAULT_PROFILE, config_file: str | Path | None = None,
                overrides: dict[str, Any] | None = None) -> TrainConfig:
    """Profile, then YAML file (may name its own ``profile``), then explicit overrides; validated.
    In a dry run (:func:`dry_run`) :data:`DRY_RUN_OVERRIDES` come last."""
    values: dict[str, Any] = {}
    if config_file is not None:
        loaded = load_config_file(config_file)
        profile = loaded.pop("profile", profile)
        values.update(loaded)
    check_profile(profile)
    values.update(overrides or {})
    base = PROFILES[profile].to_dict()
    base.update(values)
    if dry_run():
        base.update(DRY_RUN_OVERRIDES)
        if base.get("samples_per_epoch"):
            base["samples_per_epoch"] = 8
    return TrainConfig.from_dict(base)


def parse_override(text: str) -> tuple[str, Any]:
    """``key=value`` with the value parsed as YAML (``epochs=3``, ``properties=[Bald]``)."""
    import yaml  # lazy: only a command with --override needs it

    if "=" not in text:
        raise ConfigError(f"override {text!r} must look like key=value")
    key, value = text.split("=", 1)
    try:
        return key.strip(), yaml.safe_load(value)
    except yaml.YAMLError:
        raise ConfigError(f"override {text!r}: the value is not valid YAML") from None


#: Per-profile settings of the Table-2 baseline (DFFD) on top of the profile (see :func:`baseline_config`).
BASELINE_PROFILES: dict[str, dict[str, Any]] = {
    # Proves the pipeline runs.
    "smoke": dict(model_kwargs={"width": 0.125, "middle_blocks": 2, "input_size": 64}, epochs=1, batch_size=8,
                  lr=1e-3, weight_decay=1e-3),
    # From scratch on 2 CPU cores in about 3 minutes: an eighth of Xception's widths (0.35 M parameters;
    # a quarter costs 3x more per step) at DFFD's 299 px (19 x 19 map), batch 8 for more steps
    # (200 in all), a larger learning rate with cosine decay.
    "cpu": dict(model_kwargs={"width": 0.125, "middle_blocks": 8, "input_size": 299}, epochs=8, batch_size=8,
                lr=1e-3, weight_decay=1e-3, schedule="cosine", flip=True, val_max_items=None),
    # DFFD's own recipe: the real Xception widths at 299 px, Adam lr 1e-4 and weight decay 1e-3,
    # batch 16 (train_map_supervised.py), no flips; 100 epochs of the 200 STGAN Bald items.
    "paper": dict(model_kwargs={"width": 1.0, "middle_blocks": 8, "input_size": 299}, epochs=100, batch_size=16,
                  lr=1e-4, betas=(0.9, 0.999), weight_decay=1e-3, schedule="constant", flip=False),
}


def baseline_config(profile: str = DEFAULT_PROFILE, **overrides: Any) -> TrainConfig:
    """The Table-2 baseline: DFFD (Stehouwer et al. 2019) trained on STGAN *Bald* (paper §5.2, RQ1).

    Starts from training profile ``profile`` (its ``size`` is kept: the model resizes its input
    to 299 px itself and its map is upsampled back, so evaluation runs at the profile's
    resolution -- 128 px for ``cpu``, 224 px for ``paper``, as the paper enlarged the baseline's
    maps to 224 x 224), then sets: ``model="dffd_xception"``, ``loss="dffd"``
    (:class:`fklib.losses.DFFDLoss`, map and classifier terms weighted 1 as in DFFD),
    ``properties=["Bald"]``, ``sets=["stgan"]``, ``classifier=True``, ``cls_weight=1``, no
    property head (``property_weight=0``, ``prior_blend=False``), no class balancing, no face
    attention, :data:`PLAIN_DATA` (no reconstructions, splices, degradations or set balancing), and
    the optimisation settings of :data:`BASELINE_PROFILES`.
    ``overrides`` (any :class:`TrainConfig` field) come last and replace whole fields (give all
    of ``model_kwargs`` when changing one of them).
    """
    check_profile(profile)
    values: dict[str, Any] = dict(
        name=f"dffd_baseline_{profile}", model="dffd_xception", loss=DFFD_LOSS, loss_kwargs={}, classifier=True, warmup=0,
        cls_weight=1.0, property_weight=0.0, prior_blend=False, balance_classes=False,
        sets=["stgan"], properties=["Bald"], include_reals=True, attention=False, **PLAIN_DATA,
    )
    values.update(BASELINE_PROFILES[profile])
    values.update(overrides)
    return make_config(profile, overrides=values)


def resolve_device(name: str) -> torch.device:
    """``auto`` -> CUDA when available, else CPU; a CUDA device without a GPU is a :class:`ConfigError`."""
    if not _DEVICE.match(str(name)):
        raise ConfigError(f"device {name!r}: expected auto, cpu, cuda, cuda:N or mps")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if str(name).startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device {name!r}: no CUDA GPU is available on this machine (use --device cpu)")
    if name == "mps" and not torch.backends.mps.is_available():
        raise ConfigError("device 'mps': not available on this machine (use --device cpu)")
    return torch.device(name)
