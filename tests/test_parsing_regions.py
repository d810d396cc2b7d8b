"""Property -> region table and attention maps on a synthetic parsing map with a known layout."""

import numpy as np
import torch
import pytest

from fklib.data import STARGAN_PROPERTIES, STGAN_PROPERTIES
from fklib.parsing import CLASSES, PROPERTY_REGIONS, attention_map, region_mask

C = {name: i for i, name in enumerate(CLASSES)}


def synthetic_face() -> np.ndarray:
    """64x64: hair on top, skin face, brows, eyes, nose, upper/lower lip, neck."""
    p = np.zeros((64, 64), np.uint8)
    p[0:12, 8:56] = C["hair"]
    p[12:52, 12:52] = C["skin"]
    p[18:20, 18:26] = C["l_brow"]
    p[18:20, 38:46] = C["r_brow"]
    p[22:25, 19:25] = C["l_eye"]
    p[22:25, 39:45] = C["r_eye"]
    p[26:34, 29:35] = C["nose"]              # nose rows 26..33
    p[38:40, 24:40] = C["u_lip"]             # upper lip rows 38..39
    p[40:43, 24:40] = C["l_lip"]
    p[52:64, 20:44] = C["neck"]
    return p


def test_every_property_in_the_data_has_a_region():
    for prop in (*STGAN_PROPERTIES, *STARGAN_PROPERTIES, "Entire", "Real", "Reconstruction"):
        assert prop in PROPERTY_REGIONS
    with pytest.raises(KeyError, match="Smiling"):
        region_mask(synthetic_face(), "Smiling")


def test_class_regions():
    p = synthetic_face()
    np.testing.assert_array_equal(region_mask(p, "Black_Hair"), p == C["hair"])
    np.testing.assert_array_equal(region_mask(p, "Bushy_Eyebrows"), np.isin(p, [C["l_brow"], C["r_brow"]]))
    np.testing.assert_array_equal(region_mask(p, "Mouth_Slightly_Open"), np.isin(p, [C["u_lip"], C["l_lip"]]))
    assert region_mask(p, "Entire").all() and region_mask(p, "Real").all()


def test_mustache_band_between_nose_and_mouth():
    p = synthetic_face()
    m = region_mask(p, "Mustache")
    assert m[38:40, 24:40].all()                       # the upper lip
    assert m[34:38, 24:40].all()                       # skin between nose bottom (33) and lip top (38)
    assert m[35, 21] and not m[35, 15]                 # widened by a quarter of the lip width (4 px)
    assert not m[40:43].any() and not m[:26].any()     # not the lower lip, nothing above the nose


def test_no_beard_is_the_lower_face():
    p = synthetic_face()
    m = region_mask(p, "No_Beard")
    assert m[45, 15] and m[41, 30] and not m[20, 15] and not m[55, 30]   # lower skin, lips; not cheeks above, neck


def test_attention_map_range_and_shape():
    p = synthetic_face()
    a = attention_map(p, "Black_Hair", sigma=0, floor=0.25)
    np.testing.assert_array_equal(a, np.where(p == C["hair"], 1.0, 0.25).astype(np.float32))
    b = attention_map(p, "Black_Hair", sigma=4, floor=0.25)
    assert b.dtype == np.float32 and b.min() >= 0.25 and b.max() == pytest.approx(1.0)
    assert b[5, 32] > b[30, 32] > b[63, 32] - 1e-6     # decays away from the hair
    assert b[63, 32] == pytest.approx(0.25, abs=1e-3)
    np.testing.assert_array_equal(attention_map(np.zeros((8, 8), np.uint8), "Eyeglasses"), 1.0)   # empty region
    with pytest.raises(ValueError, match="floor"):
        attention_map(p, "Bald", floor=1.5)


class TopHairParser(torch.nn.Module):
    """Stub parser: hair (13) wherever the image is bright, skin (1) elsewhere."""

    def forward(self, x):
        bright = (x.mean(1, keepdim=True) > 0.5).float()
        logits = torch.zeros(x.shape[0], 19, *x.shape[-2:])
        logits[:, 13:14] = bright * 10
        logits[:, 1:2] = (1 - bright) * 10
        return logits


def test_parsing_attention_uses_the_union_of_fake_and_real_regions():
    from fklib.data.readers import Item
    from fklib.parsing import ParsingAttention

    real = np.zeros((32, 32, 3), np.uint8)
    real[:8] = 255                                   # "hair" in the top rows of the real
    fake = np.zeros((32, 32, 3), np.uint8)           # the edit removed it (Bald)
    fake[:, 28:] = 255                               # and some "hair" on the right of the fake
    bald = Item(fake, real, 1, "generic", "g", "Bald", "p", "mem")
    genuine = Item(real, None, 0, "generic", "real", "Real", "p", "mem")
    att = ParsingAttention([bald, genuine], TopHairParser(), sigma=0, floor=0.2, size=32)
    a = att(bald)
    assert a[:8].min() == 1.0 and a[:, 28:].min() == 1.0 and a[20, 10] == pytest.approx(0.2)
    np.testing.assert_array_equal(att(genuine), 1.0)
