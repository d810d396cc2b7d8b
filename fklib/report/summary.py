"""``results/README.md``: a one-page summary of the reproduction, written from the result tables.

Every number in the summary is read from ``results/tables/*.csv`` (written by the notebooks); the
verdicts (the headline, "matches / above / below the paper", "beats the references", "at or below
chance") are computed from them by fixed rules stated in the text. The notebook ``99_summary`` calls
:func:`write_results_readme` at the end of the pipeline.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from .. import paths
from ..files import write_atomically
from ..metrics import PAPER_METRICS as METRICS
from ..metrics.bootstrap import paired_verdict
from ..metrics.groups import CONSTANT, LADDER, MODEL, REFERENCE_KNOWS, REFERENCE_SHORT, at_or_below_chance
from ..studies.robustness import degradation_parts, robustness_verdict
from ..studies.upsampling import own_family_sentence
from .claims import claims_section
from .provenance import figures_section, model_words, provenance_section
from .tables import read_table


def _fmt(v, metric: str) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    return f"{v:.2f}" if metric.startswith("psnr") else f"{v:.3f}"


def _cells(row, metrics=METRICS) -> str:
    out = []
    for m in metrics:
        ours = row.get(m, math.nan)
        paper = row.get(f"{m}_paper", math.nan)
        out.append(f"{_fmt(ours, m)} ({_fmt(paper, m)})" if not pd.isna(paper) else _fmt(ours, m))
    return " | ".join(out)


def _ladder_cells(row, m: str = "coss") -> str:
    """``| +0.012 [0.004, 0.020] | ... |``: the model row's paired difference of ``m`` against each rung of the ladder
    (:data:`fklib.metrics.groups.LADDER`; ``–`` where the table has none)."""
    return " | ".join(_paired(row, m, ref) or "–" for ref in LADDER)


def _ladder_head(m: str = "COSS") -> str:
    return " | ".join(f"{m} − {REFERENCE_SHORT[r]}" for r in LADDER)


#: The sentence under every table section that prints the ladder's paired differences.
LADDER_NOTE = ("`− constant map`, `− property mean`, `− layout prior`: the paired difference model − reference over the "
               "same images with its 95 % interval over identities (above 0: the model beats it). The constant map "
               "knows neither the image nor the edit; the property mean and the layout prior both know the edited "
               "property, an oracle the network lacks (the layout prior also parses the face).")


def table2_section(t: pd.DataFrame) -> list[str]:
    lines = ["## Table 2: loss functions on STGAN Bald", "",
             "Ours (paper) per method, every row under one budget rule (the table's note); bACC with TPR / TNR on the "
             "Bald test fakes with the test reals; the reference rows make no detection. " + LADDER_NOTE
             + " In a table of one property the constant map and the property mean are the same map.", "",
             f"| method | ACC | COSS | PSNR | SSIM | bACC (TPR / TNR) | {_ladder_head()} |",
             "|---|---|---|---|---|---|" + "---|" * len(LADDER)]
    for _, r in t.iterrows():
        det = (f"{_fmt(r.get('bacc'), 'bacc')} ({_fmt(r.get('tpr'), 'tpr')} / {_fmt(r.get('tnr'), 'tnr')})"
               if not pd.isna(r.get("bacc", math.nan)) else "–")
        ladder = _ladder_cells(r) if r["predictor"] == MODEL else " | ".join("" for _ in LADDER)
        lines.append(f"| {r['method']} | {_cells(r)} | {det} | {ladder} |")
    models = t[t["predictor"] == MODEL].set_index("method")
    if {"l1", "l2", "dice", "focal"} <= set(models.index):
        reg, seg = models.loc[["l1", "l2"], "ssim"].mean(), models.loc[["dice", "focal"], "ssim"].mean()
        lines += ["", f"Regression losses (L1, L2) against segmentation losses (Dice, Focal), mean SSIM: "
                      f"{reg:.3f} against {seg:.3f} (the paper: {models.loc[['l1', 'l2'], 'ssim_paper'].mean():.3f} "
                      f"against {models.loc[['dice', 'focal'], 'ssim_paper'].mean():.3f}); the paired comparison is the "
                      "claims table's."]
    if "dffd_baseline" in models.index:
        b = models.loc["dffd_baseline"]
        lines += [f"The DFFD baseline (from scratch, reduced width, 19×19 map): COSS {b['coss']:.3f}, SSIM {b['ssim']:.3f} "
                  f"(paper {b.get('coss_paper', math.nan):.3f}, {b.get('ssim_paper', math.nan):.3f})."]
    return lines + [""]


#: Table 3's sets (its ``set`` column) in reading order, with the words the summary uses for them.
SET_NAMES = {"stgan_celeba128": "STGAN full edits", "stargan_celeba128": "StarGAN-128 (the released generator)",
             "attgan_attentiongan_celeba128": "AttGAN + AttentionGAN", "splices/stgan_test": "STGAN splices",
             "splices/stargan_test": "StarGAN splices", "stargan_disrupted256": "StarGAN-256 (perturbed inputs)",
             "interfacegan_celebahq256": "InterFaceGAN whole faces",
             "attgan_celeba128": "AttGAN sample rows (never trained on)"}
#: The set whose cells the tally counts apart: never trained on (the paper trained on AttGAN).
UNSEEN_SET = "attgan_celeba128"


def _paired(row, m: str, ref: str) -> str:
    """``+0.012 [0.004, 0.020]``: the paired difference model − ``ref`` of ``m`` stored in a table row, or ``''``."""
    d, lo, hi = (row.get(f"{m}_vs_{ref}{x}", math.nan) for x in ("", "_lo", "_hi"))
    if pd.isna(d):
        return ""
    return f"{d:+.3f} [{lo:+.3f}, {hi:+.3f}]"


def _mean_rows(t: pd.DataFrame) -> pd.DataFrame:
    """The per-set ``mean`` rows of Table 3 (all of a set's fakes with its reals), with ``gan`` set to the
    set's GAN (the rows carry ``gan="mean"``; the set's other rows name it)."""
    means = t[t["property"] == "mean"].copy()
    if "set" in t.columns:
        gan_of = t[t["property"] != "mean"].drop_duplicates("set").set_index("set")["gan"]
        means["gan"] = means["set"].map(gan_of).fillna(means["gan"])
    return means


def _iv(row, m: str) -> str:
    v, lo, hi = row.get(m, math.nan), row.get(f"{m}_lo", math.nan), row.get(f"{m}_hi", math.nan)
    if pd.isna(v):
        return "–"
    text = _fmt(v, m)
    return text + (f" [{_fmt(lo, m)}, {_fmt(hi, m)}]" if not (pd.isna(lo) or pd.isna(hi)) else "")


def table3_section(t: pd.DataFrame) -> list[str]:
    means = _mean_rows(t)
    model = means[means["predictor"] == MODEL]
    if model.empty:  # an older table without set rows
        return []
    refs = means[means["predictor"].isin(LADDER)]
    lines = ["## Table 3: the universal model on every GAN we have", "",
             "One row per test set: all its fakes with its test reals (`n` fakes, `n_reals` reals; ACC, bACC, TPR, "
             "TNR by `fklib.metrics.groups`), the map metrics' means over the fakes with 95 % intervals, the three "
             "references' COSS / pixel AUC on the same fakes, and the model's paired COSS and AUC differences against "
             "each. `level in`: the predicted map's sum over the truth's inside the truth's region (1 = the truth's "
             "level). " + LADDER_NOTE + " The AttGAN sample rows are never trained on; the other sets' training faces "
             "were used, their test faces never.", "",
             "| set | n / n_reals | bACC (TPR / TNR) | COSS | pixel AUC | level in | constant map COSS / AUC | property "
             "mean COSS / AUC | layout prior COSS / AUC | " + _ladder_head("COSS") + " | " + _ladder_head("AUC")
             + " | paper COSS / SSIM (matched cells) |",
             "|---|---|---|---|---|---|---|---|---|" + "---|" * (2 * len(LADDER)) + "---|"]
    per = t[(t["predictor"] == MODEL) & (t["property"] != "mean")]
    for _, r in model.iterrows():
        own = refs[refs["set"] == r["set"]].set_index("predictor")
        ref_cells = " | ".join(f"{_fmt(own.loc[k, 'coss'], 'coss')} / {_fmt(own.loc[k].get('auc'), 'auc')}"
                               if k in own.index else "–" for k in LADDER)
        matched = per[(per["set"] == r["set"]) & per["coss_paper"].notna()] if "coss_paper" in per else per.iloc[:0]
        paper = (f"{matched['coss_paper'].mean():.3f} / {matched['ssim_paper'].mean():.3f} ({len(matched)}; ours "
                 f"{matched['coss'].mean():.3f} / {matched['ssim'].mean():.3f})" if len(matched) else "–")
        flags = "".join(f" ({m.upper()} at or below chance)" for m in ("auc", "bacc") if at_or_below_chance(m, r.get(m)))
        lines.append(f"| {SET_NAMES.get(r['set'], r['set'])} | {int(r['n'])} / {int(r.get('n_reals', 0))} | "
                     f"{_fmt(r.get('bacc'), 'bacc')} ({_fmt(r.get('tpr'), 'tpr')} / {_fmt(r.get('tnr'), 'tnr')}) | "
                     f"{_iv(r, 'coss')} | {_iv(r, 'auc')}{flags} | {_fmt(r.get('level_in'), 'level')} | {ref_cells} | "
                     f"{_ladder_cells(r, 'coss')} | {_ladder_cells(r, 'auc')} | {paper} |")
    flat = model[model["set"] == "interfacegan_celebahq256"]
    if len(flat):
        lines += ["", "InterFaceGAN (a whole synthesised face, ground truth all ones): COSS there only measures how flat "
                      "the predicted map is, and an all-ones map scores 1; read bACC for it."]
    return lines + [""]


#: Tolerances of "matches the paper": |ours − paper| <= tolerance (two-sided; above and below are counted apart).
REPRODUCES_WITHIN = {"acc": 0.05, "coss": 0.02, "psnr": 1.0, "ssim": 0.02}


def _zero_value(t: pd.DataFrame, row, m: str) -> float:
    """The all-zero map's value of ``m`` on the same test group as ``row`` (NaN when the table has none)."""
    z = t[t["predictor"] == "zeros"]
    for k in ("set", "gan", "property"):
        if k in t.columns and k in row:
            z = z[z[k] == row[k]]
    return float(z[m].iloc[0]) if len(z) and m in z else math.nan


def tally(t: pd.DataFrame, m: str, tol: float) -> dict:
    """The model cells of ``m`` with a paper value: ``matches`` (|Δ| <= tol), ``above``, ``below``, and
    ``conventions`` -- cells whose paper value lies below what our all-zero map scores on the same test
    group (the paper then measured with another convention: no comparison is possible)."""
    model = t[t["predictor"] == MODEL]
    cells = model[model[f"{m}_paper"].notna() & model[m].notna()] if f"{m}_paper" in model else model.iloc[:0]
    out = {"cells": len(cells), "matches": 0, "above": 0, "below": 0, "conventions": 0, "deltas": []}
    for _, r in cells.iterrows():
        zero = _zero_value(t, r, m)
        if m in ("psnr", "ssim") and np.isfinite(zero) and r[f"{m}_paper"] < zero - tol:
            out["conventions"] += 1
            continue
        d = float(r[m] - r[f"{m}_paper"])
        out["deltas"].append(d)
        out["matches" if abs(d) <= tol else "above" if d > 0 else "below"] += 1
    return out


def _parts(name: str, t: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """A table's rows for the tally, the never-trained-on AttGAN sample rows (:data:`UNSEEN_SET`) apart."""
    if "set" not in t.columns:
        return [(name, t)]
    unseen = t["set"] == UNSEEN_SET
    parts = [(name, t[~unseen])]
    if (unseen & (t["predictor"] == MODEL)).any():
        parts.append((f"{name}, {SET_NAMES[UNSEEN_SET]}", t[unseen | (t["predictor"] != MODEL)]))
    return parts


def reproduction_section(tables: Path) -> list[str]:
    """What reproduces and what does not: two-sided counts over the model cells with a paper value."""
    lines = ["## What reproduces, what does not", "",
             "A cell of ours *matches* the paper's when |ours − paper| <= "
             + ", ".join(f"{v:g} {'dB ' if m == 'psnr' else ''}{m.upper()}" for m, v in REPRODUCES_WITHIN.items())
             + "; cells above and below are counted apart (beating a weak baseline of the paper is not reproducing "
             "it). The AttGAN sample rows' cells are counted apart: never trained on (the paper trained on AttGAN, as we "
             "do on the released generator's edits). `conventions differ`: "
             "the paper's value lies below what our all-zero map scores on the same fakes (e.g. Table 2's DFFD PSNR "
             "5.17 dB), so it was measured another way and is not compared. Table 5 is compared under the in-region "
             "definition its cells match (its note).", "",
             "| table | metric | cells | match | above | below | conventions differ | mean ours − paper |",
             "|---|---|---|---|---|---|---|---|"]
    found = False
    for name in ("table2", "table3", "table4", "table5"):
        t = read_table(tables, name)
        if t is None:
            continue
        for label, part in _parts(name, t):
            for m, tol in REPRODUCES_WITHIN.items():
                c = tally(part, m, tol)
                if not c["cells"]:
                    continue
                found = True
                mean = f"{np.mean(c['deltas']):+.3f}" if c["deltas"] else "–"
                lines.append(f"| {label} | {m.upper()} | {c['cells']} | {c['matches']} | {c['above']} | {c['below']} | "
                             f"{c['conventions']} | {mean} |")
    if not found:
        return []
    lines += ["", why_cells_miss(tables), ""]
    return lines + beats_section(tables)


def why_cells_miss(tables: Path) -> str:
    """What the committed measurements say of why cells miss (the setting's differences, and the learning curve's
    answer to "is it the amount of data?" when ``learning_curve.csv`` is there: every metric it has, not one), not a
    guess."""
    text = ("Why cells miss: what differs is stated above (public GAN edits instead of the paper's generated sets, "
            "128 px, a smaller network, CPU budgets); read a gap together with its interval in the table files.")
    curve = read_table(tables, "learning_curve")
    if curve is None or len(curve) < 2 or "stgan_coss" not in curve:
        return text + " No committed measurement says which of these differences matters most."
    lo, hi = curve.iloc[0], curve.iloc[-1]
    shown = [(c, w) for c, w in (("stgan_coss", "COSS"), ("stgan_auc", "pixel AUC"), ("stgan_bacc", "bACC"),
                                 ("stgan_splice_auc", "splice AUC")) if c in curve]
    moved = {c: float(hi[c] - lo[c]) for c, _ in shown}
    up = [w for c, w in shown if moved[c] >= 0.01]
    down = [w for c, w in shown if moved[c] <= -0.01]
    verdict = ("so more training faces of this kind moved none of them by 0.01" if not up and not down else
               "so more training faces of this kind raised " + (", ".join(up) or "none") + " and lowered "
               + (", ".join(down) or "none"))
    changes = "; ".join(f"{w} {lo[c]:.3f} → {hi[c]:.3f}" for c, w in shown)
    return (text + f" The committed learning curve (`tables/learning_curve.md`, {int(lo['epochs'])} epochs, STGAN "
            f"validation, {model_words(tables.parent, 'learning_curve') or 'its own models'}) from {lo['fraction']:.0%} "
            f"to {hi['fraction']:.0%} of the training identities: {changes} (the layout prior: COSS "
            f"{hi['stgan_coss_layout_prior']:.3f}" + (f", AUC {hi['stgan_auc_layout_prior']:.3f}" if "stgan_auc_layout_prior" in curve else "")
            + f"), {verdict}.")


def beats_section(tables: Path) -> list[str]:
    """Per table and test set, the model cells whose paired difference to the best reference of the same cell has its
    95 % interval above / below 0 (`<metric>_vs_ref`, :func:`fklib.metrics.groups.mark_versus`)."""
    rows = []
    for name in ("table2", "table3", "table4", "table5"):
        t = read_table(tables, name)
        if t is None:
            continue
        model = t[(t["predictor"] == MODEL) & (t.get("property", pd.Series("", index=t.index)) != "mean")]
        key = "set" if "set" in model.columns else "gan" if "gan" in model.columns else None
        for group, sub in (model.groupby(key, sort=False) if key else [("all", model)]):
            for m in ("coss", "ssim", "auc"):
                col = f"{m}_vs_ref"
                if col not in sub:
                    continue
                marks = sub[col].fillna("")
                if (marks != "").any():
                    rows.append(f"| {name} | {SET_NAMES.get(group, group)} | {m.upper()} | {int((marks == 'better').sum())} | "
                                f"{int((marks == 'worse').sum())} | {int((marks != '').sum())} |")
    if not rows:
        return []
    return ["### Beating the references, per table and test set", "",
            "Per model cell, the paired difference to the best reference of the same cell (the reference with the "
            "highest value there): model − reference per image over the same images, averaged, with its 95 % interval "
            "(identities resampled); `better` where that interval lies above 0, `worse` where it lies below 0.", "",
            "| table | test set | metric | better | worse | cells |", "|---|---|---|---|---|---|", *rows, ""]


def chance_section(tables: Path) -> list[str]:
    """Values at or below chance, wherever they appear: pixel AUC and bACC <= 0.5, ACC < 0.5 (imbalance: fewer
    right than wrong), F1 < 0.01 (nothing found at the threshold)."""
    found = []
    for name in ("table2", "table3", "table4", "table5", "fig10_degradation", "robustness_imdl", "upsampling"):
        t = read_table(tables, name)
        if t is None:
            continue
        who = t["predictor"] if "predictor" in t else t.get("model", pd.Series(MODEL, index=t.index))
        rows = t[who.isin([MODEL, "universal", "augmented"])] if len(who) else t
        label_cols = [c for c in ("method", "model", "train_family", "set", "gan", "property", "test_family",
                                  "degradation", "level") if c in rows.columns]
        for m, test, what in (("auc", lambda v: at_or_below_chance("auc", v), "pixel AUC <= 0.5"),
                              ("bacc", lambda v: at_or_below_chance("bacc", v), "bACC <= 0.5"),
                              ("acc", lambda v: v < 0.5, "ACC < 0.5"), ("f1", lambda v: v < 0.01, "F1 < 0.01")):
            if m not in rows:
                continue
            bad = rows[rows[m].notna() & rows[m].map(lambda v: bool(test(v)))]
            if len(bad):
                examples = ", ".join("/".join(str(r[c]) for c in label_cols if not pd.isna(r[c])) + f" {r[m]:.3f}"
                                     for _, r in bad.head(4).iterrows())
                found.append(f"| {name} | {what} | {len(bad)} of {int(rows[m].notna().sum())} | {examples}"
                             f"{' …' if len(bad) > 4 else ''} |")
    if not found:
        return []
    return ["## Values at or below chance", "",
            "Model cells whose value means no information (pixel AUC or bACC at or below 0.5), fewer right than wrong "
            "answers (ACC < 0.5, possible when one class dominates) or nothing found at the map threshold (F1 < 0.01).", "",
            "| table | flag | cells | examples |", "|---|---|---|---|", *found, ""]


def table4_section(t: pd.DataFrame) -> list[str]:
    model = t[t["predictor"] == MODEL]
    lines = ["## Table 4: cross-GAN and cross-property", "",
             "Each row: a single-property model trained on STGAN, tested on a property of a set named by the set (the "
             "released AttGAN's 270 test faces and the 13 AttGAN sample rows are two sets). " + LADDER_NOTE, "",
             f"| trained on | tested on | ACC | COSS | PSNR | SSIM | bACC | {_ladder_head()} |",
             "|---|---|---|---|---|---|---|" + "---|" * len(LADDER)]
    for _, r in model.iterrows():
        where = SET_NAMES.get(r.get("set"), r.get("gan")) if "set" in r else r["gan"]
        lines.append(f"| STGAN {r['train_property']} | {where}: {r['gan']} {r['property']} | {_cells(r)} | "
                     f"{_fmt(r.get('bacc', math.nan), 'bacc')} | {_ladder_cells(r)} |")
    return lines + ["", "The paper tested its Smile model on StyleGAN; we have no StyleGAN edits and use AttentionGAN, "
                        "AttGAN and StarGAN instead. Whether the drop to other GANs is the model's or the other sets' "
                        "(harder for every map) is the claims table's paired comparison (`table4_drop`).", ""]


def table5_section(t: pd.DataFrame) -> list[str]:
    model = t[t["predictor"] == MODEL]
    lines = ["## Table 5: face-parsing attention (trained on STGAN Blond_Hair)", "",
             "In-region COSS/PSNR/SSIM under the in-region definition the paper's cells match (the table's note says "
             "which, and what the all-zero map scores under it), ACC and balanced ACC on the property's fakes with "
             "the test reals; ours (paper). `with_fp` is the paper's mechanism, `fp_<variant>` the attention variant "
             "chosen on validation (`tables/table5_variants.md`); the paired comparison of each with `no_fp` is "
             "`tables/table5_attention.md` and the claims table's. " + LADDER_NOTE, "",
             f"| tested on | face parsing | ACC | COSS | PSNR | SSIM | bACC | {_ladder_head()} |",
             "|---|---|---|---|---|---|---|" + "---|" * len(LADDER)]
    for _, r in model.iterrows():
        lines.append(f"| {r['property']} | {r['method']} | {_cells(r)} | {_fmt(r.get('bacc', math.nan), 'bacc')} | "
                     f"{_ladder_cells(r)} |")
    return lines + [""]


def optional_sections(tables: Path) -> list[str]:
    lines = []
    gan_table = next((n for n in sorted(p.stem for p in tables.glob("fig10_degradation_*.csv"))), None)
    verdict = robustness_verdict(read_table(tables, "fig8_disorganization"), read_table(tables, "fig10_degradation"),
                                 read_table(tables, "robustness_imdl"), read_table(tables, "fig8_versus"),
                                 read_table(tables, gan_table) if gan_table else None,
                                 gan_table.removeprefix("fig10_degradation_") if gan_table else "")
    if verdict:
        lines += ["## Robustness (Figs. 8-10, IMDL-BenCo grid)", "",
                  "Computed from `tables/fig8_disorganization.csv`, `fig8_versus.csv`, `fig10_degradation*.csv` and "
                  "`robustness_imdl.csv` (figures `fig8.png`, `fig9.png`, `fig10*.png`, `robustness_imdl.png`); ACC, "
                  "bACC, TPR and TNR by the one cell definition of `fklib.metrics.groups`.", "",
                  *[f"- {v}" for v in verdict], ""]
    u = read_table(tables, "upsampling")
    if u is not None:
        lines += ["## Upsampling families (beyond the paper; our own small generators, not the paper's GANs)", "",
                  "Locator trained on one family, tested on every family: `tables/upsampling.md`, "
                  "`figures/upsampling.png`; spectra of the residuals: `figures/spectra.png`.", ""]
    return lines


def ref_words(ref: str) -> str:
    """``the layout prior (knows the edit)``: a rung of the ladder with what it knows, for sentences."""
    return {CONSTANT: "the constant map (knows neither image nor edit)",
            "property_mean": "the property mean (knows the edit)",
            "layout_prior": "the layout prior (knows the edit, parses the face)"}.get(ref, ref)


def negative_results_section(tables: Path) -> list[str]:
    """What did not work, each from its table's paired verdicts: the leave-out models on properties they never saw
    (in-region COSS against the layout prior and the per-property mean map, image by image; bACC against chance) and
    the upsampling-family locators on their own family's test fakes against the best reference."""
    bullets = []
    leave = read_table(tables, "table5_leave_out")
    if leave is not None and "coss_vs_layout_prior" in leave.columns:
        for r in leave[leave["predictor"] == MODEL].itertuples():
            verdicts = [f"{ref_words(ref)} {paired_verdict(getattr(r, f'coss_vs_{ref}_lo'), getattr(r, f'coss_vs_{ref}_hi'))} "
                        f"({getattr(r, f'coss_vs_{ref}'):+.3f} [{getattr(r, f'coss_vs_{ref}_lo'):+.3f}, "
                        f"{getattr(r, f'coss_vs_{ref}_hi'):+.3f}])" for ref in ("layout_prior", "property_mean", CONSTANT)
                        if f"coss_vs_{ref}" in leave.columns]
            bullets.append(f"Leave-out (`table5_leave_out`), {r.method} on {r.property}, never seen in training: in-region "
                           f"COSS {r.coss:.3f}, paired against {', '.join(verdicts)}; bACC {r.bacc:.3f}"
                           + (" -- at or below chance." if at_or_below_chance("bacc", r.bacc) else "."))
    u = read_table(tables, "upsampling")
    paired = own_family_sentence(u) if u is not None else ""
    if paired:
        bullets.append(f"Upsampling families (`upsampling`, our own generators): {paired}")
    if not bullets:
        return []
    return ["## Negative results", "", *[f"- {b}" for b in bullets], ""]


#: Column-name tokens (split at ``_`` and spaces) that make a table a table of metrics, and those of a detection.
METRIC_TOKENS = {"acc", "bacc", "coss", "auc", "ssim", "psnr", "tpr", "tnr", "gamma", "f1", "iou", "agreement",
                 "recognised", "diff", "excess", "value"}
DETECTION_TOKENS = {"acc", "bacc", "tpr", "tnr", "agreement", "decision"}


def _tokens(column: str) -> set[str]:
    return set(str(column).lower().replace(" ", "_").split("_"))


def coverage(tables: Path) -> dict[str, list[str]]:
    """Per table of metrics under ``tables``, read from its columns (and a long table's ``metric`` values): whether
    every metric column has a 95 % interval (``<m>_lo`` / ``<m>_hi``), some do, or none; and, for the tables that
    decide real or fake, whether they give a balanced ACC. Keys: ``intervals``, ``some_intervals``, ``no_intervals``,
    ``bacc``, ``no_bacc``."""
    out = {k: [] for k in ("intervals", "some_intervals", "no_intervals", "bacc", "no_bacc")}
    for path in sorted(tables.glob("*.csv")) if tables.is_dir() else []:
        frame = pd.read_csv(path)
        cols = [str(c) for c in frame.columns]
        values = set(map(str, frame["metric"].unique())) if "metric" in cols else set()
        metric_cols = [c for c in cols if _tokens(c) & METRIC_TOKENS and not c.endswith(("_lo", "_hi", "_paper",
                                                                                           "_delta", "_verdict"))
                       and pd.api.types.is_numeric_dtype(frame[c])]
        if not metric_cols and not values & METRIC_TOKENS:
            continue  # not a table of metrics (splits, spectra, per-face listings)
        has = [c for c in metric_cols if f"{c}_lo" in cols] + (["value"] if {"lo", "hi"} <= set(cols) else [])
        some = has or any(c.endswith("_lo") for c in cols)
        key = "intervals" if has and len(has) >= len(metric_cols) else "some_intervals" if some else "no_intervals"
        out[key].append(path.stem)
        tokens = set().union(*(_tokens(c) for c in cols)) | values
        if tokens & DETECTION_TOKENS:
            out["bacc" if "bacc" in tokens else "no_bacc"].append(path.stem)
    return out


def coverage_sentence(tables: Path) -> str:
    """Which result tables carry 95 % intervals and a balanced ACC, read from their columns (:func:`coverage`, so the
    sentence stays true)."""
    c = coverage(tables)
    text = (f"95 % bootstrap intervals over identities on every metric: {', '.join(c['intervals']) or 'none'}"
            + (f"; on some columns only: {', '.join(c['some_intervals'])}" if c["some_intervals"] else "")
            + (f"; none: {', '.join(c['no_intervals'])}" if c["no_intervals"] else ""))
    text += (f". Of the tables that decide real or fake, with a balanced ACC: {', '.join(c['bacc']) or 'none'}"
             + (f"; without: {', '.join(c['no_bacc'])}" if c["no_bacc"] else ""))
    return text + "."


def _ladder_parts(r, refs: pd.DataFrame | None = None, metrics=("coss", "auc")) -> tuple[list[list[str]], list[str]]:
    """The headline's words for one set row: per metric its paired verdict against each rung of the ladder
    (``[constant map parts, parts of the references that know the edit]``), and the metrics on which the model is
    below the constant map. A table without the paired column of the constant map (made before it existed) is read
    unpaired, the model's interval against the constant map's value in ``refs`` (the set's reference rows), and says so."""
    words = {"above": "above", "below": "**below**", "matches": "matches"}
    constant, oracle, below_constant = [], [], []
    for m in metrics:
        if pd.isna(r.get(m, math.nan)):
            continue
        for ref in LADDER:
            d, lo, hi = (r.get(f"{m}_vs_{ref}{x}", math.nan) for x in ("", "_lo", "_hi"))
            if pd.isna(d):
                if ref != CONSTANT or refs is None or ref not in set(refs["predictor"]):
                    continue
                value = float(refs.loc[refs["predictor"] == ref, m].iloc[0])
                mlo, mhi = r.get(f"{m}_lo", math.nan), r.get(f"{m}_hi", math.nan)
                if pd.isna(value) or pd.isna(mlo):
                    continue
                verdict = "above" if mlo > value else "below" if mhi < value else "matches"
                text = (f"{words[verdict]} on {m.upper()} (its {value:.3f} against the model's interval; unpaired: the "
                        "table has no paired column for it)")
            else:
                verdict = paired_verdict(lo, hi)
                text = f"{words.get(verdict, verdict)} on {m.upper()} ({_paired(r, m, ref)})"
            if ref == CONSTANT:
                constant.append(text)
                below_constant += [m.upper()] if verdict == "below" else []
            else:
                oracle.append(f"the {REFERENCE_SHORT[ref]} {text}")
    return [constant, oracle], below_constant


def property_head_words(results: Path) -> str:
    """How often the network's own property head names the edited property (``property_recognition``), with the
    model that was measured; ``""`` without that table."""
    rec = read_table(results / "tables", "property_recognition")
    if rec is None or "recognised" not in rec:
        return ""
    head = rec[rec["property"].astype(str).str.startswith("all (the head")]
    if not len(head):
        return ""
    who = model_words(results, "property_recognition")
    return (f"the network's own property head names it for {head['recognised'].iloc[0]:.0%} of the STGAN validation "
            f"edits (`property_recognition`" + (f", measured with {who}" if who else "") + ")")


def headline(tables: Path) -> list[str]:
    """The plain verdict at the top, computed from Table 3's set rows and the robustness tables: per set the model
    against the reference ladder (the constant map, then the two references that know the edit), paired; a set where
    the model is below the constant map is named first."""
    t = read_table(tables, "table3")
    lines, below = [], []
    if t is not None and len(_mean_rows(t)):
        means = _mean_rows(t)
        for key in SET_NAMES:
            row = means[(means["predictor"] == MODEL) & (means["set"] == key)]
            if row.empty:
                continue
            r = row.iloc[0]
            refs = means[(means["set"] == key) & means["predictor"].isin(LADDER)]
            (constant, oracle), under = _ladder_parts(r, refs)
            if under:
                below.append(f"{SET_NAMES[key]} ({', '.join(under)})")
            values = ", ".join(f"{m.upper()} {_iv(r, m)}" for m in ("coss", "auc") if not pd.isna(r.get(m, math.nan)))
            text = f"- **{SET_NAMES[key]}** ({values}): "
            if constant:
                text += "against the constant map " + "; ".join(constant) + ". "
            if oracle:
                text += "Against the references that know the edit: " + "; ".join(oracle) + ". "
            text += (f"It calls {_fmt(r.get('tpr'), 'tpr')} of its fakes fake and {_fmt(r.get('tnr'), 'tnr')} of its "
                     f"{int(r.get('n_reals', 0))} reals real (bACC {_fmt(r.get('bacc'), 'bacc')}).")
            lines.append(text)
        paired = f"coss_vs_{CONSTANT}" in t.columns
        lines.insert(0, "- **Below the constant map**, a map that knows neither the image nor the edit ("
                        + ("paired, interval below 0" if paired else "the model's interval below its value; this table "
                           "has no paired column for it") + "): " + ("; ".join(below) + "." if below else "no set."))
    t10 = read_table(tables, "fig10_degradation")
    parts, clean = degradation_parts(t10) if t10 is not None else ([], None)
    if parts:
        lines.append(f"- **Robustness** (Fig. 10: {int(clean.n)} STGAN test images, {int(clean.n_fake)} of them fakes, "
                     "each axis from mild to harsh): " + "; ".join(parts) + ".")
    if not lines:
        return []
    return ["## Headline", "", "Computed from the tables below (rules: `fklib.metrics.groups`; every verdict a paired "
            "difference model − reference over the same fakes with its 95 % interval over identities). The reference "
            "ladder: " + "; ".join(REFERENCE_KNOWS[r] for r in LADDER) + "."
            + (f" Of the oracle: {head}." if (head := property_head_words(tables.parent)) else ""), "", *lines, ""]


#: The tables (``tables/<name>.csv``) the summary is written from.
SUMMARY_SOURCES = ("table2", "table3", "table4", "table5", "fig8_disorganization", "upsampling")


def summary_sources(results_dir: str | Path | None = None) -> list[str]:
    """The :data:`SUMMARY_SOURCES` present under ``<results>/tables`` (empty: nothing to summarise)."""
    results = Path(results_dir) if results_dir is not None else paths.results_dir()
    return [name for name in SUMMARY_SOURCES if (results / "tables" / f"{name}.csv").is_file()]


def write_results_readme(results_dir: str | Path | None = None) -> Path:
    """Write ``<results>/README.md`` from the tables there; return its path.

    With none of the tables there (e.g. ``--only 99`` into an empty folder) the README says so and a
    ``UserWarning`` is issued.
    """
    results = Path(results_dir) if results_dir is not None else paths.results_dir()
    tables = results / "tables"
    empty = not summary_sources(results)
    if empty:
        warnings.warn(f"{tables}: no result tables to summarise ({', '.join(SUMMARY_SOURCES)}); "
                      "run the notebooks that write them first", stacklevel=2)
    lines = ["# Results: our reproduction against the paper", "",
             "*Generated by `fklib.report.summary.write_results_readme` (notebook `99_summary`) from `tables/*.csv`; "
             "regenerate with `python -m fklib.pipeline`.*", "",
             "**How our setting differs from the paper's, everywhere:** real GAN edits that are public "
             "(167 lossless STGAN strips: 100 training / 20 validation / 47 test identities; the released "
             "StarGAN-128 generator on 1,839 CelebA faces and the released AttGAN plus an AttentionGAN on 900, "
             "JPEG quality 75, reals and fakes alike; 200 StarGAN-256 strips from perturbed inputs; 13 AttGAN "
             "sample rows; InterFaceGAN whole faces; `../splits.csv`) instead of the paper's 5,000 + 5,000 "
             "generated PNG training images per property; 128 px instead of 224; an ImageNet EfficientNet-Lite0 "
             "U-Net (with an SRM noise stream for the universal model) instead of DeepLabV3-ResNet101; CPU "
             "training of minutes to an hour. Each "
             "table's own note (in `tables/*.md`) gives its exact sizes. Ground truth, metrics and protocol "
             "follow the paper (eq. 4, COSS/PSNR/SSIM on fakes, ACC on fakes + reals; we add the balanced ACC, "
             "bACC, since our test sets hold far more fakes than reals; one definition of a cell everywhere, "
             "`fklib.metrics.groups`). The paper tables also carry reference rows, a ladder of what a map can know "
             "without the fake's texture: " + "; ".join(f"`{k}`, {REFERENCE_KNOWS[k]}" for k in ("zeros", *LADDER))
             + ". A locator is useful only where it beats them; beating the constant map is the least a locator must "
             "do, beating the two that know the edit is beating an oracle. " + coverage_sentence(tables)
             + " Values are ours, the paper's in parentheses.", ""]
    if empty:
        lines += ["**Nothing to summarise yet:** no result tables in `tables/`; run the notebooks that write "
                  "them (`python -m fklib.pipeline`).", ""]
    lines += claims_section(tables, results)
    lines += negative_results_section(tables)
    lines += headline(tables)
    for name, section in (("table2", table2_section), ("table3", table3_section), ("table4", table4_section),
                          ("table5", table5_section)):
        t = read_table(tables, name)
        if t is not None:
            lines += section(t)
    lines += reproduction_section(tables)
    lines += chance_section(tables)
    lines += optional_sections(tables)
    lines += provenance_section(results)
    lines += figures_section(results)
    return write_atomically(results / "README.md", lambda tmp: tmp.write_text("\n".join(lines)))
