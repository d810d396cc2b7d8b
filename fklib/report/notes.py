"""How our setting differs from the paper's: the standard note under every table."""

from __future__ import annotations

from collections.abc import Mapping

from ..config import DEFAULT_PROFILE, PROFILES
from . import paper as _paper

#: Readable names of the registered models, for :func:`setting_note`.
MODEL_NAMES = {
    "deeplabv3_resnet101": "DeepLabV3-ResNet101",
    "efficientnet_lite0_unet": "EfficientNet-Lite0 U-Net (ImageNet-pretrained encoder)",
    "unet_small": "small U-Net (trained from scratch)",
    "dffd_xception": "DFFD Xception with attention map",
}


def _config_dict(profile: str, config) -> dict:
    if config is None:
        if profile not in PROFILES:
            raise ValueError(f"setting_note: unknown profile {profile!r}; known: {sorted(PROFILES)}")
        return PROFILES[profile].to_dict()
    if isinstance(config, Mapping):
        return dict(config)
    return config.to_dict() if hasattr(config, "to_dict") else dict(vars(config))


def _count(n: int) -> str:
    return f"{int(n):,}"


def setting_note(profile: str = DEFAULT_PROFILE, *, table: int | None = None, config=None,
                 n_train_fakes: int | None = None, n_train_reals: int | None = None,
                 n_test_fakes: int | None = None, n_test_reals: int | None = None,
                 data: str | None = None, extra: str | None = None) -> str:
    """The standard sentences of how our setting differs from the paper's (:data:`fklib.report.paper.PAPER_SETTINGS`).

    Args:
        profile: a :data:`fklib.config.PROFILES` name, used when ``config`` is not given.
        table: the paper table the note accompanies (picks the paper's data sizes: Table 3 used
            the universal model's 2,000 fakes per category; Table 2 rows differ in loss, so no
            loss is named; Table 5's similarity metrics are in-region).
        config: a ``TrainConfig`` or its dict (e.g. a checkpoint's ``cfg``), overriding ``profile``.
        n_train_fakes, n_train_reals, n_test_fakes, n_test_reals: our data sizes, when known.
        data: a sentence on our data (default: the public samples of the data mirror).
        extra: appended as is.
    """
    cfg = _config_dict(profile, config)
    ps = _paper.PAPER_SETTINGS
    size = cfg.get("size")
    model = cfg.get("model")
    parts = []
    parts.append(f"{size} px inputs (paper: {ps['size']} px)" if size != ps["size"] else f"{size} px inputs (as the paper)")
    ours_model = MODEL_NAMES.get(model, model)
    parts.append(f"{ours_model} (paper: {ps['backbone']}, COCO-pretrained)" if model != ps["model"]
                 else f"{ours_model} (as the paper)")
    sched = cfg.get("schedule")
    train = (f"{cfg.get('epochs')} epochs, batch {cfg.get('batch_size')}, Adam lr {cfg.get('lr'):g}"
             + (f" with {sched} schedule" if sched and sched != "constant" else ""))
    paper_train = f"{ps['epochs']} epochs, batch {ps['batch_size']}, Adam lr {ps['lr']:g}"
    parts.append(f"{train} (paper: {paper_train})")
    if table != 2 and cfg.get("loss"):
        loss = str(cfg["loss"]).upper().replace("+", " + ")
        parts.append(f"{loss} map loss (paper: L1 after Table 2)")
    if table == 3:
        paper_data = (f"{_count(ps['universal_fakes_per_category'])} fakes per GAN/property category, "
                      f"{_count(ps['universal_train_fakes'])} fakes + {_count(ps['universal_train_reals'])} reals in all")
    else:
        paper_data = (f"{_count(ps['train_fakes_per_property'])} fakes + "
                      f"{_count(ps['train_reals_per_property'])} reals per property")
    if n_train_fakes is not None or n_train_reals is not None:
        ours = " + ".join(f"{_count(v)} {w}" for v, w in ((n_train_fakes, "fakes"), (n_train_reals, "reals"))
                          if v is not None)
        parts.append(f"training on {ours} (paper: {paper_data})")
    else:
        parts.append(f"paper training data: {paper_data}")
    paper_test = f"{_count(ps['test_fakes'])} fakes + {_count(ps['test_reals'])} reals"
    if n_test_fakes is not None or n_test_reals is not None:
        ours = " + ".join(f"{_count(v)} {w}" for v, w in ((n_test_fakes, "fakes"), (n_test_reals, "reals"))
                          if v is not None)
        parts.append(f"testing on {ours} (paper: {paper_test})")
    text = "Our setting vs the paper's (§5.1): " + "; ".join(parts) + "."
    text += " " + (data if data is not None else
                   "Data: the public GAN samples of the data mirror (`../shared/data/README.md`), "
                   "not the paper's own generated sets.")
    if table == 2:
        text += (f" The paper enlarged the DFFD baseline's {ps['baseline_map_size']}x{ps['baseline_map_size']} "
                 f"maps to {ps['size']} px; we evaluate every row at our resolution.")
    if table == 5:
        text += " As in the paper, COSS, PSNR and SSIM are measured inside the modified property's region."
    if extra:
        text += " " + extra.strip()
    return text.replace("  ", " ").strip()
