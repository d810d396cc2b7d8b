"""``python -m fklib locate IMAGE... [--out DIR] [--checkpoint C]``: a fakeness map for any image.

For each image this writes, into ``--out`` (default ``located/``):

- ``<stem>_map.png``: the fakeness map at the input's size, gray, 16-bit (``--bits 8`` for 8-bit);
  pixel value / 65535 (or / 255) is the predicted fakeness in [0, 1];
- ``<stem>_overlay.png``: the map (jet colours, 0 to :data:`OVERLAY_VMAX`, written on the colour bar) over the image with a colorbar, at the input's
  pixel size (paper Fig. 1);
- ``<stem>.json``: the fake probability (the classifier), the decision, map statistics and the files.

The model sees the image resized to its resolution (128 px for the shipped model, bilinear with
anti-aliasing); the map is resized back to the input size. It was trained on CelebA-framed,
aligned faces: other framings are processed as given and the map is less reliable there.

A file that cannot be read (missing, not an image, truncated, larger than ``--max-pixels``) gives
one error line naming it, the other files still run, and the exit status is 1. A model whose
output is not finite (damaged weights) is refused the same way; the JSON never holds NaN.

Outputs never overwrite an input, and no two inputs share a stem: every output name is planned
before anything is written (:func:`output_stems`). ``--out`` is checked (a folder, writable)
before the model is loaded. Each image's files are written under an exclusive lock on ``--out``,
so two runs into one folder never mix the files of one image.

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
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import cli, colors, paths
from .checkpoint import DecisionRule, LoadedLocator, load_trained
from .data.images import load_rgb
from .files import check_out_dir, folder_lock, json_safe, prepare_out_dir, remove_partials, write_atomically
from .metrics.classification import map_peak
from .faces import DEFAULT_FRAMING, align_face, detect_faces, map_to_picture
from .faces.align import face_transform
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


@dataclass
class Located:
    """The result for one image: ``map`` is ``H x W`` float32 in [0, 1] at the input's size; ``rule`` the
    locator's decision rule."""

    path: Path
    map: np.ndarray
    probability: float | None
    rule: DecisionRule

    @functools.cached_property
    def peak(self) -> float:
        """The map's peak (:func:`fklib.metrics.map_peak`), read by the decision (once per image)."""
        return float(map_peak(self.map[None])[0])

    def stats(self, tau: float = 0.1) -> dict:
        m = self.map
        return {"mean": float(m.mean()), "max": float(m.max()), "p95": float(np.percentile(m, 95)),
                "peak": self.peak,
                "fraction_above_tau": float((m > tau).mean()), "tau": tau}

    def decision(self) -> str:
        """``fake`` / ``real`` (or ``unknown (no classifier)``) by the rule (:meth:`DecisionRule.word`)."""
        return self.rule.word(self.probability, self.map, self.peak)


@dataclass
class FaceResult:
    """One face of a picture: where it is, the crop the model saw and its verdict.

    Attributes:
        face: the detection (:class:`fklib.faces.Face`).
        transform: the ``picture -> crop`` similarity (``2 x 3``) that aligned it.
        judged: False for a face too small (eye span under ``min_eye_span``): no map, no decision.
        crop: the aligned crop the model saw (``size x size x 3``), ``None`` when not judged.
        crop_map: the model's map of the crop, ``None`` when not judged.
        probability: the classifier's fake probability (``None``: not judged or no classifier).
        decision: ``fake``, ``real``, ``too small`` or ``unknown (no classifier)``.
        peak: the crop map's peak (:func:`fklib.metrics.map_peak`), ``None`` when not judged.
    """

    face: object
    transform: np.ndarray
    judged: bool
    crop: np.ndarray | None = None
    crop_map: np.ndarray | None = None
    probability: float | None = None
    decision: str = "too small"
    peak: float | None = None

    def to_dict(self) -> dict:
        out = {**self.face.to_dict(), "judged": self.judged, "decision": self.decision,
               "fake_probability": self.probability, "map_peak": self.peak,
               "crop_transform": np.round(self.transform, 5).tolist()}
        if self.crop_map is not None:
            out["crop_map_mean"] = float(self.crop_map.mean())
        return out


@dataclass
class PictureResult:
    """A picture located face by face.

    Attributes:
        map: ``H x W`` float32 in [0, 1], the faces' maps warped back into the picture (zero elsewhere;
            where two crops overlap, the larger value).
        faces: one :class:`FaceResult` per detected face, largest first.
        decision: ``fake`` when a judged face is fake, ``real`` when every judged face is real, else
            ``no face found`` or ``no face large enough``.
        probability: the largest fake probability over the judged faces (``None`` when none was judged).
    """

    map: np.ndarray
    faces: list[FaceResult]
    decision: str
    probability: float | None


def picture_decision(faces: list[FaceResult]) -> str:
    """The picture's decision from its faces' (:class:`PictureResult`)."""
    judged = [f for f in faces if f.judged]
    if not faces:
        return "no face found"
    if not judged:
        return "no face large enough"
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
                       min_eye_span: float = MIN_EYE_SPAN) -> PictureResult:
        """Every face of a picture: detected (unless ``faces`` are given), aligned to the training
        framing, located, and its map warped back into the picture.

        Args:
            rgb: ``H x W x 3`` uint8 picture.
            faces: the faces (:class:`fklib.faces.Face`); default: :func:`fklib.faces.detect_faces`.
            framing: the template the faces are aligned to (:data:`fklib.faces.TEMPLATES`; default
                :data:`fklib.faces.DEFAULT_FRAMING`).
            min_eye_span: faces whose eye span (picture pixels) is smaller are reported, not judged.
        """
        framing = framing or DEFAULT_FRAMING
        faces = detect_faces(rgb) if faces is None else faces
        full = np.zeros(rgb.shape[:2], np.float32)
        results = []
        for face in faces:
            if face.eye_span < min_eye_span:
                results.append(FaceResult(face, face_transform(face.landmarks, framing, self.size), False))
                continue
            crop, m = align_face(rgb, face.landmarks, framing, self.size)
            crop_map, prob = self.predict_array(crop)
            peak = float(map_peak(crop_map[None])[0])
            results.append(FaceResult(face, m, True, crop, crop_map, prob, self.decide(prob, crop_map, peak), peak))
            np.maximum(full, map_to_picture(crop_map, m, rgb.shape[:2]), out=full)
        probs = [f.probability for f in results if f.judged and f.probability is not None]
        return PictureResult(full, results, picture_decision(results), max(probs) if probs else None)

    def __call__(self, path: str | Path, max_pixels: int = LOCATE_MAX_PIXELS) -> Located:
        path = Path(path)
        m, prob = self.predict_array(load_rgb(path, max_pixels=max_pixels))
        return Located(path, m, prob, self.rule)


def save_map_png(m: np.ndarray, path: Path, bits: int = 16) -> Path:
    """Write an ``H x W`` map in [0, 1] as a gray PNG (16-bit: value * 65535; 8-bit: value * 255)."""
    from PIL import Image

    if bits not in (8, 16):
        raise ValueError(f"bits must be 8 or 16, got {bits}")
    scale = 65535 if bits == 16 else 255
    arr = np.rint(np.clip(m, 0, 1) * scale).astype(np.uint16 if bits == 16 else np.uint8)
    img = Image.fromarray(arr)  # uint16 -> mode I;16, uint8 -> L
    _atomic_save(lambda tmp: img.save(tmp, format="PNG"), path)
    return path


def read_map_png(path: str | Path) -> np.ndarray:
    """Inverse of :func:`save_map_png`: the map in [0, 1] as float32."""
    from PIL import Image

    with Image.open(path) as img:
        arr = np.array(img)
    scale = 65535.0 if arr.dtype == np.uint16 or arr.max(initial=0) > 255 else 255.0
    return (arr.astype(np.float32) / scale).clip(0, 1)


#: Top of the overlay's colour scale: fakeness at or above it is drawn red. Fixed (not per image), so
#: overlays of different images compare, and low (our maps average about 0.04, GAN-edited pixels
#: mostly 0.1-0.3) so that a map is visible; the map PNG keeps the exact values.
OVERLAY_VMAX = 0.25


def overlay_image(rgb: np.ndarray, m: np.ndarray, title: str | None = None, alpha: float = 0.5,
                  vmax: float = OVERLAY_VMAX, boxes=()):
    """The map (jet of ``m / vmax``, ``alpha``) over the image, with a colour bar inside the right edge
    labelled 0, ``vmax / 2`` and ``>= vmax``, and an optional title; a PIL image of exactly the input's
    size (no matplotlib: fast to import)."""
    from PIL import Image, ImageDraw, ImageFont

    h, w = m.shape
    img = Image.fromarray(np.rint(colors.overlay(rgb, m, alpha, vmax=vmax) * 255).clip(0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    x0, x1 = int(w * 0.93), max(int(w * 0.965), int(w * 0.93) + 2)
    y0, y1 = int(h * 0.08), max(int(h * 0.92), int(h * 0.08) + 3)
    ramp = np.linspace(1, 0, y1 - y0, dtype=np.float32)[:, None].repeat(x1 - x0, 1)
    img.paste(Image.fromarray(np.rint(colors.jet(ramp) * 255).astype(np.uint8)), (x0, y0))
    draw.rectangle((x0 - 1, y0 - 1, x1, y1), outline=(255, 255, 255))
    size = max(8, min(w, h) // 22)
    try:
        font = ImageFont.load_default(size=size)
    except TypeError:  # Pillow without FreeType sizes
        font = ImageFont.load_default()
    for frac, text in ((0.0, "0"), (0.5, f"{vmax / 2:.2f}"), (1.0, f">={vmax:.2f}")):
        y = y1 - frac * (y1 - y0)
        draw.text((x0 - 3, y), text, fill=(255, 255, 255), font=font, anchor="rm",
                  stroke_width=1, stroke_fill=(0, 0, 0))
    for (x0b, y0b, x1b, y1b), text in boxes:  # each detected face, with its verdict
        draw.rectangle((x0b, y0b, x1b, y1b), outline=(255, 255, 255), width=max(1, size // 8))
        draw.text((x0b, max(0, y0b - size - 2)), text, fill=(255, 255, 255), font=font, stroke_width=1,
                  stroke_fill=(0, 0, 0))
    if title:
        draw.text((3, 2), title, fill=(255, 255, 255), font=font, stroke_width=1, stroke_fill=(0, 0, 0))
    return img


def save_overlay_png(rgb: np.ndarray, m: np.ndarray, path: Path, title: str | None = None, boxes=()) -> Path:
    """:func:`overlay_image` saved as PNG at exactly the image's pixel size."""
    img = overlay_image(rgb, m, title, boxes=boxes)
    _atomic_save(lambda tmp: img.save(tmp, format="PNG"), path)
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


def output_stems(paths: list[Path], out_dir: str | Path | None = None,
                 suffixes: tuple[str, ...] = tuple(OUTPUT_SUFFIXES.values())) -> list[str]:
    """One output stem per input, all planned before anything is written.

    An input keeps its file stem where it can (the first input of that stem); every other one gets
    the first free ``<stem>_2``, ``<stem>_3``, ...: no two inputs share a stem, also when an input is
    itself named ``x_2``. With ``out_dir``, a stem whose output files (``<stem><suffix>``) would be
    one of the inputs is not free either, so an input is never written over.
    """
    inputs = {_file_key(p) for p in paths}
    taken: set[str] = set()

    def take(stem: str) -> bool:
        if stem in taken or (out_dir is not None and
                             any(_file_key(Path(out_dir) / f"{stem}{s}") in inputs for s in suffixes)):
            return False
        taken.add(stem)
        return True

    stems: list[str | None] = [p.stem if take(p.stem) else None for p in paths]
    for i, p in enumerate(paths):
        n = 2
        while stems[i] is None:
            stems[i] = f"{p.stem}_{n}" if take(f"{p.stem}_{n}") else None
            n += 1
    return stems


def locate_files(images: list[str | Path], out_dir: str | Path = "located", checkpoint: str | Path | None = None,
                 bits: int = 16, overlay: bool = True, max_pixels: int = LOCATE_MAX_PIXELS,
                 locator: Locator | None = None, log=print, err=None, align: bool = True,
                 framing: str | None = None) -> tuple[list[dict], list[str]]:
    """Locate each image, writing map, overlay and JSON; return (the JSON records, the error lines).

    ``out_dir`` is checked first (:func:`fklib.files.prepare_out_dir`) and every output name planned
    before anything is written (:func:`output_stems`); an image's files are written together under an
    exclusive lock on ``out_dir`` (:func:`fklib.files.folder_lock`), where the partial files a killed
    run left are removed first. A bad image (or a write that fails) gives one error line naming it and
    the next image runs. Interrupted (``KeyboardInterrupt``), it re-raises one saying how many images
    were written.
    """
    err = err or (lambda s: print(s, file=sys.stderr))
    out_dir = prepare_out_dir(out_dir)
    paths = [Path(p) for p in images]
    suffixes = {k: v for k, v in OUTPUT_SUFFIXES.items() if overlay or k != "overlay"}
    stems = output_stems(paths, out_dir, tuple(suffixes.values()))
    locator = locator or Locator(checkpoint)
    records, errors = [], []
    with folder_lock(out_dir):  # no other run is writing now: the partial files found are a killed run's
        remove_partials(out_dir, PARTIAL_NAMES)
    try:
        _locate_each(paths, stems, out_dir, suffixes, bits, overlay, max_pixels, locator, log, err, records, errors,
                     align, framing)
    except KeyboardInterrupt:
        raise KeyboardInterrupt(f"{len(records)} of {len(paths)} images written") from None
    return records, errors


def _locate_each(paths, stems, out_dir, suffixes, bits, overlay, max_pixels, locator, log, err, records, errors,
                 align=True, framing=None):
    """The loop of :func:`locate_files`: appends to ``records`` and ``errors`` as each image is done."""
    for path, stem in zip(paths, stems):
        t0 = time.perf_counter()
        files = {k: out_dir / f"{stem}{suffix}" for k, suffix in suffixes.items()}
        try:
            rgb = load_rgb(path, max_pixels=max_pixels)
            record, m, boxes = _locate_one(path, rgb, locator, align, framing)
            record.update({"map_png_bits": bits, "files": {k: str(v) for k, v in files.items()},
                           "seconds": round(time.perf_counter() - t0, 3)})
            text = json.dumps(json_safe(record), indent=2, allow_nan=False) + "\n"
            with folder_lock(out_dir):  # this image's files come from one run
                save_map_png(m, files["map"], bits)
                if overlay:
                    prob = record["fake_probability"]
                    label = record["decision"] if prob is None else f"{record['decision']} (p={prob:.2f})"
                    save_overlay_png(rgb, m, files["overlay"], title=label, boxes=boxes)
                _atomic_save(lambda tmp: tmp.write_text(text), files["json"])
        except (OSError, ValueError) as e:  # OSError: FileNotFoundError of an input, or a failed write
            msg = str(e) if str(path) in str(e) else f"{path}: {e}"
            errors.append(msg)
            err(f"error: {msg}")
            continue
        records.append(record)
        prob = record["fake_probability"]
        p = "n/a" if prob is None else f"{prob:.3f}"
        faces = "" if not align else f", {len(record['faces'])} face(s)"
        log(f"{path}: {record['decision']} (p={p}){faces}, map mean {record['map']['mean']:.3f} -> {files['map']}")


def _locate_one(path: Path, rgb: np.ndarray, locator: Locator, align: bool, framing: str | None):
    """The JSON record (without files and time), the map and the overlay's face boxes of one image."""
    common = {"image": str(path), "width": int(rgb.shape[1]), "height": int(rgb.shape[0]),
              "decision_threshold": locator.rule.threshold, "decision_peak_floor": locator.rule.peak_floor,
              "model": {"checkpoint": str(locator.checkpoint), "model": locator.cfg.model, "input_size": locator.size}}
    if not align:
        m, prob = locator.predict_array(rgb)
        res = Located(path, m, prob, locator.rule)
        return ({**common, "mode": "whole image (--no-align): resized to the model's input as given",
                 "fake_probability": prob, "decision": res.decision(), "map": res.stats()}, m, [])
    pic = locator.locate_picture(rgb, framing=framing)
    stats = Located(path, pic.map, pic.probability, locator.rule).stats()
    note = {"no face found": "no face found: nothing was judged (--no-align locates the image as given)",
            "no face large enough": f"every face is smaller than {MIN_EYE_SPAN:g} px between the eyes: not judged"}
    boxes = [(f.face.box, f.decision if f.probability is None else f"{f.decision} (p={f.probability:.2f})")
             for f in pic.faces]
    return ({**common, "mode": f"faces: detected, aligned to the {framing or DEFAULT_FRAMING} framing, mapped back",
             "fake_probability": pic.probability, "decision": pic.decision,
             **({"note": note[pic.decision]} if pic.decision in note else {}),
             "min_eye_span": MIN_EYE_SPAN, "faces": [f.to_dict() for f in pic.faces], "map": stats}, pic.map, boxes)


def main(argv: list[str] | None = None) -> int:
    return cli.run(lambda: _main(argv))


def _main(argv: list[str] | None) -> int:
    p = cli.ArgumentParser(prog="python -m fklib locate", description=__doc__.split("\n\n")[0],
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("images", nargs="+", type=Path, help="image files (any size; PNG, JPEG, ...)")
    p.add_argument("--out", type=Path, default=Path("located"), help="output folder (default: located/)")
    p.add_argument("--checkpoint", type=Path, default=None,
                   help="a .pt checkpoint or .safetensors locator (default: models/fakelocator.safetensors)")
    p.add_argument("--bits", type=int, default=16, choices=[8, 16], help="map PNG depth (default 16)")
    p.add_argument("--no-overlay", action="store_true", help="skip the overlay PNG")
    p.add_argument("--no-align", action="store_true",
                   help="no face detection: resize the whole image to the model's input as given (for crops "
                        "already framed like the training faces)")
    p.add_argument("--framing", default=None, choices=["stgan", "celeba178"],
                   help="the training framing faces are aligned to (default: stgan)")
    p.add_argument("--max-pixels", type=int, default=LOCATE_MAX_PIXELS,
                   help=f"refuse larger images before decoding (default {LOCATE_MAX_PIXELS})")
    args = p.parse_args(argv)
    check_out_dir(args.out)  # before the model: a bad --out fails at once, naming it (nothing created yet)
    locator = Locator(args.checkpoint)
    _, errors = locate_files(args.images, args.out, bits=args.bits, overlay=not args.no_overlay,
                             max_pixels=args.max_pixels, locator=locator, align=not args.no_align, framing=args.framing)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
