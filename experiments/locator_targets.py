"""The universal locator against the targets of issue 21, on the public test splits (prints a table).

    python experiments/locator_targets.py [--checkpoint models/fakelocator.safetensors] [--out targets.json]

For each test set: means over its (GAN, property) groups of COSS, SSIM and pixel AUC for the model and
the two strong references (per-property mean map, layout prior), each with a 95 % bootstrap interval
over identities (2000 resamples of the test identities, seeded), the interval of model - layout prior,
the STGAN properties where the model beats both references, and the detection rates (TPR of the fakes,
TNR of the reals, bACC) at the checkpoint's decision threshold; then the published-figure crops.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

from fklib import paths
from fklib.checkpoint import load_trained
from fklib.engine import MODEL
from fklib.metrics import detection_rates
from fklib.metrics.bootstrap import cluster_weights
from fklib.studies.common import score_set
from fklib.studies.published_figures import figure_detection, figure_summary

SETS = (("stgan", "stgan", None), ("stargan", "stargan", None), ("attgan", "attgan", None),
        ("interfacegan", "interfacegan", None), ("stgan_splice", "stgan", "stgan_test"),
        ("stargan_splice", "stgan", "stargan_test"))
STRONG = ("property_mean", "layout_prior")
METRICS = ("coss", "ssim", "auc")


def group_means(fakes: pd.DataFrame, metric: str, ids: np.ndarray | None = None) -> float:
    """Mean over (gan, property) groups of the per-group mean of ``metric`` (identities ``ids`` drawn, with repeats)."""
    if ids is not None:
        fakes = pd.concat([fakes[fakes["identity"] == i] for i in ids])
    return float(fakes.groupby(["gan", "property"])[metric].mean().mean())


def bootstrap(rows: pd.DataFrame, predictors, metric: str, n: int = 2000, seed: int = 0) -> dict:
    """Cluster bootstrap over identities of the group-mean of ``metric`` per predictor and of model - layout prior.

    The statistic is a mean over (gan, property) groups of per-group means (each group weighs the same),
    not the pooled mean over images of :func:`fklib.metrics.bootstrap.ratio_interval`; the draws are
    :func:`fklib.metrics.bootstrap.cluster_weights`.
    """
    fakes = rows[rows["label"] == 1]
    ident = np.array(sorted(fakes["identity"].astype(str).unique()))
    by = {p: fakes[fakes["predictor"] == p].assign(identity=lambda d: d["identity"].astype(str)) for p in predictors}
    # per (predictor, identity): per-group sums and counts, so a resample is a weighted sum
    groups = sorted({(g, q) for g, q in zip(fakes["gan"], fakes["property"])})
    gi = {g: k for k, g in enumerate(groups)}
    ii = {i: k for k, i in enumerate(ident)}
    sums = {p: np.zeros((len(ident), len(groups))) for p in predictors}
    cnts = {p: np.zeros((len(ident), len(groups))) for p in predictors}
    for p, d in by.items():
        d = d[d[metric].notna()]
        for i, g, q, v in zip(d["identity"], d["gan"], d["property"], d[metric]):
            sums[p][ii[i], gi[(g, q)]] += v
            cnts[p][ii[i], gi[(g, q)]] += 1
    w = cluster_weights(len(ident), n, seed)  # n x identities
    out = {}
    stats = {}
    for p in predictors:
        s, c = w @ sums[p], w @ cnts[p]
        with np.errstate(invalid="ignore", divide="ignore"):
            stats[p] = np.nanmean(s / c, axis=1)
        point = np.nanmean(sums[p].sum(0) / cnts[p].sum(0))
        out[p] = (float(point), *map(float, np.nanpercentile(stats[p], [2.5, 97.5])))
    if MODEL in stats and "layout_prior" in stats:
        d = stats[MODEL] - stats["layout_prior"]
        out["model - layout_prior"] = (float(out[MODEL][0] - out["layout_prior"][0]),
                                       *map(float, np.nanpercentile(d, [2.5, 97.5])))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", default=str(paths.default_locator()))
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args()
    report: dict = {"checkpoint": args.checkpoint, "sets": {}}
    locator = load_trained(args.checkpoint)
    for name, set_name, splices in SETS:
        rows = score_set(locator, set_name, splices=splices)
        model = rows[rows["predictor"] == MODEL]
        tpr, tnr = detection_rates(model["pred_fake"], model["label"])
        rec = {"n_fakes": int((model["label"] == 1).sum()), "n_reals": int((model["label"] == 0).sum()),
               "tpr": tpr, "tnr": tnr, "bacc": (tpr + tnr) / 2}
        for m in METRICS:
            rec[m] = bootstrap(rows, [MODEL, *STRONG], m)
        if name == "stgan":
            fakes = rows[rows["label"] == 1]
            per = fakes.groupby(["predictor", "property"])[["coss", "ssim"]].mean()
            props = sorted(fakes["property"].unique())
            rec["props_beating_both"] = {m: [q for q in props if all(per.loc[(MODEL, q), m] > per.loc[(r, q), m]
                                                                     for r in STRONG)] for m in ("coss", "ssim")}
        report["sets"][name] = rec
        print(f"== {name}: {rec['n_fakes']} fakes, {rec['n_reals']} reals; TPR {tpr:.3f} TNR {tnr:.3f} "
              f"bACC {(tpr + tnr) / 2:.3f}")
        for m in METRICS:
            cells = "  ".join(f"{k} {v[0]:.3f} [{v[1]:.3f}, {v[2]:.3f}]" for k, v in rec[m].items())
            print(f"   {m}: {cells}")
        if "props_beating_both" in rec:
            print("   properties beating both references:",
                  {m: len(v) for m, v in rec["props_beating_both"].items()})
    figs = figure_summary(figure_detection(locator))
    report["figures"] = figs
    print(f"== published-figure crops: {figs['edits_called_fake']:.3f} of {figs['n_edits']} edits called fake, "
          f"{figs['reals_called_real']:.3f} of {figs['n_reals']} inputs called real")
    if args.out:
        args.out.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
