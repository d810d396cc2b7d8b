"""The teaching-demo callbacks (fklib.widgets): degradations, analyse, the figure and the widget wiring."""

import numpy as np
import pytest
import torch

from fklib import degrade as dg
from fklib.metrics import coss, psnr, ssim
from fklib.degrade import degrade_image, describe_degradation
from fklib.report.figures import figure_png, result_figure
from fklib.widgets import analyse, build_demo, examples
from conftest import random_rgb


def _high_freq(img: np.ndarray) -> float:
    x = img.astype(np.float64)
    return float(np.abs(np.diff(x, axis=0)).mean() + np.abs(np.diff(x, axis=1)).mean())


@pytest.fixture
def smooth_rgb(rng):
    """A face-sized image with smooth gradients and some texture (JPEG and blur visibly act on it)."""
    yy, xx = np.mgrid[0:64, 0:64]
    base = np.stack([xx * 3, yy * 3, (xx + yy) * 2], -1).astype(np.float64)
    return np.clip(base + rng.normal(0, 20, base.shape), 0, 255).astype(np.uint8)


def test_identity_settings_return_the_input(smooth_rgb):
    out = degrade_image(smooth_rgb)
    assert out is smooth_rgb
    out = degrade_image(smooth_rgb, jpeg_quality=None, blur_kernel=1, noise_variance=0, downscale=1, seed=7)
    assert np.array_equal(out, smooth_rgb) and out.dtype == np.uint8
    assert describe_degradation({}) == "none"


def test_each_slider_changes_the_image(smooth_rgb):
    for kw in ({"jpeg_quality": 10}, {"blur_kernel": 5}, {"noise_variance": 100}, {"downscale": 4}):
        out = degrade_image(smooth_rgb, **kw)
        assert out.shape == smooth_rgb.shape and out.dtype == np.uint8
        assert not np.array_equal(out, smooth_rgb), kw
    assert _high_freq(degrade_image(smooth_rgb, blur_kernel=7)) < 0.6 * _high_freq(smooth_rgb)
    assert _high_freq(degrade_image(smooth_rgb, downscale=4)) < 0.6 * _high_freq(smooth_rgb)
    noisy = degrade_image(smooth_rgb, noise_variance=100, seed=3)
    assert np.array_equal(noisy, degrade_image(smooth_rgb, noise_variance=100, seed=3))   # seeded
    assert not np.array_equal(noisy, degrade_image(smooth_rgb, noise_variance=100, seed=4))


def test_order_is_downscale_blur_noise_jpeg(rng):
    img = random_rgb(rng, 32, 48)
    x = torch.from_numpy(img.astype(np.float32)).permute(2, 0, 1) / 255
    y = dg.jpeg(dg.gaussian_noise(dg.gaussian_blur(dg.low_resolution(x, 2), 3), 50, 1), 60)
    expected = (y.clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    got = degrade_image(img, jpeg_quality=60, blur_kernel=3, noise_variance=50, downscale=2, seed=1)
    assert np.array_equal(got, expected)
    with pytest.raises(ValueError):
        degrade_image(img.astype(np.float32))
    with pytest.raises(ValueError):
        degrade_image(img, blur_kernel=4)


@pytest.fixture(scope="module")
def locator():
    from fklib.locate import Locator

    return Locator()


@pytest.fixture(scope="module")
def demo_examples(data_root):
    return examples("stgan", "test", per_property=2)


def test_examples_are_small_and_grouped(demo_examples):
    assert "Real" in demo_examples and "Bald" in demo_examples
    for prop, items in demo_examples.items():
        assert 1 <= len(items) <= 2 and all(it.property == prop for it in items)


def test_analyse_a_real_stgan_fake(locator, demo_examples):
    item = demo_examples["Bald"][0]
    r = analyse(locator, item)
    gt = item.gt_map()
    assert r["image"] is item.image or np.array_equal(r["image"], item.image)
    assert np.array_equal(r["real"], item.reference) and np.array_equal(r["gt"], gt)
    assert r["pred"].shape == gt.shape and 0 <= r["probability"] <= 1
    assert r["metrics"] == pytest.approx({"coss": coss(r["pred"], gt), "psnr": psnr(r["pred"], gt),
                                          "ssim": ssim(r["pred"], gt)}, rel=1e-9)
    real_map, _ = locator.predict_array(np.asarray(item.reference))
    assert r["pred"].mean() > real_map.mean()
    assert r["degradation"] == {"jpeg_quality": None, "blur_kernel": 1, "noise_variance": 0.0, "downscale": 1.0,
                                "seed": 0}
    # a degradation changes the input but not the GT (RQ5)
    d = analyse(locator, item, jpeg_quality=10, blur_kernel=3)
    assert not np.array_equal(d["image"], item.image) and np.array_equal(d["gt"], gt)
    assert d["degradation"]["jpeg_quality"] == 10 and d["degradation"]["blur_kernel"] == 3
    with pytest.raises(TypeError):
        analyse(locator, item, quality=10)
    fig = result_figure(d)
    assert len(fig.axes) == 6                                  # five panels and a colorbar
    assert "COSS" in fig._suptitle.get_text() and "p(fake)" in fig._suptitle.get_text()
    assert figure_png(fig)[:8] == b"\x89PNG\r\n\x1a\n"


def test_build_demo_wiring(locator, demo_examples):
    demo = build_demo(locator, demo_examples)
    c = demo.controls
    assert list(c["property"].options) == list(demo_examples)
    result = demo.update()
    assert demo.last_result is result and demo.output.outputs                    # something shown
    assert result["meta"]["property"] == "Bald" and result["meta"]["label"] == 1      # starts on a fake
    assert "image/png" in demo.output.outputs[0]["data"]
    demo.render = False                                                          # the wiring only, faster
    c["blur_kernel"].value = 5
    assert demo.last_result["degradation"]["blur_kernel"] == 5
    assert c["jpeg_quality"].disabled                                            # JPEG off: the quality does nothing
    c["jpeg_on"].value = True
    assert not c["jpeg_quality"].disabled and demo.last_result["degradation"]["jpeg_quality"] == 50
    c["jpeg_quality"].value = 30
    assert demo.last_result["degradation"]["jpeg_quality"] == 30
    c["property"].value = "Bangs"
    assert demo.last_result["meta"]["property"] == "Bangs"
    assert [o[0] for o in c["identity"].options] == [it.identity for it in demo_examples["Bangs"]]
    c["reset"].click()
    assert demo.last_result["degradation"]["jpeg_quality"] is None and c["jpeg_quality"].disabled
    assert demo.last_result["degradation"]["blur_kernel"] == 1
    assert "COSS" in demo.metrics_text


def test_concurrent_updates_end_with_the_latest_controls(locator, demo_examples, monkeypatch):
    """A click and a dropdown change on two threads: the figure shown is that of the controls as last set."""
    import threading
    import time

    import fklib.widgets as W

    demo = build_demo(locator, demo_examples)
    demo.render = False
    real = W.analyse
    started = threading.Event()

    def slow(loc, item, **kw):            # the first update is slow: without the lock it would finish last
        if not started.is_set():
            started.set()
            time.sleep(0.5)
        return real(loc, item, **kw)

    monkeypatch.setattr(W, "analyse", slow)
    first = threading.Thread(target=demo.update)             # reads "Bald", then computes slowly
    first.start()
    started.wait(5)
    demo._quietly(lambda: setattr(demo.controls["property"], "value", "Bangs"))
    second = threading.Thread(target=demo.update)
    second.start()
    first.join(10)
    second.join(10)
    assert demo.last_result["meta"]["property"] == "Bangs"
    assert demo.metrics_text.startswith("Bangs") and demo.output.outputs[-1]["text"].startswith("Bangs")


def test_a_real_image_is_described_in_words(locator, demo_examples):
    r = analyse(locator, demo_examples["Real"][0])
    from fklib.widgets import metrics_line

    line = metrics_line(r)
    assert "real image" in line and "COSS" not in line
    assert f"{r['pred'].mean():.3f}" in line
    fig = result_figure(r)
    assert fig.get_size_inches()[0] >= 12 and "real image" in fig._suptitle.get_text()


# --- issue 30: your own picture in the demo ---------------------------------------------------------

def test_photo_demo_shows_each_face_of_an_uploaded_picture(data_root, tmp_path):
    import io

    from PIL import Image

    from fklib.data import load_set
    from fklib.faces import compose
    from fklib.locate import Locator
    from fklib.widgets import build_photo_demo

    fake = next(it for it in load_set("stgan", split="test") if it.property == "Bald")
    pic, _ = compose.place_faces(compose.background(400, 600, seed=1), [fake.image],
                                 [compose.placement(2.0, 8, (300, 200))])
    buf = io.BytesIO()
    Image.fromarray(pic).save(buf, format="JPEG", quality=95)
    demo = build_photo_demo(Locator())
    out = demo.show(buf.getvalue(), "mine.jpg")
    lay = out["overlay"].info["layout"]
    assert len(out["result"].faces) == 1 and (lay.width, lay.height) == (600, 400)
    assert out["text"].splitlines()[0] == out["verdict"] and out["verdict"].startswith("mine.jpg: ")
    assert out["text"].splitlines()[1].startswith("face 1: ")
    assert [o["output_type"] for o in demo.output.outputs] == ["stream", "display_data"]   # the verdict first
    # a file that is not an image: one line naming the uploaded file, nothing shown but the error
    assert demo.show(b"not an image", "notes.jpg") is None
    (err,) = demo.output.outputs
    assert err["name"] == "stderr" and "notes.jpg" in err["text"] and "/tmp" not in err["text"]



# --- issue 40: the photo upload (items 13-16) -------------------------------------------------------

@pytest.fixture(scope="module")
def photo_demo(locator):
    from fklib.widgets import build_photo_demo

    return build_photo_demo(locator)


def test_the_verdict_is_on_the_figure_and_first_in_the_output_also_without_a_face(photo_demo):
    """Item 13: after an upload the verdict text started below the first screen, and for a picture with no face
    the figure's title was dropped (a 62-character summary over a 60-character cut-off)."""
    from fklib.faces import compose

    out = photo_demo.show(compose.png_bytes(compose.background(300, 400, seed=5)), "a_rather_long_holiday_name.png")
    verdict = out["verdict"]
    assert len(verdict) > 62 and "no face found" in verdict
    first = photo_demo.output.outputs[0]
    assert first["output_type"] == "stream" and first["text"].startswith(verdict)
    lay = out["overlay"].info["layout"]
    assert " ".join(lay.title_lines) == verdict                              # on the figure, whole (wrapped)
    assert photo_demo.output.outputs[1]["data"]["text/plain"] == f"<overlay: {verdict}>"


def test_the_built_in_example_is_labelled_and_an_upload_replaces_it(photo_demo, data_root):
    """Item 14: the built-in example's text stayed right under the user's result and appeared twice."""
    from fklib.faces import compose

    fake = next(it for it in load_stgan_test() if it.label == 1)
    pic, _ = compose.place_faces(compose.background(400, 600, seed=2), [fake.image], [compose.placement(2.0, 0, (300, 200))])
    photo_demo.show(compose.png_bytes(pic), "two_faces.png", example=True)
    assert photo_demo.output.outputs[0]["text"].startswith("Built-in example: two_faces.png: ")
    assert "built-in example" in photo_demo.status.value
    photo_demo.show(compose.png_bytes(compose.background(200, 300, seed=3)), "mine.png")
    texts = [o.get("text", "") for o in photo_demo.output.outputs]
    assert texts[0].startswith("mine.png: ") and not any("two_faces" in t for t in texts)
    assert len(photo_demo.output.outputs) == 2 and "your picture" in photo_demo.status.value


def load_stgan_test():
    from fklib.data import load_set

    return load_set("stgan", split="test")


def test_the_upload_shows_progress_and_is_disabled_while_working(photo_demo, monkeypatch):
    """Item 16: a 4032 x 3024 photo took 7-8 s with the old result on screen and no sign of work. While a
    picture is processed the old result is gone, the status line says each step and the upload is disabled."""
    import fklib.widgets as W
    from fklib.faces import compose

    photo_demo.show(compose.png_bytes(compose.background(200, 300, seed=4)), "before.png")
    seen = []
    real = W.locate_upload

    def watched(locator, data, name, progress=None):
        def say(msg):
            progress(msg)
            seen.append((photo_demo.status.value, photo_demo.upload.disabled, len(photo_demo.output.outputs)))
        return real(locator, data, name, progress=say)

    monkeypatch.setattr(W, "locate_upload", watched)
    photo_demo.show(compose.png_bytes(compose.background(240, 320, seed=6)), "after.png")
    assert seen and all(disabled and shown == 0 for _, disabled, shown in seen)
    steps = " | ".join(s for s, _, _ in seen)
    assert "reading after.png" in steps and "finding faces in the 320 x 240 picture" in steps
    assert not photo_demo.upload.disabled and "done in" in photo_demo.status.value


def test_the_demo_figure_keeps_its_colour_bar_labels(locator, demo_examples):
    """Item 15: the colour-bar labels of the degradation demo were cut off in the PNG. The PNG the demo shows
    holds every text of the figure: it is as wide as the figure's tight bounding box (matplotlib's own)."""
    import io

    from PIL import Image

    from fklib.widgets import FIGURE_DPI, figure_png_whole

    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = result_figure(analyse(locator, demo_examples["Bald"][0]))
    assert fig.dpi == FIGURE_DPI
    canvas = FigureCanvasAgg(fig)
    canvas.draw()                                                            # lays the colour bar's label out
    renderer = canvas.get_renderer()
    label = fig.axes[-1].yaxis.label                                         # the colour bar's label
    assert label.get_window_extent(renderer).x1 > fig.bbox.x1                # a plain PNG cuts it off
    width = Image.open(io.BytesIO(figure_png_whole(fig, FIGURE_DPI))).size[0]
    tight = fig.get_tightbbox(renderer).width * FIGURE_DPI + 2 * 0.1 * FIGURE_DPI
    assert width >= round(tight) - 1 and width > fig.bbox.width


def test_the_photo_overlay_uses_the_figures_colours(locator):
    """Item 15: the photo overlay used jet and tinted the whole picture; it uses the figures' colours (inferno,
    square root) over the faces' crops only, the rest of the picture untouched."""
    import matplotlib

    from fklib.locate import OVERLAY_VMAX, overlay_image

    rgb = np.full((512, 512, 3), 200, np.uint8)
    m = np.full((512, 512), OVERLAY_VMAX / 4, np.float32)
    inside = np.zeros((512, 512), bool)
    inside[100:300, 100:300] = True
    img = overlay_image(rgb, m, inside=inside)
    lay = img.info["layout"]
    arr = np.asarray(img).astype(float)[lay.y:lay.y + 512, lay.x:lay.x + 512]
    colour = np.asarray(matplotlib.colormaps["inferno"](0.5))[:3] * 255       # a quarter of the top: sqrt -> 0.5
    np.testing.assert_allclose(arr[200, 200], 0.45 * 200 + 0.55 * colour, atol=1.5)
    np.testing.assert_array_equal(arr[400, 400], [200, 200, 200])
