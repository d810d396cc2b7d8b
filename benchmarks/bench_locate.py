"""How long ``python -m fklib locate`` takes on this machine, and its peak memory on large photos.

    python benchmarks/bench_locate.py [--repeats 5] [--checkpoint C] [--many 100]
    python benchmarks/bench_locate.py --big [--big-sizes 1600x1200,8000x6000] [--compare OTHER_CHECKOUT]

The images: a STGAN test fake (an aligned 128 px crop, as the test sets give it) and the same crop placed
at 2x, rotated 10 degrees, into a 1024 x 768 picture (:mod:`fklib.faces.compose`). Prints, as medians over
the repeats, each in a fresh process (interpreter start, imports, model load, one image, outputs),
alternating so that all see the same machine state:

- ``locate picture.png`` (detect, align, locate, map back) against ``locate crop.png`` (the same, on the
  crop): their ratio (target of the photo issue: <= 1.5);
- ``locate --no-align crop.png`` (the crop resized as given) and a bare
  ``python -c "import torch, safetensors, PIL.Image"`` (the floor any torch tool pays);
- the whole command for ``--many`` copies of the crop in one call (0 skips it);
- in one process: model load (+ BatchNorm folding), the face search on the picture upright only and at the
  four rotations (alternated), one picture located.

``--big``: instead, photos of ``--big-sizes`` (default 1600 x 1200 and 8000 x 6000, a 48 MP camera) with the
fake placed large, each located in a fresh process: wall time, the process's peak memory (its ``VmHWM``,
read by the process itself at its end) and the overlay's size. ``--compare DIR`` runs every timed command also with
the ``fklib`` of another checkout (e.g. the previous commit, ``git archive HEAD fklib | tar -x -C DIR``; it
reads this checkout's models and data), alternating the two, so that before and after see the same machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


#: Runs ``python -m fklib ARGS`` and then prints the process's peak resident memory (``VmHWM`` of
#: /proc/self/status: the high-water mark of this program's own memory, from its exec on; ``ru_maxrss`` of a
#: child would also count the pages of the big benchmark process it was forked from).
_PEAK = """
import runpy, sys
sys.argv = ["fklib", *sys.argv[1:]]
code = 0
try:
    runpy.run_module("fklib", run_name="__main__", alter_sys=True)
except SystemExit as stop:
    code = stop.code or 0
hwm = next(line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM"))
print(f"bench_locate_peak_kb={hwm}", file=sys.stderr)
sys.exit(code)
"""


def run_measured(cmd: list[str], cwd: Path | None = None, env: dict | None = None) -> tuple[float, float]:
    """``cmd`` in a fresh process: (wall seconds, its peak resident memory in MB; NaN when not measured).
    A ``python -m fklib ...`` command runs through :data:`_PEAK` to measure its peak. Fails on a non-zero exit."""
    if cmd[1:3] == ["-m", "fklib"]:
        cmd = [cmd[0], "-c", _PEAK, *cmd[3:]]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"bench_locate: {' '.join(cmd)} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    peak = [line.split("=", 1)[1] for line in proc.stderr.splitlines() if line.startswith("bench_locate_peak_kb=")]
    return seconds, int(peak[-1]) / 1024.0 if peak else float("nan")


def trees(compare: Path | None) -> dict[str, dict]:
    """The checkouts timed: this one, and ``compare`` (its own ``fklib``, this checkout's models and data)."""
    out = {"this": {"cwd": ROOT, "env": None}}
    if compare is not None:
        if not (compare / "fklib" / "locate.py").is_file():
            raise SystemExit(f"bench_locate: {compare}: no fklib/locate.py there")
        env = {**os.environ, "PYTHONPATH": str(compare), "FKLIB_ROOT": str(ROOT)}
        out = {"compare": {"cwd": compare, "env": env}, **out}
    return out


def big_photo(width: int, height: int, face, seed: int = 0):
    """A ``width x height`` photo: a textured background (made at a quarter of the size, enlarged) with ``face``
    (a 128 px crop) placed at scale ``height / 300`` (its eyes about a tenth of the height apart), rotated 10 degrees."""
    import numpy as np
    from PIL import Image

    from fklib.faces import compose

    small = compose.background(max(8, height // 4), max(8, width // 4), seed)
    bg = np.asarray(Image.fromarray(small).resize((width, height), Image.Resampling.BICUBIC))
    t = compose.placement(height / 300, 10, (width * 0.45, height * 0.5))
    pic, _ = compose.place_faces(bg, [face], [t])
    return pic


def bench_big(args, fake, tmp: Path) -> None:
    from PIL import Image

    sizes = [tuple(int(v) for v in s.lower().split("x")) for s in args.big_sizes.split(",")]
    extra = ["--checkpoint", args.checkpoint] if args.checkpoint else []
    checkouts = trees(args.compare)
    for w, h in sizes:
        path = tmp / f"photo_{w}x{h}.png"
        Image.fromarray(big_photo(w, h, fake.image)).save(path, compress_level=1)
        runs = {name: [] for name in checkouts}
        for k in range(args.repeats):
            for name, tree in checkouts.items():
                out = tmp / f"{name}_{w}x{h}_{k}"
                runs[name].append((*run_measured([sys.executable, "-m", "fklib", "locate", str(path), "--out", str(out),
                                                  *extra], tree["cwd"], tree["env"]), out))
        for name, rs in runs.items():
            seconds = [r[0] for r in rs]
            peak = max(r[1] for r in rs)
            out = rs[-1][2]
            overlay = out / f"photo_{w}x{h}_overlay.png"
            size = f"{overlay.stat().st_size / 1e6:.1f} MB, {Image.open(overlay).size[0]} x {Image.open(overlay).size[1]}" \
                if overlay.is_file() else "none"
            print(f"{w} x {h} ({w * h / 1e6:.1f} MP), {name:7s}: median {statistics.median(seconds):.1f} s "
                  f"(min {min(seconds):.1f}, max {max(seconds):.1f}, {len(seconds)} runs), peak memory {peak:.0f} MB, "
                  f"overlay {size}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--checkpoint", default=None)
    p.add_argument("--many", type=int, default=100, help="also time one call on this many crops (0: skip)")
    p.add_argument("--big", action="store_true", help="time large photos (--big-sizes) and measure peak memory")
    p.add_argument("--big-sizes", default="1600x1200,8000x6000", help="WxH,WxH,... for --big")
    p.add_argument("--compare", type=Path, default=None,
                   help="another checkout whose fklib is timed alternately with this one (before / after)")
    args = p.parse_args()
    from PIL import Image

    from fklib.data import load_set
    from fklib.faces import compose

    tmp = Path(tempfile.mkdtemp(prefix="bench_locate_"))
    fake = next(it for it in load_set("stgan", split="test") if it.property == "Bald")
    if args.big:
        bench_big(args, fake, tmp)
        return 0
    crop, picture = tmp / "crop.png", tmp / "picture.png"
    Image.fromarray(fake.image).save(crop)
    pic, _ = compose.place_faces(compose.background(768, 1024, seed=0), [fake.image],
                                 [compose.placement(2.0, 10, (512, 384))])
    Image.fromarray(pic).save(picture)
    extra = ["--checkpoint", args.checkpoint] if args.checkpoint else []
    checkouts = trees(args.compare)

    def timed(cmd: list[str], tree=None) -> float:
        tree = tree or checkouts["this"]
        return run_measured(cmd, tree["cwd"], tree["env"])[0]

    runs = {"bare import": []}
    for name in checkouts:
        for what in ("picture", "crop", "crop --no-align"):
            runs[f"{what} [{name}]"] = []
    for k in range(args.repeats):
        runs["bare import"].append(timed([sys.executable, "-c", "import torch, safetensors, PIL.Image"]))
        for name, tree in checkouts.items():
            locate = [sys.executable, "-m", "fklib", "locate"]
            runs[f"picture [{name}]"].append(timed([*locate, str(picture), "--out", str(tmp / f"p{name}{k}"), *extra], tree))
            runs[f"crop [{name}]"].append(timed([*locate, str(crop), "--out", str(tmp / f"c{name}{k}"), *extra], tree))
            runs[f"crop --no-align [{name}]"].append(timed([*locate, "--no-align", str(crop), "--out",
                                                            str(tmp / f"n{name}{k}"), *extra], tree))
    many = None
    if args.many > 0:
        files = []
        for k in range(args.many):
            (tmp / f"face{k:03d}.png").write_bytes(crop.read_bytes())
            files.append(str(tmp / f"face{k:03d}.png"))
        many = timed([sys.executable, "-m", "fklib", "locate", *files, "--out", str(tmp / "many"), *extra])

    from fklib.faces import find_faces
    from fklib.locate import Locator

    med = statistics.median
    t0 = time.perf_counter()
    loc = Locator(args.checkpoint)
    t_load = time.perf_counter() - t0
    find_faces(pic)  # the detector's first call builds its networks
    det, upright, one = [], [], []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        find_faces(pic, rotations=(0,))
        upright.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        find_faces(pic)
        det.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        loc.locate_picture(pic)
        one.append(time.perf_counter() - t0)
    print(f"model {loc.checkpoint.name} ({loc.cfg.model}, {loc.size} px); picture 1024x768 with one face, crop 128x128")
    for name, ts in runs.items():
        print(f"fresh process, {name:24s}: {med(ts):.2f} s (min {min(ts):.2f}, max {max(ts):.2f})")
    for name in checkouts:
        pic_t, crop_t = med(runs[f"picture [{name}]"]), med(runs[f"crop [{name}]"])
        print(f"[{name}] picture / crop = {pic_t / crop_t:.2f} (target <= 1.5); crop / bare import = "
              f"{crop_t / med(runs['bare import']):.2f}; crop --no-align / bare import = "
              f"{med(runs[f'crop --no-align [{name}]']) / med(runs['bare import']):.2f}")
    if many is not None:
        print(f"whole command, {args.many} crops : {many:.2f} s ({many / args.many * 1000:.0f} ms per image)")
    print(f"  in one process: model load {t_load:.2f} s; face search on the picture: upright only {med(upright) * 1000:.0f} ms, "
          f"4 rotations {med(det) * 1000:.0f} ms ({med(det) / med(upright):.2f}x); the picture located (find, align, "
          f"locate, map back) {med(one) * 1000:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
