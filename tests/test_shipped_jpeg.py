"""The shipped locator has not learnt "JPEG blocks mean fake": reals saved as JPEG keep their TNR.

The AttGAN / AttentionGAN fakes are JPEGs of quality 75; a locator trained beside lossless reals would call every
compressed photo fake. Here the shipped model's decision on test reals of the lossless STGAN set and of the two
JPEG sets, as read and after one more JPEG save at quality 75: the share called real may drop by at most 5 points.
"""

from __future__ import annotations

import numpy as np
import pytest

from fklib import paths
from fklib.checkpoint import load_trained
from fklib.data import load_set
from fklib.degrade import degrade_item
from fklib.engine import score_items

#: Test reals per set (the STGAN test split has 47).
REALS_PER_SET = 60


@pytest.mark.slow
def test_reals_recompressed_at_75_keep_their_tnr(data_root):
    loc = load_trained(paths.default_locator())
    model, cfg = loc.model, loc.config
    reals = []
    for name in ("stgan", "stargan128", "attgan_attentiongan"):
        reals += [it for it in load_set(name, split="test") if it.label == 0][:REALS_PER_SET]
    assert len(reals) >= 150
    clean = score_items(model, reals, cfg.size, rule=loc.rule, metrics=())
    saved = score_items(model, [degrade_item(it, "jpeg", 75) for it in reals], cfg.size, rule=loc.rule, metrics=())
    tnr_clean = float((clean["pred_fake"] == 0).mean())
    tnr_jpeg = float((saved["pred_fake"] == 0).mean())
    assert tnr_jpeg >= tnr_clean - 0.05, (tnr_clean, tnr_jpeg)
    # and the maps of the compressed reals stay as dark as those of the reals as read
    assert np.median(saved["peak"]) <= np.median(clean["peak"]) + 0.05
