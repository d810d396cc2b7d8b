"""Upsampling-family generators, partial fakes by soft compositing, face split and residual spectra."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fklib.studies import upsampling_generators as U
from fklib.data import FakeMapDataset, gt_map
from fklib.parsing.regions import CLASSES

HAIR, MOUTH, U_LIP = CLASSES.index("hair"), CLASSES.index("mouth"), CLASSES.index("u_lip")


@pytest.mark.parametrize("family", U.FAMILIES)
def test_generator_keeps_the_shape_in_unit_range(family):
    torch.manual_seed(0)
    g = U.create_generator(family, base=4).eval()
    x = torch.rand(1, 3, 128, 128)
    with torch.no_grad():
        y = g(x)
    assert y.shape == x.shape and y.dtype == x.dtype
    assert float(y.min()) >= 0.0 and float(y.max()) <= 1.0


def test_unknown_family_is_refused():
    with pytest.raises(ValueError, match="family"):
        U.create_generator("pixelshuffle")


def test_train_generator_runs():
    rng = np.random.default_rng(0)
    faces = rng.integers(60, 200, (8, 16, 16, 3), dtype=np.uint8)
    model, report = U.train_generator("nearest", faces, epochs=2, size=16, base=4, batch_size=4)
    assert report["n"] == 8 and report["epochs"] == 2 and np.isfinite(report["l1"])
    out = U.generate(model, faces[:2])
    assert out.shape == (2, 16, 16, 3) and out.min() >= 0 and out.max() <= 1


def _parsing(h=32, w=32):
    lab = np.zeros((h, w), np.uint8)
    lab[:8] = HAIR
    lab[20:24, 12:20] = MOUTH
    lab[18:20, 12:20] = U_LIP
    return lab


def test_soft_region_mask():
    lab = _parsing()
    hard = U.soft_region_mask(lab, "mouth", sigma=0)
    assert hard.sum() == 6 * 8 and set(np.unique(hard)) == {0.0, 1.0}
    soft = U.soft_region_mask(lab, "mouth", sigma=1.5)
    assert soft.dtype == np.float32 and soft.min() >= 0 and soft.max() <= 1
    assert np.all(soft[hard == 1] == 1.0)                     # the region itself is fully generated
    assert ((soft > 0) & (soft < 1) & (hard == 0)).any()      # a feather around it
    assert soft[:12].max() == 0 and soft[30:].max() == 0      # and exactly zero far away
    assert U.soft_region_mask(lab, ("hair",), sigma=0).sum() == 8 * 32
    with pytest.raises(KeyError):
        U.soft_region_mask(lab, "nose_ring")


def test_composite_and_its_gt_map():
    rng = np.random.default_rng(1)
    real = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    gen = rng.random((32, 32, 3)).astype(np.float32)
    mask = U.soft_region_mask(_parsing(), "mouth", sigma=1.5)
    fake = U.composite(real, gen, mask)
    assert fake.dtype == np.uint8
    out = mask == 0
    assert np.array_equal(fake[out], real[out])
    inside = mask == 1
    assert np.array_equal(fake[inside], np.rint(gen[inside] * 255).astype(np.uint8))
    gt = gt_map(real, fake)
    assert np.all(gt[out] == 0) and gt[inside].mean() > 0.1


def test_make_partial_fakes_items():
    rng = np.random.default_rng(2)
    faces = rng.integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    parsings = np.stack([_parsing(), np.zeros((32, 32), np.uint8)])  # face 1 has no hair, no mouth
    gen = rng.random((2, 32, 32, 3)).astype(np.float32)
    items = U.make_partial_fakes(None, faces, parsings, ("hair", "mouth"), ids=["7", "9"], family="bicubic",
                                 generated=gen)
    assert [(it.label, it.property, it.identity) for it in items] == [
        (0, "Real", "7"), (1, "hair", "7"), (1, "mouth", "7"), (0, "Real", "9")]
    fake = items[2]
    assert fake.gan == "up_bicubic" and fake.set == "up_bicubic" and np.array_equal(fake.reference, faces[0])
    mask = U.soft_region_mask(parsings[0], "mouth", 2.0)
    assert np.all(fake.gt_map()[mask == 0] == 0) and fake.gt_map().max() > 0
    sample = FakeMapDataset(items, size=32)[2]
    assert sample["image"].shape == (3, 32, 32) and float(sample["label"]) == 1.0


def test_generator_forward_through_make_partial_fakes():
    g = U.create_generator("unpooling", base=4)
    faces = np.full((1, 32, 32, 3), 128, np.uint8)
    items = U.make_partial_fakes(g, faces, _parsing()[None], ("hair",))
    assert len(items) == 2 and items[1].gan == "up_unpooling"


def test_face_split_is_fixed_and_disjoint():
    ids = [str(i) for i in range(1000)]
    a, b = U.face_split(ids, seed=0), U.face_split(list(reversed(ids)), seed=0)
    assert a == b
    assert {k: len(v) for k, v in a.items()} == {"generator": 500, "train": 200, "val": 100, "test": 200}
    assert len(set().union(*a.values())) == 1000
    assert a != U.face_split(ids, seed=1)
    with pytest.raises(ValueError):
        U.face_split(ids[:500])


def test_spectrum_of_a_periodic_residual_peaks_at_its_frequency():
    n = 64
    real = np.full((n, n, 3), 128, np.uint8)
    x = np.arange(n)
    period4 = np.rint(40 * np.cos(2 * np.pi * x / 4)).astype(np.int16)   # 40, 0, -40, 0, ...
    fake = (real.astype(np.int16) + period4[None, :, None]).astype(np.uint8)
    s = U.mean_log_spectrum([fake], [real])
    assert s.shape == (n, n)
    peak = np.unravel_index(np.argmax(s), s.shape)
    assert peak[0] == n // 2 and abs(peak[1] - n // 2) == n // 4
    checker = ((np.add.outer(x, x) % 2) * 2 - 1) * 30                    # period 2 in both directions
    fake2 = (real.astype(np.int16) + checker[..., None]).astype(np.uint8)
    s2 = U.mean_log_spectrum([fake2, fake2], [real, real])
    assert np.unravel_index(np.argmax(s2), s2.shape) == (0, 0)           # Nyquist corner after fftshift


def test_spectrum_from_items_and_figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(3)
    faces = rng.integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    items = U.make_partial_fakes(None, faces, np.stack([_parsing()] * 2), ("hair",),
                                 generated=rng.random((2, 32, 32, 3)).astype(np.float32), family="nearest")
    s = U.mean_log_spectrum(items)
    assert s.shape == (32, 32) and np.isfinite(s).all()
    from fklib.report.robustness_figures import spectra_figure

    fig = spectra_figure({"nearest": s, "other": s[:16, :16]})
    assert len([a for a in fig.axes if a.images]) == 2
    plt.close(fig)
    with pytest.raises(ValueError):
        U.mean_log_spectrum([it for it in items if it.label == 0])


def test_whole_region_and_laplacian_spectrum():
    lab = _parsing()
    assert np.all(U.soft_region_mask(lab, U.WHOLE) == 1)
    n = 32
    real = np.full((n, n, 3), 128, np.uint8)
    x = np.arange(n)
    checker = ((np.add.outer(x, x) % 2) * 2 - 1) * 20
    fake = (real.astype(np.int16) + checker[..., None]).astype(np.uint8)
    s = U.mean_log_spectrum([fake], [real], laplacian=True)
    assert np.unravel_index(np.argmax(s), s.shape) == (0, 0)
