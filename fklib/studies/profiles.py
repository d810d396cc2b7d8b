"""What a profile (``smoke`` | ``cpu`` | ``paper``) means for the studies, in one place.

:func:`profile_record` gives everything a profile decides in one :class:`Profile`: the universal model's training
config (:data:`fklib.config.PROFILES`, kept in the config layer so that ``python -m fklib train`` never imports the
studies), the DFFD baseline's (:data:`fklib.config.BASELINE_PROFILES`), and everything else --
how long the small models train, how many test images each study scores, which sweeps run -- is one
:class:`StudyProfile` here, read through :func:`study_profile` (``study_profile(profile).<field>``; no module
keeps a copy of a field, and no code outside these records branches on a profile's name).

A dry run of a profile (:func:`fklib.config.dry_run`, set by ``python -m fklib.pipeline --dry-run``)
scores two test images per property: :func:`eval_limit` reads it when called, not at import.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ..config import PROFILE_NAMES, TrainConfig, baseline_config, check_profile, dry_run, make_config


@dataclasses.dataclass(frozen=True)
class StudyProfile:
    """The studies' settings of one profile (see each field's comment)."""

    #: Whether the profile's universal model is the shipped ``models/fakelocator.safetensors``: the pipeline then
    #: refuses to train it silently when the profile no longer matches the shipped model
    #: (:func:`fklib.studies.cache.universal_model`).
    uses_shipped_model: bool
    #: Optimisation of the models the studies train from their initialisation (single-property models of
    #: Tables 2, 4, 5, the leave-out models): what the universal model's fine-tuning settings must not change.
    scratch: dict[str, Any]
    #: Epochs of the single-property models (Tables 2, 4, 5), the best validation epoch kept (``common.SINGLE_PATIENCE``).
    single_epochs: int
    #: What the single-property models change of the profile's network (``common.single_config``; measured there).
    single_model: dict[str, Any]
    #: Test images kept per property in the notebooks' evaluations (``None``: the whole test split).
    eval_limit: int | None
    #: The reduced budget of the two leave-out universal models (notebook 04).
    leave_out_budget: dict[str, Any]
    #: STGAN test fakes per property in the degradation sweeps (``None``: all; with every test real).
    sweep_fakes_per_property: int | None
    #: Sweep only the harshest level of each degradation (``robustness.sweep_axes``).
    sweep_harshest_only: bool
    #: STGAN test fakes per property in the disorganization test.
    disorganization_fakes_per_property: int | None
    #: Test reals kept in the robustness study (``None``: all 47 of the STGAN test split).
    max_reals: int | None
    #: Fine-tuning of the augmented model: epochs and the factor on the profile's learning rate.
    augment: dict[str, float]
    #: The second Fig. 10 sweep, on a real GAN's JPEG set: the set, its fakes per property, its reals (degraded alike).
    gan_sweep: dict[str, Any]
    #: The models notebook 05 sweeps over IMDL-BenCo's grid by default.
    imdl_models: tuple[str, ...]
    #: Epochs and width of the upsampling-family generators.
    generator: dict[str, int]
    #: The generators' folder under the checkpoints folder, and whether their redraws are cached there too.
    generator_folder: str
    generator_cache: bool
    #: Faces per split of the family study (``None``: the whole split).
    family_faces: dict[str, int | None]
    #: The locator trained per upsampling family (TrainConfig fields).
    family_locator: dict[str, Any]
    #: Pairs per residual spectrum (``None``: all test fakes).
    spectra_items: int | None


STUDY_PROFILES: dict[str, StudyProfile] = {
    # Proves every notebook runs, in minutes.
    "smoke": StudyProfile(
        uses_shipped_model=False, scratch={"lr": 1e-3, "warmup": 0, "val_max_items": 28},
        single_epochs=1, single_model={}, eval_limit=4, leave_out_budget={}, sweep_fakes_per_property=1,
        sweep_harshest_only=True, generator_folder="upsampling_smoke", generator_cache=True,
        disorganization_fakes_per_property=1, max_reals=3, augment={"epochs": 1, "lr_factor": 0.2},
        gan_sweep={"set": "stargan128", "fakes_per_property": 1, "max_reals": 3}, imdl_models=(),
        generator={"epochs": 0, "base": 4}, family_faces={"train": 4, "val": 2, "test": 2},
        family_locator=dict(model="unet_small", model_kwargs={"base": 8}, epochs=1, batch_size=8), spectra_items=8),
    # The default: every table and figure on 2 CPU cores (README, "Measured times").
    # The universal model is the shipped one (fklib.config.PROFILES["cpu"] fine-tunes models/init/, so the
    # models trained here start from ImageNet with the settings they had before: lr 1e-3, no warm-up, every
    # validation image); the leave-out models start from ImageNet too (the shipped model saw the left-out
    # properties) at 3 x 1000 draws of the profile's data and losses; the augmented model fine-tunes the shipped one
    # for 3 x 2400 draws at 1.0 x the profile's lr.
    "cpu": StudyProfile(
        uses_shipped_model=True, scratch={"lr": 1e-3, "warmup": 0, "val_max_items": None},
        single_epochs=12, eval_limit=None,
        # batch 8 (the paper's) and map_prior 0.05 for the EfficientNet U-Net: common.single_config says why
        single_model={"batch_size": 8, "model_kwargs": {"map_prior": 0.05}},
        sweep_harshest_only=False, generator_folder="upsampling", generator_cache=False,
        leave_out_budget={"epochs": 3, "samples_per_epoch": 1000, "init_from": None, "lr": 1e-3, "warmup": 0,
                          "val_max_items": None, "resample_p": 0.0},
        sweep_fakes_per_property=8, disorganization_fakes_per_property=None, max_reals=None,
        augment={"epochs": 3, "lr_factor": 1.0, "samples_per_epoch": 2400},
        gan_sweep={"set": "stargan128", "fakes_per_property": 16, "max_reals": 80},
        imdl_models=("universal",), generator={"epochs": 4, "base": 16},
        family_faces={"train": 80, "val": 24, "test": 40},
        family_locator=dict(model="efficientnet_lite0_unet", model_kwargs={"map_prior": 0.05}, epochs=6, batch_size=8,
                            lr=1e-3, schedule="cosine", loss="l2+ssim"),
        spectra_items=200),
    # The paper's sizes, on a GPU.
    "paper": StudyProfile(
        uses_shipped_model=False, scratch={"lr": 1e-4, "warmup": 0, "val_max_items": None},
        single_epochs=10, single_model={}, eval_limit=None, leave_out_budget={"epochs": 4}, sweep_fakes_per_property=None,
        sweep_harshest_only=False, generator_folder="upsampling", generator_cache=False,
        disorganization_fakes_per_property=None, max_reals=None, augment={"epochs": 3, "lr_factor": 0.2},
        gan_sweep={"set": "stargan128", "fakes_per_property": 100, "max_reals": 552},
        imdl_models=("universal", "augmented"), generator={"epochs": 8, "base": 16},
        family_faces={"train": None, "val": None, "test": None},
        family_locator=dict(model="deeplabv3_resnet101", model_kwargs={}, epochs=10, batch_size=8), spectra_items=None),
}
assert set(STUDY_PROFILES) == set(PROFILE_NAMES)


def study_profile(profile: str) -> StudyProfile:
    """The :class:`StudyProfile` of ``profile`` (a clear error for an unknown name)."""
    check_profile(profile)
    return STUDY_PROFILES[profile]


@dataclasses.dataclass(frozen=True)
class Profile:
    """Everything one profile decides, read in one place (:func:`profile_record`).

    Attributes:
        name: ``smoke``, ``cpu`` or ``paper``.
        universal: the universal model's training config (:data:`fklib.config.PROFILES`; ``python -m fklib train
            --profile`` reads it there, without the studies).
        baseline: the DFFD baseline's config of Table 2 (:func:`fklib.config.baseline_config`).
        studies: what the studies train and score (:class:`StudyProfile`), the reason beside each value.
    """

    name: str
    universal: TrainConfig
    baseline: TrainConfig
    studies: StudyProfile


def profile_record(profile: str) -> Profile:
    """The :class:`Profile` of ``profile`` (a clear error for an unknown name)."""
    check_profile(profile)
    return Profile(profile, make_config(profile), baseline_config(profile), STUDY_PROFILES[profile])


#: Test images per property in a dry run (:func:`fklib.config.dry_run`).
DRY_RUN_EVAL_LIMIT = 2


def eval_limit(profile: str) -> int | None:
    """Test images kept per property in the notebooks' evaluations: the profile's, or
    :data:`DRY_RUN_EVAL_LIMIT` in a dry run (read now, not at import)."""
    return DRY_RUN_EVAL_LIMIT if dry_run() else study_profile(profile).eval_limit
