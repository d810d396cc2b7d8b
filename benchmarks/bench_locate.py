"""How long ``python -m fklib locate`` takes on this machine, against a bare torch import.

    python benchmarks/bench_locate.py [--repeats 5] [--checkpoint C] [--size 128] [--many 100]

Prints, as medians over the repeats:

- the whole command in a fresh process (interpreter start, imports, model load, one image, outputs),
  alternating with a fresh ``python -c "import torch, safetensors, PIL.Image"`` (the floor any
  torch tool pays), and their ratio (target: <= 1.4);
- the whole command for ``--many`` images in one call (0 skips it);
- in one process: imports, model load (+ BatchNorm folding), one image (read, predict, write map,
  overlay and JSON).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--checkpoint", default=None)
    p.add_argument("--size", type=int, default=128, help="side of the test image (px)")
    p.add_argument("--many", type=int, default=100, help="also time one call on this many images (0: skip)")
    args = p.parse_args()
    from PIL import Image

    tmp = Path(tempfile.mkdtemp(prefix="bench_locate_"))
    img = tmp / "face.png"
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (args.size, args.size, 3), dtype=np.uint8)).save(img)
    extra = ["--checkpoint", args.checkpoint] if args.checkpoint else []

    def timed(cmd: list[str]) -> float:
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        return time.perf_counter() - t0

    whole, bare = [], []
    for k in range(args.repeats):  # alternate, so that both see the same machine state
        bare.append(timed([sys.executable, "-c", "import torch, safetensors, PIL.Image"]))
        whole.append(timed([sys.executable, "-m", "fklib", "locate", str(img), "--out", str(tmp / f"o{k}"), *extra]))
    many = None
    if args.many > 0:
        for k in range(args.many):
            (tmp / f"face{k:03d}.png").write_bytes(img.read_bytes())
        files = [str(tmp / f"face{k:03d}.png") for k in range(args.many)]
        many = timed([sys.executable, "-m", "fklib", "locate", *files, "--out", str(tmp / "many"), *extra])

    t0 = time.perf_counter()
    import torch  # noqa: F401

    from fklib.locate import Locator, locate_files
    t_import = time.perf_counter() - t0
    loads, ones = [], []
    for k in range(args.repeats):
        t0 = time.perf_counter()
        loc = Locator(args.checkpoint)
        loads.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        locate_files([img], tmp / f"i{k}", locator=loc, log=lambda *_: None)
        ones.append(time.perf_counter() - t0)
    med = statistics.median
    print(f"machine: {torch.get_num_threads()} torch threads; image {args.size}x{args.size}; "
          f"model {loc.checkpoint.name} ({loc.cfg.model}, {loc.size} px)")
    print(f"whole command, fresh process : {med(whole):.2f} s (min {min(whole):.2f}, max {max(whole):.2f})")
    print(f"bare torch import, alternated: {med(bare):.2f} s -> locate / bare = {med(whole) / med(bare):.2f} "
          "(target <= 1.4)")
    if many is not None:
        print(f"whole command, {args.many} images : {many:.2f} s ({many / args.many * 1000:.0f} ms per image)")
    print(f"  imports (torch + fklib)    : {t_import:.2f} s (first import in this process)")
    print(f"  model load + BN folding    : {med(loads):.2f} s")
    print(f"  one image, outputs written : {med(ones):.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
