"""Degradations (JPEG, blur, noise, low resolution), quadrant disorganization, γ, and the Dataset hook."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.ndimage import gaussian_filter

from fklib import degrade as D
from fklib.data import FakeMapDataset, Item


def textured_image(size: int = 96, seed: int = 0) -> torch.Tensor:
    """A natural-ish 3 x S x S image in [0.15, 0.85]: smooth shapes, edges and fine texture at several scales."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    chans = []
    for c in range(3):
        base = 0.5 + 0.2 * np.sin(2 * np.pi * (1.5 + c) * x) * np.cos(2 * np.pi * 2 * y)
        base += 0.15 * (((x - 0.5) ** 2 + (y - 0.4) ** 2) < 0.06)          # a disc with a sharp edge
        base += 0.08 * gaussian_filter(rng.standard_normal((size, size)), 1.0)  # fine texture
        base += 0.05 * gaussian_filter(rng.standard_normal((size, size)), 4.0)  # coarse texture
        chans.append(base)
    img = np.stack(chans)
    img = 0.15 + 0.7 * (img - img.min()) / (img.max() - img.min())
    return torch.from_numpy(img.astype(np.float32))


IMG = textured_image()


def err(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().mean())


@pytest.mark.parametrize("name,level", [("jpeg", 50), ("blur", 7), ("noise", 25), ("lowres", 3), ("lowres", 1.5)])
@pytest.mark.parametrize("batched", [False, True])
def test_shape_dtype_range(name, level, batched):
    x = torch.stack([IMG, IMG.flip(-1)]) if batched else IMG
    for dtype in (torch.float32, torch.float64):
        y = D.degrade(x.to(dtype), name, level, seed=3)
        assert y.shape == x.shape and y.dtype == dtype
        assert float(y.min()) >= 0.0 and float(y.max()) <= 1.0
        assert not torch.equal(y, x.to(dtype))


def test_clamps_to_unit_range():
    bright = torch.full((3, 32, 32), 0.99)
    y = D.gaussian_noise(bright, 400, seed=0)
    assert float(y.max()) == 1.0 and float(y.min()) >= 0.0


@pytest.mark.parametrize("name", sorted(D.DEGRADATIONS))
def test_identity_level_returns_the_input(name):
    y = D.degrade(IMG, name, D.IDENTITY_LEVEL[name])
    assert y is IMG
    assert D.gaussian_blur(IMG, 0) is IMG


def test_jpeg_100_still_reencodes():
    y = D.jpeg(IMG, 100)
    assert 0 < err(y, IMG) < 0.01


@pytest.mark.parametrize("name,levels", [
    ("jpeg", (100, 90, 70, 50, 30, 10)),
    ("blur", (3, 5, 7, 11, 15, 23)),
    ("noise", (3, 10, 25, 100, 400)),
    ("lowres", (1.5, 2, 3, 4, 8)),
])
def test_error_grows_with_the_level(name, levels):
    errors = [err(D.degrade(IMG, name, lv, seed=0), IMG) for lv in levels]
    assert all(a < b for a, b in zip(errors, errors[1:])), errors


def test_noise_is_seeded_and_has_the_requested_variance():
    a, b = D.gaussian_noise(IMG, 25, seed=7), D.gaussian_noise(IMG, 25, seed=7)
    assert torch.equal(a, b)
    assert not torch.equal(a, D.gaussian_noise(IMG, 25, seed=8))
    x = torch.full((3, 128, 128), 0.5)  # 0.5 +- 5 sigma never clamps
    for var in (3, 23, 100):
        d = (D.gaussian_noise(x, var, seed=1) - x) * 255.0
        assert abs(float(d.var()) - var) / var < 0.05
        assert abs(float(d.mean())) < 0.1 * math.sqrt(var)


def test_bad_levels_are_refused():
    with pytest.raises(ValueError):
        D.jpeg(IMG, 0)
    with pytest.raises(ValueError):
        D.gaussian_blur(IMG, 4)
    with pytest.raises(ValueError):
        D.gaussian_noise(IMG, -1)
    with pytest.raises(ValueError):
        D.low_resolution(IMG, 0.5)
    with pytest.raises(KeyError):
        D.degrade(IMG, "rain", 1)
    with pytest.raises(ValueError):
        D.jpeg(torch.zeros(1, 8, 8), 50)


def test_axes():
    assert set(D.PAPER_AXES) == {"jpeg", "blur", "noise", "lowres"}
    assert D.IMDL_AXES["jpeg"] == (100, 90, 80, 70, 60, 50)
    assert D.IMDL_AXES["blur"] == (3, 7, 11, 15, 19, 23)
    assert D.IMDL_AXES["noise"] == (3, 7, 11, 15, 19, 23)
    for axes in (D.PAPER_AXES, D.IMDL_AXES):
        for name, levels in axes.items():
            for lv in levels:
                assert D.degrade(IMG, name, lv).shape == IMG.shape


def test_blur_sigma_matches_torchvision_default():
    for k in (3, 7, 23):
        assert math.isclose(D.blur_sigma(k), 0.15 * k + 0.35)


def test_random_degradation_is_seeded_and_respects_p():
    aug = D.RandomDegradation(p=1.0, seed=5)
    again = D.RandomDegradation(p=1.0, seed=5)
    outs = [aug(IMG) for _ in range(4)]
    assert all(torch.equal(a, again(IMG)) for a in outs)
    assert all(o.shape == IMG.shape and not torch.equal(o, IMG) for o in outs)
    never = D.RandomDegradation(p=0.0, seed=0)
    assert all(never(IMG) is IMG for _ in range(5))
    with pytest.raises(ValueError):
        D.RandomDegradation(p=2.0)


def test_dataset_transform_touches_the_image_only(rng):
    real = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    fake = real.copy()
    fake[8:16, 8:16] = 255 - fake[8:16, 8:16]
    item = Item(fake, real, 1, "generic", "g", "Bald", "x", "x.png")
    plain = FakeMapDataset([item], size=32)[0]
    noisy = FakeMapDataset([item], size=32, transform=lambda x: D.gaussian_noise(x, 100, seed=0))[0]
    assert torch.equal(plain["gt_map"], noisy["gt_map"])
    assert not torch.equal(plain["image"], noisy["image"])


# --- disorganization --------------------------------------------------------------------------

def test_permute_then_inverse_restores_exactly():
    x = torch.arange(2 * 3 * 8 * 6, dtype=torch.float32).reshape(2, 3, 8, 6)
    for seed in range(10):
        p = D.random_quadrant_permutation(seed)
        assert p != (0, 1, 2, 3) and sorted(p) == [0, 1, 2, 3]
        y = D.permute_quadrants(x, p)
        assert y.shape == x.shape and not torch.equal(y, x)
        assert torch.equal(D.permute_quadrants(y, D.inverse_permutation(p)), x)
    arr = np.arange(4 * 4).reshape(4, 4)
    assert np.array_equal(D.permute_quadrants(D.permute_quadrants(arr, (3, 2, 1, 0)), (3, 2, 1, 0)), arr)
    hwc = np.random.default_rng(0).integers(0, 255, (8, 8, 3))
    back = D.permute_quadrants_hwc(D.permute_quadrants_hwc(hwc, (1, 2, 3, 0)), D.inverse_permutation((1, 2, 3, 0)))
    assert np.array_equal(back, hwc)


def test_permutation_semantics():
    x = np.array([[0, 1], [2, 3]])  # one pixel per quadrant
    assert D.permute_quadrants(x, (3, 2, 1, 0)).tolist() == [[3, 2], [1, 0]]
    assert D.permute_quadrants(x, (1, 0, 3, 2)).tolist() == [[1, 0], [3, 2]]
    assert D.random_quadrant_permutation(3) == D.random_quadrant_permutation(3)


def test_odd_sizes_and_bad_permutations_raise():
    with pytest.raises(ValueError, match="even"):
        D.permute_quadrants(torch.zeros(3, 7, 8), (1, 0, 2, 3))
    with pytest.raises(ValueError, match="even"):
        D.permute_quadrants(np.zeros((8, 5)), (1, 0, 2, 3))
    with pytest.raises(ValueError, match="permutation"):
        D.permute_quadrants(np.zeros((8, 8)), (0, 0, 1, 2))


def test_disorganize_item_moves_image_and_map_together(rng):
    real = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    fake = real.copy()
    fake[:8, :8] = 0  # edit only the top-left quadrant
    item = Item(fake, real, 1, "generic", "g", "Bald", "x", "x.png")
    moved = D.disorganize_item(item, (3, 2, 1, 0))  # top-left goes to bottom-right
    gt = moved.gt_map()
    assert gt[:8, :8].max() == 0 and gt[8:, 8:].max() > 0
    assert np.array_equal(moved.image[8:, 8:], fake[:8, :8])
    from fklib.data import gt_map
    assert np.allclose(gt, gt_map(moved.reference, moved.image))


def test_gamma():
    m = {"bacc": 0.9, "coss": 0.8, "psnr": 25.0, "ssim": 0.7}
    assert D.GAMMA_METRICS == ("bacc", "coss", "psnr", "ssim")      # the paper's ACC, balanced
    assert D.gamma(m, m) == {"bacc": 1.0, "coss": 1.0, "psnr": 1.0, "ssim": 1.0}
    half = D.gamma({**m, "coss": 0.4}, m)
    assert half["coss"] == pytest.approx(0.5)
    assert math.isnan(D.gamma({"bacc": math.nan}, m)["bacc"])


def test_degrade_item_keeps_the_gt_map(rng):
    real = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    fake = real.copy()
    fake[4:8] = 255
    item = Item(fake, real, 1, "generic", "g", "Bald", "x", "x.png")
    deg = D.degrade_item(item, "noise", 100, seed=0)
    assert np.array_equal(deg.gt_map(), item.gt_map())
    assert not np.array_equal(deg.image, item.image) and deg.image.dtype == np.uint8
    regen = D.degrade_item(item, "noise", 100, seed=0, regenerate_gt=True)
    assert not np.array_equal(regen.gt_map(), item.gt_map())
    assert D.degrade_item(item, "jpeg", None).image is item.image


def test_training_dataset_wires_random_degradation(tmp_path):
    """``degrade_augment`` puts a RandomDegradation on the training Dataset (images only), and only there."""
    from fklib.config import TrainConfig, make_config
    from fklib.engine.run import training_dataset

    assert TrainConfig().degrade_augment is False
    old = TrainConfig().to_dict()
    old.pop("degrade_augment")  # a checkpoint written before the field existed still resumes
    assert TrainConfig.from_dict(old).to_dict() == TrainConfig().to_dict()
    real = np.full((16, 16, 3), 100, np.uint8)
    items = [Item(real, None, 0, "generic", "real", "Real", "0", "r")]
    for flag in (True, False):
        cfg = make_config("smoke", overrides=dict(size=16, degrade_augment=flag, flip=False, degrade_p=0.4,
                                                  degrade_axes="paper", splice_p=0.0, jpeg_p=0.0))
        ds = training_dataset(cfg, items)
        if flag:
            assert isinstance(ds.transform, D.RandomDegradation) and ds.transform.p == 0.4
            assert ds.transform.axes == D.PAPER_AXES
        else:
            assert ds.transform is None and torch.equal(ds[0]["image"], torch.full((3, 16, 16), 100 / 255))
    # a JPEG save comes after the other degradation (a photo is saved last), on reals as on fakes
    cfg = make_config("smoke", overrides=dict(size=16, degrade_augment=True, degrade_p=0.4, jpeg_p=0.7, splice_p=0.0))
    steps = training_dataset(cfg, items).transform.steps
    assert isinstance(steps[0], D.RandomDegradation) and isinstance(steps[1], D.RandomJPEG) and steps[1].p == 0.7
    only = training_dataset(make_config("smoke", overrides=dict(size=16, degrade_augment=False, jpeg_p=1.0,
                                                                splice_p=0.0, flip=False)), items)
    assert isinstance(only.transform, D.RandomJPEG) and not torch.equal(only[0]["image"], torch.rand(3, 16, 16))



def test_random_jpeg_saves_at_one_of_its_qualities_or_leaves_the_image():
    from fklib.degrade import RandomJPEG, jpeg

    x = torch.rand(3, 32, 32)
    always = RandomJPEG(p=1.0, qualities=(90, 75), seed=3)
    outs = [always(x) for _ in range(6)]
    saved = {90: jpeg(x, 90), 75: jpeg(x, 75)}
    assert all(any(torch.equal(o, s) for s in saved.values()) for o in outs)
    assert {q for q, s in saved.items() for o in outs if torch.equal(o, s)} == {90, 75}
    assert torch.equal(RandomJPEG(p=0.0, seed=3)(x), x)
    with pytest.raises(ValueError, match="qualities"):
        RandomJPEG(qualities=(0,))


def test_resample_round_trip_keeps_the_geometry_and_softens_the_texture():
    """Issue 30: a face found in a photo is resampled twice (placed, then aligned back): the round trip keeps
    where things are (the GT stays valid) and loses fine texture, which training with ``resample_p`` shows the model."""
    from fklib.degrade import RandomResample, resample_round_trip

    x = torch.zeros(3, 64, 64)
    x[:, 20:30, 36:50] = 1.0                                                 # a bright block, centre (42.5, 24.5)
    assert torch.allclose(resample_round_trip(x, 1.0, 0.0), x, atol=0.5 / 255)   # identity: only uint8 rounding
    for scale, angle, shift in ((1.3, 12.0, (0.25, 0.6)), (0.9, -17.0, (0.5, 0.5)), (2.0, 5.0, (0.0, 0.0))):
        y = resample_round_trip(x, scale, angle, shift)[0]
        ys, xs = torch.meshgrid(torch.arange(64.0), torch.arange(64.0), indexing="ij")
        w = y / y.sum()
        assert abs(float((w * xs).sum()) - 42.5) < 0.3 and abs(float((w * ys).sum()) - 24.5) < 0.3, (scale, angle)
        assert abs(float(y.sum()) - 140.0) < 3.0                                 # the block's mass is kept
    # a 2-px checkerboard (the finest texture) loses contrast through a half-pixel shift; a smooth ramp does not
    checker = ((torch.arange(64)[:, None] + torch.arange(64)[None]) % 2).float().expand(3, 64, 64)
    ramp = (torch.arange(64.0)[None] / 63).expand(64, 64).expand(3, 64, 64)
    soft = resample_round_trip(checker, 1.0, 0.0, (0.5, 0.0))[:, 8:-8, 8:-8]
    assert float(soft.std()) < 0.5 * float(checker.std())
    assert torch.allclose(resample_round_trip(ramp, 1.0, 0.0, (0.5, 0.0))[:, 8:-8, 8:-8], ramp[:, 8:-8, 8:-8], atol=0.01)
    # the augmentation: p = 0 leaves the image, a seed repeats its draws, bad settings are named
    assert torch.equal(RandomResample(p=0.0, seed=1)(checker), checker)
    assert torch.equal(RandomResample(p=1.0, seed=1)(checker), RandomResample(p=1.0, seed=1)(checker))
    with pytest.raises(ValueError, match="scales"):
        RandomResample(scales=(2.0, 1.0))


def test_resample_p_comes_first_in_the_training_transforms():
    from fklib import degrade as D
    from fklib.config import ConfigError, make_config
    from fklib.data import Item
    from fklib.engine.run import training_dataset

    real = np.full((16, 16, 3), 100, np.uint8)
    items = [Item(real, None, 0, "generic", "real", "Real", "0", "r")]
    cfg = make_config("smoke", overrides=dict(size=16, resample_p=0.4, degrade_augment=True, jpeg_p=0.5, splice_p=0.0))
    steps = training_dataset(cfg, items).transform.steps
    assert [type(s) for s in steps] == [D.RandomResample, D.RandomDegradation, D.RandomJPEG] and steps[0].p == 0.4
    with pytest.raises(ConfigError, match="resample_p"):
        make_config("smoke", overrides=dict(resample_p=1.5))
