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


def _mean_rows(df: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    cols = [c for c in df.columns if c.split("_")[0] in METRICS and not c.endswith("delta")]
    return df.groupby(keys, sort=False)[cols].mean().reset_index()


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


def table3_section(t: pd.DataFrame) -> list[str]:
    model = t[t["predictor"] == "model"]
    means = _mean_rows(model, ["gan"])
    refs = _mean_rows(t[t["predictor"] != "model"], ["predictor", "gan"])
    lines = ["## Table 3: the universal model on every GAN we have", "",
             "Means over each GAN's properties, ours (mean of the paper's cells of that GAN, where it has them). "
             "Our universal model trained on STGAN only: the other GANs are cross-GAN tests for us, while the "
             "paper's model had seen them.", "",
             "| GAN | properties | ACC | COSS | PSNR | SSIM | global-mean map COSS / SSIM |", "|---|---|---|---|---|---|---|"]
    for _, r in means.iterrows():
        n = int((model["gan"] == r["gan"]).sum())
        g = refs[(refs["predictor"] == "global_mean") & (refs["gan"] == r["gan"])]
        ref = f"{g['coss'].iloc[0]:.3f} / {g['ssim'].iloc[0]:.3f}" if len(g) else "–"
        lines.append(f"| {r['gan']} | {n} | {_cells(r)} | {ref} |")
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
             "In-region COSS/PSNR/SSIM, ACC on the property's fakes with the test reals; ours (paper).", "",
             "| tested on | face parsing | ACC | COSS | PSNR | SSIM |", "|---|---|---|---|---|---|"]
    for _, r in model.iterrows():
        lines.append(f"| {r['property']} | {r['method']} | {_cells(r)} |")
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
             "per property; 128 px instead of 224; an ImageNet EfficientNet-Lite0 U-Net instead of "
             "DeepLabV3-ResNet101; CPU training of minutes. Each table's own note (in `tables/*.md`) gives "
             "its exact sizes. Ground truth, metrics and protocol follow the paper (eq. 4, COSS/PSNR/SSIM on "
             "fakes, ACC on fakes + reals). Every table also carries input-blind reference rows (zero map, "
             "global mean map, per-property mean map of the training fakes): a locator is useful only "
             "where it beats them. Values are ours, the paper's in parentheses.", ""]
    if empty:
        lines += ["**Nothing to summarise yet:** no result tables in `tables/`; run the notebooks that write "
                  "them (`python -m fklib.pipeline`).", ""]
    for name, section in (("table2", table2_section), ("table3", table3_section), ("table4", table4_section),
                          ("table5", table5_section)):
        t = _read(tables, name)
        if t is not None:
            lines += section(t)
    lines += optional_sections(tables)
    lines += ["## Figures", "", "Fig. 1 (`figures/fig1.png`), Fig. 5 (`fig5.png`), Fig. 6 (`fig6.png`), Fig. 7 "
              "(`fig7.png`), training curves (`training_curves.png`); executed notebooks in `executed/`.", ""]
    out = results / "README.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(".README.md.part")
    tmp.write_text("\n".join(lines))
    tmp.replace(out)
    return out
