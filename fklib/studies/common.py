"""What the studies share: the profiles' models (universal, single-property) and the evaluation they report.

Profiles (the notebooks' ``profile`` parameter; ``python -m fklib.pipeline --profile``):

- ``smoke``: proves the pipeline runs (tiny from-scratch U-Net, 64 px, 1 epoch, capped data);
  its numbers mean nothing.
- ``cpu`` (default): the universal model of :data:`fklib.config.PROFILES` ``["cpu"]`` and
  single-property models (Tables 2, 4, 5) with the same EfficientNet-Lite0 U-Net at 128 px, a
  shorter schedule (the profile's ``single_epochs``), on 2 CPU cores.
- ``paper``: the paper's settings (DeepLabV3-ResNet101, 224 px, Adam 1e-4, 10 epochs) on a GPU.

Every model is trained on the training identities of ``results/splits.csv`` and reported on
the test identities; a checkpoint whose config matches is reused (:func:`fklib.studies.cache.ensure_trained`).
"""

from __future__ import annotations


import pandas as pd

from ..config import PLAIN_DATA, TrainConfig, check_profile, make_config
from .profiles import eval_limit, study_profile  # noqa: F401 - eval_limit: the notebooks call common.eval_limit
from ..data import ensure_splice_set
from ..checkpoint import LoadedLocator, load_trained
from ..engine import evaluate_locator

#: The single-property models' budget rule (the same for every loss, the DFFD baseline included): all
#: the profile's ``single_epochs`` (:class:`fklib.studies.profiles.StudyProfile`), the best validation epoch's weights kept. No early stopping: with 100 training fakes the
#: validation score is noisy and the classifier learns late, so a patience of 3 stopped the Table 5 models at
#: epochs 4-5 with their best weights from epochs 1-2 and every classifier collapsed (measured at 9cfc779).
SINGLE_PATIENCE = None
#: Short run names of the properties the tables train on.
_SHORT = {"Bald": "bald", "Mouth_Slightly_Open": "smile", "Blond_Hair": "blond"}


def universal_config(profile: str) -> TrainConfig:
    """The universal model of ``profile`` (:data:`fklib.config.PROFILES`)."""
    return make_config(profile)


def single_config(profile: str, prop: str, loss: str = "l1", classifier: bool = True, attention: bool = False,
                  name: str | None = None) -> TrainConfig:
    """A model trained on STGAN fakes of one property (+ the training reals), as in Tables 2, 4 and 5.

    Starts from ``profile`` and removes what is specific to the universal model (property head,
    prior blend, the noise stream, and :data:`fklib.config.PLAIN_DATA`: reconstructions, splices,
    degradations, set balancing); classifier weight 1 (balanced), all the profile's ``single_epochs`` (the best validation
    epoch's weights kept; :data:`SINGLE_PATIENCE`), the decision at p(fake) > 0.5 as in the paper.

    With the EfficientNet U-Net (``cpu``): batch 8 (the paper's) and ``map_prior=0.05`` (the
    untrained map starts near the GT level instead of 0.5). Chosen on the validation split
    (STGAN Bald, L1, 12 epochs): batch 16 with PyTorch's init reached val COSS 0.789, PSNR 19.7,
    SSIM 0.366 -- still climbing, below the input-blind mean map; batch 8 + ``map_prior`` reached
    0.852, 26.2, 0.691 for about the same compute.
    """
    check_profile(profile)
    tag = name or "_".join([_SHORT.get(prop, prop.lower()), loss, *([] if classifier else ["nocl"]),
                            *(["fp"] if attention else [])])
    over = dict(name=f"{profile}_{tag}", properties=[prop], sets=["stgan"], loss=loss, classifier=classifier,
                cls_weight=1.0, balance_classes=True, property_weight=0.0, prior_blend=False,
                attention=attention, epochs=study_profile(profile).single_epochs, patience=SINGLE_PATIENCE, balanced_decision=False,
                **PLAIN_DATA, **study_profile(profile).scratch)
    over.update(study_profile(profile).single_model)
    return make_config(profile, overrides=over)


def score_set(locator: LoadedLocator, set_name: str = "stgan", properties=None, split: str = "test",
             references: bool = True, limit: int | None = None, splices: str | None = None, **keys) -> pd.DataFrame:
    """Per-image rows of :func:`fklib.engine.evaluate_locator`, keeping the fakes of ``properties``
    (all when ``None``) and every real; ``keys`` are added as constant columns (e.g. ``method="l1"``).
    ``limit``: at most this many images per property (see :func:`eval_limit`). ``splices``: a fixed
    splice set (:data:`fklib.data.SPLICE_SETS`, e.g. ``stgan_test``) instead of ``set_name`` / ``split``;
    its rows get ``set = "splices/<name>"`` (its reals are its own, for ACC)."""
    if splices is not None:
        df = evaluate_locator(locator, "generic", ensure_splice_set(splices), split="all",
                              references=references, device="auto", max_per_property=limit, properties=properties)
        df = df.assign(set=f"splices/{splices}")
    else:
        df = evaluate_locator(locator, set_name, split=split, references=references, device="auto",
                              max_per_property=limit, properties=properties)
    return df.assign(**keys).reset_index(drop=True)


def load(checkpoints):
    """The checkpoint(s) loaded once (:func:`fklib.checkpoint.load_trained`): a path gives a
    :class:`~fklib.checkpoint.LoadedLocator`, a dict of paths a dict of them (the notebooks load their models here)."""
    if isinstance(checkpoints, dict):
        return {k: load_trained(v) for k, v in checkpoints.items()}
    return load_trained(checkpoints)
