"""Notebook 07 (beyond the paper): one locator per upsampling family of our own generators, and residual spectra.

:func:`family_sets` builds partial fakes with *our* small generators, one per upsampling family
(:mod:`fklib.studies.upsampling_generators`; they are not the paper's GANs); :func:`upsampling_configs` /
:func:`upsampling_study` train one locator per family (the profile's ``family_locator``, ``family_faces``)
and test it on every family (:func:`cross_family_table`); :func:`spectra` gives the mean FFT
log-magnitude of (fake - real) per real GAN and per family, :func:`spectral_peaks` how far their
periodic peaks stand out.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from .. import paths
from ..checkpoint import load_trained
from ..config import PLAIN_DATA, TrainConfig, check_profile, make_config, resolve_device
from ..data import load_set
from ..engine import MODEL, fit_reference_maps, score_items
from ..metrics import REFERENCE_KINDS, above
from ..metrics.bootstrap import paired_verdict
from ..metrics.groups import at_or_below_chance, cell_values, paired_versus
from .upsampling_generators import FAMILIES, REGIONS, WHOLE, build_family_sets, mean_log_spectrum
from .cache import ensure_trained, training_summary
from .profiles import study_profile

FAMILY_SIZE = 128


def _generator_dirs(profile: str) -> tuple[Path, Path | None]:
    """(generator weights, redraw cache) folders: the profile's ``generator_folder`` under the checkpoints folder,
    with the redraws cached in its ``cache`` subfolder when ``generator_cache`` (smoke)."""
    record = study_profile(profile)
    root = paths.checkpoints_dir() / record.generator_folder
    return root, (root / "cache" if record.generator_cache else None)


def _first_faces(items, n: int | None) -> list:
    """The items of the first ``n`` identities (in order of appearance); all when ``n`` is None."""
    if n is None:
        return list(items)
    keep: list[str] = []
    for it in items:
        if it.identity not in keep:
            if len(keep) == n:
                continue
            keep.append(it.identity)
    keep_set = set(keep)
    return [it for it in items if it.identity in keep_set]


def family_sets(profile: str, families: Sequence[str] | None = None, regions: Sequence[str] | None = None,
                splits: Sequence[str] = ("train", "val", "test"), log=print) -> dict[str, dict[str, list]]:
    """``{family: {split: [Item]}}`` of the study: :func:`fklib.studies.upsampling_generators.build_family_sets` with the
    profile's generators (``generator``) and ``family_faces`` faces per split.

    ``regions`` default to hair, mouth and eyes (partial fakes); ``("whole",)`` gives the full
    redraws (for spectra). Generators are cached in ``<checkpoints>/upsampling`` (smoke: its own folder).
    """
    check_profile(profile)
    families = tuple(families or FAMILIES)
    regions = tuple(regions or REGIONS)
    counts = study_profile(profile).family_faces
    caps = [counts[s] for s in splits]
    max_faces = None if any(c is None for c in caps) else max(caps)
    gen_dir, cache_dir = _generator_dirs(profile)
    sets = build_family_sets(families, regions, splits, epochs=study_profile(profile).generator["epochs"], size=FAMILY_SIZE,
                             base=study_profile(profile).generator["base"], max_faces=max_faces, checkpoint_dir=gen_dir,
                             cache_dir=cache_dir, log=log)
    return {f: {s: _first_faces(v, counts[s]) for s, v in per.items()} for f, per in sets.items()}


def upsampling_configs(profile: str, families: Sequence[str] | None = None) -> dict[str, TrainConfig]:
    """One locator config per family: the profile's settings with its ``family_locator``, 128 px,
    classifier (balanced), no property head / prior blend / attention / reconstructions;
    named ``<profile>_up_<family>``. Train with :func:`~fklib.studies.cache.ensure_trained` and the family's items."""
    check_profile(profile)
    over = dict(size=FAMILY_SIZE, sets=[], properties=None, classifier=True, cls_weight=1.0, balance_classes=True,
                property_weight=0.0, prior_blend=False, attention=False, max_items=None, val_max_items=None,
                warmup=0, **PLAIN_DATA)
    over.update(study_profile(profile).family_locator)
    return {f: make_config(profile, overrides={**over, "name": f"{profile}_up_{f}"}) for f in (families or FAMILIES)}


def reference_scores(train_items, test_items, size: int) -> pd.DataFrame:
    """Rows of the input-blind references fitted on ``train_items``' fakes (:func:`fklib.engine.fit_reference_maps`)
    on ``test_items`` (:func:`fklib.engine.score_items` without a model); they make no detection, and
    only COSS, PSNR and SSIM are computed (the other map metrics NaN, to save time)."""
    train_items = list(train_items)
    return score_items(None, test_items, size, references=fit_reference_maps(train_items, size),
                       metrics=("coss", "psnr", "ssim"))


def cross_family_table(scores: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """``train family -> per-image rows`` (of :func:`fklib.engine.score_items`, optionally with :func:`reference_scores`
    rows, told apart by ``predictor``) -> one row per (predictor, train family, test family).

    Each row is one cell of :func:`fklib.metrics.groups.group_summary`: the test family's fakes with all test
    reals (shared by the families): ``acc``, ``bacc``, ``acc_fake`` (TPR: fakes called fake), ``acc_real``
    (TNR: reals called real), NaN for the references, which make no detection; map metrics: means over the
    test family's fakes; ``<m>_lo`` / ``<m>_hi``: 95 % intervals over identities of bACC, COSS and SSIM.
    """
    rows = []
    for train_family, frame in scores.items():
        if "predictor" not in frame.columns:
            frame = frame.assign(predictor=MODEL)
        for predictor, df in frame.groupby("predictor", sort=False):
            reals = df[df["label"] == 0]
            fams = sorted({g.removeprefix("up_") for g in df.loc[df["label"] == 1, "gan"]}, key=_family_order)
            for test_family in fams:
                fakes = df[(df["label"] == 1) & (df["gan"] == f"up_{test_family}")]
                cell = cell_values(fakes, reals, CELL_METRICS, intervals=("bacc", "coss", "ssim"))
                row = {"predictor": predictor, "train_family": train_family, "test_family": test_family,
                       "n_fake": cell.pop("n"), "n_real": cell.pop("n_reals")}
                row.update(cell)
                row["acc_fake"], row["acc_real"] = row.pop("tpr"), row.pop("tnr")
                rows.append(row)
    order = {p: i for i, p in enumerate((MODEL, *REFERENCE_KINDS))}
    out = pd.DataFrame(rows)
    if len(out):
        out = out.sort_values("predictor", key=lambda c: c.map(lambda p: order.get(p, len(order))), kind="stable")
    return out.reset_index(drop=True)


#: The values of a cross-family cell.
CELL_METRICS = ("acc", "bacc", "tpr", "tnr", "coss", "psnr", "ssim", "auc", "f1", "iou")


def _family_order(family: str) -> int:
    return FAMILIES.index(family) if family in FAMILIES else len(FAMILIES)


def upsampling_study(profile: str, sets: Mapping[str, Mapping[str, list]] | None = None,
                     families: Sequence[str] | None = None, log=print) -> pd.DataFrame:
    """Train one locator per family (:func:`upsampling_configs`) and test each on every family.

    ``sets``: :func:`family_sets` output (built when ``None``). Each model is scored once over
    the test reals and the test fakes of all families (:func:`fklib.engine.score_items`); the input-blind
    references of its training fakes (:func:`reference_scores`) are scored on its own family's
    test items only (the families share faces and regions, so they would barely differ); then
    :func:`cross_family_table` makes one row per (predictor, train family, test family), with
    the model's training minutes.
    """
    sets = sets if sets is not None else family_sets(profile, families, log=log)
    families = tuple(families or sets)
    configs = upsampling_configs(profile, families)
    test = list(sets[families[0]]["test"])
    for f in families[1:]:
        test += [it for it in sets[f]["test"] if it.label == 1]
    scores, minutes = {}, {}
    for f in families:
        ck = ensure_trained(configs[f], sets[f]["train"], sets[f]["val"], log=log)
        loc = load_trained(ck)
        # references on the own family only (same faces and regions in every family: cheap and enough)
        scores[f] = pd.concat([score_items(loc.model, test, loc.size, rule=loc.rule, device=resolve_device("auto")),
                               reference_scores(sets[f]["train"], sets[f]["test"], loc.size)], ignore_index=True)
        minutes[f] = training_summary(ck)["minutes"]
    table = with_paired_references(cross_family_table(scores), scores)
    table.insert(3, "train_minutes", table["train_family"].map(minutes).where(table["predictor"] == MODEL))
    return table


#: The references each locator's own-family cell is compared with, image by image.
PAIRED_REFERENCES = ("property_mean", "layout_prior")


def with_paired_references(table: pd.DataFrame, scores: Mapping[str, pd.DataFrame],
                           metric: str = "coss") -> pd.DataFrame:
    """Add to each locator's own-family row (train family = test family, where the references were scored) the
    paired difference of ``metric`` against each of :data:`PAIRED_REFERENCES` over the same test fakes
    (:func:`fklib.metrics.groups.paired_versus`: mean(model - reference) and its 95 % interval, identities
    resampled): ``<metric>_vs_<reference>``, ``_lo``, ``_hi`` (NaN on the other rows)."""
    table = table.copy()
    for ref in PAIRED_REFERENCES:
        for suffix in ("", "_lo", "_hi"):
            table[f"{metric}_vs_{ref}{suffix}"] = np.nan
    for f, frame in scores.items():
        if "predictor" not in frame.columns:
            continue
        row = (table["predictor"] == MODEL) & (table["train_family"] == f) & (table["test_family"] == f)
        for ref in PAIRED_REFERENCES:
            if row.any() and (frame["predictor"] == ref).any():
                d, lo, hi = paired_versus(frame, {"gan": f"up_{f}"}, metric, ref)
                table.loc[row, [f"{metric}_vs_{ref}", f"{metric}_vs_{ref}_lo", f"{metric}_vs_{ref}_hi"]] = (d, lo, hi)
    return table


def training_fit(profile: str, sets: Mapping[str, Mapping[str, list]], families: Sequence[str] | None = None,
                 log=print) -> pd.DataFrame:
    """Each family locator on its own training fakes and on its family's test fakes: a fit check.

    A locator that ranks the fake pixels of its *training* images below chance (``auc`` < 0.5) has a
    training problem, not a generalisation one. Per (family, split): the fakes' mean ``auc``,
    ``coss``, ``psnr`` and the mean predicted map inside and outside the binary GT (``map_in``,
    ``map_out``) with the mean GT inside (``gt_in``). The models come from :func:`ensure_trained`
    (reused when :func:`upsampling_study` trained them).
    """
    families = tuple(families or sets)
    configs = upsampling_configs(profile, families)
    rows = []
    for f in families:
        ck = ensure_trained(configs[f], sets[f]["train"], sets[f]["val"], log=log)
        loc = load_trained(ck)
        for split in ("train", "test"):
            fakes = [it for it in sets[f][split] if it.label == 1]
            inside = {"map_in": [0.0, 0], "map_out": [0.0, 0], "gt_in": [0.0, 0]}

            def collect(batch, out, inside=inside):
                p, g = out.map[:, 0].float().cpu().numpy(), batch["gt_map"][:, 0].numpy()
                pos = above(g, 0.1)
                for key, vals in (("map_in", p[pos]), ("map_out", p[~pos]), ("gt_in", g[pos])):
                    inside[key][0] += float(vals.sum())
                    inside[key][1] += vals.size

            df = score_items(loc.model, fakes, loc.size, rule=loc.rule, metrics=("coss", "psnr", "auc"), on_batch=collect)
            rows.append({"family": f, "split": split, "n_fake": len(fakes),
                         **{m: float(df[m].mean()) for m in ("auc", "coss", "psnr")},
                         **{k: s_ / max(n, 1) for k, (s_, n) in inside.items()}})
    return pd.DataFrame(rows)


SPECTRA_GANS = ("stgan", "attgan", "stargan")


def spectra(profile: str, family_items: Mapping[str, Sequence] | None = None, gans: Sequence[str] = SPECTRA_GANS,
            laplacian: bool = False, log=print) -> dict[str, np.ndarray]:
    """Mean log |FFT| of Gray(fake - real) (:func:`fklib.studies.upsampling_generators.mean_log_spectrum`) per real GAN and family.

    Real GANs: their test fakes with a real source (partial edits; StarGAN's tiles are 256 px).
    Families: whole redraws of the test faces (``family_items``: ``{family: items}``; built with
    :func:`family_sets` ``regions=("whole",)`` when ``None``) -- partial composites would show
    mostly the shape of the edited region. ``laplacian``: of the residual's Laplacian.
    """
    n = study_profile(profile).spectra_items
    out = {}
    for g in gans:
        items = [it for it in load_set(g, split="test") if it.label == 1 and it.reference is not None]
        if items:
            out[g] = mean_log_spectrum(items, max_items=n, laplacian=laplacian)
    if family_items is None:
        family_items = {f: v["test"] for f, v in family_sets(profile, regions=(WHOLE,), splits=("test",),
                                                               log=log).items()}
    for f, items in family_items.items():
        out[f] = mean_log_spectrum(items, max_items=n, laplacian=laplacian)
    return out


def spectral_peaks(spectra_: Mapping[str, np.ndarray], periods: Sequence[int] = (2, 4, 8)) -> pd.DataFrame:
    """How far the periodic peaks of a x2 upsampling cascade stand out of a mean log spectrum.

    For a period ``p`` px the peak frequency is ``f = H / p`` cycles per image (the Nyquist
    frequency for ``p = 2``). ``peak_<p>px`` = the mean of the spectrum at the axis positions
    ``(0, ±f)`` and ``(±f, 0)`` from the centre (those inside the array) minus the median of the
    ring of radius ``f ± 1``: a log-magnitude contrast, 0 when there is no peak (ln units; 1 is a
    factor e). Square spectra only (:func:`fklib.studies.upsampling_generators.mean_log_spectrum`).
    """
    rows = []
    for name, s in spectra_.items():
        s = np.asarray(s, dtype=np.float64)
        h, w = s.shape
        if h != w:
            raise ValueError(f"spectral_peaks: {name} spectrum is {h}x{w}, expected square")
        c = h // 2
        yy, xx = np.mgrid[0:h, 0:w]
        rad = np.hypot(yy - c, xx - c)
        row = {"name": name, "size": h}
        for p in periods:
            f = h // p
            pts = [(c, c + f), (c, c - f), (c + f, c), (c - f, c)]
            vals = [s[y, x] for y, x in pts if 0 <= y < h and 0 <= x < w]
            ring = s[np.abs(rad - f) <= 1.0]
            row[f"peak_{p}px"] = float(np.mean(vals) - np.median(ring)) if vals and ring.size else math.nan
        rows.append(row)
    return pd.DataFrame(rows)


def fit_sentence(fit: pd.DataFrame) -> str:
    """Notebook 07's reading of :func:`training_fit`: the locators' pixel AUC on their training and test fakes, and
    whether the predicted map is higher inside the edited pixels than outside for every family and split."""
    tr, te = fit[fit["split"] == "train"], fit[fit["split"] == "test"]
    low = [f"{r.family} ({r.split})" for r in fit.itertuples() if r.map_in <= r.map_out]
    return (f"On their own training fakes the locators reach pixel AUC {tr['auc'].min():.3f}-{tr['auc'].max():.3f} "
            f"(test: {te['auc'].min():.3f}-{te['auc'].max():.3f}); the predicted map is "
            + ("higher inside the edited pixels than outside for every family" if not low
               else "not higher inside the edited pixels for " + ", ".join(low))
            + f" (inside {fit['map_in'].mean():.3f} on average against {fit['map_out'].mean():.3f} outside, GT "
            f"{fit['gt_in'].mean():.3f}).")


def own_family_verdicts(table: pd.DataFrame, metric: str = "coss") -> pd.DataFrame:
    """Per family, the locator's paired difference against the best of :data:`PAIRED_REFERENCES` (highest mean
    ``metric`` over the reference rows) on its own test fakes, with its verdict (``above`` / ``below`` /
    ``matches``, :func:`fklib.metrics.bootstrap.paired_verdict`); empty without those columns."""
    refs = table[table["predictor"].isin(PAIRED_REFERENCES)].groupby("predictor")[metric].mean()
    if refs.empty or f"{metric}_vs_{refs.idxmax()}" not in table.columns:
        return pd.DataFrame(columns=["family", "reference", "diff", "lo", "hi", "verdict"])
    best = refs.idxmax()
    own = table[(table["predictor"] == MODEL) & (table["train_family"] == table["test_family"])]
    own = own[own[f"{metric}_vs_{best}"].notna()]
    return pd.DataFrame({"family": own["train_family"], "reference": best, "diff": own[f"{metric}_vs_{best}"],
                         "lo": own[f"{metric}_vs_{best}_lo"], "hi": own[f"{metric}_vs_{best}_hi"],
                         "verdict": [paired_verdict(lo, hi) for lo, hi in zip(own[f"{metric}_vs_{best}_lo"],
                                                                             own[f"{metric}_vs_{best}_hi"])]}
                        ).reset_index(drop=True)


def own_family_sentence(table: pd.DataFrame) -> str:
    """Each locator against the best reference on its own family's test fakes, paired image by image
    (:func:`own_family_verdicts`): how many families are above, below or within, each difference with its interval;
    ``""`` without paired columns. Notebook 07 and ``results/README`` say it in these words."""
    paired = own_family_verdicts(table)
    if not len(paired):
        return ""
    best = paired["reference"].iloc[0]
    level = table.loc[table["predictor"] == best, "coss"].mean()
    counts = paired["verdict"].value_counts()
    return (f"On their own family's test fakes, paired image by image with the best reference ({best}, COSS "
            f"{level:.3f}): the locator's COSS is above it for {counts.get('above', 0)} of {len(paired)} families, below "
            f"for {counts.get('below', 0)}, within the interval for {counts.get('matches', 0)} ("
            + "; ".join(f"{r.family} {r.diff:+.3f} [{r.lo:+.3f}, {r.hi:+.3f}]" for r in paired.itertuples()) + ")"
            + (": at this budget the locators do not localize beyond where edits usually are."
               if counts.get("above", 0) == 0 else "."))


def cross_family_lines(table: pd.DataFrame, peaks: pd.DataFrame | None, families: Sequence[str]) -> list[str]:
    """What the cross-family table and the spectral peaks say, in sentences (notebook 07's interpretation):
    same family against other families (bACC with TPR / TNR, COSS, pixel AUC), each locator against the best
    reference on its own family's test fakes, paired image by image (:func:`own_family_verdicts`), the family whose
    fakes other families' locators find least and most, and the 2- and 4-px spectral peaks of the Laplacian residuals."""
    model = table[table["predictor"] == MODEL]
    if model.empty:
        return []
    m = model.assign(diag=model["train_family"] == model["test_family"])
    by = m.groupby("diag")[["acc", "bacc", "acc_fake", "acc_real", "coss", "ssim", "auc"]].mean()

    def side(diag: bool) -> str:
        r = by.loc[diag]
        return (f"bACC {r.bacc:.3f} (TPR {r.acc_fake:.3f}, TNR {r.acc_real:.3f}), COSS {r.coss:.3f}, "
                f"pixel AUC {r.auc:.3f}{' (at or below chance)' if at_or_below_chance('auc', r.auc) else ''}")

    lines = []
    text = "Trained and tested on the same family: " + side(True) if True in by.index else ""
    if False in by.index:
        text += "; on another family: " + side(False)
    lines.append(text + ".")
    paired = own_family_sentence(table)
    if paired:
        lines.append(paired)
    off = m[~m["diag"]].groupby("test_family")["acc_fake"].mean()
    if len(off):
        lines.append(f"The fakes other families' locators find least are {off.idxmin()}'s (TPR {off.min():.3f}), most "
                     f"{off.idxmax()}'s ({off.max():.3f}).")
    if peaks is not None and len(peaks):
        pk = peaks.set_index("name")
        names = [f for f in families if f in pk.index] + [g for g in pk.index if g not in families]
        lines.append("Spectral peaks of the Laplacian residual (ln contrast) at the 2-px period: "
                     + ", ".join(f"{n} {pk.loc[n, 'peak_2px_laplacian']:.2f}" for n in names)
                     + "; at 4 px: " + ", ".join(f"{n} {pk.loc[n, 'peak_4px_laplacian']:.2f}" for n in names)
                     + ". These are our generators, not the paper's GANs.")
    return lines
