"""Notebook 02, paper Table 2 (RQ1): the DFFD baseline and FakeLocator with each map loss, on STGAN *Bald*."""

from __future__ import annotations

from ..config import TrainConfig, baseline_config
from .common import single_config

#: Table 2's rows: method -> (map loss, classifier).
TABLE2_METHODS = {"l1_no_cl": ("l1", False), "l1": ("l1", True), "l2": ("l2", True),
                  "dice": ("dice", True), "focal": ("focal", True)}


def table2_configs(profile: str) -> dict[str, TrainConfig]:
    """Table 2's models: the DFFD baseline (:func:`fklib.config.baseline_config`) and one FakeLocator
    per loss, all on STGAN Bald."""
    runs = {"dffd_baseline": baseline_config(profile)}
    runs.update({m: single_config(profile, "Bald", loss, cls) for m, (loss, cls) in TABLE2_METHODS.items()})
    return runs
