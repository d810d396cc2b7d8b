"""load_rgb: the documented conversion rule and clear errors for bad files."""

import numpy as np
import pytest
from PIL import Image

from fklib.data import load_rgb
from conftest import random_rgb, save_png


def test_rgb_png_roundtrip_is_exact(tmp_path, rng):
    arr = random_rgb(rng, 7, 9)
    out = load_rgb(save_png(tmp_path / "a.png", arr))
    assert out.dtype == np.uint8 and out.shape == (7, 9, 3)
    np.testing.assert_array_equal(out, arr)


def test_grayscale_is_replicated_to_three_channels(tmp_path, rng):
    gray = rng.integers(0, 256, size=(5, 6), dtype=np.uint8)
    out = load_rgb(save_png(tmp_path / "g.png", gray))
    assert out.shape == (5, 6, 3)
    for c in range(3):
        np.testing.assert_array_equal(out[..., c], gray)


def test_16bit_grayscale_is_scaled_to_8bit(tmp_path):
    values = np.array([[0, 257, 65535]], dtype=np.uint16)
    path = tmp_path / "g16.png"
    Image.fromarray(values).save(path)
    out = load_rgb(path)
    np.testing.assert_array_equal(out[0, :, 0], [0, 1, 255])


def test_rgba_is_composited_onto_black(tmp_path):
    rgba = np.zeros((1, 3, 4), dtype=np.uint8)
    rgba[0, 0] = (200, 100, 50, 255)   # opaque: unchanged
    rgba[0, 1] = (200, 100, 50, 0)     # transparent: black
    rgba[0, 2] = (200, 100, 50, 128)   # half: colour * 128/255 over black
    out = load_rgb(save_png(tmp_path / "a.png", rgba))
    np.testing.assert_array_equal(out[0, 0], (200, 100, 50))
    np.testing.assert_array_equal(out[0, 1], (0, 0, 0))
    expected = np.round(np.array([200, 100, 50]) * 128 / 255)
    assert np.abs(out[0, 2].astype(int) - expected).max() <= 1


def test_missing_file_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.png"):
        load_rgb(tmp_path / "nope.png")


def test_directory_is_rejected(tmp_path):
    with pytest.raises(ValueError, match=str(tmp_path)):
        load_rgb(tmp_path)


def test_corrupt_png_names_the_file(tmp_path, rng):
    path = save_png(tmp_path / "bad.png", random_rgb(rng, 32, 32))
    raw = bytearray(path.read_bytes())
    raw[40:60] = b"\x00" * 20   # break the IHDR/IDAT chunks
    path.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="bad.png"):
        load_rgb(path)


def test_not_an_image_names_the_file(tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("this is not an image")
    with pytest.raises(ValueError, match="notes.png"):
        load_rgb(path)


def test_truncated_jpeg_names_the_file(tmp_path, rng):
    path = tmp_path / "cut.jpg"
    Image.fromarray(random_rgb(rng, 64, 64)).save(path, quality=90)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="cut.jpg"):
        load_rgb(path)


def test_decompression_bomb_guard(tmp_path, rng):
    path = save_png(tmp_path / "big.png", random_rgb(rng, 40, 50))
    with pytest.raises(ValueError, match="big.png.*2000 pixels"):
        load_rgb(path, max_pixels=1999)
    assert load_rgb(path, max_pixels=2000).shape == (40, 50, 3)


def test_exif_orientation_is_applied(tmp_path, rng):
    """A JPEG stored 256x160 with orientation 6 is shown 160x256: that is what load_rgb returns."""
    yy, xx = np.mgrid[0:256, 0:160]                                    # H x W as a viewer shows it: smooth,
    shown = np.stack([yy, xx, (yy + xx) // 2], -1).astype(np.uint8)    # so that JPEG keeps it close
    stored = Image.fromarray(shown).transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "phone.jpg"
    stored.save(path, quality=95, exif=exif)
    out = load_rgb(path)
    assert out.shape == (256, 160, 3)
    with Image.open(path) as raw:                                      # decoded as stored, turned by hand
        assert raw.size == (256, 160)
        expected = np.asarray(raw.convert("RGB").transpose(Image.Transpose.ROTATE_270))
    np.testing.assert_array_equal(out, expected)
    assert np.abs(out.astype(int) - shown.astype(int)).mean() < 2     # the upright picture (JPEG loss aside)


def test_float_tiff_in_unit_range_is_scaled(tmp_path, rng):
    values = rng.random((6, 7)).astype(np.float32)
    values[0, 0], values[0, 1] = 0.0, 1.0
    path = tmp_path / "f.tif"
    Image.fromarray(values, mode="F").save(path)
    out = load_rgb(path)
    expected = np.rint(values.astype(np.float64) * 255).astype(np.uint8)
    for c in range(3):
        np.testing.assert_array_equal(out[..., c], expected)


def test_float_tiff_with_nan_and_float_rgb_tiff_are_refused_by_name(tmp_path, rng):
    values = rng.random((4, 4)).astype(np.float32)
    values[1, 1] = np.nan
    path = tmp_path / "nan.tif"
    Image.fromarray(values, mode="F").save(path)
    with pytest.raises(ValueError, match="nan.tif.*NaN"):
        load_rgb(path)
    tifffile = pytest.importorskip("tifffile")
    rgb = tmp_path / "rgbf.tif"
    tifffile.imwrite(rgb, rng.random((4, 5, 3)).astype(np.float32), photometric="rgb")
    with pytest.raises(ValueError, match="rgbf.tif"):
        load_rgb(rgb)
