"""How well each paired set's fakes are registered with their reals, and the noise floor left in |fake - real|.

    python experiments/registration.py [--per-gan 300] [--out results/tables/registration]

Per GAN of the paired sets (its first ``--per-gan`` fakes of the whole set, in file order): the share of fakes
whose mean |fake - real| (inside a 4-px margin) is smallest at zero shift among the nine shifts of at most one
pixel, the median over fakes of that error at zero shift and at the best non-zero shift, and the noise floor:
the median over fakes of the per-image median of the eq.-4 map x 255 (gray levels; more than half of a face is
outside any edit, so the per-image median is a floor the edit does not reach) and its 90th percentile.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from fklib.data import load_set
from fklib.files import write_atomically
from fklib.report.provenance import experiment_command, record_experiment, results_folder
from fklib.report.tables import markdown_table

#: (set, GAN) pairs measured: every paired set.
PAIRS = (("stgan", "stgan"), ("stargan128", "stargan"), ("attgan_attentiongan", "attgan"),
         ("attgan_attentiongan", "attentiongan"), ("stargan", "stargan"), ("attgan", "attgan"))
SHIFTS = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]


def shift_errors(real: np.ndarray, fake: np.ndarray, margin: int = 4) -> dict[tuple[int, int], float]:
    """Mean |shifted real - fake| (all channels, gray levels) inside ``margin`` for each shift of :data:`SHIFTS`."""
    r, f = real.astype(np.float32), fake.astype(np.float32)
    inner = (slice(margin, -margin), slice(margin, -margin))
    return {s: float(np.abs(np.roll(r, s, (0, 1)) - f)[inner].mean()) for s in SHIFTS}


def measure(set_name: str, gan: str, per_gan: int) -> dict:
    fakes = [it for it in load_set(set_name) if it.label == 1 and it.gan == gan and it.reference is not None][:per_gan]
    errors = [shift_errors(it.reference, it.image) for it in fakes]
    zero = np.array([e[(0, 0)] for e in errors])
    other = np.array([min(v for s, v in e.items() if s != (0, 0)) for e in errors])
    floors = np.array([np.median(it.gt_map()) * 255 for it in fakes])
    return {"set": set_name, "gan": gan, "n_fakes": len(fakes), "zero_shift_best": float((zero < other).mean()),
            "error_zero_shift": float(np.median(zero)), "error_best_other_shift": float(np.median(other)),
            "floor_median": float(np.median(floors)), "floor_p90": float(np.percentile(floors, 90))}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--per-gan", type=int, default=300)
    p.add_argument("--out", type=Path, default=None, help="write OUT.csv and OUT.md")
    args = p.parse_args()
    df = pd.DataFrame([measure(s, g, args.per_gan) for s, g in PAIRS])
    print(df.round(3).to_string(index=False))
    if args.out:
        write_atomically(args.out.with_suffix(".csv"), lambda tmp: df.to_csv(tmp, index=False))
        text = ("# Registration of fakes with their reals, and the noise floor of |fake - real|\n\n"
                f"`python experiments/registration.py --per-gan {args.per_gan}`: gray levels (0-255); "
                "`zero_shift_best`: share of fakes whose error is smallest at zero shift among shifts of at most "
                "one pixel; `floor_*`: the per-image median of the eq.-4 map x 255 (outside any edit).\n\n"
                + markdown_table(df) + "\n")
        write_atomically(args.out.with_suffix(".md"), lambda tmp: Path(tmp).write_text(text))
        record_experiment([args.out.name], None, experiment_command(sys.argv), results_folder(args.out))  # no model


if __name__ == "__main__":
    main()
