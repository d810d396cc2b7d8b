"""gt_map is exactly eq. 4; binary_map thresholds strictly and follows the DFFD resize protocol."""

import numpy as np
import pytest

from fklib.data import binary_map, entire_map, gt_map, real_map
from conftest import random_rgb


def eq4_by_hand(real, fake):
    """Eq. 4 written out pixel by pixel in float64, independently of fklib."""
    h, w, _ = real.shape
    out = np.zeros((h, w))
    for i in range(h):
        for j in range(w):
            d = [abs(int(real[i, j, k]) - int(fake[i, j, k])) for k in range(3)]
            out[i, j] = (0.299 * d[0] + 0.587 * d[1] + 0.114 * d[2]) / 255.0
    return out


def test_gt_map_matches_eq4(rng):
    real, fake = random_rgb(rng, 6, 5), random_rgb(rng, 6, 5)
    m = gt_map(real, fake)
    assert m.dtype == np.float32 and m.shape == (6, 5)
    np.testing.assert_allclose(m, eq4_by_hand(real, fake), atol=1e-6)


def test_gt_map_single_pixel_values():
    real = np.array([[[10, 200, 0]]], dtype=np.uint8)
    fake = np.array([[[0, 100, 255]]], dtype=np.uint8)
    # |diff| = (10, 100, 255): (0.299*10 + 0.587*100 + 0.114*255) / 255
    assert gt_map(real, fake)[0, 0] == pytest.approx((2.99 + 58.7 + 29.07) / 255, abs=1e-6)


def test_gt_map_is_symmetric_and_bounded(rng):
    real, fake = random_rgb(rng, 8, 8), random_rgb(rng, 8, 8)
    np.testing.assert_array_equal(gt_map(real, fake), gt_map(fake, real))
    black, white = np.zeros((2, 2, 3), np.uint8), np.full((2, 2, 3), 255, np.uint8)
    np.testing.assert_allclose(gt_map(black, white), 1.0, atol=1e-6)
    assert gt_map(black, white).max() <= 1.0


def test_real_image_map_is_zero(rng):
    real = random_rgb(rng, 4, 4)
    np.testing.assert_array_equal(gt_map(real, real), 0.0)
    np.testing.assert_array_equal(real_map(3, 2), np.zeros((3, 2)))
    np.testing.assert_array_equal(entire_map(3, 2), np.ones((3, 2)))


def test_gt_map_rejects_size_mismatch_and_bad_types(rng):
    with pytest.raises(ValueError, match="differ in size"):
        gt_map(random_rgb(rng, 4, 4), random_rgb(rng, 4, 5))
    with pytest.raises(ValueError, match="uint8"):
        gt_map(random_rgb(rng, 4, 4).astype(np.float32), random_rgb(rng, 4, 4))
    with pytest.raises(ValueError, match="HxWx3"):
        gt_map(np.zeros((4, 4), np.uint8), np.zeros((4, 4), np.uint8))


def test_binary_map_is_strictly_greater_than_threshold():
    m = np.array([[0.05, 0.1, 0.1001, 0.9]], dtype=np.float32)
    np.testing.assert_array_equal(binary_map(m, 0.1), [[0, 0, 1, 1]])
    assert binary_map(m, 0.1).dtype == np.float32


def test_binary_map_dffd_protocol_resizes_then_thresholds():
    # 38x38 map: left half 0.5, right half 0.02 -> 19x19 averaged blocks -> left half ones.
    m = np.full((38, 38), 0.02, np.float32)
    m[:, :19] = 0.5
    b = binary_map(m, 0.1, size=19)
    assert b.shape == (19, 19)
    np.testing.assert_array_equal(b[:, :9], 1.0)
    np.testing.assert_array_equal(b[:, 10:], 0.0)
    assert binary_map(m, 0.1, size=(4, 6)).shape == (4, 6)


def test_binary_map_rejects_non_2d():
    with pytest.raises(ValueError, match="HxW"):
        binary_map(np.zeros((2, 2, 3)), 0.1)
