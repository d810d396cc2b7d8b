"""Benchmark: parameters, training and inference speed, and peak memory of the locator models.

    python benchmarks/bench_locator.py [--models unet_small efficientnet_lite0_unet] [--sizes 128 224]
                                       [--steps 5] [--device cpu|cuda]
    python benchmarks/bench_locator.py --checkpoint models/fakelocator.safetensors [--repeats 5]

Prints figures; it is not a test. For each registered model (or ``--models``) and image size:

- training images/s: batch ``--batch`` (8), forward + L1 loss on the map + BCE on the logit +
  Adam step, ``--warmup`` untimed steps then ``--steps`` timed ones;
- inference images/s: batch ``--infer-batch`` (64), eval mode with BatchNorm folded into the
  convolutions (:func:`fklib.models.fuse.fold_batchnorm`, as ``fklib.engine.predict`` runs), ``torch.inference_mode``;
- peak memory growth of each phase over the state after building the model and the batch: on
  CPU the peak RSS (``resource.getrusage``, or psutil where ``resource`` is missing), on CUDA
  ``torch.cuda.max_memory_allocated``.

With ``--checkpoint`` (one or more trained locators, ``.pt`` or ``.safetensors``) it measures instead,
at the checkpoints' resolution, each checkpoint's model and the DFFD baseline (``dffd_xception``)
alternately in fresh processes, ``--repeats`` times, and prints the median inference images/s and the
ratio to the baseline (the cost issue's target: >= 1.5x the baseline and >= 100 images/s).

Each (model, size, phase) runs in a fresh subprocess so that one phase's peak cannot hide the
next one's. Torch uses its default thread count. DeepLabV3-ResNet101 is slow on CPU (about 15 s
per training step of 8 images at 128 px on 2 cores): use ``--steps 2 --warmup 1 --infer-steps 1``
or leave it out with ``--models``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
import warnings

from fklib.models.fuse import fold_batchnorm

import torch
import torch.nn.functional as F

from fklib.models import count_parameters, create_model, list_models


# ----------------------------------------------------------------------------- memory probes

def _peak_rss_bytes() -> int:
    """The process's peak resident set size so far, in bytes."""
    try:
        import resource
    except ImportError:  # Windows
        import psutil

        info = psutil.Process().memory_info()
        return int(getattr(info, "peak_wset", info.rss))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)  # macOS: bytes, Linux: KiB


class PeakMemory:
    """Peak memory growth over the moment of entering (bytes): RSS on CPU, allocator on CUDA."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.growth = 0

    def __enter__(self) -> "PeakMemory":
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self.base = torch.cuda.memory_allocated(self.device)
        else:
            self.base = _peak_rss_bytes()
        return self

    def __exit__(self, *exc) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            self.growth = torch.cuda.max_memory_allocated(self.device) - self.base
        else:
            self.growth = _peak_rss_bytes() - self.base


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# ----------------------------------------------------------------------------- one measurement (subprocess)

def measure(name: str, size: int, phase: str, device: str, batch: int, infer_batch: int, warmup: int,
            steps: int, infer_steps: int, lr: float) -> dict:
    dev = torch.device(device)
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # deeplab: "pretrained weights not found" -> scratch, same speed
        if name.startswith("checkpoint:"):
            from fklib.checkpoint import load_trained

            model = load_trained(name[len("checkpoint:"):]).model.to(dev)
        else:
            model = create_model(name).to(dev)
    result = {"params": count_parameters(model)}
    if phase == "train":
        b = batch
        x = torch.rand(b, 3, size, size, device=dev)
        target = torch.rand(b, 1, size, size, device=dev)
        label = torch.randint(0, 2, (b,), device=dev).float()
        model.train()
        opt = torch.optim.Adam(model.parameters(), lr=lr)

        def step() -> None:
            out = model(x)
            loss = F.l1_loss(out.map, target)
            if out.logit is not None:
                loss = loss + F.binary_cross_entropy_with_logits(out.logit, label)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        n_timed = steps
    else:
        b = infer_batch
        x = torch.rand(b, 3, size, size, device=dev)
        model = fold_batchnorm(model.eval(), x[:1])   # as fklib.engine.predict runs it

        def step() -> None:
            with torch.inference_mode():
                model(x)

        n_timed = infer_steps
    with PeakMemory(dev) as mem:
        for _ in range(warmup if phase == "train" else min(warmup, 1)):
            step()
        _sync(dev)
        t0 = time.perf_counter()
        for _ in range(n_timed):
            step()
        _sync(dev)
        elapsed = time.perf_counter() - t0
    result.update(images_per_s=b * n_timed / elapsed, s_per_step=elapsed / n_timed, peak_mib=mem.growth / 2**20)
    return result


def run_worker(spec: dict) -> dict:
    """Run :func:`measure` for ``spec`` in a fresh Python process; ``{"error": ...}`` on failure."""
    cmd = [sys.executable, os.path.abspath(__file__), "--_worker", json.dumps(spec)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"exit {proc.returncode}: {tail}"}
    return json.loads(lines[-1])


# ----------------------------------------------------------------------------- table

def _fmt(row: dict, key: str, fmt: str) -> str:
    return fmt.format(row[key]) if key in row else "error"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=None, help=f"default: all ({', '.join(list_models())})")
    parser.add_argument("--sizes", nargs="+", type=int, default=[128, 224])
    parser.add_argument("--steps", type=int, default=5, help="timed training steps")
    parser.add_argument("--warmup", type=int, default=2, help="untimed training steps (inference: 1)")
    parser.add_argument("--infer-steps", type=int, default=3, help="timed inference batches")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--infer-batch", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda[:i]")
    parser.add_argument("--checkpoint", nargs="+", default=None,
                        help="trained locators to time against the DFFD baseline (inference, median of --repeats)")
    parser.add_argument("--repeats", type=int, default=5, help="with --checkpoint: alternating measurements")
    parser.add_argument("--_worker", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args._worker:
        print(json.dumps(measure(**json.loads(args._worker))))
        return
    if args.checkpoint:
        compare_with_baseline(args)
        return

    models = args.models or list_models()
    unknown = [m for m in models if m not in list_models()]
    if unknown:
        parser.error(f"unknown models {unknown}; known: {', '.join(list_models())}")
    dev = torch.device(args.device)
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            parser.error("--device cuda: no CUDA device")
        where = f"{torch.cuda.get_device_name(dev)}, peak = torch.cuda.max_memory_allocated growth"
    else:
        where = (f"CPU {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
                 f"torch threads {torch.get_num_threads()}, peak = RSS high-water growth")
    print(f"torch {torch.__version__}; {where}")
    print(f"train: batch {args.batch}, {args.warmup} warm-up + {args.steps} timed steps (fwd + L1 map + BCE logit "
          f"+ Adam); inference: batch {args.infer_batch}, {args.infer_steps} timed batches, eval, inference_mode\n")

    header = ("model", "px", "params", "train img/s", "s/step", "train peak MiB", "infer img/s", "infer peak MiB")
    widths = (24, 4, 9, 11, 7, 14, 11, 14)
    line = "  ".join(h.rjust(w) if i else h.ljust(w) for i, (h, w) in enumerate(zip(header, widths)))
    print(line)
    print("-" * len(line))
    for name in models:
        for size in args.sizes:
            spec = dict(name=name, size=size, device=args.device, batch=args.batch, infer_batch=args.infer_batch,
                        warmup=args.warmup, steps=args.steps, infer_steps=args.infer_steps, lr=args.lr)
            train = run_worker({**spec, "phase": "train"})
            infer = run_worker({**spec, "phase": "infer"})
            params = train.get("params", infer.get("params"))
            cells = (name, str(size), f"{params / 1e6:.2f} M" if params else "?",
                     _fmt(train, "images_per_s", "{:.1f}"), _fmt(train, "s_per_step", "{:.2f}"),
                     _fmt(train, "peak_mib", "{:.0f}"), _fmt(infer, "images_per_s", "{:.1f}"),
                     _fmt(infer, "peak_mib", "{:.0f}"))
            print("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))),
                  flush=True)
            for phase, res in (("train", train), ("infer", infer)):
                if "error" in res:
                    print(f"    {phase} failed: {res['error']}")


def compare_with_baseline(args) -> None:
    """Inference images/s of each checkpoint and of the DFFD baseline, alternately, and their ratio."""
    import statistics

    from fklib.checkpoint import config_of, load_checkpoint

    size = config_of(load_checkpoint(args.checkpoint[0])).size
    names = [f"checkpoint:{c}" for c in args.checkpoint] + ["dffd_xception"]
    rates: dict[str, list[float]] = {n: [] for n in names}
    print(f"torch {torch.__version__}; {os.cpu_count()} cores, torch threads {torch.get_num_threads()}; "
          f"inference at {size} px, batch {args.infer_batch}, BatchNorm folded, {args.infer_steps} timed batches; "
          f"{args.repeats} alternating repeats (median)")
    for _ in range(args.repeats):
        for n in names:
            res = run_worker(dict(name=n, size=size, device=args.device, batch=args.batch,
                                  infer_batch=args.infer_batch, warmup=args.warmup, steps=args.steps,
                                  infer_steps=args.infer_steps, lr=args.lr, phase="infer"))
            if "error" in res:
                raise SystemExit(f"{n}: {res['error']}")
            rates[n].append(res["images_per_s"])
    base = statistics.median(rates["dffd_xception"])
    for n in names:
        med = statistics.median(rates[n])
        label = n.replace("checkpoint:", "")
        ratio = "" if n == "dffd_xception" else f"  -> {med / base:.2f}x the DFFD baseline (target >= 1.5x, >= 100 img/s)"
        print(f"{label:40s} {med:7.1f} img/s (min {min(rates[n]):.1f}, max {max(rates[n]):.1f}){ratio}")


if __name__ == "__main__":
    main()
