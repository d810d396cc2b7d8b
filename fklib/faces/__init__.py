"""Faces in pictures, for ``locate`` on photos: detection (:mod:`.detect`), alignment to the training
framing and back (:mod:`.align`), and pictures with a known answer for tests (:mod:`.compose`)."""

from .align import DEFAULT_FRAMING, TEMPLATES, align_face, map_to_picture, similarity_transform, warp
from .detect import LANDMARKS, DetectorUnavailable, Face, detect_faces, find_faces

__all__ = ["DEFAULT_FRAMING", "TEMPLATES", "align_face", "map_to_picture", "similarity_transform", "warp",
           "LANDMARKS", "DetectorUnavailable", "Face", "detect_faces", "find_faces"]
