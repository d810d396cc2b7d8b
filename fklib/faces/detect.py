"""Faces in a picture: a box, five landmarks, a score and the face's rotation per face.

The detector is facenet-pytorch's MTCNN (Zhang et al., 2016), whose three small networks ship in its
wheel, so it installs offline and runs on the CPU with the pinned torch (its package metadata asks for
an old torch, so ``scripts/setup.sh`` installs it with ``--no-deps``; what it imports is already here).
Why MTCNN and not mediapipe or dlib: ``results/tables/face_detectors.md`` (``experiments/face_detectors.py``).

- :func:`detect_faces` -- MTCNN on the picture as given (upright faces).
- :func:`find_faces` -- what ``locate`` uses: faces at any of the four rotations a phone or a scanner may
  save (0, 90, 180, 270 degrees), looked for in a copy of at most :data:`DETECT_MAX_PIXELS` pixels.

MTCNN only knows upright faces: a face turned by 90 degrees is often missed, and a face upside down is
often found with its landmarks placed as if it were upright (the "eyes" on the mouth), which an alignment
cannot tell from a real face. So :func:`find_faces` looks at the picture turned by 0, 90, 180 and 270
degrees and keeps, for each face, the view where the detector is most confident. Measured on 24
validation faces placed into pictures, each turned four ways (96 cases): the view where the face is
upright always scored highest (0.995-1.0), while the other views found the same face with scores up to
0.994 and upright-looking landmarks; a face seen only in a turned view must score :data:`TURNED_MIN_SCORE`.

Landmarks are in picture pixels, continuous coordinates (the centre of pixel ``(row i, column j)`` is at
``(j + 0.5, i + 0.5)``), in the order of :data:`LANDMARKS`, named as on the upright face.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch

#: The five landmarks, in MTCNN's order ("left": the picture's left on an upright face).
LANDMARKS = ("eye_left", "eye_right", "nose", "mouth_left", "mouth_right")
#: Faces scored below this by MTCNN's last stage are dropped: its own threshold. Measured: the lowest face
#: score of 150 CelebAMask-HQ portraits is 0.82 (a higher cut would lose faces), and 40 textured 1024 x 768
#: backgrounds (:func:`fklib.faces.compose.background`) gave no detection at all.
MIN_SCORE = 0.7
#: The smallest face MTCNN looks for (box side, pixels): its image pyramid starts there. A picture whose
#: shorter side is smaller holds no face MTCNN can find (its pyramid would be empty).
MIN_FACE_SIZE = 20
#: The rotations :func:`find_faces` tries (degrees clockwise the face may lie in the picture).
ROTATIONS = (0, 90, 180, 270)
#: A face found only in a turned view (90, 180, 270) must score at least this: the views where a face was
#: upright scored 0.995-1.0 (see the module doc), so a lower score there is more likely a pattern than a face.
TURNED_MIN_SCORE = 0.95
#: The smallest face looked for in the turned views (pixels of the picture): larger than
#: :data:`MIN_FACE_SIZE` because each turned view then costs about a quarter of the upright one. A face is
#: judged from an eye span of 25 px (``fklib.locate.MIN_EYE_SPAN``), where its box is at least 51 px wide
#: (box width / eye span: 2.03-3.6, median 2.2, on 20 validation faces), so every face large enough to
#: judge is still looked for.
TURNED_MIN_FACE_SIZE = 40
#: Pictures with more pixels are searched in a copy shrunk to this many (area average): MTCNN's memory and time
#: grow with the pixels of its pyramid's first level (an 8000 x 6000 photo searched from 20 px faces took
#: 4.6 GB). In the copy faces are looked for from 12 px (MTCNN's window) and never below :data:`MIN_FACE_SIZE`
#: px of the picture: a 12 MP phone photo is searched from 21 px faces, an 8000 x 6000 one from 42 px, still
#: below the 51 px box of a face large enough to judge (:data:`TURNED_MIN_FACE_SIZE`).
DETECT_MAX_PIXELS = 4_000_000
#: The smallest face MTCNN can look for in an image: its networks' 12 px window.
MTCNN_WINDOW = 12


@dataclass(frozen=True)
class Face:
    """One detected face.

    Attributes:
        box: ``(x0, y0, x1, y1)`` in picture pixels, as the detector gives it (it may reach outside the picture).
        landmarks: ``5 x 2`` float, ``(x, y)`` of :data:`LANDMARKS`, named as on the upright face.
        score: the detector's confidence in [0, 1].
        rotation: how the face lies in the picture, degrees clockwise: 0 upright, 90 its top to the right,
            180 upside down, 270 its top to the left (it was found in the picture turned back by as much).
    """

    box: tuple[float, float, float, float]
    landmarks: np.ndarray
    score: float
    rotation: int = 0

    @property
    def eye_span(self) -> float:
        """Distance between the two eye landmarks, pixels: the face's scale in the picture."""
        return float(np.hypot(*(self.landmarks[1] - self.landmarks[0])))

    def clipped_box(self, width: int, height: int) -> tuple[float, float, float, float]:
        """:attr:`box` clipped to a ``width x height`` picture."""
        x0, y0, x1, y1 = self.box
        return (min(max(x0, 0.0), width), min(max(y0, 0.0), height), min(max(x1, 0.0), width),
                min(max(y1, 0.0), height))

    def to_dict(self, width: int | None = None, height: int | None = None) -> dict:
        """The JSON entry of the face; with the picture's size, ``box`` is clipped to it and ``box_clipped``
        says whether the detector's box reached outside."""
        box = self.box if width is None or height is None else self.clipped_box(width, height)
        out = {"box": [round(float(v), 2) for v in box], "score": round(self.score, 4), "rotation": int(self.rotation),
               "landmarks": {k: [round(float(x), 2), round(float(y), 2)] for k, (x, y) in zip(LANDMARKS, self.landmarks)},
               "eye_span": round(self.eye_span, 2)}
        if width is not None and height is not None:
            out["box_clipped"] = tuple(box) != tuple(self.box)
        return out


class DetectorUnavailable(RuntimeError):
    """The face detector's package is not installed (run ``bash scripts/setup.sh``)."""


@functools.lru_cache(maxsize=1)
def _mtcnn():
    try:
        from facenet_pytorch import MTCNN  # lazy: the detector (and torchvision under it) only when a picture's faces are searched
    except ImportError as e:  # pragma: no cover - setup installs it
        raise DetectorUnavailable(
            "the face detector (facenet-pytorch's MTCNN) is not installed: run `bash scripts/setup.sh`, or "
            "`pip install --no-deps facenet-pytorch==2.6.0`; or pass --no-align to run on the image as given") from e
    return MTCNN(keep_all=True, min_face_size=MIN_FACE_SIZE, device="cpu", post_process=False)


def _check_rgb(rgb: np.ndarray) -> None:
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"expected an H x W x 3 uint8 RGB array, got {rgb.shape} {rgb.dtype}")


def _detect(rgb: np.ndarray, min_face_size: float, min_score: float) -> list[Face]:
    """MTCNN on ``rgb`` as given: the faces scored at least ``min_score`` (none when the picture is smaller
    than ``min_face_size``: MTCNN's pyramid would be empty)."""
    if min(rgb.shape[:2]) < min_face_size:
        return []
    det = _mtcnn()
    det.min_face_size = float(min_face_size)  # read by each detect() call
    with torch.no_grad():
        boxes, probs, points = det.detect(np.ascontiguousarray(rgb), landmarks=True)
    if boxes is None:
        return []
    faces = []
    for box, prob, pts in zip(boxes, probs, points):
        if prob is None or float(prob) < min_score:
            continue
        lm = np.asarray(pts, np.float64) + 0.5  # MTCNN's coordinates are pixel indices: centres at integers
        faces.append(Face(tuple(float(v) + 0.5 for v in box), lm, float(prob)))
    return faces


def _largest_first(faces: list[Face]) -> list[Face]:
    return sorted(faces, key=lambda f: -(f.box[2] - f.box[0]) * (f.box[3] - f.box[1]))


def detect_faces(rgb: np.ndarray, min_face_size: int = MIN_FACE_SIZE, min_score: float = MIN_SCORE) -> list[Face]:
    """The upright faces in an ``H x W x 3`` uint8 RGB picture as given, largest first (MTCNN alone).

    Args:
        rgb: the picture.
        min_face_size: the smallest face box looked for (pixels); a picture whose shorter side is smaller
            has no face (an empty list).
        min_score: faces the detector scores lower are dropped.

    Raises:
        DetectorUnavailable: facenet-pytorch is not installed.
    """
    _check_rgb(rgb)
    return _largest_first(_detect(rgb, min_face_size, min_score))


def turn_transform(shape: tuple[int, int], k: int) -> np.ndarray:
    """The ``2 x 3`` map of continuous ``(x, y)`` from a ``shape`` (rows, columns) picture to the picture
    turned by ``k`` quarter turns counter-clockwise on screen (``numpy.rot90(picture, k)``)."""
    h, w = shape
    m = np.array([[1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0]])
    for _ in range(k % 4):  # one turn: (x, y) -> (y, W - x), and the width becomes the height
        m = np.array([[0.0, 1, 0], [-1, 0, w], [0, 0, 1]]) @ m
        h, w = w, h
    return m[:2]


def detection_scale(shape: tuple[int, int], max_pixels: int = DETECT_MAX_PIXELS) -> float:
    """Picture pixels per pixel of the copy :func:`find_faces` searches: 1 up to ``max_pixels`` pixels, else
    ``sqrt(pixels / max_pixels)``."""
    return max(1.0, float(np.sqrt(shape[0] * shape[1] / max_pixels)))


def smallest_face(shape: tuple[int, int], min_face_size: float = MIN_FACE_SIZE,
                  max_pixels: int = DETECT_MAX_PIXELS) -> float:
    """The smallest face (box side, picture pixels) :func:`find_faces` looks for in a picture of ``shape``:
    ``min_face_size``, or :data:`MTCNN_WINDOW` px of the shrunk copy when that is larger."""
    return max(float(min_face_size), MTCNN_WINDOW * detection_scale(shape, max_pixels))


def _shrunk(rgb: np.ndarray, scale: float) -> np.ndarray:
    """``rgb`` shrunk by ``scale`` (area average); ``rgb`` itself when ``scale`` is 1."""
    if scale <= 1.0:
        return rgb
    from PIL import Image

    h, w = rgb.shape[:2]
    size = (max(1, round(w / scale)), max(1, round(h / scale)))
    return np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.BOX))


def _same_face(a: Face, b: Face) -> bool:
    """Two detections of one face: their boxes' centres closer than half the larger box's side."""
    ca = np.array([a.box[0] + a.box[2], a.box[1] + a.box[3]]) / 2
    cb = np.array([b.box[0] + b.box[2], b.box[1] + b.box[3]]) / 2
    side = max(a.box[2] - a.box[0], a.box[3] - a.box[1], b.box[2] - b.box[0], b.box[3] - b.box[1])
    return float(np.hypot(*(ca - cb))) < 0.5 * side


def _in_view(rgb: np.ndarray, k: int, scale: float, min_face: float, min_score: float) -> list[tuple[Face, float]]:
    """MTCNN on ``rgb`` shrunk by ``scale`` and turned by ``k`` quarter turns, looking for faces from ``min_face``
    picture pixels: each face carried back into ``rgb``'s pixels (rotation ``90 k``), with the scale it was
    found at."""
    small = _shrunk(rgb, scale)
    sx, sy = rgb.shape[1] / small.shape[1], rgb.shape[0] / small.shape[0]
    back = np.linalg.inv(np.vstack([turn_transform(small.shape[:2], k), [0, 0, 1]]))[:2]  # view -> copy
    out = []
    for f in _detect(np.rot90(small, k), max(MTCNN_WINDOW, min_face / max(sx, sy)), min_score):
        corners = np.array([[f.box[0], f.box[1]], [f.box[2], f.box[3]]]) @ back[:, :2].T + back[:, 2]
        lm = (f.landmarks @ back[:, :2].T + back[:, 2]) * [sx, sy]
        box = (corners[:, 0].min() * sx, corners[:, 1].min() * sy, corners[:, 0].max() * sx, corners[:, 1].max() * sy)
        out.append((Face(tuple(float(v) for v in box), lm, f.score, int(k * 90)), max(sx, sy)))
    return out


#: A face found in a shrunk view is searched again around its box at full detail, or shrunk so that its box
#: is this many pixels when larger: landmarks as precise as in an upright search of the picture itself.
REFINE_FACE_SIZE = 320


def _refine(rgb: np.ndarray, face: Face, min_score: float) -> Face:
    """``face`` (found in a shrunk view) searched again in its own surroundings (twice its box) in its view's
    rotation, at full detail from :data:`MIN_FACE_SIZE` px as the upright search (the same pyramid, so the same
    landmarks as for the picture turned upright), or shrunk to a :data:`REFINE_FACE_SIZE` px box for a larger
    face: the detection there closest to it, with its landmarks and box, keeping its score; ``face`` itself
    when none is found."""
    x0, y0, x1, y1 = face.box
    side = max(x1 - x0, y1 - y0)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    h, w = rgb.shape[:2]
    rx0, ry0 = max(0, int(cx - side)), max(0, int(cy - side))
    rx1, ry1 = min(w, int(np.ceil(cx + side))), min(h, int(np.ceil(cy + side)))
    region = rgb[ry0:ry1, rx0:rx1]
    scale = max(1.0, side / REFINE_FACE_SIZE)
    near = []
    for f, _ in _in_view(region, face.rotation // 90, scale, MIN_FACE_SIZE if scale == 1.0 else 0.5 * side, min_score):
        c = np.array([(f.box[0] + f.box[2]) / 2 + rx0, (f.box[1] + f.box[3]) / 2 + ry0])
        d = float(np.hypot(*(c - [cx, cy])))
        if d < 0.5 * side:
            near.append((d, f))
    if not near:
        return face
    f = min(near, key=lambda t: t[0])[1]
    box = (f.box[0] + rx0, f.box[1] + ry0, f.box[2] + rx0, f.box[3] + ry0)
    return Face(box, f.landmarks + [rx0, ry0], face.score, face.rotation)


def find_faces(rgb: np.ndarray, min_face_size: int = MIN_FACE_SIZE, min_score: float = MIN_SCORE,
               rotations=ROTATIONS, max_pixels: int = DETECT_MAX_PIXELS) -> list[Face]:
    """Every face of a picture at any of ``rotations``, largest first (what ``locate`` uses).

    The picture is turned back by each rotation and searched (MTCNN): upright from ``min_face_size`` px
    (in a copy shrunk to ``max_pixels`` when larger: :func:`detection_scale`, :func:`smallest_face`), the
    turned views from :data:`TURNED_MIN_FACE_SIZE` px in a copy shrunk so that such a face is
    :data:`MIN_FACE_SIZE` px (half the size: MTCNN's cost is mostly a pass over the whole picture per level of
    its pyramid), keeping faces scored :data:`TURNED_MIN_SCORE`. Detections of one face in several views (box
    centres within half a box) keep the most confident view, whose rotation the face records; a face found
    in a shrunk copy is searched again around its box at full detail (:func:`_refine`) for precise landmarks.
    Boxes and landmarks are in the picture's pixels.

    Args:
        rgb: ``H x W x 3`` uint8 picture.
        min_face_size: the smallest face looked for in the upright view (picture pixels).
        min_score: the upright view's score threshold.
        rotations: the rotations tried (degrees clockwise, multiples of 90); ``(0,)`` is MTCNN alone.
        max_pixels: pictures with more pixels are searched in a shrunk copy.
    """
    _check_rgb(rgb)
    scale = detection_scale(rgb.shape[:2], max_pixels)
    found: list[tuple[Face, float]] = []
    for rotation in rotations:
        if rotation % 90:
            raise ValueError(f"rotations must be multiples of 90 degrees, got {rotation}")
        k = (rotation // 90) % 4
        if k == 0:
            smallest = smallest_face(rgb.shape[:2], min_face_size, max_pixels)
            found += _in_view(rgb, 0, scale, smallest, min_score)
        else:
            smallest = smallest_face(rgb.shape[:2], TURNED_MIN_FACE_SIZE, max_pixels)
            found += _in_view(rgb, k, max(scale, smallest / MIN_FACE_SIZE), smallest, TURNED_MIN_SCORE)
    kept: list[tuple[Face, float]] = []
    for f, at in sorted(found, key=lambda t: (-t[0].score, t[0].rotation)):  # the most confident view of each face
        if not any(_same_face(f, g) for g, _ in kept):
            kept.append((f, at))
    return _largest_first([_refine(rgb, f, min_score) if at > 1.0 else f for f, at in kept])
