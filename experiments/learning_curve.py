"""Learning curve of the universal ``cpu`` recipe over training identities: is the locator limited by data?

Trains the ``cpu`` profile's recipe (hybrid head, SRM stream, splices, balanced decision) on a seeded
fraction of each training set's identities (every item of a kept identity: its real, its fakes, its
reconstruction), at one reduced budget for every point, and scores each model on the validation
identities and validation splices (:func:`fklib.studies.validation.validation_summary`), next to the
layout prior. The test split is never touched.

    python experiments/learning_curve.py                       # fractions 0.25 0.5 1.0, 3 epochs each
    python experiments/learning_curve.py --fractions 0.5 1.0 --epochs 2

Writes ``results/tables/learning_curve.csv`` / ``.md`` (``--out`` elsewhere).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from fklib.config import make_config
from fklib.engine.items import training_items
from fklib.report import save_table
from fklib.report.provenance import experiment_command, record_experiment
from fklib.studies.cache import ensure_trained, training_summary
from fklib.checkpoint import load_trained
from fklib.studies.validation import validation_rows, validation_summary

#: What each point reports (keys of :func:`fklib.studies.validation.validation_summary`).
COLUMNS = ("stgan_coss", "stgan_coss_layout_prior", "stgan_auc", "stgan_auc_layout_prior", "stgan_ssim", "stgan_tpr",
           "stgan_tnr", "stgan_bacc", "stgan_splice_coss", "stgan_splice_auc", "stargan_bacc", "stargan_splice_auc",
           "interfacegan_bacc")


def identity_subset(items: list, fraction: float, seed: int = 0) -> list:
    """The items of a seeded ``fraction`` of each set's identities (at least one identity per set)."""
    by_set: dict[str, list] = {}
    for it in items:
        by_set.setdefault(it.set, []).append(it)
    kept = []
    rng = np.random.default_rng(seed)
    for name, part in by_set.items():
        ids = sorted({it.identity for it in part})
        chosen = set(rng.choice(ids, max(1, round(fraction * len(ids))), replace=False).tolist())
        kept += [it for it in part if it.identity in chosen]
    return kept


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fractions", type=float, nargs="+", default=[0.25, 0.5, 1.0])
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=None, help="results folder (default: the project's results/)")
    args = ap.parse_args()
    base = make_config("cpu")
    rows, ckpts = [], []
    for fraction in args.fractions:
        cfg = dataclasses.replace(base, name=f"learning_curve_{round(100 * fraction)}pct_{args.epochs}ep",
                                  epochs=args.epochs)
        train = identity_subset(training_items(cfg, "train"), fraction, args.seed)
        val = training_items(cfg, "val")
        start = time.time()
        ckpt = ensure_trained(cfg, train, val)
        ckpts.append(ckpt)
        summary = validation_summary(validation_rows(load_trained(ckpt)))
        rows.append({"fraction": fraction, "identities": len({(it.set, it.identity) for it in train}),
                     "train_items": len(train), "epochs": args.epochs,
                     "train_minutes": training_summary(ckpt)["minutes"], "wall_minutes": round((time.time() - start) / 60, 1),
                     **{c: summary.get(c, float("nan")) for c in COLUMNS}})
        print(rows[-1], flush=True)
    df = pd.DataFrame(rows)
    note = (f"The cpu recipe (fklib.config.PROFILES['cpu']) at {args.epochs} epochs for every point, trained on a seeded "
            "fraction of each training set's identities; scored on the validation identities and validation splices "
            "(never the test split). `*_layout_prior`: the texture-blind layout prior fitted on the full training split. "
            "Command: `python experiments/learning_curve.py " + " ".join(
                ["--fractions", *map(str, args.fractions), "--epochs", str(args.epochs)]) + "`.")
    save_table(df, "learning_curve", note=note, results_dir=args.out,
               title="Learning curve over training identities (validation split)")
    record_experiment(["learning_curve"], ckpts, experiment_command(sys.argv), args.out)


if __name__ == "__main__":
    main()
