"""``python -m fklib locate IMAGE... [--out DIR] [--checkpoint C]``: a fakeness map for any image.

For each image this writes, into ``--out`` (default ``located/``):

- ``<stem>_map.png``: the fakeness map at the input's pixel size (after its EXIF orientation), gray,
  16-bit: value / 65535 is the fakeness in [0, 1]; ``--bits 8``: 8-bit on a square-root scale,
  fakeness = (value / 255) ** 2, so the decision's peak floor (about 0.004) is still 16 levels above 0;
- ``<stem>_overlay.png``: the picture (its long side at most :data:`OVERLAY_MAX_SIDE` px) with the map
  over it in the project's map colours (inferno, square-root law, 0 to :data:`OVERLAY_VMAX`; transparent
  where the map is 0), each face's box with its verdict beside it, the picture's verdict above it and the
  colour bar to its right (``--no-overlay``: not written);
- ``<stem>.json``: the verdict of the picture and of each face, map statistics, the files and the model
  (the fields: README, "Locate fakeness in your own images").

Every face is found at any of the four rotations a camera saves (:func:`fklib.faces.find_faces`), aligned
to the training framing, located, and its map warped back into the picture; ``--no-align`` locates the
image as given (resized to the model's 128 px), for crops already framed like the training faces.

A file ``locate`` did not write is never replaced: its JSON says ``"written_by": "python -m fklib
locate"`` and its PNGs carry the text chunk ``fklib-locate``. An output name taken by another file (a
user's ``foo.json``, a photo named ``foo_map.png``) moves that image's outputs to the next free stem
(``foo_2``), with a note; ``--overwrite`` replaces such files instead. An input is never written over,
and no two inputs share a stem: every output name is planned before anything is written
(:func:`output_stems`). ``--out`` is checked (a folder, writable) before the model is loaded. Each image's
files are written under an exclusive lock on ``--out``, so two runs into one folder never mix the files of
one image.

A file that cannot be read (missing, not an image, truncated, larger than ``--max-pixels``) gives
one error line naming it, the other files still run, and the exit status is 1. A model whose
output is not finite (damaged weights) is refused the same way; the JSON never holds NaN.

Each file is written under a hidden partial name (``.<name>.<pid>.part``) and renamed; Ctrl-C or
SIGTERM removes the partial file being written and ends with one line, ``interrupted; N of M images
written`` (exit 130, or 143 for SIGTERM); the partial files of a killed run (SIGKILL) are removed by
the next run into the folder.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import cli, colors, paths
from .checkpoint import DecisionRule, LoadedLocator, load_picture_rule, load_trained
from .data.images import load_rgb
from .files import check_out_dir, folder_lock, json_safe, prepare_out_dir, remove_partials, write_atomically
from .metrics.classification import map_peak
from .faces import DEFAULT_FRAMING, align_face
from .faces.align import alignment_problem, face_transform, invert, map_to_window, transform_points
from .faces.detect import (DETECT_MAX_PIXELS, MIN_FACE_SIZE, ROTATIONS, TURNED_MIN_FACE_SIZE, detection_scale,
                           find_faces, smallest_face)
from .models.inference import ImagePredictor

#: The smallest face judged: its eye span in the picture (pixels) must reach this; smaller faces are
#: reported as too small, not judged. In the training framing the eyes are 28-29 px apart at 128 px; a
#: smaller face is upsampled, and validation reals placed that small are called fake more and more often
#: (TNR 0.93 at 28 px, 0.80 at 22.5 px, 0.45-0.60 at 11-17 px: ``experiments/locate_photos.py framing``,
#: ``results/tables/locate_framing.md``).
MIN_EYE_SPAN = 25.0

#: Default pixel limit for ``locate`` (about 8k x 8k): larger files are refused before decoding.
LOCATE_MAX_PIXELS = 64_000_000
#: The files written per image: kind -> suffix after the stem.
OUTPUT_SUFFIXES = {"map": "_map.png", "json": ".json", "overlay": "_overlay.png"}
#: The names whose partial files (``.<name>.<pid>.part``) ``locate`` removes: any of its output names.
PARTIAL_NAMES = ".+(?:" + "|".join(re.escape(s) for s in OUTPUT_SUFFIXES.values()) + ")"
#: What marks a file as written by ``locate``: the JSON's ``written_by`` value, and the PNG text chunk
#: :data:`PNG_MARK_KEY` (whose value is the file's kind, ``map`` or ``overlay``).
WRITTEN_BY = "python -m fklib locate"
PNG_MARK_KEY = "fklib-locate"
#: The PNG text chunk of a map PNG that says how its values read as fakeness.
PNG_SCALE_KEY = "fklib-map-scale"
#: The version of the JSON's fields (README, "Locate fakeness in your own images"); 1 had no marker.
JSON_FORMAT = 2
#: How each map PNG depth stores fakeness (also written into the PNG and the JSON's ``map_png``).
MAP_PNG_SCALES = {16: "linear: fakeness = value / 65535",
                  8: "square root: fakeness = (value / 255) ** 2"}

#: Top of the overlay's colour scale: fakeness at or above it is drawn in the top colour. Fixed (not per
#: image), so overlays of different pictures compare and a real face's faint map stays dark; low (our maps
#: average about 0.04, GAN-edited pixels mostly 0.1-0.3) so that a map is visible; the map PNG keeps the
#: exact values. The colours are the project's (:func:`fklib.colors.map_colours`: inferno, square root).
OVERLAY_VMAX = 0.25
#: The overlay shows the picture with its long side at most this many pixels (a screen), whatever the
#: picture's size; the map PNG keeps the full size.
OVERLAY_MAX_SIDE = 2048
#: Smaller pictures are shown enlarged (nearest neighbour) to this long side, so labels stay readable.
OVERLAY_MIN_SIDE = 512


def map_stats(values: np.ndarray, tau: float = 0.1) -> dict:
    """Statistics of a map's values (any shape): mean, max, 95th percentile, peak (the decision's
    :func:`fklib.metrics.map_peak`, the 99th percentile), fraction above ``tau``, and the pixel count.
    Empty ``values``: every statistic ``None``."""
    v = np.asarray(values, np.float32).ravel()
    if v.size == 0:
        return {"mean": None, "max": None, "p95": None, "peak": None, "fraction_above_tau": None, "tau": tau,
                "pixels": 0}
    return {"mean": float(v.mean(dtype=np.float64)), "max": float(v.max()), "p95": float(np.percentile(v, 95)),
            "peak": float(map_peak(v[None])[0]), "fraction_above_tau": float((v > tau).mean()), "tau": tau,
            "pixels": int(v.size)}


@dataclass
class Located:
    """The result for one image located as given (``--no-align``): ``map`` is ``H x W`` float32 in [0, 1] at
    the input's size; ``rule`` the locator's decision rule."""

    path: Path
    map: np.ndarray
    probability: float | None
    rule: DecisionRule

    @functools.cached_property
    def peak(self) -> float:
        """The map's peak (:func:`fklib.metrics.map_peak`), read by the decision (once per image)."""
        return float(map_peak(self.map[None])[0])

    def stats(self, tau: float = 0.1) -> dict:
        """:func:`map_stats` of the whole map."""
        return map_stats(self.map, tau)

    def decision(self) -> str:
        """``fake`` / ``real`` (or ``unknown (no classifier)``) by the rule (:meth:`DecisionRule.word`)."""
        return self.rule.word(self.probability, self.map, self.peak)


@dataclass
class FaceResult:
    """One face of a picture: where it is, the crop the model saw and its verdict.

    Attributes:
        face: the detection (:class:`fklib.faces.Face`).
        transform: the ``picture -> crop`` similarity (``2 x 3``) that aligned it.
        judged: False for a face too small (eye span under ``min_eye_span``) or not aligned: no map, no decision.
        crop: the aligned crop the model saw (``size x size x 3``), ``None`` when not judged.
        crop_map: the model's map of the crop, ``None`` when not judged.
        probability: the classifier's fake probability (``None``: not judged or no classifier).
        decision: ``fake``, ``real``, ``too small``, ``not aligned`` or ``unknown (no classifier)``.
        peak: the crop map's peak (:func:`fklib.metrics.map_peak`), ``None`` when not judged.
        problem: why a face was not aligned (:func:`fklib.faces.align.alignment_problem`), else ``None``.
    """

    face: object
    transform: np.ndarray
    judged: bool
    crop: np.ndarray | None = None
    crop_map: np.ndarray | None = None
    probability: float | None = None
    decision: str = "too small"
    peak: float | None = None
    problem: str | None = None

    def label(self, k: int) -> str:
        """The face's short label on the overlay: its number and verdict."""
        if self.judged and self.probability is not None:
            return f"{k}: {self.decision} p={self.probability:.2f}"
        return f"{k}: {self.decision}"

    def to_dict(self, width: int | None = None, height: int | None = None, size: int = 128) -> dict:
        """The face's JSON entry; with the picture's ``width`` and ``height`` its box is clipped to it."""
        corners = transform_points(invert(self.transform), [[0, 0], [size, 0], [size, size], [0, size]])
        out = {**self.face.to_dict(width, height), "judged": self.judged, "decision": self.decision,
               "fake_probability": self.probability, "map_peak": self.peak,
               "crop_transform": np.round(self.transform, 5).tolist(),
               "crop_corners": np.round(corners, 2).tolist()}
        if self.problem:
            out["reason"] = f"not aligned: {self.problem}"
        elif not self.judged:
            out["reason"] = f"too small: eyes {self.face.eye_span:.1f} px apart, fewer than {MIN_EYE_SPAN:g}"
        out["map"] = map_stats(self.crop_map) if self.crop_map is not None else None
        return out


@dataclass
class PictureResult:
    """A picture located face by face.

    Attributes:
        map: ``H x W`` float32 in [0, 1], the faces' maps warped back into the picture (zero elsewhere;
            where two crops overlap, the larger value).
        faces: one :class:`FaceResult` per detected face, largest first.
        decision: :func:`picture_decision` of the faces.
        probability: the largest fake probability over the judged faces (``None`` when none was judged).
        inside: ``H x W`` bool, the pixels the judged faces' crops cover (where the map can be non-zero).
    """

    map: np.ndarray
    faces: list[FaceResult]
    decision: str
    probability: float | None
    inside: np.ndarray | None = None

    def counts(self) -> dict:
        """How many faces were found, judged, too small and not aligned."""
        return {"found": len(self.faces), "judged": sum(f.judged for f in self.faces),
                "too_small": sum(f.decision == "too small" for f in self.faces),
                "not_aligned": sum(f.decision == "not aligned" for f in self.faces)}

    def stats(self, tau: float = 0.1) -> dict | None:
        """:func:`map_stats` of the map inside the judged faces' crops (``None`` when no face was judged)."""
        if self.inside is None or not self.inside.any():
            return None
        return {**map_stats(self.map[self.inside], tau), "region": "inside the judged faces' crops"}

    def summary(self) -> str:
        """The picture's verdict in one line: decision, p(fake), and the faces judged / too small / not aligned."""
        c = self.counts()
        if not c["found"]:
            return "no face found"
        head = self.decision if self.probability is None else f"{self.decision} (p(fake) {self.probability:.2f})"
        parts = [f"{c['judged']} face{'s' * (c['judged'] != 1)} judged"]
        if c["too_small"]:
            parts.append(f"{c['too_small']} too small to judge")
        if c["not_aligned"]:
            parts.append(f"{c['not_aligned']} not aligned")
        return f"{head}: {', '.join(parts)}"


def picture_decision(faces: list[FaceResult]) -> str:
    """The picture's decision from its faces': ``fake`` when a judged face is fake, ``real`` when every judged
    face is real; ``no face found``; ``no face large enough`` (every face too small); ``no face judged``
    (some could not be aligned); ``unknown (no classifier)``."""
    judged = [f for f in faces if f.judged]
    if not faces:
        return "no face found"
    if not judged:
        return "no face large enough" if all(f.decision == "too small" for f in faces) else "no face judged"
    if any(f.decision == "fake" for f in judged):
        return "fake"
    return "real" if all(f.decision == "real" for f in judged) else "unknown (no classifier)"


class Locator(ImagePredictor):
    """A loaded locator ready for single images (BatchNorm folded, eval mode, CPU by default).

    Args:
        checkpoint: a ``.pt`` checkpoint or a shipped ``.safetensors`` (default: the shipped model), or a
            :class:`~fklib.checkpoint.LoadedLocator` already loaded.
        device: ``cpu`` or ``cuda``.

    ``predict_array(rgb)`` (:class:`fklib.models.inference.ImagePredictor`) gives the map at the
    input's size and the fake probability; calling the locator on a path reads the file first.
    """

    def __init__(self, checkpoint: str | Path | LoadedLocator | None = None, device: str = "cpu") -> None:
        if not isinstance(checkpoint, LoadedLocator):
            checkpoint = load_trained(checkpoint if checkpoint is not None else paths.default_locator())
        self.loaded = checkpoint
        self.checkpoint, self.cfg, self.rule = checkpoint.source, checkpoint.config, checkpoint.rule
        #: faces found in a picture are decided by the picture decision when one is stored for these weights
        #: (:func:`fklib.checkpoint.load_picture_rule`); ``picture_record`` says how it was chosen (``None``: none)
        self.picture_rule, self.picture_record = load_picture_rule(checkpoint.rule, checkpoint.weights_sha256,
                                                                   checkpoint.source)
        super().__init__(checkpoint.model, checkpoint.size, device)

    def predict_array(self, rgb: np.ndarray) -> tuple[np.ndarray, float | None]:
        """:meth:`ImagePredictor.predict_array`, refusing an output with NaN or infinite values.

        Raises:
            ValueError: the map or the probability is not finite (naming the checkpoint: damaged weights).
        """
        m, prob = super().predict_array(rgb)
        if not np.isfinite(m).all() or (prob is not None and not math.isfinite(prob)):
            raise ValueError(f"the model's output is not finite (NaN or infinite values): are the weights of "
                             f"{self.checkpoint} damaged?")
        return m, prob

    def decide(self, prob: float | None, m: np.ndarray, peak: float | None = None) -> str:
        """``fake`` / ``real`` of a map and its probability by this checkpoint's rule (:meth:`DecisionRule.word`)."""
        return self.rule.word(prob, m, peak)

    def locate_picture(self, rgb: np.ndarray, faces: list | None = None, framing: str | None = None,
                       min_eye_span: float = MIN_EYE_SPAN,
                       progress: Callable[[str], None] | None = None) -> PictureResult:
        """Every face of a picture: found (unless ``faces`` are given), aligned to the training framing,
        located, and its map warped back into the picture.

        A face is judged when its eye span reaches ``min_eye_span`` and its landmarks make an upright face
        (:func:`fklib.faces.align.alignment_problem`); the others are listed as ``too small`` or ``not aligned``.

        Args:
            rgb: ``H x W x 3`` uint8 picture.
            faces: the faces (:class:`fklib.faces.Face`); default: :func:`fklib.faces.find_faces` (every
                rotation).
            framing: the template the faces are aligned to (:data:`fklib.faces.TEMPLATES`; default
                :data:`fklib.faces.DEFAULT_FRAMING`).
            min_eye_span: faces whose eye span (picture pixels) is smaller are reported, not judged.
            progress: called with a short message before each step (the photo demo shows it).
        """
        say = progress or (lambda _msg: None)
        framing = framing or DEFAULT_FRAMING
        if faces is None:
            say(f"finding faces in the {rgb.shape[1]} x {rgb.shape[0]} picture")
            faces = find_faces(rgb)
        shape = rgb.shape[:2]
        full = np.zeros(shape, np.float32)
        inside = np.zeros(shape, bool)
        ones = np.ones((self.size, self.size), np.float32)
        results = []
        for k, face in enumerate(faces, 1):
            m = face_transform(face.landmarks, framing, self.size)
            if face.eye_span < min_eye_span:
                results.append(FaceResult(face, m, False))
                continue
            problem = alignment_problem(face.landmarks, framing)
            if problem:
                results.append(FaceResult(face, m, False, decision="not aligned", problem=problem))
                continue
            say(f"locating face {k} of {len(faces)}")
            crop, m = align_face(rgb, face.landmarks, framing, self.size)
            crop_map, prob = self.predict_array(crop)
            peak = float(map_peak(crop_map[None])[0])
            results.append(FaceResult(face, m, True, crop, crop_map, prob, self.picture_rule.word(prob, crop_map, peak),
                                      peak))
            window, values = map_to_window(crop_map, m, shape)
            if window is not None:
                y0, y1, x0, x1 = window
                np.maximum(full[y0:y1, x0:x1], values, out=full[y0:y1, x0:x1])
                inside[y0:y1, x0:x1] |= map_to_window(ones, m, shape)[1] > 0.5
        probs = [f.probability for f in results if f.judged and f.probability is not None]
        return PictureResult(full, results, picture_decision(results), max(probs) if probs else None, inside)

    def __call__(self, path: str | Path, max_pixels: int = LOCATE_MAX_PIXELS) -> Located:
        path = Path(path)
        m, prob = self.predict_array(load_rgb(path, max_pixels=max_pixels))
        return Located(path, m, prob, self.rule)


# --- the files: map PNG, overlay PNG, and how a file is known as locate's own -------------------------

def _png_info(kind: str, **extra: str):
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text(PNG_MARK_KEY, kind)
    for key, value in extra.items():
        info.add_text(key, value)
    return info


def save_map_png(m: np.ndarray, path: Path, bits: int = 16) -> Path:
    """Write an ``H x W`` map in [0, 1] as a gray PNG marked as ``locate``'s (:data:`PNG_MARK_KEY`).

    16-bit: value = fakeness * 65535 (linear); 8-bit: value = sqrt(fakeness) * 255 (square root: a faint
    map keeps its levels, 0.0042 -> 17 instead of 1); the scale is also written into the PNG
    (:data:`PNG_SCALE_KEY`), which :func:`read_map_png` reads. Converted in row blocks (no full-size temporaries).
    """
    from PIL import Image

    if bits not in MAP_PNG_SCALES:
        raise ValueError(f"bits must be 8 or 16, got {bits}")
    top, dtype = (65535, np.uint16) if bits == 16 else (255, np.uint8)
    m = np.asarray(m)
    arr = np.empty(m.shape, dtype)
    rows = max(1, (1 << 22) // max(1, m.shape[1]))
    for r in range(0, m.shape[0], rows):
        block = np.clip(m[r:r + rows], 0, 1).astype(np.float32)
        if bits == 8:
            np.sqrt(block, out=block)
        arr[r:r + rows] = np.rint(block * top)
    img = Image.fromarray(arr)  # uint16 -> mode I;16, uint8 -> L
    info = _png_info("map", **{PNG_SCALE_KEY: MAP_PNG_SCALES[bits]})
    _atomic_save(lambda tmp: img.save(tmp, format="PNG", pnginfo=info), path)
    return path


def read_map_png(path: str | Path) -> np.ndarray:
    """Inverse of :func:`save_map_png`: the map in [0, 1] as float32 (an 8-bit map of ``locate``'s square-root
    scale squared back; a PNG without the scale read as linear)."""
    from PIL import Image

    with Image.open(path) as img:
        scale = img.info.get(PNG_SCALE_KEY, "")
        arr = np.array(img)
    top = 65535.0 if arr.dtype == np.uint16 or arr.max(initial=0) > 255 else 255.0
    m = (arr.astype(np.float32) / top).clip(0, 1)
    return m ** 2 if scale.startswith("square root") else m


def is_own_output(path: Path) -> bool:
    """Whether ``path`` is a file ``locate`` wrote: a JSON whose ``written_by`` is :data:`WRITTEN_BY`, or a PNG
    with the text chunk :data:`PNG_MARK_KEY`. A symlink, a folder or anything unreadable is not."""
    path = Path(path)
    if path.is_symlink() or not path.is_file():
        return False
    try:
        if path.suffix == ".json":
            if path.stat().st_size > (16 << 20):
                return False
            data = json.loads(path.read_text(encoding="utf-8"))
            return isinstance(data, dict) and data.get("written_by") == WRITTEN_BY
        if path.suffix == ".png":
            from PIL import Image

            with Image.open(path) as img:
                return img.format == "PNG" and img.info.get(PNG_MARK_KEY) in ("map", "overlay")
    except (OSError, ValueError, SyntaxError):
        return False
    return False


@dataclass
class OverlayLayout:
    """Where the picture lies on the overlay: ``scale`` overlay pixels per picture pixel, its top-left
    corner at ``(x, y)``, shown ``width x height``; the canvas is ``canvas_width x canvas_height``."""

    scale: float
    x: int
    y: int
    width: int
    height: int
    canvas_width: int
    canvas_height: int
    font_size: int
    title_lines: list[str]

    def to_dict(self) -> dict:
        return {"scale": round(self.scale, 6), "picture_box": [self.x, self.y, self.x + self.width, self.y + self.height],
                "size": [self.canvas_width, self.canvas_height],
                "colours": f"inferno, square-root scale, fakeness 0 to {OVERLAY_VMAX:g} (above: the top colour), "
                           "blended over the judged faces' crops (the whole image with --no-align)"}


def overlay_layout(height: int, width: int, title: str | None = None) -> OverlayLayout:
    """The overlay's layout for a ``height x width`` picture: the picture scaled to a long side in
    [:data:`OVERLAY_MIN_SIDE`, :data:`OVERLAY_MAX_SIDE`] (never shrunk below 1 px), a title band above it
    (the title wrapped, never cut), the colour bar and its labels in a band to its right."""
    long_side = max(height, width)
    scale = min(OVERLAY_MAX_SIDE / long_side, max(1.0, OVERLAY_MIN_SIDE / long_side))
    dw, dh = max(1, round(width * scale)), max(1, round(height * scale))
    fs = int(min(28, max(13, round(max(dw, dh) / 60))))
    pad = max(6, fs // 2)
    right = fs + 2 * pad + int(4.2 * fs * 0.62)  # the bar and its longest label (">=0.25")
    lines = _wrap(title, _font(fs), dw + right - pad) if title else []
    title_h = (len(lines) * int(fs * 1.3) + pad) if lines else 0
    pic_h = max(dh, 6 * fs)  # room for the colour bar beside a picture only a few pixels high
    return OverlayLayout(scale, pad, title_h + pad, dw, dh, pad + dw + right, title_h + pic_h + 2 * pad, fs, lines)


def _wrap(text: str, font, width: float) -> list[str]:
    """``text`` in lines no wider than ``width`` pixels in ``font`` (words kept whole; a word wider than a
    line gets its own line)."""
    lines: list[str] = []
    for word in text.split():
        if lines and font.getlength(f"{lines[-1]} {word}") <= width:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return lines


def _font(size: int):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # pragma: no cover - Pillow without FreeType sizes
        return ImageFont.load_default()


def _resized(arr: np.ndarray, width: int, height: int) -> np.ndarray:
    """``arr`` (``H x W x 3`` uint8 or ``H x W`` float32) at ``width x height``: area average when shrinking,
    nearest neighbour when enlarging (a pixel shows as a block)."""
    from PIL import Image

    h, w = arr.shape[:2]
    if (w, h) == (width, height):
        return arr
    img = Image.fromarray(arr if arr.ndim == 3 else np.asarray(arr, np.float32), None if arr.ndim == 3 else "F")
    method = Image.Resampling.BOX if width * height <= w * h else Image.Resampling.NEAREST
    return np.asarray(img.resize((width, height), method))


def _label_position(box, size, placed, bounds):
    """Where a label of ``size`` (w, h) goes beside ``box`` (x0, y0, x1, y1): above, below, right or left of
    it, the first place inside ``bounds`` that overlaps no label ``placed`` before; else above, moved inside."""
    (x0, y0, x1, y1), (w, h) = box, size
    bx0, by0, bx1, by1 = bounds
    candidates = [(x0, y0 - h - 2), (x0, y1 + 2), (x1 + 3, y0), (x0 - w - 3, y0)]

    def fits(x, y):
        return bx0 <= x and x + w <= bx1 and by0 <= y and y + h <= by1

    def free(x, y):
        return all(x + w <= a or a2 <= x or y + h <= b or b2 <= y for a, b, a2, b2 in placed)

    for x, y in candidates:
        if fits(x, y) and free(x, y):
            return x, y
    for x, y in candidates:
        if fits(x, y):
            return x, y
    x, y = candidates[0]
    return min(max(x, bx0), max(bx0, bx1 - w)), min(max(y, by0), max(by0, by1 - h))


def overlay_image(rgb: np.ndarray, m: np.ndarray, title: str | None = None, boxes=(), vmax: float = OVERLAY_VMAX,
                  inside: np.ndarray | None = None):
    """The overlay: the picture at screen size (:func:`overlay_layout`) with the map blended over it where it
    was computed (:func:`fklib.colors.tint`: the project's map colours, ``0`` to ``vmax``; ``inside``: ``H x W``
    bool, the faces' crops, default the whole picture; the rest of the picture untouched),
    ``boxes`` (``((x0, y0, x1, y1), label)`` in picture pixels) outlined with each label beside its box, the
    title above the picture and the colour bar (ticked in values) to its right. A PIL image (no matplotlib);
    its ``info["layout"]`` is the :class:`OverlayLayout`, ``info["labels"]`` the labels' rectangles.
    """
    from PIL import Image, ImageDraw

    h, w = m.shape
    lay = overlay_layout(h, w, title)
    where = None if inside is None else _resized(inside.astype(np.float32), lay.width, lay.height)
    shown = colors.tint(_resized(rgb, lay.width, lay.height), _resized(m, lay.width, lay.height), vmax, where=where)
    canvas = Image.new("RGB", (lay.canvas_width, lay.canvas_height), (30, 30, 30))
    canvas.paste(Image.fromarray(shown), (lay.x, lay.y))
    draw = ImageDraw.Draw(canvas)
    fs = lay.font_size
    font, small = _font(fs), _font(max(11, int(fs * 0.85)))
    for i, line in enumerate(lay.title_lines):
        draw.text((lay.x, lay.x // 2 + i * int(fs * 1.3)), line, fill=(255, 255, 255), font=font)
    # the colour bar, right of the picture: value v at height (v / vmax) ** MAP_GAMMA, ticked in values
    bx0 = lay.x + lay.width + lay.x
    bx1 = bx0 + max(6, fs // 2)
    by0, by1 = lay.y + int(fs * 1.8), lay.y + max(lay.height, 6 * fs) - fs // 2
    ramp = np.linspace(1, 0, max(2, by1 - by0), dtype=np.float32)[:, None].repeat(bx1 - bx0, 1)
    canvas.paste(Image.fromarray(np.rint(colors.inferno(ramp) * 255).astype(np.uint8)), (bx0, by0))
    draw.rectangle((bx0 - 1, by0 - 1, bx1, by1), outline=(200, 200, 200))
    draw.text((bx0, lay.y), "fakeness", fill=(255, 255, 255), font=small)
    for v in (0.0, vmax / 16, vmax / 4, vmax):
        y = by1 - (v / vmax) ** colors.MAP_GAMMA * (by1 - by0)
        draw.line((bx1, y, bx1 + 3, y), fill=(200, 200, 200))
        text = f">={v:.2f}" if v == vmax else ("0" if v == 0 else f"{v:.3f}".rstrip("0"))
        draw.text((bx1 + 5, y), text, fill=(255, 255, 255), font=small, anchor="lm")
    # each face: its box, and its label beside it (inside the canvas, not over another label)
    s = lay.scale
    bounds = (0, lay.y - (lay.x if lay.title_lines else 0), lay.x + lay.width + lay.x, lay.canvas_height)
    placed = []
    for (x0b, y0b, x1b, y1b), text in boxes:
        box = (lay.x + x0b * s, lay.y + y0b * s, lay.x + x1b * s, lay.y + y1b * s)
        box = (max(box[0], lay.x), max(box[1], lay.y), min(box[2], lay.x + lay.width), min(box[3], lay.y + lay.height))
        draw.rectangle(box, outline=(255, 255, 255), width=max(1, fs // 9))
        l, t, r, b = draw.textbbox((0, 0), text, font=small)
        size = (r - l + 6, b - t + 6)
        x, y = _label_position(box, size, placed, bounds)
        placed.append((x, y, x + size[0], y + size[1]))
        draw.rectangle(placed[-1], fill=(0, 0, 0))
        draw.text((x + 3 - l, y + 3 - t), text, fill=(255, 255, 255), font=small)
    canvas.info["layout"], canvas.info["labels"] = lay, placed  # for callers and tests; not written into the PNG
    return canvas


def picture_overlay(rgb: np.ndarray, pic: PictureResult, title: str | None = None):
    """:func:`overlay_image` of a located picture: its map, each face's box numbered as in the JSON with its
    verdict, and ``title`` (default: :meth:`PictureResult.summary`)."""
    h, w = rgb.shape[:2]
    boxes = [(f.face.clipped_box(w, h), f.label(k)) for k, f in enumerate(pic.faces, 1)]
    inside = pic.inside if pic.inside is not None else np.zeros(pic.map.shape, bool)
    return overlay_image(rgb, pic.map, title=pic.summary() if title is None else title, boxes=boxes, inside=inside)


def save_overlay_png(rgb: np.ndarray, m: np.ndarray, path: Path, title: str | None = None, boxes=(), image=None) -> Path:
    """:func:`overlay_image` (or ``image`` when given) saved as a PNG marked as ``locate``'s (fast zlib level 1:
    on a 1600 x 1200 photo's overlay 0.2 s instead of 0.9 s for a 20 % larger file)."""
    img = overlay_image(rgb, m, title, boxes=boxes) if image is None else image
    info = _png_info("overlay")  # zlib level 1: a photo compresses little more at 6, which takes 5x as long
    _atomic_save(lambda tmp: img.save(tmp, format="PNG", pnginfo=info, compress_level=1), path)
    return path


def _atomic_save(write, path: Path) -> None:
    write_atomically(path, write)  # a partial name, renamed; removed when the write fails or is interrupted


def _file_key(path: Path):
    """What identifies the file at ``path``: device and inode when it exists (hard links, symlinks), else its real path."""
    try:
        st = path.stat()
        return st.st_dev, st.st_ino
    except OSError:
        return os.path.realpath(path)


def _occupied(path: Path) -> bool:
    """Whether something is at ``path`` (a file, a folder, a symlink, even a broken one)."""
    return path.exists() or path.is_symlink()


def output_stems(paths: list[Path], out_dir: str | Path | None = None,
                 suffixes: tuple[str, ...] = tuple(OUTPUT_SUFFIXES.values()), overwrite: bool = False,
                 notes: list[str] | None = None) -> list[str]:
    """One output stem per input, all planned before anything is written.

    An input keeps its file stem where it can (the first input of that stem); every other one gets
    the first free ``<stem>_2``, ``<stem>_3``, ...: no two inputs share a stem, also when an input is
    itself named ``x_2``. With ``out_dir``, a stem is not free either when one of its output files
    (``<stem><suffix>``) would be one of the inputs, or (unless ``overwrite``) is something ``locate`` did not
    write (:func:`is_own_output`): a user's file is never replaced. Each such move is explained in ``notes``.
    """
    inputs = {_file_key(p) for p in paths}
    taken: set[str] = set()
    blocked: dict[str, str] = {}  # stem -> why it was not free

    def take(stem: str) -> bool:
        if stem in taken:
            return False
        if out_dir is not None:
            for s in suffixes:
                target = Path(out_dir) / f"{stem}{s}"
                if _file_key(target) in inputs:
                    blocked[stem] = f"{target} is one of the inputs"
                    return False
                if not overwrite and _occupied(target) and not is_own_output(target):
                    blocked[stem] = f"{target} exists and was not written by locate (kept; --overwrite replaces it)"
                    return False
        taken.add(stem)
        return True

    stems: list[str | None] = [p.stem if take(p.stem) else None for p in paths]
    for i, p in enumerate(paths):
        n = 2
        while stems[i] is None:
            stems[i] = f"{p.stem}_{n}" if take(f"{p.stem}_{n}") else None
            n += 1
        if notes is not None and stems[i] != p.stem and p.stem in blocked:
            notes.append(f"note: {p}: its outputs are named {stems[i]}*, because {blocked[p.stem]}")
    return stems


def frame_count(path: Path) -> int:
    """How many frames the image file holds (an animated GIF, PNG or WebP, a multi-page TIFF); 1 when unknown."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            return int(getattr(img, "n_frames", 1) or 1)
    except (OSError, ValueError, SyntaxError):
        return 1


def locate_files(images: list[str | Path], out_dir: str | Path = "located", checkpoint: str | Path | None = None,
                 bits: int = 16, overlay: bool = True, max_pixels: int = LOCATE_MAX_PIXELS,
                 locator: Locator | None = None, log=print, err=None, align: bool = True,
                 framing: str | None = None, overwrite: bool = False) -> tuple[list[dict], list[str]]:
    """Locate each image, writing map, overlay and JSON; return (the JSON records, the error lines).

    ``out_dir`` is checked first (:func:`fklib.files.prepare_out_dir`) and every output name planned
    before anything is written (:func:`output_stems`: an input and, unless ``overwrite``, a file ``locate``
    did not write are never replaced); an image's files are written together under an exclusive lock on
    ``out_dir`` (:func:`fklib.files.folder_lock`), where the partial files a killed run left are removed
    first. A bad image (or a write that fails) gives one error line naming it and the next image runs.
    Interrupted (``KeyboardInterrupt``), it re-raises one saying how many images were written.
    """
    err = err or (lambda s: print(s, file=sys.stderr))
    out_dir = prepare_out_dir(out_dir)
    paths = [Path(p) for p in images]
    suffixes = {k: v for k, v in OUTPUT_SUFFIXES.items() if overlay or k != "overlay"}
    notes: list[str] = []
    stems = output_stems(paths, out_dir, tuple(suffixes.values()), overwrite, notes)
    for note in notes:
        err(note)
    locator = locator or Locator(checkpoint)
    records, errors = [], []
    with folder_lock(out_dir):  # no other run is writing now: the partial files found are a killed run's
        remove_partials(out_dir, PARTIAL_NAMES)
    try:
        _locate_each(paths, stems, out_dir, suffixes, bits, overlay, max_pixels, locator, log, err, records, errors,
                     align, framing, overwrite)
    except KeyboardInterrupt:
        raise KeyboardInterrupt(f"{len(records)} of {len(paths)} images written") from None
    return records, errors


def _check_targets(files: dict[str, Path], overwrite: bool) -> None:
    """Refuse (``ValueError`` naming it) an output that another program put there since the names were planned."""
    for f in files.values():
        if not overwrite and _occupied(f) and not is_own_output(f):
            raise ValueError(f"{f} appeared while locate ran and was not written by it: kept, nothing written "
                             "for this image (--overwrite replaces such files)")


def _locate_each(paths, stems, out_dir, suffixes, bits, overlay, max_pixels, locator, log, err, records, errors,
                 align=True, framing=None, overwrite=False):
    """The loop of :func:`locate_files`: appends to ``records`` and ``errors`` as each image is done."""
    for path, stem in zip(paths, stems):
        t0 = time.perf_counter()
        files = {k: out_dir / f"{stem}{suffix}" for k, suffix in suffixes.items()}
        try:
            rgb = load_rgb(path, max_pixels=max_pixels)
            record, m, image = _locate_one(path, rgb, locator, align, framing, overlay)
            record.update({"map_png_bits": bits,
                           "map_png": {"bits": bits, "scale": MAP_PNG_SCALES[bits], "size": [rgb.shape[1], rgb.shape[0]]},
                           "files": {k: str(v) for k, v in files.items()}, "seconds": round(time.perf_counter() - t0, 3)})
            text = json.dumps(json_safe(record), indent=2, allow_nan=False) + "\n"
            with folder_lock(out_dir):  # this image's files come from one run
                _check_targets(files, overwrite)
                save_map_png(m, files["map"], bits)
                if overlay:
                    save_overlay_png(rgb, m, files["overlay"], image=image)
                _atomic_save(lambda tmp: tmp.write_text(text), files["json"])
        except (OSError, ValueError) as e:  # OSError: FileNotFoundError of an input, or a failed write
            msg = str(e) if str(path) in str(e) else f"{path}: {e}"
            errors.append(msg)
            err(f"error: {msg}")
            continue
        records.append(record)
        log(f"{path}: {_printed(record)} -> {files['map']}")


def _p(prob: float | None) -> str:
    return "n/a" if prob is None else f"{prob:.3f}"


def _printed(record: dict) -> str:
    """The one line printed per image: the verdict, and each judged face's p(fake) and map statistics."""
    frames = f" [{record['frames_note']}]" if "frames_note" in record else ""
    if "faces" not in record:
        st = record["map"]
        return (f"{record['decision']} (p={_p(record['fake_probability'])}), whole image: map mean {st['mean']:.3f}, "
                f"peak {st['peak']:.3f}{frames}")
    faces = [f"face {k} {f['decision']} (p={_p(f['fake_probability'])}, map mean {f['map']['mean']:.3f}, "
             f"peak {f['map']['peak']:.3f})" for k, f in enumerate(record["faces"], 1) if f["judged"]]
    return f"{record['summary']}{'; ' if faces else ''}{'; '.join(faces)}{frames}"


def _locate_one(path: Path, rgb: np.ndarray, locator: Locator, align: bool, framing: str | None, overlay: bool):
    """The JSON record (without files and time), the map and the overlay image (``None`` without overlay)."""
    h, w = rgb.shape[:2]
    common = {"written_by": WRITTEN_BY, "format": JSON_FORMAT, "image": str(path), "width": int(w), "height": int(h),
              "orientation": "as shown: the EXIF orientation applied; every coordinate is in these pixels",
              "decision_threshold": locator.rule.threshold, "decision_peak_floor": locator.rule.peak_floor,
              "picture_decision_threshold": locator.picture_rule.threshold if align else None,
              "picture_decision_peak_floor": locator.picture_rule.peak_floor if align else None,
              "picture_decision": (None if locator.picture_record is None or not align else
                                   {k: locator.picture_record.get(k) for k in ("file", "chosen_on", "command")}),
              "model": {"checkpoint": str(locator.checkpoint), "model": locator.cfg.model, "input_size": locator.size}}
    frames = frame_count(path)
    if frames > 1:
        common["frames"] = frames
        common["frames_note"] = f"an animated image of {frames} frames: only its first frame was located"
    if not align:
        m, prob = locator.predict_array(rgb)
        res = Located(path, m, prob, locator.rule)
        title = f"{res.decision()}{'' if prob is None else f' (p(fake) {prob:.2f})'}: the whole image as given"
        image = overlay_image(rgb, m, title=title) if overlay else None
        record = {**common, "mode": "whole image (--no-align): resized to the model's input as given",
                  "fake_probability": prob, "decision": res.decision(), "summary": title,
                  **({"note": common["frames_note"]} if "frames_note" in common else {}),
                  "map": {**res.stats(), "region": "the whole image"}}
        if image is not None:
            record["overlay"] = overlay_layout(h, w, title).to_dict()
        return record, m, image
    pic = locator.locate_picture(rgb, framing=framing)
    c = pic.counts()
    notes = []
    if min(h, w) < MIN_FACE_SIZE:
        notes.append(f"the picture ({w} x {h} px) is smaller than the smallest face looked for ({MIN_FACE_SIZE} px): "
                     "no face can be found in it (--no-align locates the image as given)")
    elif not c["found"]:
        notes.append("no face found: nothing was judged (--no-align locates the image as given)")
    if c["too_small"]:
        notes.append(f"{c['too_small']} face(s) smaller than {MIN_EYE_SPAN:g} px between the eyes: not judged")
    if c["not_aligned"]:
        notes.append(f"{c['not_aligned']} face(s) could not be aligned (see each face's reason): not judged")
    if "frames_note" in common:
        notes.append(common["frames_note"])
    summary = pic.summary()
    image = picture_overlay(rgb, pic, summary) if overlay else None
    scale = detection_scale((h, w))
    record = {**common, "mode": f"faces: found at rotations {'/'.join(map(str, ROTATIONS))}, aligned to the "
                                f"{framing or DEFAULT_FRAMING} framing, mapped back",
              "fake_probability": pic.probability, "decision": pic.decision, "summary": summary,
              **({"note": "; ".join(notes)} if notes else {}),
              "faces_found": c["found"], "faces_judged": c["judged"], "faces_too_small": c["too_small"],
              "faces_not_aligned": c["not_aligned"], "min_eye_span": MIN_EYE_SPAN,
              "detection": {"rotations": list(ROTATIONS), "scale": round(scale, 4),
                            "smallest_face": round(smallest_face((h, w)), 1),
                            "smallest_turned_face": round(smallest_face((h, w), TURNED_MIN_FACE_SIZE), 1),
                            "searched_at": [max(1, round(w / scale)), max(1, round(h / scale))],
                            "max_pixels": DETECT_MAX_PIXELS},
              "faces": [f.to_dict(w, h, locator.size) for f in pic.faces], "map": pic.stats()}
    if image is not None:
        record["overlay"] = overlay_layout(h, w, summary).to_dict()
    return record, pic.map, image


def positive_int(text: str) -> int:
    """argparse type: a whole number > 0 (``--max-pixels``)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number > 0, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a whole number > 0, got {value}")
    return value


EPILOG = """\
what is written, for each IMAGE, into --out (default located/), named after the image's stem:
  <stem>_map.png      the fakeness map at the image's pixel size (EXIF orientation applied); 16-bit:
                      fakeness = value / 65535; --bits 8: fakeness = (value / 255) ** 2 (square root)
  <stem>_overlay.png  the picture (long side at most 2048 px) with the map over it, each face's box and
                      verdict, the picture's verdict above, the colour bar (fakeness 0 to 0.25) at the right
  <stem>.json         the verdicts of the picture and of each face, map statistics, files, model

a file locate did not write is never replaced: when <stem>.json or a PNG name is taken by another file
(its JSON's "written_by" / its PNG's "fklib-locate" mark say locate wrote it), that image's outputs get
the next free stem (<stem>_2, ...) and a note says so; --overwrite replaces such files instead. Outputs of
an earlier locate run with the same stem are replaced. An input is never written over.
"""


def main(argv: list[str] | None = None) -> int:
    return cli.run(lambda: _main(argv))


def _main(argv: list[str] | None) -> int:
    p = cli.ArgumentParser(prog="python -m fklib locate", description=__doc__.split("\n\n")[0], epilog=EPILOG,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("images", nargs="+", type=Path, help="image files (any size; PNG, JPEG, ...)")
    p.add_argument("--out", type=Path, default=Path("located"), help="output folder (default: located/)")
    p.add_argument("--checkpoint", type=Path, default=None,
                   help="a .pt checkpoint or .safetensors locator (default: models/fakelocator.safetensors)")
    p.add_argument("--bits", type=int, default=16, choices=[8, 16],
                   help="map PNG depth (default 16, linear; 8: square-root scale)")
    p.add_argument("--no-overlay", action="store_true", help="skip the overlay PNG")
    p.add_argument("--no-align", action="store_true",
                   help="no face detection: resize the whole image to the model's input as given (for crops "
                        "already framed like the training faces)")
    p.add_argument("--framing", default=None, choices=["stgan", "celeba178"],
                   help="the training framing faces are aligned to (default: stgan)")
    p.add_argument("--max-pixels", type=positive_int, default=LOCATE_MAX_PIXELS,
                   help=f"refuse larger images before decoding (a whole number > 0; default {LOCATE_MAX_PIXELS})")
    p.add_argument("--overwrite", action="store_true",
                   help="replace files in --out that locate did not write (default: keep them, use _2 names)")
    args = p.parse_args(argv)
    check_out_dir(args.out)  # before the model: a bad --out fails at once, naming it (nothing created yet)
    locator = Locator(args.checkpoint)
    _, errors = locate_files(args.images, args.out, bits=args.bits, overlay=not args.no_overlay,
                             max_pixels=args.max_pixels, locator=locator, align=not args.no_align, framing=args.framing,
                             overwrite=args.overwrite)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
