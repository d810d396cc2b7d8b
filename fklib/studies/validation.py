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
import json
import math
from pathlib import Path

import pandas as pd

from ..checkpoint import LoadedLocator
from ..config import resolve_device
from ..data import ensure_splice_set
from ..engine import MODEL, evaluate_locator, summarize
from ..metrics.groups import LADDER, REFERENCE_KNOWS, STRONG_REFERENCES, versus_references
from ..models import PriorBlend

#: (name in the summary, reader set, splice set or None): the validation sets of a recipe.
VALIDATION_SETS = (("stgan", "stgan", None), ("stargan", "stargan", None), ("interfacegan", "interfacegan", None),
                   ("stgan_splice", "generic", "stgan_val"), ("stargan_splice", "generic", "stargan_val"),
                   ("stargan128", "stargan128", None), ("attgan_attentiongan", "attgan_attentiongan", None))
#: Sets holding several GANs whose rows are also summarised per GAN (``<gan>_<metric>``).
PER_GAN_SETS = ("attgan_attentiongan",)


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
    with its reals, :mod:`fklib.metrics.groups`; :data:`PER_GAN_SETS` also per GAN, ``attgan_*``, ``attentiongan_*``),
    ``<set>_<metric>_<reference>`` for the reference ladder (:data:`LADDER`), and, for STGAN,
    ``stgan_props_beaten_coss`` / ``_ssim``: properties where the model is above both strong references."""
    out: dict = {}
    for name, sub in rows.groupby("eval_set", sort=False):
        parts = [(name, sub)]
        if name in PER_GAN_SETS:  # each GAN's fakes with the set's reals
            reals = sub[sub["label"] == 0]
            parts += [(gan, pd.concat([g, reals])) for gan, g in sub[sub["label"] == 1].groupby("gan", sort=True)]
        for key, part in parts:
            s = summarize(part)
            mean = s[s["gan"] == "mean"].set_index("predictor")
            for m in ("acc", "bacc", "tpr", "tnr", "coss", "psnr", "ssim", "auc", "f1"):
                out[f"{key}_{m}"] = round(float(mean.loc[MODEL, m]), 4)
                for ref in LADDER:
                    if ref in mean.index and m in ("coss", "psnr", "ssim", "auc", "f1"):
                        out[f"{key}_{m}_{ref}"] = round(float(mean.loc[ref, m]), 4)
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


#: The sets of the ablation table (issue 39), in its column order: the four GANs' full edits and the STGAN splices.
ABLATION_SETS = ("stgan", "stargan128", "attgan", "attentiongan", "stgan_splice")
#: The per-set metrics of the ablation table.
ABLATION_METRICS = ("auc", "coss", "f1")


def ablation_table(rows: pd.DataFrame, factors: dict[str, tuple[str, dict]], center: str) -> pd.DataFrame:
    """What each factor of a one-factor-at-a-time ablation costs or buys per set, on validation.

    Args:
        rows: ``recipes.csv`` rows (:func:`validation_summary` columns) holding ``center`` and the variants.
        factors: variant -> (factor, overrides of the centre), in table order; variants without a row are left out.
        center: the variant every other differs from by one factor.

    Returns:
        One row per variant: ``factor``, ``change`` (its overrides), ``draws``, ``train_minutes``, per set of
        :data:`ABLATION_SETS` and metric of :data:`ABLATION_METRICS` the value (``<set>_<metric>``) and its
        difference from the centre (``<set>_<metric>_delta``), the mean AUC difference over the sets
        (``mean_auc_delta``) and the mean bACC of the four full-edit sets (``bacc``); then the reference ladder
        as rows of their own (``variant`` = the reference, from the centre's row): the constant map
        (``global_mean``), ``property_mean`` and ``layout_prior``, whose deltas are the reference minus the centre.
    """
    by = rows.drop_duplicates("variant", keep="last").set_index("variant")
    if center not in by.index:
        raise ValueError(f"ablation_table: no row for the centre {center!r}")
    base = by.loc[center]
    full_edits = [s for s in ABLATION_SETS if s != "stgan_splice"]
    out = []
    for name, (factor, overrides) in factors.items():
        if name not in by.index:
            continue
        r = by.loc[name]
        row = {"variant": name, "factor": factor, "change": json.dumps(overrides, sort_keys=True) if overrides else "",
               "draws": int(r["samples_per_epoch"]) * int(r["epochs"]), "train_minutes": float(r["train_minutes"])}
        for s in ABLATION_SETS:
            for m in ABLATION_METRICS:
                row[f"{s}_{m}"] = float(r[f"{s}_{m}"])
                row[f"{s}_{m}_delta"] = float(r[f"{s}_{m}"]) - float(base[f"{s}_{m}"])
        row["mean_auc_delta"] = sum(row[f"{s}_auc_delta"] for s in ABLATION_SETS) / len(ABLATION_SETS)
        row["bacc"] = sum(float(r[f"{s}_bacc"]) for s in full_edits) / len(full_edits)
        out.append(row)
    for ref in LADDER:
        row = {"variant": ref, "factor": "reference", "change": REFERENCE_KNOWS[ref]}
        for s in ABLATION_SETS:
            for m in ABLATION_METRICS:
                row[f"{s}_{m}"] = float(base[f"{s}_{m}_{ref}"])
                row[f"{s}_{m}_delta"] = float(base[f"{s}_{m}_{ref}"]) - float(base[f"{s}_{m}"])
        row["mean_auc_delta"] = sum(row[f"{s}_auc_delta"] for s in ABLATION_SETS) / len(ABLATION_SETS)
        out.append(row)
    return pd.DataFrame(out)


#: The smallest difference from the centre :func:`ablation_effects` calls a gain or a cost when no seed row is there.
ABLATION_MIN_EFFECT = 0.01


def ablation_effects(table: pd.DataFrame, center: str, seed_variant: str = "a-seed1",
                     metrics: tuple[str, ...] = ("auc", "f1")) -> pd.DataFrame:
    """What each factor buys and costs, set by set, beyond the noise of one training.

    A variant *buys* a set's metric when its difference from the centre is above that set's noise, and *costs* it
    when the difference is below minus the noise. The noise of a (set, metric) is the seed variant's own absolute
    difference from the centre there (the same recipe trained again with another seed), and never less than
    :data:`ABLATION_MIN_EFFECT`; without a seed row it is :data:`ABLATION_MIN_EFFECT`.

    Args:
        table: :func:`ablation_table`'s output (reference rows are skipped).
        center: the variant every other differs from by one factor (skipped).
        seed_variant: the centre retrained with another seed, if it has a row.
        metrics: the metrics of :data:`ABLATION_METRICS` to judge.

    Returns:
        One row per variant other than the centre and the seed variant: ``variant``, ``factor``, for each metric
        ``<metric>_buys`` and ``<metric>_costs`` (comma-separated set names in :data:`ABLATION_SETS` order, each
        with its signed difference, e.g. ``"stgan +0.069"``; empty when none), and ``seed_row`` (whether the noise
        came from a seed row).
    """
    variants = table[table["factor"] != "reference"].set_index("variant")
    seed = variants.loc[seed_variant] if seed_variant in variants.index else None
    noise = {(s, m): max(ABLATION_MIN_EFFECT, abs(float(seed[f"{s}_{m}_delta"])) if seed is not None else 0.0)
             for s in ABLATION_SETS for m in metrics}
    out = []
    for name, r in variants.iterrows():
        if name in (center, seed_variant):
            continue
        row = {"variant": name, "factor": r["factor"], "seed_row": seed is not None}
        for m in metrics:
            deltas = [(s, float(r[f"{s}_{m}_delta"])) for s in ABLATION_SETS]
            row[f"{m}_buys"] = ", ".join(f"{s} {d:+.3f}" for s, d in deltas if d > noise[(s, m)])
            row[f"{m}_costs"] = ", ".join(f"{s} {d:+.3f}" for s, d in deltas if d < -noise[(s, m)])
        out.append(row)
    return pd.DataFrame(out, columns=["variant", "factor", *[f"{m}_{k}" for m in metrics for k in ("buys", "costs")],
                                      "seed_row"])

