"""``results/README.md``: a one-page summary of the reproduction, written from the result tables.

Every number in the summary is read from ``results/tables/*.csv`` (written by the notebooks);
the sentences around them are fixed text about how our setting differs. The notebook
``99_summary`` calls :func:`write_results_readme` at the end of the pipeline.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import pandas as pd

from .. import paths
from ..metrics import PAPER_METRICS as METRICS


def _fmt(v, metric: str) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    return f"{v:.2f}" if metric.startswith("psnr") else f"{v:.3f}"


def _read(tables: Path, name: str) -> pd.DataFrame | None:
    path = tables / f"{name}.csv"
    return pd.read_csv(path) if path.is_file() else None


def _cells(row, metrics=METRICS) -> str:
    out = []
    for m in metrics:
        ours = row.get(m, math.nan)
        paper = row.get(f"{m}_paper", math.nan)
        out.append(f"{_fmt(ours, m)} ({_fmt(paper, m)})" if not pd.isna(paper) else _fmt(ours, m))
    return " | ".join(out)


def table2_section(t: pd.DataFrame) -> list[str]:
    lines = ["## Table 2: loss functions on STGAN Bald", "",
             "Ours (paper) per method; the reference rows make no detection.", "",
             "| method | ACC | COSS | PSNR | SSIM |", "|---|---|---|---|---|"]
    for _, r in t.iterrows():
        lines.append(f"| {r['method']} | {_cells(r)} |")
    models = t[t["predictor"] == "model"].set_index("method")
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


#: Properties whose ground truth is constant (a whole-image synthesis: all ones), where COSS only
#: measures how flat the predicted map is.
FLAT_TRUTH = ("Entire",)


def table3_section(t: pd.DataFrame) -> list[str]:
    model = t[t["predictor"] == "model"]
    refs = t[t["predictor"] != "model"]
    lines = ["## Table 3: the universal model on every GAN we have", "",
             "Per GAN: ours over all its properties, then like for like -- ours and the paper's means over the "
             "cells the paper printed (`matched`; none for the sets the paper did not test). AttGAN is unseen in "
             "our training; STGAN, StarGAN and InterFaceGAN training splits were used, the test identities never. "
             "`best reference`: the highest COSS / SSIM of the reference rows (zeros, global and per-property "
             "mean maps, the face-layout prior).", "",
             "| GAN | properties | ours ACC / bACC | ours COSS | ours SSIM | matched cells | ours on them (COSS / SSIM) "
             "| paper on them (COSS / SSIM) | best reference COSS / SSIM |",
             "|---|---|---|---|---|---|---|---|---|"]
    for gan, g in model.groupby("gan", sort=False):
        matched = g[g["coss_paper"].notna()] if "coss_paper" in g else g.iloc[:0]
        r = refs[refs["gan"] == gan]
        best = (f"{r['coss'].max():.3f} / {r['ssim'].max():.3f}") if len(r) else "–"
        bacc = _fmt(g["bacc"].mean(), "bacc") if "bacc" in g else "–"
        on = (f"{matched['coss'].mean():.3f} / {matched['ssim'].mean():.3f}" if len(matched) else "–")
        paper = (f"{matched['coss_paper'].mean():.3f} / {matched['ssim_paper'].mean():.3f}"
                 if len(matched) and "ssim_paper" in matched else "–")
        lines.append(f"| {gan} | {len(g)} | {_fmt(g['acc'].mean(), 'acc')} / {bacc} | {g['coss'].mean():.3f} | "
                     f"{g['ssim'].mean():.3f} | {len(matched)} | {on} | {paper} | {best} |")
    flat = model[model["property"].isin(FLAT_TRUTH)]
    if len(flat):
        lines += ["", "InterFaceGAN *Entire* (a whole synthesised face, ground truth all ones): COSS there only "
                      "measures how flat the predicted map is, and an all-ones map scores 1; read ACC for it."]
    return lines + [""]


#: Tolerances under which one of our cells counts as reproducing the paper's (ours >= paper - tolerance).
REPRODUCES_WITHIN = {"acc": 0.05, "coss": 0.02, "psnr": 1.0, "ssim": 0.02}


def reproduction_section(tables: Path) -> list[str]:
    """What reproduces and what does not, counted from the tables' model rows that have a paper cell."""
    lines = ["## What reproduces, what does not", "",
             "A cell of ours *reproduces* the paper's when it is no worse than the paper's value minus "
             + ", ".join(f"{v:g} {'dB ' if m == 'psnr' else ''}{m.upper()}" for m, v in REPRODUCES_WITHIN.items())
             + "; counted over the model rows with a paper cell. `beats the best reference` counts the model rows whose "
             "95 % interval lies above that of the best reference row of the same column (`<metric>_vs_ref`).", "",
             "| table | metric | cells | reproduce | mean ours − paper | beats the best reference |", "|---|---|---|---|---|---|"]
    found = False
    for name in ("table2", "table3", "table4", "table5"):
        t = _read(tables, name)
        if t is None:
            continue
        model = t[t["predictor"] == "model"]
        for m, tol in REPRODUCES_WITHIN.items():
            if f"{m}_paper" not in model:
                continue
            cells = model[model[f"{m}_paper"].notna() & model[m].notna()]
            if not len(cells):
                continue
            found = True
            ok = int((cells[m] >= cells[f"{m}_paper"] - tol).sum())
            marks = model[f"{m}_vs_ref"].fillna("") if f"{m}_vs_ref" in model else None
            beats = "–" if marks is None else f"{int((marks == 'better').sum())} of {int((marks != '').sum())}"
            lines.append(f"| {name} | {m.upper()} | {len(cells)} | {ok} | {(cells[m] - cells[f'{m}_paper']).mean():+.3f} "
                         f"| {beats} |")
    if not found:
        return []
    lines += ["", "Why cells miss: our models are trained on 100 public STGAN identities (the paper: 5,000 + 5,000 "
                  "generated images per property), at 128 px, for minutes on 2 CPU cores; our test sets are 13 to 60 "
                  "identities, so read a gap together with its interval in the table files."]
    return lines + [""]


def table4_section(t: pd.DataFrame) -> list[str]:
    model = t[t["predictor"] == "model"]
    lines = ["## Table 4: cross-GAN and cross-property", "",
             "| trained on | tested on | ACC | COSS | PSNR | SSIM |", "|---|---|---|---|---|---|"]
    for _, r in model.iterrows():
        lines.append(f"| STGAN {r['train_property']} | {r['gan']} {r['property']} | {_cells(r)} |")
    return lines + ["", "The paper tested its Smile model on StyleGAN; we have no StyleGAN edits and use AttGAN "
                        "and StarGAN instead.", ""]


def table5_section(t: pd.DataFrame) -> list[str]:
    model = t[t["predictor"] == "model"]
    lines = ["## Table 5: face-parsing attention (trained on STGAN Blond_Hair)", "",
             "In-region COSS/PSNR/SSIM (masked: only the region's pixels), ACC and balanced ACC on the property's "
             "fakes with the test reals; ours (paper). `with_fp` is the paper's mechanism, `fp_<variant>` the "
             "attention variant chosen on validation (`tables/table5_variants.md`).", "",
             "| tested on | face parsing | ACC | COSS | PSNR | SSIM | bACC |", "|---|---|---|---|---|---|---|"]
    for _, r in model.iterrows():
        lines.append(f"| {r['property']} | {r['method']} | {_cells(r)} | {_fmt(r.get('bacc', math.nan), 'bacc')} |")
    return lines + [""]


def optional_sections(tables: Path) -> list[str]:
    lines = []
    d = _read(tables, "fig8_disorganization")
    if d is not None:
        lines += ["## Figs. 8–10: robustness", "", "Disorganization γ (after / before) and degradations: "
                  "`tables/fig8_disorganization.csv`, `tables/fig10_degradation.csv`, figures `fig8–10.png`.", ""]
        gcols = [c for c in d.columns if c.startswith("gamma")]
        if gcols:
            lines += ["| " + " | ".join(d.columns.astype(str)) + " |", "|" + "---|" * len(d.columns)]
            for _, r in d.iterrows():
                lines.append("| " + " | ".join(_fmt(v, str(c)) if isinstance(v, float) else str(v)
                                               for c, v in r.items()) + " |")
            lines.append("")
    u = _read(tables, "upsampling")
    if u is not None:
        lines += ["## Upsampling families (beyond the paper; our own small generators, not the paper's GANs)", "",
                  "Locator trained on one family, tested on every family: `tables/upsampling.md`, "
                  "`figures/upsampling.png`; spectra of the residuals: `figures/spectra.png`.", ""]
    return lines


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
             "(167 STGAN strips: 100 training / 20 validation / 47 test identities; 13 AttGAN identities; "
             "StarGAN and InterFaceGAN samples) instead of the paper's 5,000 + 5,000 generated training images "
             "per property; 128 px instead of 224; an ImageNet EfficientNet-Lite0 U-Net (with an SRM noise "
             "stream for the universal model) instead of DeepLabV3-ResNet101; CPU training of minutes. Each "
             "table's own note (in `tables/*.md`) gives its exact sizes. Ground truth, metrics and protocol "
             "follow the paper (eq. 4, COSS/PSNR/SSIM on fakes, ACC on fakes + reals; we add the balanced ACC, "
             "bACC, since our test sets hold far more fakes than reals). Every table also carries reference rows "
             "(zero map, global mean map, per-property mean map of the training fakes, and the texture-blind "
             "face-layout prior): a locator is useful only where it beats them. Every table file gives 95 % "
             "bootstrap intervals over identities. Values are ours, the paper's in parentheses.", ""]
    if empty:
        lines += ["**Nothing to summarise yet:** no result tables in `tables/`; run the notebooks that write "
                  "them (`python -m fklib.pipeline`).", ""]
    for name, section in (("table2", table2_section), ("table3", table3_section), ("table4", table4_section),
                          ("table5", table5_section)):
        t = _read(tables, name)
        if t is not None:
            lines += section(t)
    lines += reproduction_section(tables)
    lines += optional_sections(tables)
    lines += ["## Figures", "", "Fig. 1 (`figures/fig1.png`), Fig. 5 (`fig5.png`), Fig. 6 (`fig6.png`), Fig. 7 "
              "(`fig7.png`), training curves (`training_curves.png`); executed notebooks in `executed/`.", ""]
    out = results / "README.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(".README.md.part")
    tmp.write_text("\n".join(lines))
    tmp.replace(out)
    return out
