"""``python -m fklib.parsing train [--epochs N] [--out models/face_parser]`` -- train and ship the face parser.

Writes ``<out>.safetensors`` (fp16 weights) and ``<out>.json`` (config, held-out IoUs, time).
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import sys
from pathlib import Path

import torch
from safetensors.torch import save_file

from .. import cli
from ..files import write_atomically
from .parser import ParserConfig, train_parser


def main(argv: list[str] | None = None) -> int:
    return cli.run(lambda: _main(argv))


def _main(argv: list[str] | None) -> int:
    p = cli.ArgumentParser(prog="python -m fklib.parsing", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train the face parser on celebamask_hq")
    t.add_argument("--epochs", type=int, default=ParserConfig.epochs)
    t.add_argument("--max-items", type=int, default=None, help="train on fewer images (smoke runs)")
    t.add_argument("--out", type=Path, default=Path("models/face_parser"))
    args = p.parse_args(argv)
    cfg = ParserConfig(epochs=args.epochs, max_items=args.max_items)
    model, report = train_parser(cfg)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to(torch.float16 if v.is_floating_point() else v.dtype).contiguous()
             for k, v in model.state_dict().items()}
    write_atomically(args.out.with_suffix(".safetensors"), lambda tmp: save_file(state, str(tmp)))  # umask's mode, not 0600
    meta = {"config": dataclasses.asdict(cfg), "report": report, "command": "python -m fklib.parsing " + " ".join(
        argv if argv is not None else sys.argv[1:]), "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "torch_threads": torch.get_num_threads()}
    args.out.with_suffix(".json").write_text(json.dumps(meta, indent=2))
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
