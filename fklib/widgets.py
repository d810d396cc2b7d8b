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
import io
import math
import os
import tempfile
import threading
from typing import Any

import ipywidgets
import numpy as np
import pandas as pd

from .data import load_rgb, load_set
from .degrade import degradation_settings, degrade_image, describe_degradation
from .locate import overlay_image
from .metrics import coss, psnr, ssim
from .report.figures import figure_png, result_figure, result_metrics_text


#: Resolution of the demo's figure: 12 x 3.4 in at 100 dpi = 1200 x 340 px, 11-pt titles (a projector).
FIGURE_DPI = 100


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
    property of fakes), ``identity`` (dropdowns), ``jpeg_on`` (checkbox;
    moving the quality slider switches it on), ``jpeg_quality`` (10..100), ``blur_kernel`` (odd
    1..15), ``noise_variance`` (0..400, 0-255 units), ``downscale`` (1..8) and a ``reset`` button.
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
                                        continuous_update=False, style=style, layout=layout),
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
        for name in ("identity", "jpeg_on", "blur_kernel", "noise_variance", "downscale"):
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
                png = base64.b64encode(figure_png(result_figure(result), dpi=FIGURE_DPI)).decode("ascii")
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
        if not self.controls["jpeg_on"].value:
            self._quietly(lambda: setattr(self.controls["jpeg_on"], "value", True))
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

def locate_upload(locator, data: bytes, name: str = "upload") -> dict:
    """What the photo demo shows for an uploaded file: every face found, aligned, located, mapped back.

    The bytes are read with the same rules as ``python -m fklib locate`` (:func:`fklib.data.load_rgb`:
    EXIF orientation, grayscale / RGBA / 16-bit converted, truncated or non-image files refused naming
    ``name``), from a temporary copy that is removed afterwards.

    Returns:
        ``{"rgb", "result"`` (:class:`fklib.locate.PictureResult`), ``"overlay"`` (PIL image: the map over
        the picture with each face's box and verdict), ``"text"`` (one line per face, then the picture's
        decision)``}``.
    """

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
    res = locator.locate_picture(rgb)
    lines = []
    for k, f in enumerate(res.faces, 1):
        what = (f"{f.decision} (p(fake) {f.probability:.2f}, map peak {f.peak:.3f})" if f.judged
                else f"too small to judge (eyes {f.face.eye_span:.0f} px apart)")
        lines.append(f"face {k}: {what}")
    summary = {"no face found": "no face found: nothing was judged (the model only knows faces)",
               "no face large enough": "no face large enough to judge"}.get(res.decision, f"picture: {res.decision}")
    boxes = [(f.face.box, f"{k}: {f.decision}") for k, f in enumerate(res.faces, 1)]
    overlay = overlay_image(rgb, res.map, title=summary if len(summary) < 60 else None, boxes=boxes)
    return {"rgb": rgb, "result": res, "overlay": overlay, "text": "\n".join(lines + [summary])}


class PhotoDemo(ipywidgets.VBox):
    """Upload a picture and see its fakeness map: ``demo.show(data, name)`` is what an upload calls
    (testable without a browser); ``demo.last`` holds :func:`locate_upload`'s result, ``demo.output`` the
    overlay and the text, or the one-line error for a file that is not a readable image."""

    def __init__(self, locator) -> None:
        self.locator = locator
        self.last: dict | None = None
        self.upload = ipywidgets.FileUpload(accept="image/*", multiple=False, description="your picture")
        self.output = ipywidgets.Output()
        self.upload.observe(self._on_upload, names="value")
        super().__init__([self.upload, self.output])

    def show(self, data: bytes, name: str = "upload") -> dict | None:

        try:
            self.last = locate_upload(self.locator, data, name)
        except ValueError as err:
            self.last = None
            self.output.outputs = ({"output_type": "stream", "name": "stderr", "text": f"error: {err}\n"},)
            return None
        buf = io.BytesIO()
        self.last["overlay"].save(buf, format="PNG")
        png = base64.b64encode(buf.getvalue()).decode("ascii")
        self.output.outputs = ({"output_type": "display_data", "metadata": {},
                                "data": {"image/png": png, "text/plain": "<overlay>"}},
                               {"output_type": "stream", "name": "stdout", "text": self.last["text"] + "\n"})
        return self.last

    def _on_upload(self, change) -> None:
        files = change["new"]
        if files:
            f = files[0] if isinstance(files, (list, tuple)) else next(iter(files.values()))
            self.show(bytes(f["content"]), f.get("name", "upload"))


def build_photo_demo(locator) -> PhotoDemo:
    """The photo demo: a file upload; each picture's faces are found, aligned, located and mapped back."""
    return PhotoDemo(locator)
