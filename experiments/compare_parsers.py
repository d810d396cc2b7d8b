"""Our trained face parser against mediapipe's landmark mesh on the 200 held-out CelebAMask-HQ masks.

    bash scripts/setup_mediapipe.sh          # once: the optional landmark environment
    python experiments/compare_parsers.py [--out results/tables/parsing_comparison.csv]

Both are scored at 128 px with IoU pooled over the held-out images, on the regions the mesh can
give (skin, nose, eyes, brows, mouth+lips); hair and eyeglasses are ours only.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from fklib import paths
from fklib.parsing import class_iou, load_parser, parse, parsing_split
from fklib.parsing.parser import TARGET_GROUPS, load_celebamask
from fklib.report.provenance import experiment_command, record_experiment, results_folder
from fklib.report.tables import markdown_table


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=Path("results/tables/parsing_comparison.csv"))
    p.add_argument("--python", default=str(paths.project_root() / ".venv-mediapipe" / "bin" / "python"))
    args = p.parse_args()
    ids, images, labels = load_celebamask(128)
    _, hold = parsing_split(ids)
    index = {i: k for k, i in enumerate(ids)}
    ho = np.array([index[i] for i in hold])
    ours = parse(load_parser(), images[ho], size=128)
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "ids.txt").write_text("\n".join(hold))
        subprocess.run([args.python, str(Path(__file__).with_name("landmark_parser.py")), "--images",
                        str(paths.data_dir() / "celebamask_hq" / "images"), "--ids", str(Path(tmp) / "ids.txt"),
                        "--size", "128", "--out", str(Path(tmp) / "mesh.npz")], check=True)
        with np.load(Path(tmp) / "mesh.npz") as z:
            assert list(z["ids"]) == hold
            mesh, found = z["maps"], int(z["found"])
    rows = []
    for name, parsed in (("fklib FaceParser (trained, 128 px)", ours), ("mediapipe 0.10.21 face mesh", mesh)):
        ious = class_iou(parsed, labels[ho], TARGET_GROUPS)
        if name.startswith("mediapipe"):
            ious["hair"] = ious["eyeglasses"] = float("nan")   # the mesh has no such regions
        shared = ("skin", "nose", "eyes", "brows", "mouth+lips")
        rows.append({"parser": name, **{k: round(v, 4) for k, v in ious.items()},
                     "mean_shared_regions": round(float(np.mean([ious[k] for k in shared])), 4),
                     "faces_found": found if name.startswith("mediapipe") else len(ho)})
    df = pd.DataFrame(rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(args.out, index=False)
    args.out.with_suffix(".md").write_text(
        f"Held-out {len(ho)} CelebAMask-HQ images, 128 px, IoU pooled over images "
        "(command: `python experiments/compare_parsers.py`).\n\n"
        + markdown_table(df.astype(str).where(df.notna(), None)))   # the IoUs as rounded above (4 decimals)
    record_experiment([args.out.stem], None, experiment_command(sys.argv), results_folder(args.out))  # parsers, no locator
    print(df.to_string(index=False))


if __name__ == "__main__":
    sys.exit(main())
