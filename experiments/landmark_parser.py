"""Landmark-based face parsing with mediapipe's face mesh (runs in its own environment).

    .venv-mediapipe/bin/python experiments/landmark_parser.py --images DIR --ids IDS.txt --size 128 --out maps.npz

``mediapipe==0.10.21`` ships its face-landmark model in the wheel but needs numpy<2, so it lives
in ``.venv-mediapipe`` (``bash scripts/setup_mediapipe.sh``) and this script imports nothing
from fklib. Regions are convex hulls of the mesh's landmark groups, drawn at ``size`` px in
CelebAMask-HQ class indices: face oval -> skin (1), nose (2), eyes (4, 5), brows (6, 7),
lips -> mouth (10). No hair, ears or eyeglasses: the mesh has none. A face that is not found
gives an all-background map (counted as such).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw


def hull(points: np.ndarray) -> list[tuple[float, float]]:
    """Convex hull (monotone chain) of ``N x 2`` points, as a polygon."""
    pts = sorted(set(map(tuple, points.tolist())))
    if len(pts) < 3:
        return pts

    def half(seq):
        out = []
        for p in seq:
            while len(out) >= 2 and ((out[-1][0] - out[-2][0]) * (p[1] - out[-2][1])
                                     - (out[-1][1] - out[-2][1]) * (p[0] - out[-2][0])) <= 0:
                out.pop()
            out.append(p)
        return out

    lower, upper = half(pts), half(reversed(pts))
    return lower[:-1] + upper[:-1]


def main() -> None:
    import mediapipe as mp
    from mediapipe.python.solutions import face_mesh_connections as fmc

    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--images", type=Path, required=True)
    p.add_argument("--ids", type=Path, required=True)
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args()
    groups = [(1, fmc.FACEMESH_FACE_OVAL), (2, fmc.FACEMESH_NOSE), (6, fmc.FACEMESH_LEFT_EYEBROW),
              (7, fmc.FACEMESH_RIGHT_EYEBROW), (4, fmc.FACEMESH_LEFT_EYE), (5, fmc.FACEMESH_RIGHT_EYE),
              (10, fmc.FACEMESH_LIPS)]
    groups = [(cls, sorted({i for edge in edges for i in edge})) for cls, edges in groups]
    ids = args.ids.read_text().split()
    maps, found = [], 0
    with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1, refine_landmarks=True) as mesh:
        for i in ids:
            img = np.asarray(Image.open(args.images / f"{i}.jpg").convert("RGB"))
            result = mesh.process(img)
            canvas = Image.new("L", (args.size, args.size), 0)
            if result.multi_face_landmarks:
                found += 1
                lm = result.multi_face_landmarks[0].landmark
                xy = np.array([[p.x * args.size, p.y * args.size] for p in lm])
                draw = ImageDraw.Draw(canvas)
                for cls, idx in groups:
                    draw.polygon(hull(xy[idx]), fill=cls)
            maps.append(np.asarray(canvas, dtype=np.uint8))
    np.savez(args.out, ids=np.array(ids), maps=np.stack(maps), found=found)
    print(f"mediapipe face mesh: {found}/{len(ids)} faces found")


if __name__ == "__main__":
    main()
