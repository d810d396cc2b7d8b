"""Choosing the universal locator's recipe on the **validation** split (``experiments/recipes.py``, notebook 01).

:func:`validation_rows` evaluates a checkpoint -- the network alone: a prior-blend model is
unwrapped (:class:`fklib.models.PriorBlend` mixes in the per-property mean maps, which a locator
must beat, not borrow) -- on every validation set we have (:data:`VALIDATION_SETS`): STGAN,
StarGAN and InterFaceGAN validation identities and the fixed blob splices of the STGAN and
StarGAN validation identities, with the reference predictors of its training data.
:func:`validation_summary` reduces them to one row of numbers per checkpoint (means over each
set's (GAN, property) groups, as the tables), including how many STGAN properties the network
beats both the per-property mean map and the layout prior on, for COSS and for SSIM.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pandas as pd

from ..checkpoint import LoadedLocator
from ..config import resolve_device
from ..data import ensure_splice_set
from ..engine import MODEL, evaluate_locator, summarize
from ..metrics.groups import versus_references
from ..models import PriorBlend

#: (name in the summary, reader set, splice set or None): the validation sets of a recipe.
VALIDATION_SETS = (("stgan", "stgan", None), ("stargan", "stargan", None), ("interfacegan", "interfacegan", None),
                   ("stgan_splice", "generic", "stgan_val"), ("stargan_splice", "generic", "stargan_val"),
                   ("stargan128", "stargan128", None), ("attgan_attentiongan", "attgan_attentiongan", None))
#: The references a locator must beat.
STRONG_REFERENCES = ("property_mean", "layout_prior")


def validation_rows(locator: LoadedLocator, sets=VALIDATION_SETS, network_alone: bool = True) -> pd.DataFrame:
    """Per-image rows (:func:`fklib.engine.evaluate_locator`) of the locator on each validation set,
    with an ``eval_set`` column; the reference predictors are those of its training data. ``network_alone``:
    a prior-blend model is scored without its blend."""
    if network_alone and isinstance(locator.model, PriorBlend):
        locator = dataclasses.replace(locator, model=locator.model.model)
    device = resolve_device("auto")
    frames = []
    for name, set_name, splices in sets:
        folder = ensure_splice_set(splices, locator.config.data_dir) if splices else None
        df = evaluate_locator(locator, set_name, folder, split="all" if splices else "val", device=str(device))
        frames.append(df.assign(eval_set=name))
    return pd.concat(frames, ignore_index=True)


def validation_summary(rows: pd.DataFrame) -> dict:
    """One dict of numbers per checkpoint: ``<set>_<metric>`` for the model (the set's cell: all its fakes
    with its reals, :mod:`fklib.metrics.groups`), ``<set>_<metric>_<reference>`` for the strong references, and, for STGAN,
    ``stgan_props_beaten_coss`` / ``_ssim``: properties where the model is above both strong references."""
    out: dict = {}
    for name, sub in rows.groupby("eval_set", sort=False):
        s = summarize(sub)
        mean = s[s["gan"] == "mean"].set_index("predictor")
        for m in ("acc", "bacc", "tpr", "tnr", "coss", "psnr", "ssim", "auc", "f1"):
            out[f"{name}_{m}"] = round(float(mean.loc[MODEL, m]), 4)
            for ref in STRONG_REFERENCES:
                if ref in mean.index and m in ("coss", "psnr", "ssim", "auc", "f1"):
                    out[f"{name}_{m}_{ref}"] = round(float(mean.loc[ref, m]), 4)
        if name == "stgan":
            per = s[s["gan"] != "mean"].set_index(["predictor", "property"])
            for m in ("coss", "ssim"):
                props = per.loc[MODEL].index
                beaten = [p for p in props if versus_references(
                    per.loc[(MODEL, p), m], {ref: per.loc[(ref, p), m] for ref in STRONG_REFERENCES
                                             if (ref, p) in per.index}) == "better"]
                out[f"stgan_props_beaten_{m}"] = len(beaten)
    return out


def selection_score(summary: dict) -> float:
    """One number to rank recipes on validation: the mean of STGAN COSS, SSIM and AUC, splice (STGAN
    and StarGAN) COSS and AUC, StarGAN COSS and AUC, and the balanced ACC (fakes and reals weigh the
    same, so calling every real fake does not pay) of the four sets (higher is better). Rows scored
    before the bACC (``recipes.csv`` rows up to ``u2-srm-cheap``) used the plain ACC. The StarGAN-128 and
    AttGAN + AttentionGAN validation sets (``stargan128_*``, ``attgan_attentiongan_*``, recorded from row
    ``u4-all-gans`` on) are not in it, so that the score stays comparable with the earlier rows."""
    keys = ("stgan_coss", "stgan_ssim", "stgan_auc", "stgan_splice_coss", "stgan_splice_auc", "stargan_splice_coss",
            "stargan_splice_auc", "stargan_coss", "stargan_auc", "stgan_bacc", "stargan_bacc", "interfacegan_bacc",
            "stgan_splice_bacc")
    vals = [summary[k] for k in keys if k in summary and not math.isnan(summary[k])]
    return round(sum(vals) / len(vals), 4) if vals else math.nan



#: The columns of the compact recipe table (notebook 01): the model's and the layout prior's numbers.
RECIPE_COLUMNS = ("variant", "device", "train_minutes", "val_score", "stgan_acc", "stgan_bacc", "stgan_tnr",
                  "stgan_coss", "stgan_coss_layout_prior",
                  "stgan_ssim", "stgan_ssim_layout_prior", "stgan_auc", "stgan_auc_layout_prior",
                  "stgan_props_beaten_coss", "stgan_props_beaten_ssim", "stargan_acc", "stargan_coss",
                  "stargan_auc", "stargan_bacc", "interfacegan_acc", "interfacegan_bacc", "stgan_splice_acc",
                  "stgan_splice_tpr", "stgan_splice_coss", "stgan_splice_auc",
                  "stgan_splice_auc_layout_prior", "stargan_splice_coss", "stargan_splice_auc", "stargan128_coss",
                  "stargan128_auc", "stargan128_auc_layout_prior", "stargan128_bacc", "attgan_attentiongan_coss",
                  "attgan_attentiongan_auc", "attgan_attentiongan_auc_layout_prior", "attgan_attentiongan_bacc")


def recipe_table(path: str | Path) -> pd.DataFrame:
    """The universal-recipe rows (variants ``u*``, e.g. ``u3-hybrid-fast``, the ``cpu`` profile) of ``results/tables/recipes.csv``,
    compact (:data:`RECIPE_COLUMNS`), best validation score first; empty when the file is missing."""
    path = Path(path)
    if not path.is_file():
        return pd.DataFrame(columns=list(RECIPE_COLUMNS))
    df = pd.read_csv(path)
    df = df[df["variant"].str.match(r"^(u\d?-|profile-)")]
    return df[[c for c in RECIPE_COLUMNS if c in df.columns]].sort_values("val_score", ascending=False,
                                                                          ignore_index=True)
