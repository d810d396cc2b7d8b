"""Faces in a picture: a box, five landmarks and a score per face.

The detector is facenet-pytorch's MTCNN (Zhang et al., 2016), whose three small networks ship in its
wheel, so it installs offline and runs on the CPU with the pinned torch (its package metadata asks for
an old torch, so ``scripts/setup.sh`` installs it with ``--no-deps``; what it imports is already here).
Why MTCNN and not mediapipe or dlib: ``results/tables/face_detectors.md`` (``experiments/face_detectors.py``).

Landmarks are in picture pixels, continuous coordinates (the centre of pixel ``(row i, column j)`` is at
``(j + 0.5, i + 0.5)``), in the order of :data:`LANDMARKS`.
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
#: The smallest face MTCNN looks for (box side, pixels): its image pyramid starts there.
MIN_FACE_SIZE = 20


@dataclass(frozen=True)
class Face:
    """One detected face.

    Attributes:
        box: ``(x0, y0, x1, y1)`` in picture pixels.
        landmarks: ``5 x 2`` float, ``(x, y)`` of :data:`LANDMARKS`.
        score: the detector's confidence in [0, 1].
    """

    box: tuple[float, float, float, float]
    landmarks: np.ndarray
    score: float

    @property
    def eye_span(self) -> float:
        """Distance between the two eye landmarks, pixels: the face's scale in the picture."""
        return float(np.hypot(*(self.landmarks[1] - self.landmarks[0])))

    def to_dict(self) -> dict:
        return {"box": [round(float(v), 2) for v in self.box], "score": round(self.score, 4),
                "landmarks": {k: [round(float(x), 2), round(float(y), 2)] for k, (x, y) in zip(LANDMARKS, self.landmarks)},
                "eye_span": round(self.eye_span, 2)}


class DetectorUnavailable(RuntimeError):
    """The face detector's package is not installed (run ``bash scripts/setup.sh``)."""


@functools.lru_cache(maxsize=2)
def _mtcnn(min_face_size: int):
    try:
        from facenet_pytorch import MTCNN  # lazy: the detector (and torchvision under it) only when a picture's faces are searched
    except ImportError as e:  # pragma: no cover - setup installs it
        raise DetectorUnavailable(
            "the face detector (facenet-pytorch's MTCNN) is not installed: run `bash scripts/setup.sh`, or "
            "`pip install --no-deps facenet-pytorch==2.6.0`; or pass --no-align to run on the image as given") from e
    return MTCNN(keep_all=True, min_face_size=min_face_size, device="cpu", post_process=False)


def detect_faces(rgb: np.ndarray, min_face_size: int = MIN_FACE_SIZE, min_score: float = MIN_SCORE) -> list[Face]:
    """The faces in an ``H x W x 3`` uint8 RGB picture, largest first.

    Args:
        rgb: the picture.
        min_face_size: the smallest face box looked for (pixels).
        min_score: faces the detector scores lower are dropped.

    Raises:
        DetectorUnavailable: facenet-pytorch is not installed.
    """
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"expected an H x W x 3 uint8 RGB array, got {rgb.shape} {rgb.dtype}")
    det = _mtcnn(int(min_face_size))
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
    return sorted(faces, key=lambda f: -(f.box[2] - f.box[0]) * (f.box[3] - f.box[1]))
