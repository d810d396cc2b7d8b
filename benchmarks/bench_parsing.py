"""Benchmark of the shipped face parser: held-out IoUs, inference speed, and the STGAN gallery.

    python benchmarks/bench_parsing.py [--weights models/face_parser.safetensors] [--gallery results/figures/parsing_gallery.png]
                                       [--fig6 results/figures/fig6.png]

Prints figures (not a test). Targets (face-parsing issue, 200 held-out CelebAMask-HQ images at
128 px): IoU hair >= 0.85, skin >= 0.85, mean IoU >= 0.70 over nose, eyes, brows, mouth+lips,
eyeglasses; inference >= 50 images/s on 2 cores. The training time is read from the JSON
written next to the weights by ``python -m fklib.parsing train``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from fklib.data import load_set
from fklib.parsing import ParsingAttention, class_iou, load_parser, parse, parsing_split, region_mask
from fklib.parsing.parser import TARGET_GROUPS, default_weights, load_celebamask
from fklib.report.figures import attention_figure, parsing_gallery, save_figure


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", type=Path, default=None)
    p.add_argument("--gallery", type=Path, default=None, help="write the STGAN test-real gallery here")
    p.add_argument("--fig6", type=Path, default=None,
                   help="write the paper's Fig. 6 for an STGAN Black_Hair test edit here")
    args = p.parse_args()
    weights = args.weights or default_weights()
    model = load_parser(weights)
    meta = weights.with_suffix(".json")
    if meta.is_file():
        report = json.loads(meta.read_text())["report"]
        print(f"training time: {report['train_seconds'] / 60:.1f} min ({json.loads(meta.read_text())['machine']})")
    ids, images, labels = load_celebamask(128)
    _, hold = parsing_split(ids)
    index = {i: k for k, i in enumerate(ids)}
    ho = np.array([index[i] for i in hold])
    t0 = time.perf_counter()
    pred = parse(model, images[ho], size=128)
    seconds = time.perf_counter() - t0
    ious = class_iou(pred, labels[ho], TARGET_GROUPS)
    small = np.nanmean([ious[k] for k in ("nose", "eyes", "brows", "mouth+lips", "eyeglasses")])
    print(f"held-out {len(ho)} images, 128 px: " + ", ".join(f"{k} {v:.3f}" for k, v in ious.items()))
    print(f"IoU hair {ious['hair']:.3f} (target 0.85), skin {ious['skin']:.3f} (0.85), "
          f"small parts mean {small:.3f} (0.70)")
    x = torch.rand(64, 3, 128, 128)
    with torch.inference_mode():
        model(x)
        t0 = time.perf_counter()
        for _ in range(3):
            model(x)
        ips = 3 * 64 / (time.perf_counter() - t0)
    print(f"inference: {ips:.0f} images/s (batch 64, 128 px, {torch.get_num_threads()} threads); "
          f"parse() end to end on the hold-out: {len(ho) / seconds:.0f} images/s")
    if args.gallery:
        reals = [it for it in load_set("stgan", split="test") if it.label == 0][:10]
        faces = np.stack([np.asarray(it.image) for it in reals])
        maps = parse(model, faces, size=128)
        print(f"gallery: {save_figure(parsing_gallery(faces, maps, [it.identity for it in reals]), args.gallery)}")
    if args.fig6:
        edit = next(it for it in load_set("stgan", split="test") if it.property == "Black_Hair")
        att = ParsingAttention([edit], model)
        region = region_mask(att.parsing(edit.image), edit.property) | region_mask(att.parsing(edit.reference),
                                                                                    edit.property)
        fig = attention_figure(np.asarray(edit.image), att.parsing(edit.image), region, att(edit),
                               f"STGAN Black_Hair, identity {edit.identity} (sigma {att.sigma}, floor {att.floor})")
        path = save_figure(fig, args.fig6)
        print(f"fig6: {path}")


if __name__ == "__main__":
    main()
