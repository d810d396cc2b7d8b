"""A locator against the targets of the data issue ("Every GAN, not only lossless STGAN"), on one split.

    python experiments/all_gans_targets.py --checkpoint models/fakelocator.safetensors [--split test]
        [--out results/tables/all_gans_targets] [--limit N] [--conditions clean fakes_jpeg90 ...]

Per evaluation set and condition, and per property of the set: the model's COSS, SSIM and pixel AUC with
the two strong references (the per-property mean map and the texture-blind layout prior, fitted on the
checkpoint's training fakes), the paired difference model - reference over the same images with its 95 %
interval (identities resampled; :func:`fklib.metrics.bootstrap.paired_difference`) and its verdict, and the
detection rates (TPR of the fakes, TNR of the reals, bACC with its interval) at the checkpoint's decision.

Sets: STGAN full edits, StarGAN-128 (the released generator), AttGAN and AttentionGAN (each with the reals
in its own framing), the STGAN test splices, and, as cross-checks, the disrupted StarGAN-256 strips,
InterFaceGAN and the 13 AttGAN sample rows. Conditions: ``clean``; ``fakes_jpeg90`` / ``fakes_jpeg75`` (the
fakes saved once as JPEG of that quality, the reals as they are; GT maps unchanged); ``all_jpeg90`` /
``all_jpeg75`` (reals too: the TNR a web photo meets).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from fklib import paths
from fklib.checkpoint import load_trained
from fklib.data import ensure_splice_set, limit_items, load_set
from fklib.degrade import degrade_item
from fklib.engine import MODEL, score_items
from fklib.engine.evaluate import fit_references
from fklib.files import write_atomically
from fklib.metrics import balanced_accuracy_interval, detection_rates
from fklib.metrics.bootstrap import paired_difference, paired_verdict
from fklib.report.provenance import experiment_command, record_experiment, results_folder
from fklib.report.tables import markdown_table

#: name -> (set, the fakes' GAN or None, the reals' source suffix or None, a fixed splice set or None).
SETS = {
    "stgan": ("stgan", None, None, None),
    "stargan128": ("stargan128", None, None, None),
    "attgan": ("attgan_attentiongan", "attgan", "#real-attgan", None),
    "attentiongan": ("attgan_attentiongan", "attentiongan", "#real-attentiongan", None),
    "stgan_splices": (None, None, None, "stgan_test"),
    "stargan256": ("stargan", None, None, None),
    "interfacegan": ("interfacegan", None, None, None),
    "attgan13": ("attgan", None, None, None),
}
#: condition -> (JPEG quality, whether the reals are compressed too).
CONDITIONS = {"clean": (None, False), "fakes_jpeg90": (90, False), "fakes_jpeg75": (75, False),
              "all_jpeg90": (90, True), "all_jpeg75": (75, True)}
REFERENCES = ("property_mean", "layout_prior")
METRICS = ("coss", "ssim", "auc")


def set_items(name: str, split: str, limit: int | None) -> list:
    """The items of evaluation set ``name`` (:data:`SETS`) on ``split`` (splices: their fixed set)."""
    set_name, gan, real_suffix, splices = SETS[name]
    if splices is not None:
        split_of = splices.rsplit("_", 1)[1]
        if split_of != split:
            raise ValueError(f"the splice set {splices} belongs to the {split_of} split, not {split}")
        items = load_set("generic", folder=ensure_splice_set(splices))
    else:
        items = load_set(set_name, split=None if set_name == "attgan" else split)
    if gan is not None:
        items = [it for it in items if (it.label == 1 and it.gan == gan) or
                 (it.label == 0 and it.source.endswith(real_suffix))]
    return limit_items(items, limit) if limit else items


def degraded(items: list, condition: str) -> list:
    """``items`` under ``condition`` (:data:`CONDITIONS`); every image keeps its clean GT map."""
    quality, reals_too = CONDITIONS[condition]
    if quality is None:
        return items
    return [degrade_item(it, "jpeg", quality) if (it.label == 1 or reals_too) else it for it in items]


def _margins(rows: pd.DataFrame, m: str, ref: str) -> pd.Series:
    """Per fake ``source``: the model's ``m`` minus ``ref``'s on the same image."""
    fakes = rows[rows["label"] == 1]
    ours = fakes[fakes["predictor"] == MODEL].set_index("source")[m]
    return ours - fakes[fakes["predictor"] == ref].set_index("source")[m].reindex(ours.index)


def cell(rows: pd.DataFrame, fakes_of: pd.Series | None = None, clean_rows: pd.DataFrame | None = None) -> dict:
    """One row of the table: means, paired differences and detection of the fakes selected by ``fakes_of``
    (all fakes when ``None``) with every real of ``rows``. With ``clean_rows`` (the same images undegraded):
    ``<m>_change_vs_<ref>`` with ``_lo`` / ``_hi``, the paired change of the margin model − reference from the clean
    image to the degraded one (below 0: the model loses more than the reference under the degradation)."""
    model = rows[rows["predictor"] == MODEL]
    fakes = model[model["label"] == 1] if fakes_of is None else model[(model["label"] == 1) & fakes_of]
    reals = model[model["label"] == 0]
    out: dict = {"n_fakes": len(fakes), "n_reals": len(reals)}
    for m in METRICS:
        out[m] = float(fakes[m].mean())
        for ref in REFERENCES:
            other = rows[rows["predictor"] == ref].set_index("source").loc[fakes["source"]]
            out[f"{m}_{ref}"] = float(other[m].mean())
            d, lo, hi = paired_difference(fakes["identity"].astype(str).to_numpy(), fakes[m].to_numpy(),
                                          other[m].to_numpy())
            out[f"{m}_vs_{ref}"] = d
            out[f"{m}_vs_{ref}_lo"], out[f"{m}_vs_{ref}_hi"] = lo, hi
            out[f"{m}_vs_{ref}_verdict"] = paired_verdict(lo, hi)
            if clean_rows is not None:
                now, before = _margins(rows, m, ref).loc[fakes["source"]], _margins(clean_rows, m, ref)
                c, clo, chi = paired_difference(fakes["identity"].astype(str).to_numpy(), now.to_numpy(),
                                                before.reindex(fakes["source"]).to_numpy())
                out[f"{m}_change_vs_{ref}"], out[f"{m}_change_vs_{ref}_lo"], out[f"{m}_change_vs_{ref}_hi"] = c, clo, chi
    both = pd.concat([fakes, reals])
    tpr, tnr = detection_rates(both["pred_fake"], both["label"])
    out.update(tpr=tpr, tnr=tnr, bacc=(tpr + tnr) / 2 if len(reals) else float("nan"))
    if len(reals):
        out["bacc_lo"], out["bacc_hi"] = balanced_accuracy_interval(
            both["identity"].astype(str).to_numpy(), both["pred_fake"].to_numpy(float), both["label"].to_numpy())
    return out


def targets_table(checkpoint: str, split: str = "test", names=tuple(SETS), conditions=tuple(CONDITIONS),
             limit: int | None = None, log=print, references=None) -> pd.DataFrame:
    """The table: one row per (set, condition, property) -- property ``all`` pools the set's fakes.

    ``references``: the reference predictors to compare with (default: fitted on the checkpoint's training
    fakes); models trained on parts of the data compare with one set of references this way."""
    locator = load_trained(checkpoint)
    model, cfg = locator.model, locator.config
    refs = references or fit_references(dataclasses.replace(cfg, include_reconstruction=False))
    out = []
    for name in names:
        clean = set_items(name, split, limit)
        clean_rows = None
        for condition in sorted(conditions, key=lambda c: c != "clean"):  # clean first: the changes are from it
            items = degraded(clean, condition)
            rows = score_items(model, items, cfg.size, rule=locator.rule, references=refs, reference_kinds=REFERENCES)
            if condition == "clean":
                clean_rows = rows
            props = sorted(rows.loc[rows["label"] == 1, "property"].unique())
            keys = [("all", None)] + ([(p, rows["property"] == p) for p in props] if len(props) > 1 else [])
            for prop, sel in keys:
                sel = None if sel is None else sel[rows["predictor"] == MODEL]
                out.append({"set": name, "condition": condition, "property": prop,
                            **cell(rows, sel, clean_rows if condition != "clean" else None)})
            r = out[-len(keys)]
            log(f"{name:14s} {condition:13s} n={r['n_fakes']}/{r['n_reals']}  COSS {r['coss']:.3f} "
                f"(prior {r['coss_layout_prior']:.3f})  SSIM {r['ssim']:.3f}  AUC {r['auc']:.3f} "
                f"(prior {r['auc_layout_prior']:.3f}, {r['auc_vs_layout_prior_verdict']})  "
                f"TPR {r['tpr']:.3f} TNR {r['tnr']:.3f} bACC {r['bacc']:.3f}")
    return pd.DataFrame(out)


def summary_table(df: pd.DataFrame) -> pd.DataFrame:
    """The pooled rows with the columns a reader compares (model, prior, paired verdicts, detection)."""
    pooled = df[df["property"] == "all"]
    cols = ["set", "condition", "n_fakes", "n_reals", "coss", "coss_layout_prior", "coss_vs_layout_prior_verdict",
            "ssim", "auc", "auc_layout_prior", "auc_vs_layout_prior", "auc_vs_layout_prior_lo",
            "auc_vs_layout_prior_hi", "auc_vs_layout_prior_verdict", "tpr", "tnr", "bacc"]
    return pooled[cols].reset_index(drop=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", default=str(paths.default_locator()))
    p.add_argument("--split", default="test", choices=["val", "test"])
    p.add_argument("--sets", nargs="+", default=list(SETS), choices=list(SETS))
    p.add_argument("--conditions", nargs="+", default=list(CONDITIONS), choices=list(CONDITIONS))
    p.add_argument("--limit", type=int, default=None, help="at most N fakes per property and N reals (quick look)")
    p.add_argument("--out", type=Path, default=None, help="write OUT.csv (every row) and OUT.md (pooled rows)")
    args = p.parse_args()
    df = targets_table(args.checkpoint, args.split, args.sets, args.conditions, args.limit)
    if args.out:
        write_atomically(args.out.with_suffix(".csv"), lambda tmp: df.to_csv(tmp, index=False))
        text = (f"# {args.checkpoint} on the {args.split} split\n\n`python experiments/all_gans_targets.py "
                f"--checkpoint {args.checkpoint} --split {args.split}`; paired verdicts: model - layout prior "
                "over the same images, 95 % interval with identities resampled.\n\n"
                + markdown_table(summary_table(df)) + "\n")
        write_atomically(args.out.with_suffix(".md"), lambda tmp: Path(tmp).write_text(text))
        record_experiment([args.out.name], args.checkpoint, experiment_command(sys.argv), results_folder(args.out))
        print(f"wrote {args.out.with_suffix('.csv')} and {args.out.with_suffix('.md')}")


if __name__ == "__main__":
    main()
