"""The DFFD baseline of Table 2: model shapes, the 19x19 GT protocol, the loss, training and evaluation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from conftest import random_rgb, save_png
from fklib.losses import DFFDLoss, LocatorLoss, dffd_gt, make_criterion
from fklib.models import DFFDXception, create_model, is_model

TINY = {"width": 0.125, "middle_blocks": 2, "input_size": 64}


def test_registry_creates_it_and_coarse_map_is_19x19_at_299():
    assert is_model("dffd_xception")
    torch.manual_seed(0)
    model = create_model("dffd_xception", width=0.125, middle_blocks=2, init="torch").eval()  # input_size: 299
    assert isinstance(model, DFFDXception) and model.input_size == 299
    with torch.no_grad():
        out = model(torch.rand(1, 3, 128, 128))
    assert out.coarse_map.shape == (1, 1, 19, 19)
    assert out.coarse_map.min() >= 0 and out.coarse_map.max() <= 1 and out.coarse_map.std() > 0
    assert out.map.shape == (1, 1, 128, 128) and out.logit.shape == (1,) and out.property_logits is None
    # map = the coarse map upsampled bilinearly to the input size
    up = torch.nn.functional.interpolate(out.coarse_map, size=(128, 128), mode="bilinear", align_corners=False)
    torch.testing.assert_close(out.map, up)


@pytest.mark.parametrize("hw", [(128, 128), (100, 120), (64, 64)])
def test_output_map_has_the_input_size(hw):
    torch.manual_seed(0)
    model = create_model("dffd_xception", **TINY).eval()
    x = torch.rand(2, 3, *hw)
    with torch.no_grad():
        out = model(x)
        with_att = model(x, torch.rand(2, 1, *hw))
    assert out.map.shape == (2, 1, *hw) and with_att.map.shape == (2, 1, *hw)
    assert out.coarse_map.shape == (2, 1, 4, 4)       # ceil(((64 - 3) // 2 - 1) / 8)
    assert out.map.min() >= 0 and out.map.max() <= 1 and torch.isfinite(out.logit).all()
    with torch.no_grad():
        ones = model(x, torch.ones(2, 1, *hw))
    torch.testing.assert_close(ones.map, out.map)     # a white attention map changes nothing


def test_constructor_rejects_what_dffd_is_not():
    with pytest.raises(ValueError, match="classifier"):
        create_model("dffd_xception", classifier=False)
    with pytest.raises(ValueError, match="property"):
        create_model("dffd_xception", num_properties=3)
    with pytest.raises(ValueError, match="width"):
        create_model("dffd_xception", width=0)


def test_width_one_is_xception_sized():
    n = sum(p.numel() for p in create_model("dffd_xception", width=1.0).parameters())
    # Xception without its 1000-class fc (20.81 M) + DFFD's map conv (728 * 9 + 728) + a 1-logit linear
    assert n == pytest.approx(20.8e6, rel=0.01)


def _pil_bilinear_weights(n_in: int, n_out: int) -> np.ndarray:
    """PIL's anti-aliased bilinear resampling matrix (n_out x n_in), written from its definition."""
    scale = n_in / n_out
    support = max(scale, 1.0)
    w = np.zeros((n_out, n_in))
    for i in range(n_out):
        center = (i + 0.5) * scale
        for j in range(n_in):
            w[i, j] = max(0.0, 1.0 - abs((j + 0.5 - center) / support))
        w[i] /= w[i].sum()
    return w


def test_dffd_gt_matches_numpy_resize_and_strict_threshold():
    m = np.zeros((16, 16))
    # an 8x8 target: output cell (i, j) sees pixels 2i-1 .. 2i+2 with weights 1/8, 3/8, 3/8, 1/8
    m[3, 3] = 0.1005 * 64 / 9          # -> cell (1, 1) = 9/64 * v = 0.1005: just above 0.1
    m[11, 11] = 0.0995 * 64 / 9        # -> cell (5, 5) = 0.0995: just below
    m[8:16, 0:4] = 1.0                  # a bright block: ones inside, fractions on its edges
    wr, wc = _pil_bilinear_weights(16, 8), _pil_bilinear_weights(16, 8)
    soft = wr @ m @ wc.T
    assert soft[1, 1] == pytest.approx(0.1005) and soft[5, 5] == pytest.approx(0.0995)
    expected = (soft > 0.1).astype(np.float32)
    assert expected[1, 1] == 1 and expected[5, 5] == 0 and 0 < expected.sum() < 64
    gt = torch.from_numpy(m).float()[None, None]
    out = dffd_gt(gt, size=8)
    assert out.shape == (1, 1, 8, 8) and out.dtype == torch.float32
    np.testing.assert_array_equal(out[0, 0].numpy(), expected)
    np.testing.assert_array_equal(dffd_gt(gt[:, 0], size=(8, 8))[0].numpy(), expected)   # B x H x W works too
    # no resize: a value exactly at the threshold is not above it
    exact = torch.tensor([[[[0.1, 0.1001], [0.0999, 0.5]]]])
    assert dffd_gt(exact, size=2).flatten().tolist() == [0.0, 1.0, 0.0, 1.0]
    with pytest.raises(ValueError):
        dffd_gt(torch.rand(1, 3, 8, 8))


def test_dffd_gt_agrees_with_pil_on_a_real_size():
    """DFFD resized with PIL (torchvision ``Resize``); our torch resize gives the same 19x19 target."""
    from PIL import Image

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:128, :128]
    blob = np.exp(-((yy - 70) ** 2 + (xx - 50) ** 2) / (2 * 25.0 ** 2))      # crosses 0.1 inside the map
    m = np.clip(blob * (0.6 + 0.8 * rng.random((128, 128))), 0, 1).astype(np.float32)
    soft = np.asarray(Image.fromarray(m, mode="F").resize((19, 19), Image.BILINEAR), dtype=np.float64)
    expected = (soft > 0.1).astype(np.float32)
    keep = np.abs(soft - 0.1) > 1e-5                   # cells too close to 0.1 to call across libraries
    got = dffd_gt(torch.from_numpy(m)[None, None])[0, 0].numpy()
    np.testing.assert_array_equal(got[keep], expected[keep])
    assert 0 < expected.sum() < 361


def test_loss_equals_hand_computation():
    coarse = torch.tensor([[[[0.2, 0.9], [0.4, 0.6]]], [[[0.1, 0.0], [0.3, 0.5]]]])
    gt = torch.tensor([[[[0.05, 0.5], [0.1, 0.2]]], [[[0.0, 0.0], [0.0, 0.0]]]])   # -> [[0,1],[0,1]], zeros
    logit = torch.tensor([1.5, -0.5])
    label = torch.tensor([1.0, 0.0])
    l1 = (0.2 + 0.1 + 0.4 + 0.4 + 0.1 + 0.0 + 0.3 + 0.5) / 8
    bce = (-math.log(1 / (1 + math.exp(-1.5))) - math.log(1 - 1 / (1 + math.exp(0.5)))) / 2
    out = DFFDLoss()(coarse, gt, logit, label)
    assert out["map"].item() == pytest.approx(l1, abs=1e-6)
    assert out["cls"].item() == pytest.approx(bce, abs=1e-6)
    assert out["loss"].item() == pytest.approx(l1 + bce, abs=1e-6)             # DFFD: both weights 1
    weighted = DFFDLoss(cls_weight=0.5, map_weight=2.0)(coarse, gt, logit, label)
    assert weighted["loss"].item() == pytest.approx(2 * l1 + 0.5 * bce, abs=1e-6)
    with pytest.raises(ValueError, match="classifier"):
        DFFDLoss()(coarse, gt)
    assert isinstance(make_criterion("dffd", cls_weight=1.0), DFFDLoss)
    assert isinstance(make_criterion("l1", cls_weight=1.0), LocatorLoss)


def test_loss_takes_the_coarse_map_against_a_full_size_gt():
    torch.manual_seed(0)
    model = create_model("dffd_xception", **TINY)
    x, gt = torch.rand(4, 3, 64, 64), torch.rand(4, 1, 64, 64)
    out = model(x)
    losses = DFFDLoss()(out.coarse_map, gt, out.logit, torch.tensor([1.0, 0.0, 1.0, 0.0]))
    losses["loss"].backward()
    assert model.map_conv[0].weight.grad.abs().sum() > 0 and model.stem[0][0].weight.grad.abs().sum() > 0


def test_baseline_config():
    from fklib.config import baseline_config

    cpu = baseline_config()
    assert (cpu.model, cpu.loss, cpu.properties, cpu.classifier, cpu.property_weight, cpu.prior_blend,
            cpu.include_reconstruction, cpu.cls_weight, cpu.size) == (
        "dffd_xception", "dffd", ["Bald"], True, 0.0, False, False, 1.0, 128)
    assert cpu.model_kwargs["input_size"] == 299
    paper = baseline_config("paper")
    assert paper.model_kwargs == {"width": 1.0, "middle_blocks": 8, "input_size": 299} and paper.size == 224
    assert baseline_config("cpu", epochs=1).epochs == 1
    with pytest.raises(ValueError, match="unknown profile"):
        baseline_config("gpu")


def test_two_step_training_writes_an_evaluable_checkpoint(data_root, tmp_path, rng):
    from fklib.checkpoint import load_checkpoint
    from fklib.config import baseline_config
    from fklib.checkpoint import load_trained
    from fklib.engine import evaluate_locator, fit

    cfg = baseline_config("smoke", out_dir=str(tmp_path / "dffd"), model_kwargs=TINY, size=64, epochs=1,
                          batch_size=8, max_items=16, val_max_items=8)
    res = fit(cfg, progress=False, log=lambda *_: None)
    history = res["history"]
    assert len(history) == 1 and math.isfinite(history[0]["train_loss"]) and math.isfinite(history[0]["val_loss"])
    assert load_checkpoint(res["best"])["model"]
    # a new folder in the STGAN layout (one strip = one real + 13 fakes), evaluated like our models
    arr = np.zeros((128, 1932, 3), np.uint8)
    arr[:, :128] = random_rgb(rng, 128, 128)
    for t in range(14):
        arr[:, 140 + 128 * t:268 + 128 * t] = random_rgb(rng, 128, 128)
    save_png(tmp_path / "new" / "90000.png", arr)
    df = evaluate_locator(load_trained(res["best"]), "stgan", tmp_path / "new", split="all", references=False)
    assert len(df) == 14 and set(df["predictor"]) == {"model"}
    assert df[["coss", "psnr", "ssim", "prob"]].notna().all().all()


def test_training_feeds_the_coarse_map_only_to_the_dffd_loss():
    from fklib.models import LocatorOutput
    from fklib.engine.train import loss_map

    full, coarse = torch.rand(2, 1, 64, 64), torch.rand(2, 1, 4, 4)
    out = LocatorOutput(full, torch.zeros(2), None, coarse)
    assert loss_map(DFFDLoss(), out) is coarse and loss_map(LocatorLoss("l1"), out) is full
    with pytest.raises(ValueError, match="coarse map"):
        loss_map(DFFDLoss(), LocatorOutput(full, torch.zeros(2)))
