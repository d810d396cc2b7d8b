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
from ..metrics.groups import MODEL, at_or_below_chance, versus_references
from ..studies.robustness import degradation_parts, robustness_verdict
from ..studies.upsampling import own_family_sentence
from .claims import claims_section
from .tables import read_table
from .provenance import provenance_section


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


def table2_section(t: pd.DataFrame) -> list[str]:
    lines = ["## Table 2: loss functions on STGAN Bald", "",
             "Ours (paper) per method, every row under one budget rule (the table's note); bACC with TPR / TNR on the "
             "Bald test fakes with the test reals; the reference rows make no detection.", "",
             "| method | ACC | COSS | PSNR | SSIM | bACC (TPR / TNR) |", "|---|---|---|---|---|---|"]
    for _, r in t.iterrows():
        det = (f"{_fmt(r.get('bacc'), 'bacc')} ({_fmt(r.get('tpr'), 'tpr')} / {_fmt(r.get('tnr'), 'tnr')})"
               if not pd.isna(r.get("bacc", math.nan)) else "–")
        lines.append(f"| {r['method']} | {_cells(r)} | {det} |")
    models = t[t["predictor"] == MODEL].set_index("method")
    if {"l1", "l2", "dice", "focal"} <= set(models.index):
        reg, seg = models.loc[["l1", "l2"], "ssim"].mean(), models.loc[["dice", "focal"], "ssim"].mean()
        lines += ["", f"Regression losses (L1, L2) against segmentation losses (Dice, Focal), mean SSIM: "
                      f"{reg:.3f} against {seg:.3f} (the paper: {models.loc[['l1', 'l2'], 'ssim_paper'].mean():.3f} "
                      f"against {models.loc[['dice', 'focal'], 'ssim_paper'].mean():.3f})."]
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


def _versus(model_row, refs: pd.DataFrame, m: str) -> tuple[str, str]:
    """(verdict, best reference name) of the model's set row against the references' set rows (mean vs mean)."""
    refs = refs.dropna(subset=[m])
    if not len(refs):
        return "", ""
    best = refs.loc[refs[m].idxmax()]
    names = refs["predictor"].tolist()
    verdict = versus_references(model_row[m], dict(zip(names, refs[m])), model_row.get(f"{m}_lo"),
                                model_row.get(f"{m}_hi"), dict(zip(names, refs.get(f"{m}_lo", refs[m]))),
                                dict(zip(names, refs.get(f"{m}_hi", refs[m]))))
    return verdict, str(best["predictor"])


def table3_section(t: pd.DataFrame) -> list[str]:
    means = _mean_rows(t)
    model = means[means["predictor"] == MODEL]
    if model.empty:  # an older table without set rows
        return []
    lines = ["## Table 3: the universal model on every GAN we have", "",
             "One row per test set: all its fakes with its test reals (`n` fakes, `n_reals` reals; ACC, bACC, TPR, "
             "TNR by `fklib.metrics.groups`), the map metrics' means over the fakes with 95 % intervals, and the "
             "best reference *set mean* (the reference predictor with the highest mean COSS over the same fakes: "
             "mean against mean) with the paired verdict below. `level in`: the predicted map's sum over the "
             "truth's inside the truth's region (1 = the truth's level). `COSS vs it`: the paired verdict (model − "
             "reference on the same images, 95 % interval over identities: above 0 beats, below 0 is below, else "
             "matches); `COSS / AUC − layout prior`: that paired difference against the layout prior. The AttGAN "
             "sample rows are never trained on; the other sets' training faces were used, their test faces never.", "",
             "| set | n / n_reals | ACC | bACC (TPR / TNR) | COSS | pixel AUC | SSIM | level in | best reference COSS / AUC | "
             "COSS vs it | COSS − layout prior | AUC − layout prior | paper COSS / SSIM (matched cells) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    per = t[(t["predictor"] == MODEL) & (t["property"] != "mean")]
    for _, r in model.iterrows():
        refs = means[(means["predictor"] != MODEL) & (means["set"] == r["set"])]
        _, best = _versus(r, refs, "coss")
        verdict = r.get("coss_vs_ref") if isinstance(r.get("coss_vs_ref"), str) else ""
        b = refs[refs["predictor"] == best].iloc[0] if best else None
        matched = per[(per["set"] == r["set"]) & per["coss_paper"].notna()] if "coss_paper" in per else per.iloc[:0]
        paper = (f"{matched['coss_paper'].mean():.3f} / {matched['ssim_paper'].mean():.3f} ({len(matched)}; ours "
                 f"{matched['coss'].mean():.3f} / {matched['ssim'].mean():.3f})" if len(matched) else "–")
        flags = "".join(f" ({m.upper()} at or below chance)" for m in ("auc", "bacc") if at_or_below_chance(m, r.get(m)))
        lines.append(f"| {SET_NAMES.get(r['set'], r['set'])} | {int(r['n'])} / {int(r.get('n_reals', 0))} | "
                     f"{_fmt(r.get('acc'), 'acc')} | {_fmt(r.get('bacc'), 'bacc')} ({_fmt(r.get('tpr'), 'tpr')} / "
                     f"{_fmt(r.get('tnr'), 'tnr')}) | {_iv(r, 'coss')} | {_iv(r, 'auc')}{flags} | {_fmt(r.get('ssim'), 'ssim')} | "
                     f"{_fmt(r.get('level_in'), 'level')} | "
                     + (f"{best} {_fmt(b['coss'], 'coss')} / {_fmt(b.get('auc'), 'auc')} | {verdict or '–'} | " if best
                        else "– | – | ")
                     + f"{_paired(r, 'coss', 'layout_prior') or '–'} | {_paired(r, 'auc', 'layout_prior') or '–'} | {paper} |")
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
    answer to "is it the amount of data?" when ``learning_curve.csv`` is there), not a guess."""
    text = ("Why cells miss: what differs is stated above (public GAN edits instead of the paper's generated sets, "
            "128 px, a smaller network, CPU budgets); read a gap together with its interval in the table files.")
    curve = read_table(tables, "learning_curve")
    if curve is None or len(curve) < 2 or "stgan_coss" not in curve:
        return text + " No committed measurement says which of these differences matters most."
    lo, hi = curve.iloc[0], curve.iloc[-1]
    moved = hi["stgan_coss"] - lo["stgan_coss"]
    verdict = ("so more training faces of this kind did not move it" if abs(moved) < 0.01 else
               "so the amount of training data matters at this budget")
    return (text + f" The committed learning curve (`tables/learning_curve.md`, {int(lo['epochs'])} epochs) gives STGAN "
            f"validation COSS {lo['stgan_coss']:.3f} with {lo['fraction']:.0%} of the training identities and "
            f"{hi['stgan_coss']:.3f} with {hi['fraction']:.0%} (the layout prior: {hi['stgan_coss_layout_prior']:.3f}), "
            f"{verdict}.")


def beats_section(tables: Path) -> list[str]:
    """Per table and test set, the model cells whose 95 % interval lies above / below that of the best reference
    of the same cell by the paired difference (`<metric>_vs_ref`, :func:`fklib.metrics.groups.mark_versus`)."""
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
            "Cells whose 95 % interval lies above (`better`) or below (`worse`) that of the best reference of the "
            "same cell (the reference with the highest value).", "",
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
             "| trained on | tested on | ACC | COSS | PSNR | SSIM | bACC |", "|---|---|---|---|---|---|---|"]
    for _, r in model.iterrows():
        lines.append(f"| STGAN {r['train_property']} | {r['gan']} {r['property']} | {_cells(r)} | "
                     f"{_fmt(r.get('bacc', math.nan), 'bacc')} |")
    return lines + ["", "The paper tested its Smile model on StyleGAN; we have no StyleGAN edits and use AttGAN "
                        "and StarGAN instead.", ""]


def table5_section(t: pd.DataFrame) -> list[str]:
    model = t[t["predictor"] == MODEL]
    lines = ["## Table 5: face-parsing attention (trained on STGAN Blond_Hair)", "",
             "In-region COSS/PSNR/SSIM under the in-region definition the paper's cells match (the table's note says "
             "which, and what the all-zero map scores under it), ACC and balanced ACC on the property's fakes with "
             "the test reals; ours (paper). `with_fp` is the paper's mechanism, `fp_<variant>` the attention variant "
             "chosen on validation (`tables/table5_variants.md`).", "",
             "| tested on | face parsing | ACC | COSS | PSNR | SSIM | bACC |", "|---|---|---|---|---|---|---|"]
    for _, r in model.iterrows():
        lines.append(f"| {r['property']} | {r['method']} | {_cells(r)} | {_fmt(r.get('bacc', math.nan), 'bacc')} |")
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


def negative_results_section(tables: Path) -> list[str]:
    """What did not work, each from its table's paired verdicts: the leave-out models on properties they never saw
    (in-region COSS against the layout prior and the per-property mean map, image by image; bACC against chance) and
    the upsampling-family locators on their own family's test fakes against the best reference."""
    bullets = []
    leave = read_table(tables, "table5_leave_out")
    if leave is not None and "coss_vs_layout_prior" in leave.columns:
        for r in leave[leave["predictor"] == MODEL].itertuples():
            verdicts = [f"{ref} {paired_verdict(getattr(r, f'coss_vs_{ref}_lo'), getattr(r, f'coss_vs_{ref}_hi'))} "
                        f"({getattr(r, f'coss_vs_{ref}'):+.3f} [{getattr(r, f'coss_vs_{ref}_lo'):+.3f}, "
                        f"{getattr(r, f'coss_vs_{ref}_hi'):+.3f}])" for ref in ("layout_prior", "property_mean")
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


def coverage_sentence(tables: Path) -> str:
    """Which result tables carry 95 % intervals and a balanced ACC, read from their columns (so the claim stays true)."""
    with_iv, without_iv, with_bacc, without_bacc = [], [], [], []
    for path in sorted(tables.glob("*.csv")) if tables.is_dir() else []:
        cols = list(pd.read_csv(path, nrows=0).columns)
        name = path.stem
        if not any(c in ("acc", "coss", "bacc", "gamma", "auc") for c in cols):
            continue  # not a table of metrics (splits, spectra, fit checks)
        (with_iv if any(c.endswith("_lo") for c in cols) else without_iv).append(name)
        detects = any(c.startswith("acc") or c.startswith("bacc") for c in cols) or "metric" in cols
        if detects:
            (with_bacc if any(c.startswith("bacc") for c in cols) or name.startswith("fig8") else without_bacc).append(name)
    text = f"95 % bootstrap intervals over identities: {', '.join(with_iv) or 'none'}"
    text += f"; without intervals: {', '.join(without_iv)}" if without_iv else " (every metric table)"
    text += f". Balanced ACC: {', '.join(with_bacc) or 'none'}" + (f"; none in {', '.join(without_bacc)}" if without_bacc else "")
    return text + "."


def headline(tables: Path) -> list[str]:
    """The plain verdict at the top, computed from Table 3's set rows and the robustness tables."""
    t = read_table(tables, "table3")
    lines = []
    if t is not None and len(_mean_rows(t)):
        means = _mean_rows(t)
        for key in SET_NAMES:
            row = means[(means["predictor"] == MODEL) & (means["set"] == key)]
            if row.empty:
                continue
            r = row.iloc[0]
            parts = []
            for m in ("coss", "auc"):
                for ref in ("property_mean", "layout_prior"):
                    d, lo, hi = (r.get(f"{m}_vs_{ref}{x}", math.nan) for x in ("", "_lo", "_hi"))
                    if pd.isna(d):
                        continue
                    word = {"above": "beats", "below": "is below", "matches": "matches"}.get(paired_verdict(lo, hi), "vs")
                    parts.append(f"{word} the {ref.replace('_', ' ')} on {m.upper()} ({_fmt(r[m], m)}; paired "
                                 f"difference {_paired(r, m, ref)})")
            det = (f"calls {_fmt(r.get('tpr'), 'tpr')} of its fakes fake and {_fmt(r.get('tnr'), 'tnr')} of its "
                   f"{int(r.get('n_reals', 0))} reals real (bACC {_fmt(r.get('bacc'), 'bacc')})")
            lines.append(f"- **{SET_NAMES[key]}**: the model " + ("; ".join(parts) + "; it " if parts else "")
                         + det + ".")
    t10 = read_table(tables, "fig10_degradation")
    parts, clean = degradation_parts(t10) if t10 is not None else ([], None)
    if parts:
        lines.append(f"- **Robustness** (Fig. 10: {int(clean.n)} STGAN test images, {int(clean.n_fake)} of them fakes, "
                     "each axis from mild to harsh): " + "; ".join(parts) + ".")
    if not lines:
        return []
    return ["## Headline", "", "Computed from the tables below (rules: `fklib.metrics.groups`; intervals: 95 % over "
            "identities). The references are the per-property mean map (input-blind) and the face-layout prior "
            "(texture-blind).", "", *lines, ""]


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
             "`fklib.metrics.groups`). The paper tables also carry reference rows "
             "(zero map, global mean map, per-property mean map of the training fakes, and the texture-blind "
             "face-layout prior): a locator is useful only where it beats them. " + coverage_sentence(tables)
             + " Values are ours, the paper's in parentheses.", ""]
    if empty:
        lines += ["**Nothing to summarise yet:** no result tables in `tables/`; run the notebooks that write "
                  "them (`python -m fklib.pipeline`).", ""]
    lines += claims_section(tables)
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
    lines += ["## Figures", "", "Fig. 1 (`figures/fig1.png`), Fig. 5 (`fig5.png`), Fig. 6 (`fig6.png`), Fig. 7 "
              "(`fig7.png`), training curves (`training_curves.png`); executed notebooks in `executed/`.", ""]
    return write_atomically(results / "README.md", lambda tmp: tmp.write_text("\n".join(lines)))
