"""Map losses of paper §4.3 (eqs. 5-9) and the locator objective, pinned on hand-computed cases."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as TF

from fklib.losses import (
    MAP_LOSSES,
    DiceLoss,
    FocalLoss,
    L1Loss,
    L2Loss,
    LocatorLoss,
    dice_loss,
    focal_loss,
    l1_loss,
    l2_loss,
    make_map_loss,
)

# One 1x1x2x2 case used throughout: pred p and target y, listed in row-major order.
P = [0.9, 0.2, 0.5, 0.0]
Y = [1.0, 0.0, 0.25, 0.0]


def pair(shape: tuple[int, ...] = (1, 1, 2, 2), dtype: torch.dtype = torch.float64) -> tuple[torch.Tensor, torch.Tensor]:
    return (torch.tensor(P, dtype=dtype).reshape(shape), torch.tensor(Y, dtype=dtype).reshape(shape))


FUNCS = {"l1": l1_loss, "l2": l2_loss, "focal": focal_loss, "dice": dice_loss}
MODULES = {"l1": L1Loss, "l2": L2Loss, "focal": FocalLoss, "dice": DiceLoss}


# --------------------------------------------------------------------------- definitions

def test_l1_hand_case():
    p, y = pair()
    expected = (0.1 + 0.2 + 0.25 + 0.0) / 4
    assert l1_loss(p, y).item() == pytest.approx(expected, abs=1e-12)


def test_l2_hand_case():
    p, y = pair()
    expected = (0.1 ** 2 + 0.2 ** 2 + 0.25 ** 2 + 0.0) / 4
    assert l2_loss(p, y).item() == pytest.approx(expected, abs=1e-12)


def test_focal_soft_label_hand_case():
    p, y = pair()
    a, g, eps = 0.25, 2.0, 1e-6
    total = 0.0
    for pi, yi in zip(P, Y):
        pc = min(max(pi, eps), 1 - eps)
        total += -(a * yi * (1 - pc) ** g * math.log(pc) + (1 - a) * (1 - yi) * pc ** g * math.log(1 - pc))
    assert focal_loss(p, y).item() == pytest.approx(total / 4, rel=1e-10)


def test_focal_hard_labels_is_eq8():
    """With y in {0, 1}: FL = -alpha_t (1 - p_t)^gamma log(p_t) (eqs. 7-8)."""
    preds = [0.9, 0.3, 0.6, 0.05, 0.5, 0.99]
    labels = [1.0, 1.0, 0.0, 0.0, 1.0, 0.0]
    a, g = 0.5, 3.0
    terms = []
    for p, y in zip(preds, labels):
        p_t = p if y == 1 else 1 - p
        a_t = a if y == 1 else 1 - a
        terms.append(-a_t * (1 - p_t) ** g * math.log(p_t))
    expected = sum(terms) / len(terms)
    pt = torch.tensor(preds, dtype=torch.float64).reshape(1, 1, 2, 3)
    yt = torch.tensor(labels, dtype=torch.float64).reshape(1, 1, 2, 3)
    assert focal_loss(pt, yt, alpha=a, gamma=g).item() == pytest.approx(expected, rel=1e-10)
    assert FocalLoss(alpha=a, gamma=g)(pt, yt).item() == pytest.approx(expected, rel=1e-10)


def test_focal_clamps_extreme_probabilities():
    p = torch.tensor([[[[0.0, 1.0]]]], dtype=torch.float64)
    y = torch.tensor([[[[1.0, 0.0]]]], dtype=torch.float64)
    eps = 1e-6
    # both pixels are maximally wrong: p clamped to eps / 1 - eps
    expected = (-(0.25 * (1 - eps) ** 2 * math.log(eps)) - (0.75 * (1 - eps) ** 2 * math.log(eps))) / 2
    out = focal_loss(p, y)
    assert math.isfinite(out.item())
    assert out.item() == pytest.approx(expected, rel=1e-10)


def test_dice_hand_case_per_image_then_batch_mean():
    # image 0: the P/Y case; image 1: all-zero target, pred 0.5 everywhere
    p0, y0 = pair()
    p1 = torch.full((1, 1, 2, 2), 0.5, dtype=torch.float64)
    y1 = torch.zeros((1, 1, 2, 2), dtype=torch.float64)
    p, y = torch.cat([p0, p1]), torch.cat([y0, y1])
    inter0 = 0.9 * 1.0 + 0.2 * 0.0 + 0.5 * 0.25 + 0.0
    dice0 = (2 * inter0 + 1) / (sum(P) + sum(Y) + 1)
    dice1 = (0 + 1) / (2.0 + 0 + 1)
    expected = ((1 - dice0) + (1 - dice1)) / 2
    assert dice_loss(p, y).item() == pytest.approx(expected, rel=1e-12)
    smooth = 0.5
    dice0s = (2 * inter0 + smooth) / (sum(P) + sum(Y) + smooth)
    dice1s = smooth / (2.0 + smooth)
    assert dice_loss(p, y, smooth=smooth).item() == pytest.approx(((1 - dice0s) + (1 - dice1s)) / 2, rel=1e-12)


def test_dice_identical_binary_maps_zero_loss():
    m = torch.tensor([[1, 0, 1], [0, 0, 1]], dtype=torch.float32).reshape(1, 1, 2, 3)
    assert dice_loss(m, m.clone()).item() == pytest.approx(0.0, abs=1e-7)


def test_dice_real_image_predicted_zero_is_zero_loss():
    z = torch.zeros(2, 1, 4, 4)
    assert dice_loss(z, z.clone()).item() == 0.0


def test_perfect_prediction_zero_for_regression_losses():
    p, _ = pair()
    assert l1_loss(p, p.clone()).item() == 0.0
    assert l2_loss(p, p.clone()).item() == 0.0


# --------------------------------------------------------------------------- API shape

@pytest.mark.parametrize("name", sorted(FUNCS))
def test_function_equals_module(name):
    g = torch.Generator().manual_seed(0)
    p = torch.rand(3, 1, 5, 4, generator=g)
    y = torch.rand(3, 1, 5, 4, generator=g)
    assert torch.equal(FUNCS[name](p, y), MODULES[name]()(p, y))
    assert torch.equal(FUNCS[name](p, y), MAP_LOSSES[name]()(p, y))


@pytest.mark.parametrize("name", sorted(FUNCS))
def test_bchw_and_bhw_give_same_value(name):
    g = torch.Generator().manual_seed(1)
    p = torch.rand(2, 1, 6, 7, generator=g)
    y = torch.rand(2, 1, 6, 7, generator=g)
    out4 = FUNCS[name](p, y)
    out3 = FUNCS[name](p[:, 0], y[:, 0])
    assert out4.ndim == 0 and out3.ndim == 0
    assert out4.item() == pytest.approx(out3.item(), rel=1e-6)


@pytest.mark.parametrize("name", sorted(FUNCS))
@pytest.mark.parametrize("shapes", [
    ((2, 1, 4, 4), (2, 1, 4, 5)),   # sizes differ
    ((2, 1, 4, 4), (2, 4, 4)),      # Bx1xHxW vs BxHxW
    ((2, 3, 4, 4), (2, 3, 4, 4)),   # more than one channel
    ((4, 4), (4, 4)),               # no batch
])
def test_bad_shapes_raise(name, shapes):
    with pytest.raises(ValueError):
        FUNCS[name](torch.rand(*shapes[0]), torch.rand(*shapes[1]))


@pytest.mark.parametrize("name", sorted(FUNCS))
def test_gradients_flow(name):
    g = torch.Generator().manual_seed(2)
    logits = torch.randn(2, 1, 8, 8, generator=g, requires_grad=True)
    y = torch.rand(2, 1, 8, 8, generator=g)
    loss = MODULES[name]()(torch.sigmoid(logits), y)
    loss.backward()
    assert logits.grad is not None
    assert torch.isfinite(logits.grad).all()
    assert logits.grad.abs().sum() > 0


# --------------------------------------------------------------------------- locator objective

def test_registry_names():
    assert set(MAP_LOSSES) == {"l1", "l2", "focal", "dice", "ssim", "coss"}
    assert isinstance(make_map_loss("focal", gamma=1.0), FocalLoss)
    with pytest.raises(ValueError):
        make_map_loss("huber")
    with pytest.raises(ValueError):
        LocatorLoss("huber")


def test_locator_loss_without_classifier():
    p, y = pair()
    out = LocatorLoss("l1")(p, y)
    assert set(out) == {"loss", "map", "cls"}
    expected = (0.1 + 0.2 + 0.25) / 4
    assert out["map"].item() == pytest.approx(expected, abs=1e-12)
    assert out["cls"].item() == 0.0 and out["cls"].ndim == 0
    assert out["loss"].item() == pytest.approx(expected, abs=1e-12)


def test_locator_loss_with_classifier_hand_case():
    p = torch.tensor(P * 2, dtype=torch.float64).reshape(2, 1, 2, 2)
    y = torch.tensor(Y * 2, dtype=torch.float64).reshape(2, 1, 2, 2)
    logit = torch.tensor([2.0, -1.0], dtype=torch.float64)
    label = torch.tensor([1, 1])  # integer labels are cast to float
    sig = [1 / (1 + math.exp(-2.0)), 1 / (1 + math.exp(1.0))]
    bce = -(math.log(sig[0]) + math.log(sig[1])) / 2
    l2 = (0.1 ** 2 + 0.2 ** 2 + 0.25 ** 2) / 4
    out = LocatorLoss("l2", cls_weight=0.5)(p, y, logit, label)
    assert out["map"].item() == pytest.approx(l2, rel=1e-12)
    assert out["cls"].item() == pytest.approx(bce, rel=1e-12)
    assert out["loss"].item() == pytest.approx(l2 + 0.5 * bce, rel=1e-12)
    assert out["cls"].item() == pytest.approx(
        TF.binary_cross_entropy_with_logits(logit, label.double()).item(), rel=1e-12)


def test_locator_loss_kwargs_reach_map_loss():
    p, y = pair()
    out = LocatorLoss("dice", cls_weight=0.0, smooth=0.5)(p, y)
    assert out["map"].item() == pytest.approx(dice_loss(p, y, smooth=0.5).item(), rel=1e-12)


def test_locator_loss_bad_classifier_inputs():
    p, y = pair((2, 1, 1, 2))
    loss = LocatorLoss()
    with pytest.raises(ValueError):
        loss(p, y, torch.zeros(2), None)
    with pytest.raises(ValueError):
        loss(p, y, torch.zeros(2, 1), torch.zeros(2, 1))
    with pytest.raises(ValueError):
        loss(p, y, torch.zeros(3), torch.zeros(3))


def test_locator_loss_backward_reaches_map_and_classifier():
    g = torch.Generator().manual_seed(3)
    map_logits = torch.randn(2, 1, 8, 8, generator=g, requires_grad=True)
    cls_logit = torch.randn(2, generator=g, requires_grad=True)
    y = torch.rand(2, 1, 8, 8, generator=g)
    out = LocatorLoss("l1", cls_weight=0.1)(torch.sigmoid(map_logits), y, cls_logit, torch.tensor([0.0, 1.0]))
    out["loss"].backward()
    assert map_logits.grad is not None and map_logits.grad.abs().sum() > 0
    assert cls_logit.grad is not None and cls_logit.grad.abs().sum() > 0


# --- SSIM loss and loss sums (beyond the paper) --------------------------------------------------

def test_ssim_loss_matches_the_metric_and_has_gradients():
    import numpy as np
    from skimage.metrics import structural_similarity

    from fklib.losses import SSIMLoss, make_map_loss, ssim_loss

    gen = torch.Generator().manual_seed(5)
    pred = torch.rand(2, 1, 16, 16, generator=gen, requires_grad=True)
    target = torch.rand(2, 1, 16, 16, generator=gen)
    expected = 1.0 - np.mean([structural_similarity(pred[i, 0].detach().double().numpy(),
                                                    target[i, 0].double().numpy(), data_range=1.0)
                              for i in range(2)])
    loss = ssim_loss(pred, target)
    assert loss.item() == pytest.approx(expected, abs=1e-5)
    assert SSIMLoss()(pred, target).item() == pytest.approx(loss.item())
    loss.backward()
    assert pred.grad is not None and pred.grad.abs().sum() > 0
    assert ssim_loss(target, target).item() == pytest.approx(0.0, abs=1e-6)
    both = make_map_loss("l1+ssim")(pred.detach(), target)
    assert both.item() == pytest.approx(expected + (pred.detach() - target).abs().mean().item(), abs=1e-5)
    with pytest.raises(ValueError, match="unknown map loss 'l3'"):
        make_map_loss("l1+l3")


def test_locator_loss_pos_weight_balances_the_classes():
    from fklib.losses import LocatorLoss

    pred = torch.zeros(2, 1, 4, 4)
    logit = torch.tensor([0.3, -1.2])
    label = torch.tensor([1.0, 0.0])
    w = 0.25
    expected = -(w * math.log(1 / (1 + math.exp(-0.3))) + math.log(1 - 1 / (1 + math.exp(1.2)))) / 2
    out = LocatorLoss("l1", cls_weight=1.0, pos_weight=w)(pred, pred, logit, label)
    assert out["cls"].item() == pytest.approx(expected, rel=1e-6)


# --------------------------------------------------------------------------- weighted sums, the cosine term

def test_loss_terms_parse_weights_and_refuse_bad_ones():
    from fklib.losses import loss_terms

    assert loss_terms("l1+10*l2+0.5*coss") == [(1.0, "l1"), (10.0, "l2"), (0.5, "coss")]
    assert loss_terms("ssim") == [(1.0, "ssim")]
    for bad in ("l1+0*l2", "l1+x*l2", "l1+-2*l2", "l1+inf*l2", "huber", "l1+"):
        with pytest.raises(ValueError):
            loss_terms(bad)


def test_weighted_sum_is_the_weighted_sum_of_its_terms():
    p, y = pair((2, 1, 1, 2))
    got = make_map_loss("l1+10*l2")(p, y).item()
    assert got == pytest.approx(l1_loss(p, y).item() + 10 * l2_loss(p, y).item(), rel=1e-12)
    # the hand case: l1 = (0.1 + 0.2 + 0.25 + 0) / 4, l2 = (0.01 + 0.04 + 0.0625 + 0) / 4
    assert got == pytest.approx(0.55 / 4 + 10 * 0.1125 / 4, rel=1e-12)


def test_cosine_loss_is_one_minus_coss_over_the_fakes_and_scale_free():
    from fklib.losses import cosine_loss
    from fklib.metrics.functional import coss

    g = torch.Generator().manual_seed(0)
    pred, target = torch.rand(3, 1, 8, 8, generator=g, dtype=torch.float64), torch.rand(3, 1, 8, 8, generator=g,
                                                                                        dtype=torch.float64)
    target[1] = 0  # a real image: no direction, no part in the loss
    expected = sum(1 - coss(pred[i, 0].numpy(), target[i, 0].numpy()) for i in (0, 2)) / 2
    assert cosine_loss(pred, target).item() == pytest.approx(expected, rel=1e-9)
    assert cosine_loss(0.1 * pred, target).item() == pytest.approx(expected, rel=1e-9)   # blind to the map's level
    assert cosine_loss(target.clone(), target).item() == pytest.approx(0.0, abs=1e-12)
    reals = torch.zeros(2, 1, 4, 4)
    p = torch.rand(2, 1, 4, 4, requires_grad=True)
    out = cosine_loss(p, reals)
    out.backward()                                                                        # an all-real batch: 0, with a gradient
    assert out.item() == 0.0 and torch.equal(p.grad, torch.zeros_like(p))
