"""The paper's central claims, one by one, against our evidence: the claims table at the top of ``results/README.md``.

Each claim is checked by a fixed rule from the committed tables (``results/tables/*.csv``), printed next to it
(:data:`RULES`); every rule is a paired comparison -- two predictors, or one predictor in two conditions, scored on
the same images -- judged by its 95 % interval over identities, never by a point threshold. A verdict is one of
``reproduces``, ``partly``, ``does not`` or ``reversed`` (our evidence points the other way), and ``–`` when the
table it needs is missing. :func:`claims` returns the rows; :func:`claims_section` writes them as Markdown.

The paired tables come from the notebooks: ``table2_contrasts`` (02), ``table3`` and ``table4_drop`` (03),
``table5_attention`` (04), ``fig8_versus`` and ``fig10_versus*`` (05); the robustness claim also reads
``all_gans_targets`` (``experiments/all_gans_targets.py``) when its model is the one behind Table 3.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from ..metrics.bootstrap import paired_verdict
from ..metrics.groups import CONSTANT, MODEL, REFERENCE_SHORT
from ..studies.face_parsing import ATTENTION_TABLE
from ..studies.loss_comparison import CONTRASTS_TABLE, PAPER_BASELINE_RATIO
from ..studies.robustness import DEGRADATION_LABELS_TEXT, VERSUS_TABLE
from ..studies.universality import DROP_TABLE
from .paper import paper_table
from .provenance import same_model
from .tables import read_table

#: Table 3's sets by kind: full edits of a real GAN (a model that localizes must beat the layout there), our own
#: splices (counted apart), whole-image syntheses (ground truth all ones: judged by detection).
FULL_EDIT_SETS = ("stgan_celeba128", "stargan_celeba128", "attgan_attentiongan_celeba128", "stargan_disrupted256",
                  "attgan_celeba128")
SPLICE_SETS = ("splices/stgan_test", "splices/stargan_test")
WHOLE_IMAGE_SETS = ("interfacegan_celebahq256",)
#: The words of the sets in the claims (the summary's :data:`fklib.report.summary.SET_NAMES` in short).
SHORT_SET_NAMES = {"stgan_celeba128": "STGAN", "stargan_celeba128": "StarGAN-128",
                   "attgan_attentiongan_celeba128": "AttGAN + AttentionGAN", "stargan_disrupted256": "StarGAN-256",
                   "attgan_celeba128": "AttGAN sample rows", "splices/stgan_test": "STGAN splices",
                   "splices/stargan_test": "StarGAN splices", "interfacegan_celebahq256": "InterFaceGAN",
                   # the sets of experiments/all_gans_targets.py
                   "stgan": "STGAN", "stargan128": "StarGAN-128", "attgan": "AttGAN", "attentiongan": "AttentionGAN",
                   "stgan_splices": "STGAN splices", "stargan256": "StarGAN-256", "attgan13": "AttGAN sample rows"}

#: Each claim's rule, printed under the claims table (keys: the claim's ``key``).
RULES = {
    "loss_ordering": "per Bald test fake, the mean SSIM of the L1 and L2 models minus that of the Dice and Focal models "
                     "(the same images), averaged, 95 % interval over identities (`table2_contrasts`): `reproduces` when "
                     "it lies above 0, `reversed` below 0, `does not` when it contains 0.",
    "baseline_gap": f"the L1 model's COSS over the DFFD baseline's on the same Bald test fakes (ratio of the sums, 95 % "
                    f"interval over identities, `table2_contrasts`): `reproduces` when the interval lies above 1 and "
                    f"reaches the paper's {PAPER_BASELINE_RATIO:.2f}, `partly` when above 1 but below it, `does not` when "
                    "it contains 1, `reversed` below 1.",
    "table3_cells": "each of our cells with a paper value: its 95 % interval over identities against the paper's value "
                    "(`match`: the paper's value inside it; `above` / `below`: the whole interval above / below it): "
                    "`reproduces` when no cell is below, `partly` when some match or are above, `does not` when all are "
                    "below.",
    "universality": "per test set, the model's COSS and pixel AUC minus the layout prior's (knows the edited property "
                    "-- an oracle the network lacks -- and parses the face), paired over the same fakes, 95 % interval: "
                    "a set passes when both lie above 0. Full edits of the real GANs are counted on their own, our "
                    "splices apart; a whole-image set (ground truth all ones, where a flat map scores 1) passes when its "
                    "bACC interval lies above 0.5. `reproduces` when every full-edit and whole-image set passes, "
                    "`partly` when some do, `does not` when none does.",
    "cross_gan_drop": "per training property, the model's COSS drop from its STGAN test cell to its other-GAN cells minus "
                      "the drop of each reference on the same images (the drop of the per-image margin model − "
                      "reference, 95 % interval with each test set's identities resampled, `table4_drop`): the model "
                      "drops when it loses more than every reference (interval above 0). `reproduces` when it does for "
                      "every property, `partly` for some, `does not` for none.",
    "attention": "bACC of a model with face attention minus the same model without, on the same test images (fakes of "
                 "properties it never trained on, with the test reals), 95 % interval over identities "
                 "(`table5_attention`), for three comparisons: the paper's product (`with_fp`) and the variant chosen on "
                 "validation in Table 5, and that variant in the universal model on properties left out of its training. "
                 "`reproduces` when every comparison lies above 0, `partly` when some do, `reversed` when none does and "
                 "one lies below 0, `does not` when all contain 0.",
    "disorganization": "the model's COSS after the quadrant permutation minus that of the layout prior re-parsing the "
                       "permuted face and of a flat map, over the same fakes, 95 % interval (`fig8_versus`): "
                       "`reproduces` when both lie above 0, else `does not`.",
    "robustness": "at each degraded point -- every level of every axis of the Fig. 10 sweeps (`fig10_versus*`) and every "
                  "JPEG quality of every set of `all_gans_targets` (the fakes compressed: pixel AUC does not see the "
                  "reals) -- the change of the model's pixel-AUC margin over the layout prior under the same degradation, from clean to degraded, per fake (paired), 95 % "
                  "interval: the model holds where that interval is not below 0 (it loses no more than the layout "
                  "prior). `reproduces` when it holds at every point, `partly` at some, `does not` at none. Where "
                  "`all_gans_targets` has no paired change column, its point falls when the degraded margin's interval "
                  "lies wholly below the clean one's (said so).",
}


def _row(key: str, claim: str, paper: str, ours: str, verdict: str) -> dict:
    return {"key": key, "claim": claim, "paper": paper, "ours": ours, "verdict": verdict, "rule": RULES[key]}


def _iv(v: float, lo: float, hi: float, signed: bool = True) -> str:
    """``+0.012 [+0.004, +0.020]``; a difference too small for 3 decimals gets 2 significant digits (so an interval
    that lies above 0 never reads ``[+0.000, +0.000]``)."""
    if pd.isna(v):
        return "–"
    tiny = signed and max(abs(v), abs(lo if not pd.isna(lo) else 0), abs(hi if not pd.isna(hi) else 0)) < 0.0005 \
        and (v != 0 or (not pd.isna(lo) and lo != 0))
    f = "{:+.2g}" if tiny else "{:+.3f}" if signed else "{:.3f}"
    text = f.format(v)
    return text + (f" [{f.format(lo)}, {f.format(hi)}]" if not (pd.isna(lo) or pd.isna(hi)) else "")


# --- Table 2 ----------------------------------------------------------------------------------------------

def loss_ordering(contrasts: pd.DataFrame) -> dict:
    """Table 2: regression losses (L1, L2) give better maps than segmentation losses (Dice, Focal), on SSIM."""
    c = contrasts[(contrasts["comparison"] == "regression - segmentation") & (contrasts["metric"] == "ssim")]
    claim, paper = "Regression losses beat segmentation losses (Table 2)", "SSIM 0.766 vs 0.344 (L1, L2 vs Dice, Focal)"
    if c.empty:
        return _row("loss_ordering", claim, paper, "–", "–")
    r = c.iloc[0]
    verdict = {"above": "reproduces", "below": "reversed", "matches": "does not"}.get(paired_verdict(r.lo, r.hi), "–")
    return _row("loss_ordering", claim, paper, f"SSIM {r['first']:.3f} vs {r['second']:.3f}; paired difference "
                f"{_iv(r.value, r.lo, r.hi)} over {int(r.n)} fakes", verdict)


def baseline_gap(contrasts: pd.DataFrame) -> dict:
    """Table 2: FakeLocator (L1) is 'two times better' than the DFFD baseline (COSS 0.889 vs 0.501)."""
    c = contrasts[contrasts["comparison"] == "l1 / dffd_baseline"]
    claim, paper = "FakeLocator far above the DFFD baseline (Table 2)", f"COSS 0.889 vs 0.501 ({PAPER_BASELINE_RATIO:.2f}x)"
    if c.empty:
        return _row("baseline_gap", claim, paper, "–", "–")
    r = c.iloc[0]
    if pd.isna(r.lo) or pd.isna(r.hi):
        verdict = "–"
    elif r.hi < 1:
        verdict = "reversed"
    elif r.lo <= 1:
        verdict = "does not"
    else:
        verdict = "reproduces" if r.hi >= PAPER_BASELINE_RATIO else "partly"
    return _row("baseline_gap", claim, paper, f"COSS {r['first']:.3f} vs {r['second']:.3f}: {r.value:.2f}x "
                f"[{r.lo:.2f}, {r.hi:.2f}] (paired ratio over {int(r.n)} fakes)", verdict)


# --- Table 3 ----------------------------------------------------------------------------------------------

def table3_cells(t3: pd.DataFrame) -> dict:
    """Table 3: the universal model's COSS per (GAN, property) cell as printed by the paper, judged by our interval."""
    claim = "The universal model's COSS per cell (Table 3)"
    cells = t3[(t3["predictor"] == MODEL) & (t3["property"] != "mean")
               & t3.get("coss_paper", pd.Series(np.nan, index=t3.index)).notna()]
    if cells.empty:
        return _row("table3_cells", claim, "COSS 0.74-1.00 per cell", "no matched cell", "–")
    side = np.where(cells["coss_lo"] > cells["coss_paper"], "above",
                    np.where(cells["coss_hi"] < cells["coss_paper"], "below", "match"))
    counts = {k: int((side == k).sum()) for k in ("match", "above", "below")}
    verdict = "reproduces" if counts["below"] == 0 else "partly" if counts["match"] + counts["above"] else "does not"
    labels = _paper_labels()
    distinct = cells.drop_duplicates(["gan", "property"])
    shared = [f"{labels.get((g, p), f'{g} / {p}')} by "
              + " and ".join(SHORT_SET_NAMES.get(s, s) for s in cells[(cells.gan == g) & (cells.property == p)]["set"])
              for (g, p), n in cells.groupby(["gan", "property"]).size().items() if n > 1]
    renamed = sorted({f"{labels[(g, p)].split(' / ')[1]} = {p}" for g, p in zip(cells.gan, cells.property)
                      if (g, p) in labels and labels[(g, p)].split(" / ")[1].replace(" ", "_") != p})
    ours = (f"{len(cells)} of our cells match {len(distinct)} distinct paper cells"
            + (f" ({'; '.join(shared)})" if shared else "")
            + (f"; the paper's {', '.join(renamed)}" if renamed else "")
            + f": paper value inside our interval {counts['match']}, interval above it {counts['above']}, below it "
            f"{counts['below']} (mean ours − paper {(cells['coss'] - cells['coss_paper']).mean():+.3f})")
    return _row("table3_cells", claim, f"{len(distinct)} cells of its Table 3", ours, verdict)


def _paper_labels() -> dict[tuple[str, str], str]:
    """(gan, our property) -> the paper's label of the Table 3 cell (``"StarGAN / Age"``)."""
    p = paper_table(3)
    return {(g, q): lab for g, q, lab in zip(p["gan"], p["property"], p["paper_label"])}


def _set_verdict(r, m: str, ref: str) -> str:
    return paired_verdict(r.get(f"{m}_vs_{ref}_lo", math.nan), r.get(f"{m}_vs_{ref}_hi", math.nan))


def universality(t3: pd.DataFrame) -> dict:
    """RQ2/RQ3: one model localizes on every GAN (the rule: :data:`RULES` ``["universality"]``)."""
    means = t3[(t3["predictor"] == MODEL) & (t3["property"] == "mean")].set_index("set")
    claim, paper = "One model localizes every GAN's edits (RQ2-3, Table 3)", "7 GANs, COSS 0.74-1.00"

    def passes(key, ref="layout_prior"):
        verdicts = [_set_verdict(means.loc[key], m, ref) for m in ("coss", "auc")]
        known = [v for v in verdicts if v != "n/a"]
        return bool(known) and all(v == "above" for v in known), bool(known)

    parts, n_pass, n_judged = [], 0, 0
    for title, keys in (("real-GAN full edits", FULL_EDIT_SETS), ("our splices", SPLICE_SETS)):
        present = [k for k in keys if k in means.index and passes(k)[1]]
        if not present:
            continue
        won = [k for k in present if passes(k)[0]]
        const = [k for k in present if passes(k, CONSTANT)[0]] if f"coss_vs_{CONSTANT}_lo" in means.columns else None
        text = (f"{title}: above the layout prior on COSS and AUC (paired) on {len(won)} of {len(present)}"
                + (f" ({', '.join(SHORT_SET_NAMES.get(k, k) for k in won)})" if won else ""))
        if const is not None:
            text += f", above the constant map on {len(const)} of {len(present)}"
        parts.append(text)
        if keys is FULL_EDIT_SETS:
            n_pass, n_judged = n_pass + len(won), n_judged + len(present)
    for key in WHOLE_IMAGE_SETS:
        if key in means.index and not pd.isna(means.loc[key].get("bacc_lo", math.nan)):
            r = means.loc[key]
            ok = r["bacc_lo"] > 0.5
            parts.append(f"whole images ({SHORT_SET_NAMES[key]}): bACC {_iv(r.bacc, r.bacc_lo, r.bacc_hi, False)}, "
                         + ("detected" if ok else "not shown above chance"))
            n_pass, n_judged = n_pass + ok, n_judged + 1
    verdict = "–" if n_judged == 0 else "reproduces" if n_pass == n_judged else "partly" if n_pass else "does not"
    return _row("universality", claim, paper, "; ".join(parts) or "–", verdict)


# --- Table 4 ----------------------------------------------------------------------------------------------

def cross_gan_drop(drops: pd.DataFrame) -> dict:
    """Table 4: a single-property model does worse on another GAN than on its own test set, beyond what the
    references lose on the same images (the rule: :data:`RULES` ``["cross_gan_drop"]``)."""
    claim = "Single-property models drop on other GANs (Table 4)"
    paper = "COSS 0.889 → 0.69-0.81 (Bald), 0.884 → 0.31-0.65 (Smile)"
    if drops.empty:
        return _row("cross_gan_drop", claim, paper, "–", "–")
    parts, drops_more = [], 0
    props = list(dict.fromkeys(drops["train_property"]))
    for prop in props:
        sub = drops[drops["train_property"] == prop]
        first = sub.iloc[0]
        more = bool(len(sub)) and (sub["verdict"] == "above").all()
        drops_more += more
        parts.append(f"{prop}: model {first.model_own:.3f} → {first.model_other:.3f}; excess drop over "
                     + ", ".join(f"{REFERENCE_SHORT.get(r.reference, r.reference)} ({r.reference_own:.3f} → "
                                 f"{r.reference_other:.3f}) {_iv(r.excess, r.excess_lo, r.excess_hi)}"
                                 for r in sub.itertuples()))
    verdict = "reproduces" if drops_more == len(props) else "partly" if drops_more else "does not"
    return _row("cross_gan_drop", claim, paper, "; ".join(parts), verdict)


# --- Table 5 ----------------------------------------------------------------------------------------------

#: The attention comparisons in words.
ATTENTION_WORDS = {"paper": "the paper's product (Table 5)", "chosen": "the variant chosen on validation (Table 5)",
                   "leave_out": "that variant in the universal model, on properties left out of training"}


def attention_helps(contrasts: pd.DataFrame) -> dict:
    """Table 5 / RQ4: face-parsing attention improves detection on unseen properties, weighed over the paper's
    mechanism, the variant chosen on validation and the leave-out test (:data:`RULES` ``["attention"]``)."""
    claim, paper = "Face attention helps on unseen properties (Table 5)", "ACC 0.42 → 0.76 (mean of three)"
    pooled = contrasts[contrasts["property"] == "all"] if len(contrasts) else contrasts
    if pooled.empty:
        return _row("attention", claim, paper, "–", "–")
    parts, verdicts = [], []
    for r in pooled.itertuples():
        v = paired_verdict(r.bacc_diff_lo, r.bacc_diff_hi)
        verdicts.append(v)
        collapsed = (" (its classifier collapsed: one answer to every image)" if r.collapsed_with else "") + \
                    (" (the model without collapsed)" if r.collapsed_without else "")
        parts.append(f"{ATTENTION_WORDS.get(r.comparison, r.comparison)} `{r._3}`: bACC {r.bacc_without:.3f} → "
                     f"{r.bacc_with:.3f}, paired {_iv(r.bacc_diff, r.bacc_diff_lo, r.bacc_diff_hi)}{collapsed}")
    if all(v == "above" for v in verdicts):
        verdict = "reproduces"
    elif any(v == "above" for v in verdicts):
        verdict = "partly"
    elif any(v == "below" for v in verdicts):
        verdict = "reversed"
    else:
        verdict = "does not"
    return _row("attention", claim, paper, "; ".join(parts), verdict)


# --- Figs. 8 and 10 ---------------------------------------------------------------------------------------

def disorganization(versus: pd.DataFrame) -> dict:
    """Fig. 8 / RQ5: the map is not a memory of where edits are: after the quadrant permutation the model's COSS
    must beat the texture-blind layout prior and a flat map on the same images (paired)."""
    v = versus[versus["model"] == "universal"]
    beats = bool(len(v)) and (v["verdict"] == "above").all()
    parts = [f"vs {r.rival} {r.diff:+.3f} [{r.diff_lo:+.3f}, {r.diff_hi:+.3f}]" for r in v.itertuples()]
    return _row("disorganization", "The map follows the texture, not a location memory (Fig. 8)",
                "metrics 'a little worse' after permutation", "COSS after permutation " + "; ".join(parts),
                "reproduces" if beats else "does not")


def _sweep_points(versus: pd.DataFrame, label: str) -> list[tuple[str, str, bool]]:
    """(axis, point, holds) per degraded level of a ``fig10_versus`` table: the change of the AUC margin over the
    layout prior from clean, paired, not below 0."""
    v = versus[(versus["reference"] == "layout_prior") & (versus["metric"] == "auc") & (versus["degradation"] != "none")]
    if "model" in v.columns:
        v = v[v["model"] == "universal"] if (v["model"] == "universal").any() else v
    return [(f"{label} {DEGRADATION_LABELS_TEXT.get(r.degradation, r.degradation).split(' (')[0]}",
             f"{r.level:g}" if isinstance(r.level, (int, float)) else str(r.level),
             paired_verdict(r.change_lo, r.change_hi) != "below") for r in v.itertuples()]


def _targets_points(targets: pd.DataFrame) -> tuple[list[tuple[str, str, bool]], bool]:
    """(set, condition, holds) per JPEG condition of every set of ``all_gans_targets``, and whether the paired change
    was there (else: the degraded margin's interval against the clean one's)."""
    t = targets[targets["property"] == "all"] if "property" in targets.columns else targets
    paired = "auc_change_vs_layout_prior_lo" in t.columns
    out = []
    for set_name, sub in t.groupby("set", sort=False):
        clean = sub[sub["condition"] == "clean"]
        if clean.empty:
            continue
        c = clean.iloc[0]
        degraded = sub[sub["condition"].astype(str).str.startswith("fakes_")]  # all_* repeat their AUC (reals aside)
        for r in (degraded if len(degraded) else sub[sub["condition"] != "clean"]).itertuples():
            if paired:
                holds = paired_verdict(r.auc_change_vs_layout_prior_lo, r.auc_change_vs_layout_prior_hi) != "below"
            else:
                holds = not (r.auc_vs_layout_prior_hi < c["auc_vs_layout_prior_lo"])
            out.append((set_name, r.condition, holds))
    return out, paired


def jpeg_robustness(versus: dict[str, pd.DataFrame], targets: pd.DataFrame | None = None,
                    targets_model: str = "") -> dict:
    """Fig. 10 / RQ5: robust to real-world degradations, judged at every degraded point against the layout prior
    under the same degradation (:data:`RULES` ``["robustness"]``). ``versus``: sweep label -> ``fig10_versus``
    table; ``targets``: ``all_gans_targets`` when its model is the one of the other tables (``targets_model``: its
    words when it is not, and then it is left out)."""
    claim = "Robust to JPEG and other degradations (Fig. 10)"
    paper = "'performs well against various degradations'"
    points = [p for label, v in versus.items() for p in _sweep_points(v, label)]
    parts = []
    axes = list(dict.fromkeys(p[0] for p in points))
    for axis in axes:
        ps = [p for p in points if p[0] == axis]
        fell = [p[1] for p in ps if not p[2]]
        parts.append(f"{axis}: holds at {len(ps) - len(fell)} of {len(ps)} levels" + (f" (falls at {', '.join(fell)})" if fell else ""))
    if targets is not None:
        tp, paired = _targets_points(targets)
        fell = [f"{SHORT_SET_NAMES.get(s, s)} {c}" for s, c, ok in tp if not ok]
        parts.append(f"all_gans_targets JPEG: holds at {len(tp) - len(fell)} of {len(tp)} set × conditions"
                     + (f" (falls: {', '.join(fell)})" if fell else "")
                     + ("" if paired else " (no paired change column: margins' intervals compared)"))
        points += [(s, c, ok) for s, c, ok in tp]
    elif targets_model:
        parts.append(f"all_gans_targets left out: {targets_model}")
    if not points:
        return _row("robustness", claim, paper, "–", "–")
    held = sum(p[2] for p in points)
    verdict = "reproduces" if held == len(points) else "partly" if held else "does not"
    return _row("robustness", claim, paper, f"holds at {held} of {len(points)} degraded points; " + "; ".join(parts),
                verdict)


# --- the table --------------------------------------------------------------------------------------------

def claims(tables: str | Path, results_dir: str | Path | None = None) -> pd.DataFrame:
    """One row per claim whose table is there (see the module doc): ``key``, ``claim``, ``paper``, ``ours``,
    ``verdict``, ``rule``. ``results_dir`` (default: the folder above ``tables``) holds ``provenance.csv``, which
    says whether ``all_gans_targets`` comes from the model behind Table 3."""
    tables = Path(tables)
    results = Path(results_dir) if results_dir is not None else tables.parent
    get = lambda name: read_table(tables, name)  # noqa: E731
    rows = []
    c2 = get(CONTRASTS_TABLE)
    if c2 is not None:
        rows += [loss_ordering(c2), baseline_gap(c2)]
    t3 = get("table3")
    if t3 is not None:
        rows += [table3_cells(t3), universality(t3)]
    d4 = get(DROP_TABLE)
    if d4 is not None:
        rows.append(cross_gan_drop(d4))
    a5 = get(ATTENTION_TABLE)
    if a5 is not None:
        rows.append(attention_helps(a5))
    v8 = get("fig8_versus")
    if v8 is not None:
        rows.append(disorganization(v8))
    sweeps = {("STGAN" if p.stem == VERSUS_TABLE else SHORT_SET_NAMES.get(p.stem.removeprefix(f"{VERSUS_TABLE}_"),
                                                                             p.stem.removeprefix(f"{VERSUS_TABLE}_"))):
              pd.read_csv(p) for p in sorted(tables.glob(f"{VERSUS_TABLE}*.csv"))}
    if sweeps:
        targets = get("all_gans_targets")
        same, words = same_model(results, "all_gans_targets", "table3") if targets is not None else (False, "")
        rows.append(jpeg_robustness(sweeps, targets if same else None, "" if same else words))
    return pd.DataFrame(rows, columns=["key", "claim", "paper", "ours", "verdict", "rule"])


def claims_section(tables: str | Path, results_dir: str | Path | None = None) -> list[str]:
    """The claims table in Markdown, each claim's rule in a numbered note right under it (empty when no table is there)."""
    df = claims(tables, results_dir)
    if df.empty:
        return []
    lines = ["## The paper's claims, one by one", "",
             "Each verdict by a fixed rule of `fklib.report.claims` from the tables below, the rule printed under the "
             "table (its number): `reproduces`, `partly`, `does not`, or `reversed` (our evidence points the other "
             "way). Every rule is a paired comparison -- two predictors, or one predictor in two conditions, on the "
             "same images -- judged by its 95 % interval over identities.", "",
             "| # | claim | paper | ours | verdict |", "|---|---|---|---|---|"]
    lines += [f"| {i} | {r.claim} | {r.paper} | {r.ours} | **{r.verdict}** |" for i, r in enumerate(df.itertuples(), 1)]
    lines += ["", "Rules:", ""]
    lines += [f"{i}. {r.rule}" for i, r in enumerate(df.itertuples(), 1)]
    return lines + [""]
