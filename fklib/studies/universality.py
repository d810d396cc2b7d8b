"""Notebook 03, paper Tables 3 and 4 (RQ2): the universal model on every GAN; single-property models across GANs."""

from __future__ import annotations

from ..config import TrainConfig
from .common import single_config

#: Sets of Table 3: the released StarGAN-128 generator and AttGAN + AttentionGAN (hundreds of test faces each,
#: JPEG), STGAN (lossless), InterFaceGAN; the disrupted StarGAN-256 strips and the 13 AttGAN sample rows (never
#: trained on) are kept as cross-checks.
TABLE3_SETS = ("stgan", "stargan128", "attgan_attentiongan", "stargan", "attgan", "interfacegan")
#: Table 3's splice rows ("STGAN splice", "StarGAN splice"): the fixed blob splices of the test identities.
TABLE3_SPLICES = ("stgan_test", "stargan_test")
#: Table 4's pairs: training property -> test (set, property) cells, first the gray "itself" cell. The paper's
#: STGAN Bald -> AttGAN Bald pair on the 270 AttGAN test faces of the released generator (and the 13 sample rows
#: for Black hair and Eyeglasses, which only they have); its Smile model is tested on StyleGAN, which we lack:
#: ours on AttentionGAN's Smiling (the same edit by another GAN) and the released StarGAN-128's edits.
TABLE4_TESTS = {
    "Bald": [("stgan", "Bald"), ("attgan_attentiongan", "Bald"), ("attgan", "Bald"), ("attgan", "Black_Hair"),
             ("attgan", "Eyeglasses")],
    "Mouth_Slightly_Open": [("stgan", "Mouth_Slightly_Open"), ("attgan_attentiongan", "Smiling"),
                            ("attgan", "Mouth_Slightly_Open"), ("stargan128", "Black_Hair"),
                            ("stargan128", "Blond_Hair"), ("stargan128", "Brown_Hair"), ("stargan128", "Male"),
                            ("stargan128", "Young")],
}


def table4_configs(profile: str) -> dict[str, TrainConfig]:
    """Table 4's single-property models (L1, the paper's default), one per training property."""
    return {prop: single_config(profile, prop, "l1") for prop in TABLE4_TESTS}


def table4_tests(prop: str) -> dict[str, list[str]]:
    """The test sets of the model trained on ``prop`` and, per set, the properties tested (in order)."""
    tests = TABLE4_TESTS[prop]
    return {s: [p for t, p in tests if t == s] for s in dict.fromkeys(s for s, _ in tests)}
