"""Choose a trained locator's decision again on validation, without retraining: the classifier threshold and
the map-peak floor (:func:`fklib.engine.evaluate.balanced_decision`, what training stores at its end for a
``balanced_decision`` config), written into a copy of the checkpoint.

    python experiments/choose_decision.py --checkpoint checkpoints/cpu/best.pt --out checkpoints/cpu/best.pt

Used once, for the shipped model trained before the map-peak floor existed (its weights and config
unchanged: a retrain of the same config stores the same kind of decision itself). Prints the old and
the new decision and their balanced accuracy on each validation set. The test split is never touched.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from fklib.checkpoint import DECISION_KEYS, DecisionRule, load_checkpoint, load_trained, save_checkpoint
from fklib.config import resolve_device
from fklib.engine.evaluate import decision_of_rows
from fklib.engine.items import training_items
from fklib.engine.scoring import score_items
from fklib.metrics import detection_rates, set_balanced_weights


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkpoint", required=True, help="a .pt training checkpoint with a classifier")
    ap.add_argument("--out", required=True, help="where to write the checkpoint with the new decision (.pt)")
    args = ap.parse_args(argv)
    src, out = Path(args.checkpoint), Path(args.out)
    if out.suffix != ".pt":
        raise SystemExit(f"--out {out}: must be a .pt checkpoint")
    locator = load_trained(src)
    model, cfg = locator.model, locator.config
    if not cfg.classifier:
        raise SystemExit(f"{src}: the model has no classifier; its decision is the no-cl threshold")
    device = resolve_device("auto")
    items = training_items(cfg, "val")
    rows = score_items(model, items, cfg.size, device=device, metrics=())
    threshold, floor = decision_of_rows(rows)   # balanced_decision, on the rows printed below
    old = (locator.rule.threshold, locator.rule.peak_floor)
    for name, (t, f) in (("old", old), ("new", (threshold, floor))):
        print(f"{name}: p(fake) > {t}" + (f" and peak > {f:.4f}" if f is not None else ""))
        fake = DecisionRule(True, t, f).decide(rows["prob"].to_numpy(), rows["score"].to_numpy(), rows["peak"].to_numpy())
        for s, part in rows.assign(call=fake).groupby("set"):
            tpr, tnr = detection_rates(part["call"], part["label"])
            print(f"  {s:14s} TPR {tpr:.3f} TNR {tnr:.3f}")
        w = set_balanced_weights(rows["label"].to_numpy(), rows["set"].to_numpy())
        print(f"  balanced over sets: bACC {float(np.sum(w * (fake == rows['label'].to_numpy()))):.3f}")
    ckpt = {k: v for k, v in load_checkpoint(src).items() if k not in DECISION_KEYS}
    save_checkpoint(out, {**ckpt, **DecisionRule(True, threshold, floor).payload()})
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
