"""What a shipped locator's card says of its limits, measured (``python -m fklib export``; the card's recipe is
:func:`fklib.studies.recipe.recipe_text`).

:func:`limits` evaluates a checkpoint on every public test set we have
and returns the numbers the card's *Limits* section is written from: per set the detection and, paired over the
same fakes, the map against each rung of the reference ladder (the constant map, the per-property mean map, the
layout prior; :data:`fklib.metrics.groups.LADDER`); per STGAN property whether the network beats the two
references that know the edit (COSS, SSIM); the faces cut from published figures; the cost of JPEG quality 50 on
the STGAN test split.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
from PIL import Image

from ..checkpoint import LoadedLocator
from ..config import resolve_device
from ..data import load_set
from ..engine import MODEL, score_items, summarize
from ..metrics import detection_rates
from ..metrics.bootstrap import paired_verdict
from ..metrics.groups import LADDER, REFERENCE_KNOWS, REFERENCE_SHORT, STRONG_REFERENCES, paired_versus
from .common import score_set
from .published_figures import figure_detection, figure_summary
from .robustness import robustness_sweep

#: (name, reader set, splice set): the test sets of the card.
CARD_SETS = (("STGAN", "stgan", None), ("StarGAN-128 (the released generator)", "stargan128", None),
             ("AttGAN + AttentionGAN", "attgan_attentiongan", None), ("StarGAN-256 (perturbed inputs)", "stargan", None),
             ("AttGAN sample rows (never trained on)", "attgan", None), ("InterFaceGAN Entire", "interfacegan", None),
             ("STGAN splices", None, "stgan_test"), ("StarGAN splices", None, "stargan_test"))
STRONG = STRONG_REFERENCES
#: The map metrics the card compares with each rung of the ladder (paired).
CARD_PAIRED = ("coss", "auc")


def _means(df: pd.DataFrame) -> pd.DataFrame:
    s = summarize(df)
    return s[s["gan"] == "mean"].set_index("predictor")


def limits(locator: LoadedLocator) -> dict:
    """The card's measured limits of a loaded locator (see the module doc); every value a plain float or int."""
    out: dict = {"sets": {}}
    for name, set_name, splices in CARD_SETS:
        df = score_set(locator, set_name or "stgan", splices=splices)
        means = _means(df)
        row = {k: float(means.loc[MODEL, k]) for k in ("acc", "coss", "ssim", "auc", "f1")}
        for ref in LADDER:
            if ref in means.index:
                row.update({f"{k}_{ref}": float(means.loc[ref, k]) for k in ("coss", "ssim", "auc", "f1")})
                for k in CARD_PAIRED:
                    row[f"{k}_vs_{ref}"] = list(paired_versus(df, {}, k, ref))
        fakes = df[(df["predictor"] == MODEL) & (df["label"] == 1)]
        reals = df[(df["predictor"] == MODEL) & (df["label"] == 0)]
        model_rows = df[df["predictor"] == MODEL]
        tpr, tnr = detection_rates(model_rows["pred_fake"], model_rows["label"])
        row.update(fakes_called_fake=tpr, reals_called_real=tnr, bacc=(tpr + tnr) / 2,
                   n_fakes=len(fakes), n_reals=len(reals))
        out["sets"][name] = row
        if name == "STGAN":
            s = summarize(df)
            per = s[s["gan"] != "mean"].set_index(["predictor", "property"])
            out["stgan_losses"] = stgan_losses(df, sorted(per.loc[MODEL].index))
    out["figures"] = figure_summary(figure_detection(locator))
    stgan_test = load_set("stgan", split="test")
    sweep = robustness_sweep(locator.model, stgan_test, locator.size, axes={"jpeg": (50,)},
                             device=resolve_device("auto"), rule=locator.rule)
    out["decision_threshold"] = locator.rule.threshold
    out["decision_peak_floor"] = locator.rule.peak_floor
    out["grayscale"] = grayscale_detection(locator, stgan_test)
    out["jpeg50"] = {"set": "STGAN test split", "n_fakes": int(sum(it.label for it in stgan_test)),
                     "n_reals": int(sum(1 - it.label for it in stgan_test)), "acc_clean": float(sweep.loc[0, "acc"]), "acc_jpeg50": float(sweep.loc[1, "acc"]),
                     "bacc_clean": float(sweep.loc[0, "bacc"]), "bacc_jpeg50": float(sweep.loc[1, "bacc"]),
                     "tnr_clean": float(sweep.loc[0, "tnr"]), "tnr_jpeg50": float(sweep.loc[1, "tnr"]),
                     "coss_clean": float(sweep.loc[0, "coss"]), "coss_jpeg50": float(sweep.loc[1, "coss"])}
    return out


def stgan_losses(per_image: pd.DataFrame, properties) -> dict[str, list[str]]:
    """Per metric (COSS, SSIM), the properties where the network is not above both strong references by a
    paired difference over the same images (:func:`fklib.metrics.groups.paired_versus`: the 95 % interval of
    mean(model - reference), identities resampled, lies above 0 for each reference)."""
    out = {}
    for m in ("coss", "ssim"):
        out[m] = sorted(p for p in properties
                        if any(paired_verdict(*paired_versus(per_image, {"property": p}, m, ref)[1:]) != "above"
                               for ref in STRONG))
    return out


def grayscale_detection(locator: LoadedLocator, items) -> dict:
    """Shares of the fakes called fake in colour and as grayscale copies (luma replicated to RGB), at the
    model's decision threshold: a colour cue the model may rely on."""
    fakes = [it for it in items if it.label == 1]
    gray = [dataclasses.replace(it, image=np.repeat(np.asarray(Image.fromarray(np.asarray(it.image)).convert("L"))[..., None],
                                                    3, axis=2)) for it in fakes]
    called = {}
    for name, part in (("colour", fakes), ("grayscale", gray)):
        rows = score_items(locator.model, part, locator.size, rule=locator.rule, metrics=())
        called[name] = float((rows["pred_fake"] == 1).mean())
    return {"n": len(fakes), **called}


def _num(v):
    """A card JSON value as a float (the JSON holds null where a value is missing)."""
    return math.nan if v is None else float(v)


def _rate(v) -> str:
    """A share (TPR, TNR) as the card prints every share: 3 decimals, ``–`` when missing."""
    v = _num(v)
    return "–" if math.isnan(v) else f"{v:.3f}"


def _versus_cell(r: dict, k: str, ref: str) -> str:
    """``+0.012 [+0.004, +0.020]``: the paired difference stored in a card row; else, for a card written before the
    paired values existed, the reference's own value in parentheses; ``–`` when neither is there."""
    got = r.get(f"{k}_vs_{ref}")
    if got is not None and not any(v is None for v in got) and not math.isnan(_num(got[0])):
        return f"{got[0]:+.3f} [{got[1]:+.3f}, {got[2]:+.3f}]"
    value = _num(r.get(f"{k}_{ref}"))
    return "–" if math.isnan(value) else f"({value:.3f})"


def decision_sentence(threshold: float, peak_floor: float | None) -> str:
    """The card's line for a decision rule chosen on validation (:func:`fklib.metrics.classification.decide`). A
    threshold below 0 passes every probability: with a peak floor the map's peak then decides alone, and the line
    says so rather than print a negative probability as if it were a cut."""
    chosen = ", chosen on the validation identities for balanced accuracy (fakes and reals weigh the same)."
    if peak_floor is not None and threshold < 0:
        return (f"- Decision: the map's peak (its 99th percentile) > {peak_floor:.4f} decides alone; the threshold on "
                f"p(fake) chosen with it ({threshold:.3f}) is below every probability, so the classifier vetoes "
                "nothing" + chosen)
    floor = f" and the map's peak (its 99th percentile) > {peak_floor:.4f}" if peak_floor is not None else ""
    return f"- Decision: p(fake) > {threshold:.3f}{floor}" + chosen


def limits_markdown(lim: dict) -> list[str]:
    """The card's *Limits* section from :func:`limits`."""
    heads = " | ".join(f"{k} − {REFERENCE_SHORT[r]}" for k in ("COSS", "AUC") for r in LADDER)
    lines = ["## Limits (measured on the public test splits)", "",
             "Per test set: the share of fakes called fake (TPR) and of reals called real (TNR), bACC, and the map's "
             "COSS and pixel AUC with the paired difference model − reference over the same fakes (95 % interval over "
             "identities) against each rung of the reference ladder: " + "; ".join(REFERENCE_KNOWS[r] for r in LADDER)
             + ". Above 0: the model beats that reference; the last two know the edited property, which the network is "
             "never told.", "",
             f"| test set | TPR | TNR | bACC | COSS | pixel AUC | {heads} |",
             "|---|---|---|---|---|---|" + "---|" * (2 * len(LADDER))]
    for name, r in lim["sets"].items():
        auc = _num(r.get("auc"))
        ladder = " | ".join(_versus_cell(r, k, ref) for k in CARD_PAIRED for ref in LADDER)
        lines.append(f"| {name} | {_rate(r['fakes_called_fake'])} of {r['n_fakes']} | {_rate(r['reals_called_real'])} of "
                     f"{r['n_reals']} | {_num(r.get('bacc')):.3f} | {_num(r['coss']):.3f} | "
                     f"{'–' if math.isnan(auc) else f'{auc:.3f}'} | {ladder} |")
    losses = lim.get("stgan_losses", {})
    fig, jp = lim["figures"], lim["jpeg50"]
    where = (f"on the {jp.get('set', 'STGAN test split')}" + (f" ({jp['n_fakes']} fakes + {jp['n_reals']} reals, the reals "
                                                             "compressed too)" if "n_fakes" in jp else ""))
    old = any(f"{k}_vs_{ref}" not in r for r in lim["sets"].values() for k in CARD_PAIRED for ref in LADDER)
    lines += ["", *(["`(v)`: a reference's value where this card holds no paired difference (written before it had "
                     "them).", ""] if old else []),
              f"- STGAN properties where the network is **not** above both the per-property mean map and the "
                  f"layout prior -- the two references that know the edited property -- (paired difference over the same "
                  f"images, 95 % interval above 0): COSS {', '.join(losses.get('coss', [])) or 'none'}; SSIM "
                  f"{', '.join(losses.get('ssim', [])) or 'none'}.",
              f"- Faces cut from the StarGAN paper's JPEG result figures (another StarGAN, the paper's framing): "
              f"{_rate(fig['edits_called_fake'])} of {fig['n_edits']} edits called fake, {_rate(fig['reals_called_real'])} "
              f"of {fig['n_reals']} inputs called real.",
              (f"- JPEG quality 50 {where}: bACC {jp['bacc_clean']:.3f} → {jp['bacc_jpeg50']:.3f} (reals called real "
               f"{_rate(jp['tnr_clean'])} → {_rate(jp['tnr_jpeg50'])}), COSS {jp['coss_clean']:.3f} → {jp['coss_jpeg50']:.3f}."
               if "bacc_clean" in jp else
               f"- JPEG quality 50 {where}: ACC {jp['acc_clean']:.3f} → {jp['acc_jpeg50']:.3f}, COSS "
               f"{jp['coss_clean']:.3f} → {jp['coss_jpeg50']:.3f}."),
              *([f"- Grayscale copies of the {lim['grayscale']['n']} STGAN test fakes: {_rate(lim['grayscale']['grayscale'])} "
                 f"called fake, against {_rate(lim['grayscale']['colour'])} in colour (the model leans on colour)."]
                if "grayscale" in lim else []),
              *([decision_sentence(lim["decision_threshold"], lim.get("decision_peak_floor"))]
                if lim.get("decision_threshold") is not None else ["- Decision: p(fake) > 0.5."]),
              "- Faces framed differently from CelebA's alignment, other resolutions than 128 px and GANs unlike "
              "those above are processed as given; expect the numbers above to be optimistic for them.", ""]
    return lines
