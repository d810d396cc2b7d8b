"""Teaching demos (``notebooks/demo_*.ipynb``): the callbacks behind the ipywidgets, testable without a browser.

Pick a test image and its edited property, degrade it with JPEG / blur / noise / downscaling and
see the fake, its ground truth (eq. 4), the locator's map, the overlay and the map metrics::

    from fklib.locate import Locator
    from fklib.widgets import analyse, build_demo, examples
    from fklib.report.figures import result_figure

    loc = Locator()                              # the shipped model
    ex = examples("stgan", "test", per_property=3)
    r = analyse(loc, ex["Bangs"][0], jpeg_quality=30)
    r["metrics"]                                 # {"coss": ..., "psnr": ..., "ssim": ...}
    result_figure(r)                             # real, fake (degraded), GT, prediction, overlay
    demo = build_demo(loc, ex); display(demo); demo.update()

All computing goes through :func:`fklib.degrade.degrade_image` and :func:`analyse`; :func:`build_demo` only
wires widgets to them. As in the paper's RQ5 (§5.2) the degradation acts on the image the
locator sees, and the ground truth stays the eq.-4 map of the undegraded real/fake pair.
"""

from __future__ import annotations

import base64
import html
import io
import math
import os
import tempfile
import threading
import time
from typing import Any

import ipywidgets
import numpy as np
import pandas as pd

from .data import load_rgb, load_set
from .degrade import degradation_settings, degrade_image, describe_degradation
from .locate import picture_overlay
from .metrics import coss, psnr, ssim
from .report.figures import result_figure, result_metrics_text


#: Resolution of the demo's figure: 12 x 3.4 in at 100 dpi = about 1250 x 340 px, 11-pt titles (a projector).
FIGURE_DPI = 100


def figure_png_whole(fig, dpi: int = FIGURE_DPI) -> bytes:
    """PNG bytes of a figure with everything drawn outside its axes kept (``bbox_inches="tight"``): the
    colour bar's tick labels and its label, which a plain ``savefig`` cut off at the figure's right edge."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight", pad_inches=0.1)
    return buf.getvalue()


def analyse(locator, item, **degradation) -> dict:
    """Degrade ``item``'s image, run ``locator`` on it and score its map against the undegraded GT.

    Args:
        locator: a :class:`fklib.locate.Locator` (anything with ``predict_array(rgb) -> (map, prob)``).
        item: a :class:`fklib.data.Item` (a fake with its real source, a real, or an entire synthesis).
        **degradation: ``jpeg_quality``, ``blur_kernel``, ``noise_variance``, ``downscale``, ``seed``
            of :func:`degrade_image` (missing ones at their identity).

    Returns:
        dict with ``image`` (the degraded input, uint8), ``real`` (the real source; the image itself
        for a real item; ``None`` for an entire synthesis), ``gt`` (eq.-4 map of the undegraded pair,
        float32), ``pred`` (the map at the input size, float32), ``probability`` (p(fake) from the
        classifier, or ``None``), ``map_mean``, ``metrics`` (``coss``, ``psnr``, ``ssim`` of ``pred``
        vs ``gt``, :mod:`fklib.metrics`), ``degradation`` (all five settings) and ``meta`` (the
        item's property, identity, label, ...).

    Raises:
        TypeError: an unknown degradation setting.
    """
    settings = degradation_settings(degradation)
    image = degrade_image(np.asarray(item.image), **settings)
    pred, prob = locator.predict_array(image)
    gt = np.asarray(item.gt_map(), dtype=np.float32)
    real = item.reference if item.reference is not None else (item.image if item.label == 0 else None)
    return {
        "image": image,
        "real": None if real is None else np.asarray(real),
        "gt": gt,
        "pred": pred,
        "probability": prob,
        "map_mean": float(pred.mean()),
        "metrics": {"coss": coss(pred, gt), "psnr": psnr(pred, gt), "ssim": ssim(pred, gt)},
        "degradation": settings,
        "meta": item.meta(),
    }


def metrics_line(result: dict) -> str:
    """One line: item, degradation, then :func:`fklib.report.figures.result_metrics_text` (COSS / PSNR /
    SSIM and p(fake); for a real image, whose truth is empty and whose COSS is 0 unless the map is exactly
    zero, the mean predicted fakeness instead of COSS) and the map mean."""
    meta = result["meta"]
    return (f"{meta['property']} · {meta['identity']} | degradation: {describe_degradation(result['degradation'])} | "
            f"{result_metrics_text(result)} | map mean {result['map_mean']:.3f}")


def examples(set_name: str = "stgan", split: str = "test", per_property: int = 3) -> dict[str, list]:
    """The first ``per_property`` items of each property of a set's split, in the set's order.

    Returns:
        property -> list of :class:`~fklib.data.Item` (``Real`` included: its GT is all zero).
    """
    if per_property < 1:
        raise ValueError(f"per_property must be >= 1, got {per_property}")
    out: dict[str, list] = {}
    for it in load_set(set_name, split=split):
        bucket = out.setdefault(it.property, [])
        if len(bucket) < per_property:
            bucket.append(it)
    return out


def build_demo(locator, examples: dict[str, list]):
    """The interactive demo: property / identity dropdowns, degradation sliders, figure + metrics.

    Controls (``demo.controls``): ``property`` (the keys of ``examples``; starts on the first
    property of fakes), ``identity`` (dropdowns), ``jpeg_on`` (checkbox), ``jpeg_quality`` (10..100;
    disabled while JPEG is off, since it would do nothing), ``blur_kernel`` (odd 1..15),
    ``noise_variance`` (0..400, 0-255 units), ``downscale`` (1..8) and a ``reset`` button.
    Every change calls ``demo.update()``, which runs :func:`analyse`, stores the result in
    ``demo.last_result``, the line in ``demo.metrics_text`` and shows :func:`result_figure` and
    the line in ``demo.output`` (an ``ipywidgets.Output``). Call ``demo.update()`` once after
    ``display(demo)`` so that a headless run (papermill) shows a result. ``demo.render = False``
    skips drawing the figure (the metrics line is still shown).
    """
    return LocatorDemo(locator, examples)


class LocatorDemo(ipywidgets.VBox):
    """See :func:`build_demo`."""

    def __init__(self, locator, examples: dict[str, list]) -> None:
        w = ipywidgets
        if not examples or not any(examples.values()):
            raise ValueError("build_demo: no examples (property -> non-empty list of items)")
        self.locator = locator
        self.examples = {k: list(v) for k, v in examples.items() if v}
        self.last_result: dict | None = None
        self.metrics_text = ""
        #: False skips drawing the figure in ``update`` (the metrics line is still shown).
        self.render = True
        self._busy = False
        self._lock = threading.RLock()
        style = {"description_width": "110px"}
        layout = w.Layout(width="420px")
        props = list(self.examples)
        start = next((p for p in props if self.examples[p][0].label == 1), props[0])  # start on a fake
        c = {
            "property": w.Dropdown(options=props, value=start, description="property", style=style, layout=layout),
            "identity": w.Dropdown(options=self._identity_options(start), value=0, description="identity",
                                   style=style, layout=layout),
            "jpeg_on": w.Checkbox(value=False, description="JPEG on", indent=False),
            "jpeg_quality": w.IntSlider(value=50, min=10, max=100, step=5, description="JPEG quality",
                                        continuous_update=False, disabled=True, style=style, layout=layout),
            "blur_kernel": w.IntSlider(value=1, min=1, max=15, step=2, description="blur kernel",
                                       continuous_update=False, style=style, layout=layout),
            "noise_variance": w.FloatSlider(value=0.0, min=0.0, max=400.0, step=5.0, description="noise variance",
                                            continuous_update=False, readout_format=".0f", style=style, layout=layout),
            "downscale": w.FloatSlider(value=1.0, min=1.0, max=8.0, step=0.5, description="downscale",
                                       continuous_update=False, readout_format=".1f", style=style, layout=layout),
            "reset": w.Button(description="no degradation", tooltip="set every slider to its identity"),
        }
        self.controls = c
        self.output = w.Output()
        c["property"].observe(self._on_property, names="value")
        c["jpeg_quality"].observe(self._on_quality, names="value")
        c["jpeg_on"].observe(self._on_jpeg_on, names="value")
        for name in ("identity", "blur_kernel", "noise_variance", "downscale"):
            c[name].observe(self._on_change, names="value")
        c["reset"].on_click(self._on_reset)
        left = w.VBox([c["property"], c["identity"], c["reset"]])
        right = w.VBox([w.HBox([c["jpeg_quality"], c["jpeg_on"]]), c["blur_kernel"], c["noise_variance"],
                        c["downscale"]])
        super().__init__([w.HBox([left, right]), self.output])

    # --- state -> analyse --------------------------------------------------------------------

    def _identity_options(self, prop: str) -> list[tuple[str, int]]:
        return [(f"{it.identity}", i) for i, it in enumerate(self.examples[prop])]

    def current_item(self):
        """The item selected by the two dropdowns."""
        return self.examples[self.controls["property"].value][self.controls["identity"].value]

    def settings(self) -> dict[str, Any]:
        """The degradation settings of the sliders (the keyword arguments of :func:`analyse`)."""
        c = self.controls
        return {"jpeg_quality": int(c["jpeg_quality"].value) if c["jpeg_on"].value else None,
                "blur_kernel": int(c["blur_kernel"].value), "noise_variance": float(c["noise_variance"].value),
                "downscale": float(c["downscale"].value), "seed": 0}

    def update(self) -> dict:
        """Analyse the selected item at the current settings, show it, and return the result.

        One update at a time (a lock around read controls -> compute -> display): JupyterLab with
        ipykernel 7 runs a button click and a dropdown change on two threads at once, and without the
        lock the older one could finish last and show a property the dropdown no longer says. With it
        the later call waits, then reads the controls as they are now, so the last figure shown is
        always that of the latest controls.
        """
        with self._lock:
            result = analyse(self.locator, self.current_item(), **self.settings())
            self.last_result = result
            self.metrics_text = metrics_line(result)
            shown = [{"output_type": "stream", "name": "stdout", "text": self.metrics_text + "\n"}]
            if self.render:
                png = base64.b64encode(figure_png_whole(result_figure(result), dpi=FIGURE_DPI)).decode("ascii")
                shown.insert(0, {"output_type": "display_data", "metadata": {},
                                 "data": {"image/png": png, "text/plain": "<result figure>"}})
            self.output.outputs = tuple(shown)
            return result

    # --- widget callbacks (thin) ---------------------------------------------------------------

    def _on_change(self, change=None) -> None:
        if not self._busy:
            self.update()

    def _quietly(self, fn) -> None:
        self._busy = True
        try:
            fn()
        finally:
            self._busy = False

    def _on_property(self, change) -> None:
        def set_identities():
            ident = self.controls["identity"]
            ident.options = self._identity_options(change["new"])
            ident.value = 0

        self._quietly(set_identities)
        self._on_change()

    def _on_quality(self, change) -> None:
        if self.controls["jpeg_on"].value:  # the quality does nothing while JPEG is off
            self._on_change()

    def _on_jpeg_on(self, change) -> None:
        self.controls["jpeg_quality"].disabled = not change["new"]
        self._on_change()

    def _on_reset(self, _button=None) -> None:
        def reset():
            c = self.controls
            c["jpeg_on"].value = False
            c["blur_kernel"].value = 1
            c["noise_variance"].value = 0.0
            c["downscale"].value = 1.0

        self._quietly(reset)
        self._on_change()


def quality_table(locator, item, qualities=(None, 90, 70, 50, 30, 10)):
    """:func:`analyse` of one item at several JPEG qualities: a DataFrame with one row per quality.

    Columns ``jpeg_quality`` (``None`` = not compressed), ``coss``, ``psnr``, ``ssim``, ``map_mean``,
    ``p_fake``.
    """
    rows = []
    for q in qualities:
        r = analyse(locator, item, jpeg_quality=q)
        rows.append({"jpeg_quality": "off" if q is None else int(q), **r["metrics"], "map_mean": r["map_mean"],
                     "p_fake": math.nan if r["probability"] is None else r["probability"]})
    return pd.DataFrame(rows)


def fig10_aggregate_sentence(results_dir=None) -> str:
    """What Fig. 10's sweep says of JPEG over its whole STGAN sample (``tables/fig10_degradation.csv`` of the results
    folder): the universal model's pixel AUC clean and at the harshest quality -- a demo's one image is no evidence."""
    from . import paths  # lazy: only the demo's closing sentence reads the results folder

    path = (paths.results_dir() if results_dir is None else results_dir) / "tables" / "fig10_degradation.csv"
    if not path.is_file():
        return "Fig. 10's table (not written yet) gives the aggregate over the test sample"
    t = pd.read_csv(path)
    u = t[t["model"] == "universal"]
    jpeg = u[u["degradation"] == "jpeg"].assign(level=lambda d: pd.to_numeric(d["level"]))
    clean, harsh = u[u["degradation"] == "none"].iloc[0], jpeg.loc[jpeg["level"].idxmin()]
    return (f"over Fig. 10's {int(clean['n'])} STGAN test images the pixel AUC goes from {clean['auc']:.3f} clean to "
            f"{harsh['auc']:.3f} at quality {int(harsh['level'])}")


# --- your own picture: upload, find the faces, see the map ------------------------------------------

def locate_upload(locator, data: bytes, name: str = "upload", progress=None) -> dict:
    """What the photo demo shows for an uploaded file: every face found (at any rotation), aligned, located,
    mapped back.

    The bytes are read with the same rules as ``python -m fklib locate`` (:func:`fklib.data.load_rgb`:
    EXIF orientation, grayscale / RGBA / 16-bit converted, truncated or non-image files refused naming
    ``name``), from a temporary copy that is removed afterwards.

    Args:
        locator: a :class:`fklib.locate.Locator`.
        data: the file's bytes.
        name: the file's name (errors name it, and the verdict).
        progress: called with a short message before each step.

    Returns:
        ``{"rgb", "result"`` (:class:`fklib.locate.PictureResult`), ``"overlay"`` (PIL image: the picture's
        verdict above it, the map over each face's crop, each face's box and verdict beside it, the colour bar
        to its right, as ``locate``'s overlay), ``"verdict"`` (the picture's verdict in one line, as the overlay's
        title), ``"text"`` (the verdict, then one line per face)``}``.
    """
    say = progress or (lambda _msg: None)
    say(f"reading {name}")
    suffix = os.path.splitext(name)[1] or ".img"
    fd, tmp = tempfile.mkstemp(suffix=suffix)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        try:
            rgb = load_rgb(tmp)
        except ValueError as err:
            raise ValueError(str(err).replace(tmp, name)) from None
    finally:
        os.unlink(tmp)
    res = locator.locate_picture(rgb, progress=say)
    lines = []
    for k, f in enumerate(res.faces, 1):
        if f.judged:
            what = f"{f.decision} (p(fake) {f.probability:.2f}, map peak {f.peak:.3f})" if f.probability is not None \
                else f"{f.decision} (map peak {f.peak:.3f})"
        elif f.decision == "not aligned":
            what = f"not judged: could not be aligned ({f.problem})"
        else:
            what = f"not judged: too small (eyes {f.face.eye_span:.0f} px apart)"
        lines.append(f"face {k}: {what}")
    summary = res.summary()
    if res.decision == "no face found":
        summary += ": nothing was judged (the model only knows faces)"
    verdict = f"{name}: {summary}"
    say("drawing the overlay")
    overlay = picture_overlay(rgb, res, title=verdict)
    return {"rgb": rgb, "result": res, "overlay": overlay, "verdict": verdict, "text": "\n".join([verdict] + lines)}


class PhotoDemo(ipywidgets.VBox):
    """Upload a picture and see its fakeness map: ``demo.show(data, name)`` is what an upload calls
    (testable without a browser); ``demo.last`` holds :func:`locate_upload`'s result, ``demo.output`` the
    verdict and the face lines (text, first) and the overlay, or the one-line error for a file that is not a
    readable image.

    While a picture is processed the upload button is disabled, the previous result is cleared and
    ``demo.status`` (an HTML line above the output) says what is being done; afterwards it says how long it
    took. ``demo.show(data, name, example=True)`` marks the result as the notebook's built-in example (an
    upload replaces it).
    """

    def __init__(self, locator) -> None:
        self.locator = locator
        self.last: dict | None = None
        self.upload = ipywidgets.FileUpload(accept="image/*", multiple=False, description="your picture")
        self.status = ipywidgets.HTML(value="Upload a picture (PNG, JPEG, ...): its faces are found, located and judged.")
        self.output = ipywidgets.Output()
        self.upload.observe(self._on_upload, names="value")
        super().__init__([self.upload, self.status, self.output])

    def _say(self, message: str) -> None:
        self.status.value = f"<b>working:</b> {html.escape(message)} ..."

    def show(self, data: bytes, name: str = "upload", example: bool = False) -> dict | None:
        """Locate the picture ``data`` (a file's bytes named ``name``) and show its verdict and overlay."""
        self.upload.disabled = True
        self.output.outputs = ()  # the previous result goes at once: what follows is this picture's
        t0 = time.perf_counter()
        try:
            self.last = locate_upload(self.locator, data, name, progress=self._say)
        except ValueError as err:
            self.last = None
            self.status.value = "<b>error</b>: this file is not a picture the demo can read (see below)"
            self.output.outputs = ({"output_type": "stream", "name": "stderr", "text": f"error: {err}\n"},)
            return None
        finally:
            self.upload.disabled = False
        buf = io.BytesIO()
        self.last["overlay"].save(buf, format="PNG")
        png = base64.b64encode(buf.getvalue()).decode("ascii")
        what = "built-in example (upload your own picture above)" if example else "your picture"
        self.status.value = f"<b>{what}</b>: done in {time.perf_counter() - t0:.1f} s"
        head = ("Built-in example: " if example else "") + self.last["text"] + "\n"
        self.output.outputs = ({"output_type": "stream", "name": "stdout", "text": head},
                               {"output_type": "display_data", "metadata": {},
                                "data": {"image/png": png, "text/plain": f"<overlay: {self.last['verdict']}>"}})
        return self.last

    def _on_upload(self, change) -> None:
        files = change["new"]
        if files:
            f = files[0] if isinstance(files, (list, tuple)) else next(iter(files.values()))
            self.show(bytes(f["content"]), f.get("name", "upload"))


def build_photo_demo(locator) -> PhotoDemo:
    """The photo demo: a file upload; each picture's faces are found, aligned, located and mapped back."""
    return PhotoDemo(locator)
