"""How long ``python -m fklib locate`` takes on this machine: on a photo, on an aligned crop, against a bare import.

    python benchmarks/bench_locate.py [--repeats 5] [--checkpoint C] [--many 100]

The images: a STGAN test fake (an aligned 128 px crop, as the test sets give it) and the same crop placed
at 2x, rotated 10 degrees, into a 1024 x 768 picture (:mod:`fklib.faces.compose`). Prints, as medians over
the repeats, each in a fresh process (interpreter start, imports, model load, one image, outputs),
alternating so that all see the same machine state:

- ``locate picture.png`` (detect, align, locate, map back) against ``locate crop.png`` (the same, on the
  crop): their ratio (target of the photo issue: <= 1.5);
- ``locate --no-align crop.png`` (the crop resized as given) and a bare
  ``python -c "import torch, safetensors, PIL.Image"`` (the floor any torch tool pays);
- the whole command for ``--many`` copies of the crop in one call (0 skips it);
- in one process: model load (+ BatchNorm folding), face detection on the picture, one picture located.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--checkpoint", default=None)
    p.add_argument("--many", type=int, default=100, help="also time one call on this many crops (0: skip)")
    args = p.parse_args()
    from PIL import Image

    from fklib.data import load_set
    from fklib.faces import compose

    tmp = Path(tempfile.mkdtemp(prefix="bench_locate_"))
    fake = next(it for it in load_set("stgan", split="test") if it.property == "Bald")
    crop, picture = tmp / "crop.png", tmp / "picture.png"
    Image.fromarray(fake.image).save(crop)
    pic, _ = compose.place_faces(compose.background(768, 1024, seed=0), [fake.image],
                                 [compose.placement(2.0, 10, (512, 384))])
    Image.fromarray(pic).save(picture)
    extra = ["--checkpoint", args.checkpoint] if args.checkpoint else []

    def timed(cmd: list[str]) -> float:
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        return time.perf_counter() - t0

    runs = {"picture": [], "crop": [], "crop --no-align": [], "bare import": []}
    for k in range(args.repeats):
        runs["bare import"].append(timed([sys.executable, "-c", "import torch, safetensors, PIL.Image"]))
        runs["picture"].append(timed([sys.executable, "-m", "fklib", "locate", str(picture), "--out", str(tmp / f"p{k}"), *extra]))
        runs["crop"].append(timed([sys.executable, "-m", "fklib", "locate", str(crop), "--out", str(tmp / f"c{k}"), *extra]))
        runs["crop --no-align"].append(timed([sys.executable, "-m", "fklib", "locate", "--no-align", str(crop), "--out",
                                              str(tmp / f"n{k}"), *extra]))
    many = None
    if args.many > 0:
        files = []
        for k in range(args.many):
            (tmp / f"face{k:03d}.png").write_bytes(crop.read_bytes())
            files.append(str(tmp / f"face{k:03d}.png"))
        many = timed([sys.executable, "-m", "fklib", "locate", *files, "--out", str(tmp / "many"), *extra])

    from fklib.faces import detect_faces
    from fklib.locate import Locator

    med = statistics.median
    t0 = time.perf_counter()
    loc = Locator(args.checkpoint)
    t_load = time.perf_counter() - t0
    detect_faces(pic)  # the detector's first call builds its networks
    det, one = [], []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        detect_faces(pic)
        det.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        loc.locate_picture(pic)
        one.append(time.perf_counter() - t0)
    print(f"model {loc.checkpoint.name} ({loc.cfg.model}, {loc.size} px); picture 1024x768 with one face, crop 128x128")
    for name, ts in runs.items():
        print(f"fresh process, {name:16s}: {med(ts):.2f} s (min {min(ts):.2f}, max {max(ts):.2f})")
    print(f"picture / crop = {med(runs['picture']) / med(runs['crop']):.2f} (target <= 1.5); "
          f"crop / bare import = {med(runs['crop']) / med(runs['bare import']):.2f}; "
          f"crop --no-align / bare import = {med(runs['crop --no-align']) / med(runs['bare import']):.2f}")
    if many is not None:
        print(f"whole command, {args.many} crops : {many:.2f} s ({many / args.many * 1000:.0f} ms per image)")
    print(f"  in one process: model load {t_load:.2f} s; face detection on the picture {med(det) * 1000:.0f} ms; "
          f"the picture located (detect, align, locate, map back) {med(one) * 1000:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
