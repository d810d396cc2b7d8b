"""Evaluation metrics (paper §5.1): definitions pinned on hand cases, scikit-image and brute force."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from skimage.metrics import structural_similarity

from fklib.metrics import (
    REFERENCE_KINDS,
    PixelStats,
    ReferenceMaps,
    accuracy,
    balanced_accuracy,
    auc_from_histograms,
    choose_threshold,
    classifier_accuracy,
    coss,
    f1_from_stats,
    iou_from_stats,
    mae,
    mean_excluding_nan,
    per_image_metrics,
    pixel_auc,
    pixel_stats,
    pooled_auc,
    pooled_f1_iou,
    psnr,
    score_histograms,
    ssim,
    ssim_batch,
    zero_map,
)


def blob_map(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A GT-like map: a few Gaussian blobs on an all-zero background, in [0, 1]."""
    yy, xx = np.mgrid[0:h, 0:w]
    out = np.zeros((h, w))
    for _ in range(3):
        cy, cx = rng.uniform(0, h), rng.uniform(0, w)
        s = rng.uniform(2, max(h, w) / 4)
        out += rng.uniform(0.2, 1.0) * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * s * s))
    out[out < 0.05] = 0.0
    return np.clip(out, 0, 1).astype(np.float32)


def noisy(rng: np.random.Generator, m: np.ndarray, sigma: float = 0.1) -> np.ndarray:
    return np.clip(m + rng.normal(0, sigma, m.shape), 0, 1).astype(np.float32)


# --------------------------------------------------------------------------- PSNR

def test_psnr_identical_is_100():
    m = np.random.default_rng(0).random((16, 16))
    assert psnr(m, m.copy()) == 100.0
    assert psnr(np.zeros((8, 8)), np.zeros((8, 8))) == 100.0


def test_psnr_known_mse():
    gt = np.zeros((10, 10))
    pred = gt.copy()
    pred.flat[[3, 17, 55, 90]] = 0.5  # MSE = 4 * 0.25 / 100 = 0.01
    assert psnr(pred, gt) == 20.0
    pred2 = np.full((4, 4), 0.5)  # MSE 0.25 -> 10 log10(4)
    assert psnr(pred2, np.zeros((4, 4))) == pytest.approx(10 * math.log10(4.0), abs=1e-12)


def test_psnr_accepts_torch():
    rng = np.random.default_rng(1)
    a, b = rng.random((9, 11)).astype(np.float32), rng.random((9, 11)).astype(np.float32)
    assert psnr(torch.from_numpy(a), torch.from_numpy(b)) == psnr(a, b)


# --------------------------------------------------------------------------- COSS

def test_coss_self_and_orthogonal():
    rng = np.random.default_rng(2)
    m = rng.random((12, 12))
    assert coss(m, m.copy()) == pytest.approx(1.0, abs=1e-12)
    assert coss(m, 3 * m) == pytest.approx(1.0, abs=1e-12)
    a = np.zeros((4, 4)); a[:2] = 0.7
    b = np.zeros((4, 4)); b[2:] = 0.3
    assert coss(a, b) == 0.0


def test_coss_hand_case():
    p = np.array([[0.5, 0.5], [0.0, 0.0]])
    g = np.array([[0.5, 0.0], [0.0, 0.0]])
    # <p, g> = 0.25, ||p|| = sqrt(0.5), ||g|| = 0.5
    assert coss(p, g) == pytest.approx(0.25 / (math.sqrt(0.5) * 0.5), abs=1e-12)


def test_coss_zero_cases():
    z = np.zeros((5, 5))
    m = np.full((5, 5), 0.2)
    assert coss(z, z.copy()) == 1.0
    assert coss(z, m) == 0.0
    assert coss(m, z) == 0.0


# --------------------------------------------------------------------------- SSIM

def _ssim_pairs(h: int, w: int, n: int, seed: int):
    rng = np.random.default_rng(seed)
    pairs = []
    for i in range(n):
        if i % 2 == 0:   # random maps
            pairs.append((rng.random((h, w)).astype(np.float32), rng.random((h, w)).astype(np.float32)))
        else:            # structured: GT-like blobs and a noisy, blurred-ish prediction
            gt = blob_map(rng, h, w)
            pairs.append((noisy(rng, gt, 0.05 * i), gt))
    gt0 = blob_map(rng, h, w)
    pairs.append((gt0, gt0.copy()))                              # identical
    pairs.append((np.zeros((h, w), np.float32), np.zeros((h, w), np.float32)))  # real image, perfect
    pairs.append((noisy(rng, np.zeros((h, w)), 0.05), np.zeros((h, w), np.float32)))  # real image, noisy
    return pairs


@pytest.mark.parametrize("h,w", [(128, 128), (37, 53)])
def test_ssim_matches_skimage(h, w):
    for pred, gt in _ssim_pairs(h, w, 10, seed=h):
        ref = structural_similarity(pred.astype(np.float64), gt.astype(np.float64), data_range=1.0)
        assert ssim(pred, gt) == pytest.approx(ref, abs=1e-12)
        # skimage on the float32 inputs computes in float32: agree to float32 precision
        assert ssim(pred, gt) == pytest.approx(structural_similarity(pred, gt, data_range=1.0), abs=1e-5)


@pytest.mark.parametrize("h,w", [(128, 128), (37, 53)])
def test_ssim_batch_matches_skimage(h, w):
    pairs = _ssim_pairs(h, w, 10, seed=h + 1)
    preds = torch.from_numpy(np.stack([p for p, _ in pairs]))[:, None]
    gts = torch.from_numpy(np.stack([g for _, g in pairs]))[:, None]
    out = ssim_batch(preds, gts)
    assert out.shape == (len(pairs),)
    ref = np.array([structural_similarity(p.astype(np.float64), g.astype(np.float64), data_range=1.0)
                    for p, g in pairs])
    np.testing.assert_allclose(out.numpy(), ref, atol=1e-4, rtol=0)
    np.testing.assert_allclose(ssim_batch(preds[:, 0], gts[:, 0]).numpy(), out.numpy(), atol=0, rtol=0)


def test_ssim_identical_is_one():
    m = blob_map(np.random.default_rng(3), 20, 20)
    assert ssim(m, m.copy()) == pytest.approx(1.0, abs=1e-12)


# --------------------------------------------------------------------------- in-region metrics (Table 5)

def _masked_case(seed: int = 4):
    rng = np.random.default_rng(seed)
    gt = blob_map(rng, 24, 20)
    pred = noisy(rng, gt, 0.1)
    mask = np.zeros((24, 20), dtype=bool)
    mask[5:17, 3:15] = True
    mask[0, 0] = True
    return pred.astype(np.float64), gt.astype(np.float64), mask


def test_masked_coss_psnr_mae_use_only_masked_pixels():
    pred, gt, mask = _masked_case()
    p, g = pred[mask], gt[mask]
    assert coss(pred, gt, mask) == pytest.approx(float(p @ g) / (np.linalg.norm(p) * np.linalg.norm(g)), abs=1e-12)
    assert psnr(pred, gt, mask) == pytest.approx(-10 * math.log10(float(np.mean((p - g) ** 2))), abs=1e-9)
    assert mae(pred, gt, mask) == pytest.approx(float(np.mean(np.abs(p - g))), abs=1e-12)
    # pixels outside the mask do not matter
    pred2 = pred.copy()
    pred2[~mask] = 1.0 - pred2[~mask]
    assert coss(pred2, gt, mask) == coss(pred, gt, mask)
    assert psnr(pred2, gt, mask) == psnr(pred, gt, mask)


def test_masked_ssim_is_mean_of_full_map_over_mask():
    pred, gt, mask = _masked_case(5)
    _, full = structural_similarity(pred, gt, data_range=1.0, full=True)
    assert ssim(pred, gt, mask) == pytest.approx(float(full[mask].mean()), abs=1e-12)
    assert ssim(pred, gt, np.ones_like(mask)) == pytest.approx(float(full.mean()), abs=1e-12)


def test_empty_mask_gives_nan():
    pred, gt, _ = _masked_case()
    empty = np.zeros(pred.shape, dtype=bool)
    for f in (coss, psnr, ssim, mae):
        assert math.isnan(f(pred, gt, empty))
    assert all(math.isnan(v) for v in per_image_metrics(pred, gt, empty).values())


def test_bad_masks_raise():
    pred, gt, mask = _masked_case()
    with pytest.raises(ValueError):
        coss(pred, gt, mask.astype(np.float32))  # soft masks are refused
    with pytest.raises(ValueError):
        psnr(pred, gt, mask[:-1])
    assert coss(pred, gt, mask.astype(np.uint8)) == coss(pred, gt, mask)


# --------------------------------------------------------------------------- AUC / F1 / IoU

GT44 = np.array([[0.5, 0.1, 0.0, 0.2],
                 [0.0, 0.9, 0.05, 0.0],
                 [0.3, 0.0, 0.0, 0.11],
                 [0.0, 0.0, 0.7, 0.0]])
PRED44 = np.array([[0.9, 0.5, 0.0, 0.0],
                   [0.1, 0.8, 0.0, 0.0],
                   [0.2, 0.3, 0.0, 0.0],
                   [0.0, 0.0, 0.0, 0.6]])


def test_f1_iou_hand_counted_4x4():
    # GT > 0.1 at (0,0) (0,3) (1,1) (2,0) (2,3) (3,2); the 0.1 at (0,1) is NOT positive.
    # pred > 0.1 at (0,0) (0,1) (1,1) (2,0) (2,1) (3,3); the 0.1 at (1,0) is NOT positive.
    st = pixel_stats(PRED44, GT44, tau=0.1)
    assert st == PixelStats(tp=3, fp=3, fn=3, tn=7)
    assert f1_from_stats(st) == 6 / 12
    assert iou_from_stats(st) == 3 / 9
    # SSIM needs 7x7: pad both with zeros (48 more true negatives)
    m = per_image_metrics(np.pad(PRED44, ((0, 4), (0, 4))), np.pad(GT44, ((0, 4), (0, 4))))
    assert set(m) == {"coss", "psnr", "ssim", "mae", "auc", "f1", "iou", "f1_imdl", "iou_imdl"}
    assert (m["f1"], m["iou"]) == (0.5, 3 / 9)
    # IMDL-style: the prediction at 0.5 -> positives (0,0) (1,1) (3,3): tp 2, fp 1, fn 4
    assert pixel_stats(PRED44, GT44, tau=0.1, pred_tau=0.5) == PixelStats(tp=2, fp=1, fn=4, tn=9)
    assert (m["f1_imdl"], m["iou_imdl"]) == (4 / 9, 2 / 7)


def test_pixel_stats_mask():
    mask = np.zeros((4, 4), dtype=bool)
    mask[:2] = True  # rows 0-1: TP (0,0) (1,1); FP (0,1); FN (0,3); TN the other 4
    assert pixel_stats(PRED44, GT44, mask=mask) == PixelStats(2, 1, 1, 4)


def test_empty_gt_rules():
    z = np.zeros((4, 4))
    assert math.isnan(pixel_auc(PRED44, z))
    st = pixel_stats(z, z)
    assert f1_from_stats(st) == 1.0 and iou_from_stats(st) == 1.0
    st = pixel_stats(PRED44, z)
    assert f1_from_stats(st) == 0.0 and iou_from_stats(st) == 0.0
    # a GT without negatives: AUC undefined, F1/IoU by their formulas
    ones = np.ones((4, 4))
    assert math.isnan(pixel_auc(PRED44, ones))
    assert f1_from_stats(pixel_stats(ones, ones)) == 1.0
    assert iou_from_stats(pixel_stats(PRED44, ones)) == 6 / 16


def brute_force_auc(scores: np.ndarray, positive: np.ndarray) -> float:
    pos, neg = scores[positive], scores[~positive]
    total = 0.0
    for a, b in itertools.product(pos, neg):
        total += 1.0 if a > b else 0.5 if a == b else 0.0
    return total / (pos.size * neg.size)


def test_pixel_auc_vs_brute_force():
    rng = np.random.default_rng(6)
    for trial in range(8):
        gt = rng.random((6, 7)) * (rng.random((6, 7)) < 0.4)
        pred = np.round(np.clip(gt + rng.normal(0, 0.3, gt.shape), 0, 1), 1)  # coarse: many ties
        if trial == 0:
            pred[:] = 0.5  # all tied: AUC 0.5
        ref = brute_force_auc(pred.ravel(), (gt > 0.1).ravel())
        assert pixel_auc(pred, gt) == pytest.approx(ref, abs=1e-12)
        mask = rng.random((6, 7)) < 0.7
        sel = mask.ravel()
        ref_m = brute_force_auc(pred.ravel()[sel], (gt > 0.1).ravel()[sel])
        assert pixel_auc(pred, gt, mask=mask) == pytest.approx(ref_m, abs=1e-12)
    assert pixel_auc(PRED44, GT44) == pytest.approx(brute_force_auc(PRED44.ravel(), (GT44 > 0.1).ravel()))


def test_pooled_auc_vs_exact():
    rng = np.random.default_rng(7)
    preds, gts = [], []
    for i in range(6):
        h, w = 32 + i, 40 - i  # sizes may differ
        gt = blob_map(rng, h, w) if i != 2 else np.zeros((h, w), np.float32)  # one real image
        preds.append(noisy(rng, gt, 0.2))
        gts.append(gt)
    all_p = np.concatenate([p.ravel() for p in preds])[None].astype(np.float64)
    all_g = np.concatenate([g.ravel() for g in gts])[None].astype(np.float64)
    exact = pixel_auc(all_p, all_g)
    assert 0.5 < exact < 1.0
    assert pooled_auc(preds, gts) == pytest.approx(exact, abs=1e-3)
    assert pooled_auc(preds, gts, bins=101) == pytest.approx(exact, abs=2e-2)
    # histograms: the per-image statistics, summed, give the same number
    hists = [score_histograms(p, g) for p, g in zip(preds, gts)]
    pos = sum(h[0] for h in hists)
    neg = sum(h[1] for h in hists)
    assert pos.sum() + neg.sum() == all_p.size
    assert auc_from_histograms(pos, neg) == pooled_auc(preds, gts)
    with pytest.raises(ValueError):
        pooled_auc(preds, gts[:-1])
    assert math.isnan(pooled_auc([np.zeros((3, 3))], [np.zeros((3, 3))]))


def test_pooled_f1_iou_sums_counts():
    a = PixelStats(3, 3, 3, 7)
    b = PixelStats(1, 0, 2, 13)
    empty = PixelStats(0, 0, 0, 16)
    f1, iou = pooled_f1_iou([a, b, empty])
    assert f1 == 2 * 4 / (2 * 4 + 3 + 5)
    assert iou == 4 / (4 + 3 + 5)
    assert pooled_f1_iou([empty, empty]) == (1.0, 1.0)
    with pytest.raises(ValueError):
        pooled_f1_iou([])


def test_mean_excluding_nan():
    assert mean_excluding_nan([math.nan, 0.5, 1.0]) == 0.75
    assert math.isnan(mean_excluding_nan([math.nan, math.nan]))


# --------------------------------------------------------------------------- ACC and threshold

def test_accuracy_hand_case():
    scores, labels = [0.1, 0.4, 0.45, 0.8], [0, 0, 1, 1]
    assert accuracy(scores, labels, 0.3) == 0.75
    assert accuracy(scores, labels, 0.4) == 1.0  # 0.4 > 0.4 is False: strict
    assert accuracy(np.array(scores), np.array(labels, dtype=bool), 0.9) == 0.5


def test_classifier_accuracy_hand_case():
    logits, labels = [-2.0, 0.5, 3.0, -0.1], [0, 1, 1, 1]
    assert classifier_accuracy(logits, labels) == 0.75
    assert classifier_accuracy(torch.tensor([0.0]), torch.tensor([0])) == 1.0  # sigmoid(0) = 0.5 is real


def test_choose_threshold_hand_cases():
    # candidates 0.15 -> 3/5, 0.25 -> 4/5, 0.35 -> 3/5, 0.45 -> 4/5: tie, lowest wins
    scores, labels = [0.1, 0.2, 0.3, 0.4, 0.5], [0, 0, 1, 0, 1]
    t = choose_threshold(scores, labels)
    assert t == pytest.approx(0.25, abs=1e-15)
    assert accuracy(scores, labels, t) == 0.8
    assert choose_threshold([0.02, 0.05, 0.3, 0.6], [0, 0, 1, 1]) == pytest.approx(0.175, abs=1e-15)
    t_all_fake = choose_threshold([0.3, 0.5], [1, 1])
    assert t_all_fake < 0.3 and accuracy([0.3, 0.5], [1, 1], t_all_fake) == 1.0
    assert choose_threshold([0.3, 0.5], [0, 0]) == 0.5
    # duplicated scores with mixed labels
    t = choose_threshold([0.2, 0.2, 0.2, 0.7], [0, 0, 1, 1])
    assert t == pytest.approx(0.45) and accuracy([0.2, 0.2, 0.2, 0.7], [0, 0, 1, 1], t) == 0.75


def test_choose_threshold_is_best_on_random_data():
    rng = np.random.default_rng(8)
    labels = rng.random(60) < 0.5
    scores = np.round(rng.random(60) * 0.5 + 0.3 * labels, 2)
    t = choose_threshold(scores, labels)
    grid = np.concatenate([[-1.0], np.unique(scores)])
    assert accuracy(scores, labels, t) == max(accuracy(scores, labels, g) for g in grid)


def test_classification_bad_inputs():
    with pytest.raises(ValueError):
        accuracy([0.1, 0.2], [0, 1, 1], 0.5)
    with pytest.raises(ValueError):
        accuracy([0.1, 0.2], [0, 2], 0.5)
    with pytest.raises(ValueError):
        choose_threshold([], [])


# --------------------------------------------------------------------------- reference predictors

def _reference_case():
    maps = np.array([
        [[1, 0], [0, 0]],   # fake, Bald
        [[0, 0], [1, 1]],   # fake, Bald
        [[0, 1], [0, 0]],   # fake, Smile
        [[1, 1], [1, 1]],   # real: ignored whatever its map
    ], dtype=np.float32)
    return maps, [1, 1, 1, 0], ["Bald", "Bald", "Smile", "Bald"]


def test_reference_maps_hand_case(tmp_path):
    ref = ReferenceMaps.fit(*_reference_case())
    assert ref.shape == (2, 2)
    assert REFERENCE_KINDS == ("zeros", "global_mean", "property_mean", "layout_prior")
    np.testing.assert_array_equal(ref.predict("zeros"), np.zeros((2, 2)))
    assert ref.predict("zeros", shape=(3, 4)).shape == (3, 4)
    np.testing.assert_allclose(ref.predict("global_mean"), np.full((2, 2), 1 / 3), atol=1e-7)
    np.testing.assert_allclose(ref.predict("property_mean", "Bald"), [[0.5, 0.0], [0.5, 0.5]], atol=0)
    np.testing.assert_allclose(ref.predict("property_mean", "Smile"), [[0.0, 1.0], [0.0, 0.0]], atol=0)
    # unseen property: the global mean
    np.testing.assert_array_equal(ref.predict("property_mean", "Eyeglasses"), ref.global_mean)
    assert ref.property_counts == {"Bald": 2, "Smile": 1}
    # predictions are copies
    ref.predict("global_mean")[:] = 7
    assert ref.global_mean.max() < 1

    written = ref.save(tmp_path / "ref")
    assert written.name == "ref.npz"
    back = ReferenceMaps.load(written)
    for kind, prop in [("global_mean", None), ("property_mean", "Bald"), ("property_mean", "Smile")]:
        np.testing.assert_array_equal(back.predict(kind, prop), ref.predict(kind, prop))
    assert back.property_counts == ref.property_counts
    with np.load(written, allow_pickle=False) as z:
        assert set(z.files) == {"global_mean", "names", "means", "counts"}


def test_layout_prior_hand_case():
    """T[p, c] = mean GT of p's training fakes over the pixels of class c; fall-backs; the geometric mean."""
    from fklib.metrics import LayoutPrior, References

    maps, labels, props = _reference_case()
    parsings = np.array([[[0, 1], [1, 1]], [[0, 0], [1, 1]], [[1, 1], [0, 0]], [[2, 2], [2, 2]]])
    prior = LayoutPrior.fit(maps, parsings, labels, props, num_classes=3)
    # Bald: class 0 pixels: 1 (image 0) and 0, 0 (image 1) -> 1/3; class 1: 0, 0, 0 (image 0), 1, 1 (image 1) -> 2/5
    np.testing.assert_allclose(prior.tables["Bald"], [1 / 3, 2 / 5, 4 / 12])           # class 2: the fall-back
    # all fakes: class 0: 1, 0, 0, 0, 0 -> 1/5; class 1: 0, 0, 0, 1, 1, 0, 1 -> 3/7; class 2: no pixel -> the mean 4/12
    np.testing.assert_allclose(prior.global_table, [1 / 5, 3 / 7, 4 / 12])
    np.testing.assert_allclose(prior.tables["Smile"], [0.0, 0.5, 4 / 12])
    np.testing.assert_allclose(prior.lookup("Bald", np.array([[1, 0], [2, 1]])), [[0.4, 1 / 3], [1 / 3, 0.4]],
                               rtol=1e-6)
    np.testing.assert_allclose(prior.lookup("Unseen", np.array([[0]])), [[0.2]], rtol=1e-6)
    refs = References(ReferenceMaps.fit(maps, labels, props), prior)
    got = refs.predict("layout_prior", "Bald", parsing=np.array([[1, 0], [2, 1]]))
    np.testing.assert_allclose(got, np.sqrt(np.array([[0.4, 1 / 3], [1 / 3, 0.4]]) * [[0.5, 0.0], [0.5, 0.5]]),
                               rtol=1e-6)
    with pytest.raises(ValueError, match="parsing"):
        refs.predict("layout_prior", "Bald")
    assert References(ReferenceMaps.fit(maps, labels, props)).kinds == REFERENCE_KINDS[:3]


def test_reference_maps_errors():
    maps, labels, props = _reference_case()
    ref = ReferenceMaps.fit(maps, labels, props)
    with pytest.raises(ValueError):
        ref.predict("median")
    with pytest.raises(ValueError):
        ref.predict("global_mean", shape=(3, 3))
    with pytest.raises(ValueError):
        ref.predict("property_mean")
    with pytest.raises(ValueError):
        ReferenceMaps.fit(maps, [0, 0, 0, 0], props)
    with pytest.raises(ValueError):
        ReferenceMaps.fit(maps[0], labels, props)
    with pytest.raises(ValueError):
        ReferenceMaps.fit(maps, labels[:3], props)
    assert zero_map((2, 5)).dtype == np.float32


# --------------------------------------------------------------------------- shapes

PER_IMAGE = [coss, psnr, ssim, mae, pixel_stats, pixel_auc, per_image_metrics]


@pytest.mark.parametrize("fn", PER_IMAGE, ids=lambda f: f.__name__)
def test_shape_mismatch_raises(fn):
    with pytest.raises(ValueError):
        fn(np.zeros((8, 8)), np.zeros((8, 9)))


@pytest.mark.parametrize("fn", PER_IMAGE, ids=lambda f: f.__name__)
def test_3d_input_raises(fn):
    with pytest.raises(ValueError):
        fn(np.zeros((1, 8, 8)), np.zeros((1, 8, 8)))


def test_ssim_too_small_and_batch_shapes_raise():
    with pytest.raises(ValueError):
        ssim(np.zeros((5, 9)), np.zeros((5, 9)))
    with pytest.raises(ValueError):
        ssim_batch(torch.zeros(2, 1, 8, 8), torch.zeros(2, 1, 8, 9))
    with pytest.raises(ValueError):
        ssim_batch(torch.zeros(2, 3, 8, 8), torch.zeros(2, 3, 8, 8))
    with pytest.raises(ValueError):
        ssim_batch(torch.zeros(2, 1, 6, 8), torch.zeros(2, 1, 6, 8))


def test_per_image_metrics_agree_with_single_functions():
    pred, gt, mask = _masked_case(9)
    for m in (None, mask):
        out = per_image_metrics(pred, gt, m)
        assert out["coss"] == coss(pred, gt, m)
        assert out["psnr"] == psnr(pred, gt, m)
        assert out["ssim"] == ssim(pred, gt, m)
        assert out["mae"] == mae(pred, gt, m)
        assert out["auc"] == pixel_auc(pred, gt, mask=m)
        st = pixel_stats(pred, gt, mask=m)
        assert (out["f1"], out["iou"]) == (f1_from_stats(st), iou_from_stats(st))
        assert all(isinstance(v, float) for v in out.values())


# --- batched COSS / PSNR (used by training validation and evaluation) ---------------------------

def test_coss_and_psnr_batch_match_per_image_definitions():
    from fklib.metrics import coss_batch, psnr_batch

    gen = torch.Generator().manual_seed(3)
    pred = torch.rand(5, 1, 16, 12, generator=gen)
    gt = torch.rand(5, 1, 16, 12, generator=gen)
    gt[1] = 0.0                 # one zero map
    pred[2] = 0.0
    gt[2] = 0.0                 # both zero
    gt[3] = pred[3]             # identical
    c, p = coss_batch(pred, gt), psnr_batch(pred, gt)
    for i in range(5):
        assert c[i].item() == pytest.approx(coss(pred[i, 0], gt[i, 0]), abs=1e-12)
        assert p[i].item() == pytest.approx(psnr(pred[i, 0], gt[i, 0]), abs=1e-9)
    assert (c[1].item(), c[2].item(), p[3].item()) == (0.0, 1.0, 100.0)
    with pytest.raises(ValueError, match="differ in shape"):
        coss_batch(pred, gt[:, :, :8])


def test_region_metrics_masked_and_zeroed_definitions():
    """Table 5's two in-region definitions, against direct numpy / scikit-image computations."""
    from skimage.metrics import structural_similarity

    from fklib.metrics.per_image import region_map_metrics

    rng = np.random.default_rng(3)
    p, g = rng.random((2, 24, 24)) * 0.5
    m = np.zeros((24, 24), bool)
    m[4:12, 6:20] = True
    out = region_map_metrics(torch.tensor(np.stack([p, p]))[:, None], torch.tensor(np.stack([g, g]))[:, None],
                             [m, None])
    pm, gm = p[m], g[m]
    assert out["coss_region"][0] == pytest.approx(pm @ gm / np.sqrt((pm @ pm) * (gm @ gm)))
    assert out["psnr_region"][0] == pytest.approx(10 * np.log10(1 / np.mean((pm - gm) ** 2)))
    pz, gz = p * m, g * m
    assert out["psnr_zeroed"][0] == pytest.approx(10 * np.log10(1 / np.mean((pz - gz) ** 2)))
    assert out["ssim_zeroed"][0] == pytest.approx(structural_similarity(pz, gz, data_range=1.0))
    assert out["coss_zeroed"][0] == pytest.approx(out["coss_region"][0])     # zeros add nothing to a cosine
    assert out["psnr_zeroed"][0] > out["psnr_region"][0]                     # the agreeing zeros outside count
    assert all(np.isnan(out[f"{k}_{d}"][1]) for k in ("coss", "psnr", "ssim") for d in ("region", "zeroed"))


def test_localization_scores_of_an_image_without_fake_pixels_are_undefined():
    from fklib.metrics import batch_map_metrics

    p8, g8 = np.tile(PRED44, (2, 2)), np.tile(GT44, (2, 2))               # SSIM needs 7 x 7
    z = np.zeros((8, 8))
    out = per_image_metrics(p8, z)
    assert all(math.isnan(out[k]) for k in ("auc", "f1", "iou", "f1_imdl", "iou_imdl"))
    assert not math.isnan(per_image_metrics(z, z)["coss"])
    # the batched form agrees, and its counts keep the real image's false positives for pooling
    pred = torch.tensor(np.stack([p8, p8]), dtype=torch.float64)[:, None]
    gt = torch.tensor(np.stack([g8, z]), dtype=torch.float64)[:, None]
    b = batch_map_metrics(pred, gt)
    st = pixel_stats(p8, g8)
    assert b["f1"][0] == f1_from_stats(st) and math.isnan(b["f1"][1]) and math.isnan(b["iou_imdl"][1])
    assert (b["tp"][0], b["fp"][0], b["fn"][0]) == (st.tp, st.fp, st.fn)
    assert b["fp"][1] == np.count_nonzero(p8 > 0.1) and b["tp"][1] == 0


def test_tau_compared_in_float32_everywhere():
    from fklib.data import binary_map
    from fklib.losses import dffd_gt
    from fklib.metrics.pixel import above

    # 25.5 gray levels: float32 0.1 = 0.100000001, above 0.1 in float64 but not in float32
    g32 = np.full((4, 4), 25.5 / 255, dtype=np.float32)
    assert float(g32[0, 0]) > 0.1 and not above(g32, 0.1).any()
    assert not binary_map(g32).any()
    assert pixel_stats(np.zeros((4, 4)), g32) == PixelStats(0, 0, 0, 16)    # the metrics (float64 inputs cast) agree
    assert pixel_stats(g32.astype(np.float64), np.zeros((4, 4)), pred_tau=0.1).fp == 0
    assert not dffd_gt(torch.from_numpy(g32)[None], size=4).bool().any()
    assert math.isnan(pixel_auc(np.ones((4, 4)), g32))                         # no positive pixel
    assert above(np.nextafter(np.float32(0.1), np.float32(1)), 0.1)         # one float32 step above is positive


def test_balanced_threshold_trusts_the_rare_class():
    """Ten fakes per real: plain ACC is best calling everything fake; balanced accuracy is not."""
    reals = [0.55, 0.6, 0.65]
    fakes = [0.58, 0.59, 0.61, 0.62, 0.64] + [0.9] * 25  # five fakes among the reals
    scores, labels = reals + fakes, [0] * 3 + [1] * 30
    plain = choose_threshold(scores, labels)
    assert 0.55 < plain < 0.58 and accuracy(scores, labels, plain) == pytest.approx(31 / 33)  # 2 of 3 reals fake
    t = choose_threshold(scores, labels, balanced=True)
    assert 0.65 < t < 0.9  # reals all real (TNR 1), five fakes missed (TPR 25/30)
    dec = (np.asarray(scores) > t).astype(float)
    assert balanced_accuracy(dec, labels) == pytest.approx((25 / 30 + 1) / 2)


def test_balanced_threshold_is_best_on_random_data():
    rng = np.random.default_rng(3)
    labels = (rng.random(80) < 0.85).astype(int)
    scores = np.round(rng.random(80) * 0.6 + 0.3 * labels, 2)
    t = choose_threshold(scores, labels, balanced=True)

    def bacc(th):
        d = scores > th
        return (d[labels == 1].mean() + (~d[labels == 0]).mean()) / 2

    grid = np.concatenate([[-1.0], np.unique(scores)])
    assert bacc(t) == pytest.approx(max(bacc(g) for g in grid))
    with pytest.raises(ValueError):
        choose_threshold([0.2, 0.3], [1, 1], balanced=True)


def test_detection_rates_and_values_by_hand():
    from fklib.metrics import detection_rates
    from fklib.metrics.classification import detection_value

    dec, lab = [1, 1, 0, 1, 0, 0, 1], [1, 1, 1, 1, 0, 0, 0]  # TPR 3/4, TNR 2/3
    assert detection_rates(dec, lab) == (pytest.approx(0.75), pytest.approx(2 / 3))
    assert detection_value("bacc", dec, lab) == pytest.approx((0.75 + 2 / 3) / 2)
    assert detection_value("acc", dec, lab) == pytest.approx(5 / 7)
    assert detection_value("tnr", dec, lab) == pytest.approx(2 / 3)
    tpr, tnr = detection_rates([1, 0], [1, 1])
    assert tpr == 0.5 and math.isnan(tnr)
    assert all(math.isnan(v) for v in detection_rates([math.nan, 1], [1, 0]))


def test_decide_uses_the_stored_threshold():
    from fklib.checkpoint import DECISION_KEYS, DecisionRule
    from fklib.metrics import decide

    prob, score = np.array([0.4, 0.6, 0.8]), np.array([0.01, 0.2, 0.3])
    assert decide(prob, score).tolist() == [0.0, 1.0, 1.0]  # 0.5 by default
    assert decide(prob, score, 0.7).tolist() == [0.0, 0.0, 1.0]  # on the probability
    assert decide(None, score, 0.1).tolist() == [0.0, 1.0, 1.0]  # no classifier: on the map mean
    assert np.isnan(decide(None, score)).all()
    payload = {"decision_threshold": "0.7", "no_cl_threshold": 0.1}
    assert DecisionRule.of_payload(payload, True) == DecisionRule(True, 0.7, None)
    assert DecisionRule.of_payload(payload, False) == DecisionRule(False, 0.1, None)
    assert DecisionRule.of_payload({}, True) == DecisionRule(True, None, None)
    # the rule applies the same decision as the functional core, and round-trips through the payload keys
    rule = DecisionRule(True, 0.7, None)
    assert rule.decide(prob, score).tolist() == decide(prob, score, 0.7).tolist() == [0.0, 0.0, 1.0]
    assert DecisionRule(False, 0.1).decide(prob, score).tolist() == [0.0, 1.0, 1.0]   # no cl: the map mean
    assert np.isnan(DecisionRule(False).decide(prob, score)).all()                      # nothing stored: no decision
    for r in (DecisionRule(True, 0.6, 0.02), DecisionRule(True), DecisionRule(False, 0.1), DecisionRule(False)):
        assert set(r.payload()) <= set(DECISION_KEYS) and DecisionRule.of_payload(r.payload(), r.classifier) == r
    assert DecisionRule(True).effective_threshold == 0.5 and DecisionRule(False).effective_threshold is None


def test_decide_with_a_peak_floor_needs_the_map_to_agree():
    from fklib.checkpoint import DecisionRule
    from fklib.metrics import decide, map_peak

    prob, score = np.array([0.4, 0.6, 0.8, 0.9]), np.zeros(4)
    peak = np.array([0.5, 0.01, 0.03, 0.02])
    assert decide(prob, score, 0.5, peak, 0.02).tolist() == [0.0, 0.0, 1.0, 0.0]  # 0.02 is not above 0.02
    assert decide(prob, score, 0.5, peak, None).tolist() == [0.0, 1.0, 1.0, 1.0]
    with pytest.raises(ValueError, match="peak"):
        decide(prob, score, 0.5, None, 0.02)
    assert DecisionRule.of_payload({"decision_peak_floor": "0.03"}, True).peak_floor == 0.03
    assert DecisionRule.of_payload({"decision_peak_floor": 0.03}, False).peak_floor is None
    # one map: its mean, its peak (99th percentile) and p(fake) decide, as for a batch
    m = np.zeros((10, 10))
    m[0, :5] = 0.5                                                   # 5 % of the pixels: peak 0.5, mean 0.025
    rule = DecisionRule(True, 0.6, 0.1)
    assert rule.call(0.7, m) == 1.0 and rule.word(0.7, m) == "fake"
    assert rule.word(0.5, m) == "real" and rule.word(0.7, np.zeros((10, 10))) == "real"   # p too low; no region
    assert DecisionRule(False).word(None, m) == "unknown (no classifier)"
    # the peak is the 99th percentile of the pixels (linear interpolation): 100 values 0..99 -> 98.01
    maps = np.arange(100, dtype=float).reshape(1, 1, 10, 10)
    assert map_peak(maps)[0] == pytest.approx(98.01)
    assert map_peak(np.stack([maps[0], 2 * maps[0]])).tolist() == pytest.approx([98.01, 196.02])


def test_set_balanced_weights_weigh_each_sets_fakes_and_reals_alike():
    from fklib.metrics import set_balanced_weights

    labels = np.array([1, 1, 1, 0, 1, 0, 0, 1])
    groups = np.array(["a", "a", "a", "a", "b", "b", "b", "s"])  # s: splices, fakes only
    w = set_balanced_weights(labels, groups)
    # fakes: 3 groups (a: 3, b: 1, s: 1) share 0.5; reals: 2 groups (a: 1, b: 2) share 0.5
    assert w.tolist() == pytest.approx([1 / 18, 1 / 18, 1 / 18, 1 / 4, 1 / 6, 1 / 8, 1 / 8, 1 / 6])
    assert w.sum() == pytest.approx(1.0)
    one = set_balanced_weights(labels)  # one group: the plain balanced accuracy
    assert one[labels == 1].tolist() == pytest.approx([0.1] * 5) and one[labels == 0].tolist() == pytest.approx([1 / 6] * 3)


def test_choose_decision_is_the_best_threshold_and_floor_on_random_data():
    from fklib.metrics import choose_decision, decide, set_balanced_weights

    rng = np.random.default_rng(5)
    n = 90
    labels = (rng.random(n) < 0.7).astype(int)
    groups = rng.choice(["x", "y", "z"], n)
    probs = np.round(np.clip(rng.random(n) * 0.7 + 0.25 * labels, 0, 1), 2)
    peaks = np.round(rng.random(n) * 0.5 + 0.3 * labels * (groups != "z"), 2)
    w = set_balanced_weights(labels, groups)

    def score(t, f):
        return float(np.sum(w * (decide(probs, np.zeros(n), t, peaks, f) == labels)))

    t, f = choose_decision(probs, peaks, labels, groups)
    ts = np.concatenate([[-1.0], np.unique(probs)])
    fs = [None, -1.0, *np.unique(peaks)]
    brute = max(score(a, b) for a in ts for b in fs)
    assert score(t, f) == pytest.approx(brute)
    assert f is not None and score(t, f) > max(score(a, None) for a in ts)  # the map helps here
    # where the map carries nothing (every peak equal) no floor is chosen: the classifier decides alone
    t0, f0 = choose_decision(probs, np.full(n, 0.1), labels, groups)
    assert f0 is None and score(t0, None) == pytest.approx(max(score(a, None) for a in ts))
    with pytest.raises(ValueError, match="both"):
        choose_decision([0.2, 0.3], [0.1, 0.2], [1, 1])
    with pytest.raises(ValueError, match="peaks"):
        choose_decision([0.2, 0.3], [0.1], [1, 0])


def test_paired_difference_cancels_what_the_images_share():
    from fklib.metrics.bootstrap import paired_difference, paired_verdict

    rng = np.random.default_rng(0)
    ids = np.repeat(np.arange(40), 3).astype(str)
    shared = rng.normal(0, 1.0, ids.size)            # per-image difficulty, large
    a, b = shared + 0.05, shared.copy()              # a beats b by exactly 0.05 on every image
    d, lo, hi = paired_difference(ids, a, b)
    assert d == pytest.approx(0.05) and lo == pytest.approx(0.05) and hi == pytest.approx(0.05)
    assert paired_verdict(lo, hi) == "above"
    d, lo, hi = paired_difference(ids, b, a + rng.normal(0, 0.5, ids.size))
    assert lo < d < hi and paired_verdict(lo, hi) in ("below", "matches")
    assert paired_verdict(-0.1, 0.2) == "matches" and paired_verdict(float("nan"), 1.0) == "n/a"
    b_nan = b.copy()
    b_nan[0] = np.nan
    assert paired_difference(ids, a, b_nan)[0] == pytest.approx(0.05)  # the NaN image is left out
