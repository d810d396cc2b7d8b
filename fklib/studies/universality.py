"""Notebook 03, paper Tables 3 and 4 (RQ2): the universal model on every GAN; single-property models across GANs."""

from __future__ import annotations

from ..config import TrainConfig
from .common import single_config

#: Sets of Table 3 (AttGAN is never trained on: cross-GAN).
TABLE3_SETS = ("stgan", "attgan", "stargan", "interfacegan")
#: Table 3's splice rows ("STGAN splice", "StarGAN splice"): the fixed blob splices of the test identities.
TABLE3_SPLICES = ("stgan_test", "stargan_test")
#: Table 4's pairs: training property -> test (set, property) cells, first the gray "itself" cell.
TABLE4_TESTS = {
    "Bald": [("stgan", "Bald"), ("attgan", "Bald"), ("attgan", "Black_Hair"), ("attgan", "Eyeglasses")],
    "Mouth_Slightly_Open": [("stgan", "Mouth_Slightly_Open"), ("attgan", "Mouth_Slightly_Open"),
                            ("stargan", "Black_Hair"), ("stargan", "Blond_Hair"), ("stargan", "Brown_Hair"),
                            ("stargan", "Male"), ("stargan", "Young")],
}


def table4_configs(profile: str) -> dict[str, TrainConfig]:
    """Table 4's single-property models (L1, the paper's default), one per training property."""
    return {prop: single_config(profile, prop, "l1") for prop in TABLE4_TESTS}


def table4_tests(prop: str) -> dict[str, list[str]]:
    """The test sets of the model trained on ``prop`` and, per set, the properties tested (in order)."""
    tests = TABLE4_TESTS[prop]
    return {s: [p for t, p in tests if t == s] for s in dict.fromkeys(s for s, _ in tests)}
