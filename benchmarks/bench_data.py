"""Benchmark: decode + cache of the whole STGAN set with GT maps, then the cached load.

    python benchmarks/bench_data.py [--repeats 5]

Prints figures; it is not a test. Target (issue 2): cached load of the whole STGAN set with
GT maps under 2 s on 2 cores, and at least 10x faster than the first load. The first load
is timed against a fresh temporary cache folder, so ``data/cache`` is left alone.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time

import numpy as np
import torch

from fklib.data import FakeMapDataset, gt_maps, load_set


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch threads "
          f"{torch.get_num_threads()}")
    with tempfile.TemporaryDirectory() as cache:
        def load():
            items = load_set("stgan", include_reconstruction=True, cache_dir=cache)
            return items, gt_maps(items)

        t_nocache, (items, maps) = timed(lambda: (lambda it: (it, gt_maps(it)))(
            load_set("stgan", include_reconstruction=True, cache=False)))
        t_first, _ = timed(load)
        cached = [timed(load)[0] for _ in range(args.repeats)]
    n_strips = len({it.identity for it in items})
    print(f"STGAN: {n_strips} strips, {len(items)} images, maps {maps.shape} float32 "
          f"({maps.nbytes / 2**20:.0f} MiB), mean map value {maps.mean():.4f}")
    print(f"decode + GT maps, no cache:        {t_nocache:6.2f} s")
    print(f"first load (decode + write cache): {t_first:6.2f} s")
    print(f"cached load with GT maps:          {np.median(cached):6.3f} s median of {args.repeats} "
          f"(min {min(cached):.3f}, max {max(cached):.3f})  -> {t_first / np.median(cached):.0f}x faster")
    ds = FakeMapDataset(items, size=128)
    t_ds, _ = timed(lambda: [ds[i] for i in range(len(ds))])
    print(f"Dataset samples at 128 px:         {len(ds) / t_ds:6.0f} samples/s (single process)")
    ds224 = FakeMapDataset(items[:500], size=224, flip=True)
    t_ds, _ = timed(lambda: [ds224[i] for i in range(len(ds224))])
    print(f"Dataset samples at 224 px + flip:  {len(ds224) / t_ds:6.0f} samples/s (single process)")


if __name__ == "__main__":
    main()
