"""Notebook 04, paper Table 5 and Figs. 6-7 (§4.4, RQ4): face-parsing attention, scored in the edited region.

Two models trained on STGAN *Blond_Hair* without and with the face attention map of our face
parser (test time: a white map), tested on other properties with COSS, PSNR and SSIM inside the
region of the modified property: our parser's region of the fake united with that of its real
source (an edit can remove the region, e.g. hair), computed at the evaluation resolution.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from ..checkpoint import LoadedLocator, load_trained
from ..config import ATTENTION_MODES, KNOWN_PROPERTIES, TrainConfig, make_config
from ..data import FakeMapDataset, image_to_tensor, limit_items, load_set, tensor_to_image
from ..engine import MODEL, evaluation_rule, fit_references, score_items
from ..metrics import balanced_accuracy
from ..metrics.bootstrap import paired_difference, paired_verdict
from ..metrics.groups import paired_bacc_difference
from ..models.inference import ImagePredictor
from ..parsing import ParseCache, ParsingAttention, load_parser, parse, region_mask
from .cache import ensure_trained
from .common import eval_limit, single_config
from .profiles import study_profile

#: Table 5: trained on Blond_Hair with/without face parsing, tested on these STGAN properties.
TABLE5_TRAIN, TABLE5_TESTS = "Blond_Hair", ("Black_Hair", "Brown_Hair", "Mouth_Slightly_Open")
#: The resolution our face parser runs at.
PARSER_SIZE = 128


def table5_configs(profile: str) -> dict[str, TrainConfig]:
    """``no_fp`` and ``with_fp``: the single-property L1 model of :data:`TABLE5_TRAIN` without / with attention."""
    return {"no_fp": single_config(profile, TABLE5_TRAIN, "l1"),
            "with_fp": single_config(profile, TABLE5_TRAIN, "l1", attention=True)}


def variant_configs(profile: str) -> dict[str, TrainConfig]:
    """``no_fp`` and one model per face-attention variant (:data:`fklib.config.ATTENTION_MODES`; ``paper``
    is Table 5's ``with_fp``), all trained as Table 5 (STGAN :data:`TABLE5_TRAIN`, L1). Variants the
    profile's model cannot run (``skip`` and ``auxiliary`` need an EfficientNet-Lite U-Net) are left out."""
    base = table5_configs(profile)
    out = {"no_fp": base["no_fp"], "paper": base["with_fp"]}
    for mode in ATTENTION_MODES:
        if mode == "paper" or (mode in ("skip", "auxiliary") and not base["with_fp"].model.startswith("efficientnet_lite")):
            continue
        cfg = single_config(profile, TABLE5_TRAIN, "l1", attention=True)
        out[mode] = replace(cfg, name=f"{cfg.name}_{mode}", attention_mode=mode)
    return out


#: Item 5 of the attention study: properties left out of the universal model's training, tested on.
LEAVE_OUT = ("Black_Hair", "Mouth_Slightly_Open")


def leave_out_configs(profile: str, mode: str) -> dict[str, TrainConfig]:
    """The universal model of ``profile`` trained without the fakes of :data:`LEAVE_OUT` (in every set),
    at the profile's ``leave_out_budget``, without (``universal``) and with face attention of ``mode``
    (``universal_fp``)."""
    base = make_config(profile)
    keep = [p for p in KNOWN_PROPERTIES if p not in LEAVE_OUT]
    plain = replace(base, name=f"{base.name}_leave_out", properties=keep, **study_profile(profile).leave_out_budget)
    if mode in ("skip", "auxiliary") and not plain.model.startswith("efficientnet_lite"):
        mode = "paper"
    return {"universal": plain,
            "universal_fp": replace(plain, name=f"{plain.name}_fp_{mode}", attention=True, attention_mode=mode)}


def variant_selection(rows: pd.DataFrame) -> pd.DataFrame:
    """Validation rows of every variant (:func:`evaluate_in_region` with ``method``) -> one row per
    variant: in-region COSS (masked) and balanced ACC per test property, ``collapsed`` (one answer to
    every validation image of some property), and ``score`` = the mean over the properties of
    (in-region COSS + balanced ACC) / 2; a collapsed variant scores NaN and cannot be chosen."""
    model = rows[rows["predictor"] == MODEL]
    reals = model[model["label"] == 0]
    out = []
    for method, sub in model.groupby("method", sort=False):
        rec: dict = {"method": method}
        parts, collapsed = [], False
        for prop in TABLE5_TESTS:
            fakes = sub[(sub["label"] == 1) & (sub["property"] == prop)]
            both = pd.concat([fakes, reals[reals["method"] == method]])
            bacc = balanced_accuracy(both["pred_fake"], both["label"])
            coss = float(fakes["coss_region"].mean())
            collapsed |= both["pred_fake"].nunique() == 1
            rec[f"{prop}_coss"], rec[f"{prop}_bacc"] = coss, bacc
            parts.append((coss + bacc) / 2)
        rec["collapsed"] = bool(collapsed)
        rec["score"] = math.nan if collapsed else float(np.mean(parts))
        out.append(rec)
    return pd.DataFrame(out)


def choose_variant(selection: pd.DataFrame) -> str:
    """The attention variant (not ``no_fp``) with the best validation ``score`` of :func:`variant_selection`;
    ``paper`` when every variant collapsed."""
    cand = selection[(selection["method"] != "no_fp") & selection["score"].notna()]
    return str(cand.loc[cand["score"].idxmax(), "method"]) if len(cand) else "paper"


#: The table of the attention-variant search (``experiments/attention_variants.py``), in the results folder.
VARIANTS_TABLE = "table5_variants"


def variant_search(profile: str, log=print) -> tuple[pd.DataFrame, str]:
    """Train every attention variant of :func:`variant_configs`, score them on the validation identities
    (:func:`variant_selection`) and choose one (:func:`choose_variant`): ``(selection, chosen)``.
    The ``cpu`` profile's search is run once by ``experiments/attention_variants.py`` and its table
    committed; notebook 04 reads it (:func:`recorded_selection`) and trains only :func:`shown_variants`."""
    ckpts = {m: ensure_trained(cfg, log=log) for m, cfg in variant_configs(profile).items()}
    rows = pd.concat([evaluate_in_region(load_trained(ck), TABLE5_TESTS, split="val", references=False, limit=eval_limit(profile),
                                         method=m) for m, ck in ckpts.items()], ignore_index=True)
    selection = variant_selection(rows)
    return selection, choose_variant(selection)


def variants_note(chosen: str) -> str:
    """The note of the variant search's table."""
    return (f"Validation identities (STGAN val split), models trained on STGAN {TABLE5_TRAIN} as Table 5. "
            "`*_coss`: in-region COSS (masked); `*_bacc`: balanced ACC; `score`: mean of (COSS + bACC) / 2; "
            f"chosen: `{chosen}`. Recorded by `python experiments/attention_variants.py`.")


def recorded_selection(results_dir: str | Path) -> pd.DataFrame | None:
    """The variant search's table in ``<results_dir>/tables`` (:data:`VARIANTS_TABLE`), ``None`` when absent."""
    path = Path(results_dir) / "tables" / f"{VARIANTS_TABLE}.csv"
    return pd.read_csv(path) if path.is_file() else None


def shown_variants(chosen: str) -> list[str]:
    """The variants Table 5 prints: ``no_fp``, the paper's ``paper`` (= ``with_fp``) and the chosen one."""
    return ["no_fp", "paper"] + ([chosen] if chosen != "paper" else [])


def collapse_notes(rows: pd.DataFrame, by: tuple[str, ...] = ("method",)) -> list[str]:
    """One sentence per model cell (``by``: its fakes with the same method's reals) whose classifier gave one
    answer to every image, fakes and reals alike: a collapse (balanced ACC 0.5). A cell of reals alone is
    never flagged: calling every real real is right."""
    model = rows[rows["predictor"] == MODEL]
    context = [k for k in by if k not in ("gan", "property")]
    notes = []
    for key, sub in model[model["label"] == 1].groupby(list(by), sort=False):
        key = key if isinstance(key, tuple) else (key,)
        reals = model[model["label"] == 0]
        for k, v in zip(by, key):
            if k in context:
                reals = reals[reals[k] == v]
        both = pd.concat([sub, reals])
        answers = both["pred_fake"].dropna().unique()
        if len(answers) == 1 and len(reals):
            name = "/".join(map(str, key))
            notes.append(f"`{name}` calls every one of its {len(sub)} fakes and {len(reals)} reals "
                         f"{'fake' if answers[0] > 0.5 else 'real'}: its classifier collapsed (balanced ACC 0.5).")
    return notes


def ranked_edits(rows: pd.DataFrame, method: str, prop: str, metric: str = "coss_region") -> pd.DataFrame:
    """``method``'s scored test edits of ``prop``, worst to best by ``metric`` (Fig. 7's ranking)."""
    return rows[(rows["predictor"] == MODEL) & (rows["method"] == method) & (rows["property"] == prop)
                & rows[metric].notna()].sort_values(metric, kind="stable")


def identity_picks(rows: pd.DataFrame, method: str, prop: str, metric: str = "coss_region") -> dict[str, int]:
    """``median``, ``best`` and ``worst`` test edits of ``prop`` by ``method``'s ``metric``: label -> row index."""
    sub = ranked_edits(rows, method, prop, metric)
    if not len(sub):
        return {}
    return {"best": int(sub.index[-1]), "median": int(sub.index[len(sub) // 2]), "worst": int(sub.index[0])}


def edited_regions(items, size: int, parser=None) -> dict[int, np.ndarray]:
    """Item index -> boolean ``size x size`` region of its property, for every fake with a real source.

    :func:`fklib.parsing.region_mask` of our parser's map of the fake (as the model sees it, at
    ``size``) united with that of its real source resized the same way. Parsed through
    :class:`fklib.parsing.ParseCache`: the images of an earlier call (another model of the same table) are read back.
    """
    parse_cached = ParseCache(parser or load_parser(), size=PARSER_SIZE)
    fakes = [i for i, it in enumerate(items) if it.label == 1 and it.reference is not None]
    if not fakes:
        return {}
    ds = FakeMapDataset(items, size=size)
    seen = torch.stack([ds[i]["image"] for i in fakes])
    refs = torch.stack([image_to_tensor(items[i].reference) for i in fakes])
    refs = F.interpolate(refs, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    p_fake = parse_cached(tensor_to_image(seen))
    p_real = parse_cached(tensor_to_image(refs))
    return {i: region_mask(p_fake[k], items[i].property) | region_mask(p_real[k], items[i].property)
            for k, i in enumerate(fakes)}


def evaluate_in_region(locator: LoadedLocator, properties, set_name: str = "stgan", split: str = "test",
                       references: bool = True, limit: int | None = None, **keys) -> pd.DataFrame:
    """Per-image rows with in-region metrics (paper Table 5): ``coss``, ``psnr``, ``ssim`` of the whole
    map and ``coss_region``, ``psnr_region``, ``ssim_region`` over :func:`edited_regions`, plus
    ``region_fraction`` (the region's share of the image); images without a region get NaN
    in-region metrics. Reals and the fakes of ``properties`` of the split; ``keys`` as columns."""
    model, cfg = locator.model, locator.config
    items = [it for it in load_set(set_name, split=split) if it.label == 0 or it.property in properties]
    if limit is not None:
        items = limit_items(items, limit)
    regions = edited_regions(items, cfg.size)
    rule = evaluation_rule(locator, torch.device("cpu"))
    rows = score_items(model, items, cfg.size, references=fit_references(cfg) if references else None,
                       rule=rule, regions=regions)
    fraction = {it.source: float(regions[i].mean()) if i in regions else 0.0 for i, it in enumerate(items)}
    rows.insert(rows.columns.get_loc("score"), "region_fraction", rows["source"].map(fraction))
    return rows.assign(**keys)


def attention_example(prop: str = "Black_Hair", set_name: str = "stgan", split: str = "test") -> dict:
    """Paper Fig. 6's panels for the first test edit of ``prop``: ``item``, ``image``, ``parsing``
    (of the fake), ``region`` (of fake and real source), ``attention`` (the training attention map)."""
    edit = next(it for it in load_set(set_name, split=split) if it.property == prop)
    att = ParsingAttention([edit], load_parser())
    region = region_mask(att.parsing(edit.image), edit.property) | region_mask(att.parsing(edit.reference),
                                                                               edit.property)
    return {"item": edit, "image": np.asarray(edit.image), "parsing": att.parsing(edit.image), "region": region,
            "attention": att(edit)}


def predicted_maps(locators: dict[str, LoadedLocator], image: np.ndarray) -> dict[str, np.ndarray]:
    """Each locator's map of one image, at the image's size (paper Fig. 7's predictions)."""
    return {name: ImagePredictor(loc.model, loc.size).predict_array(np.asarray(image))[0]
            for name, loc in locators.items()}


# --- what Table 5 says ----------------------------------------------------------------------------

#: Table 5's in-region definitions: column suffix of :func:`evaluate_in_region`'s rows.
DEFINITIONS = {"masked": "_region", "zeroed": "_zeroed"}


def definition_fit(rows: pd.DataFrame, paper5: pd.DataFrame, methods=("no_fp", "with_fp")) -> pd.DataFrame:
    """Which in-region definition the paper's Table 5 cells match: per definition, the mean |ours − paper|
    of PSNR and SSIM over ``methods`` x :data:`TABLE5_TESTS` (our means over each property's fakes).
    ``paper5``: the paper's cells (:func:`fklib.report.paper.paper_table` ``(5)``: ``method``, ``property``,
    ``metric``, ``value``)."""
    model = rows[(rows["predictor"] == MODEL) & (rows["label"] == 1)]
    fit = []
    for definition, suffix in DEFINITIONS.items():
        gaps = {}
        for metric in ("psnr", "ssim"):
            diffs = []
            for method in methods:
                for prop in TABLE5_TESTS:
                    ours = model[(model["method"] == method) & (model["property"] == prop)]
                    cell = paper5[(paper5["method"] == method) & (paper5["property"] == prop) & (paper5["metric"] == metric)]
                    if len(cell) and len(ours):
                        diffs.append(abs(float(ours[metric + suffix].mean()) - float(cell["value"].iloc[0])))
            gaps[f"mean |ours - paper| {metric}"] = float(np.mean(diffs)) if diffs else float("nan")
        fit.append({"definition": definition, **gaps})
    return pd.DataFrame(fit)


def closer_definition(fit: pd.DataFrame) -> str:
    """The definition of :func:`definition_fit` with the smaller PSNR gap."""
    return str(fit.set_index("definition")["mean |ours - paper| psnr"].idxmin())


def table5_metrics(definition: str) -> dict[str, str]:
    """Table 5's columns: ``coss``/``psnr``/``ssim`` (compared with the paper) under ``definition`` (the one
    the paper's cells match, :func:`closer_definition`), the other definition as ``<m>_<other>``, the
    whole-image values as ``<m>_full``, and the detection columns."""
    other = next(d for d in DEFINITIONS if d != definition)
    cols = {"acc": "acc", "bacc": "bacc", "tpr": "tpr", "tnr": "tnr",
            "coss": "coss_region", "psnr": f"psnr{DEFINITIONS[definition]}", "ssim": f"ssim{DEFINITIONS[definition]}",
            f"psnr_{other}": f"psnr{DEFINITIONS[other]}", f"ssim_{other}": f"ssim{DEFINITIONS[other]}"}
    cols.update({"coss_full": "coss", "psnr_full": "psnr", "ssim_full": "ssim"})
    return cols


def panel_metrics(rows: pd.DataFrame, definition: str) -> dict[str, dict[str, float]]:
    """One image's model rows of :func:`evaluate_in_region` -> method -> its in-region ``coss``, ``psnr``,
    ``ssim`` under ``definition`` (Table 5's, :func:`closer_definition`): what Fig. 7 prints on each prediction."""
    cols = table5_metrics(definition)
    return {r["method"]: {m: float(r[cols[m]]) for m in ("coss", "psnr", "ssim")} for _, r in rows.iterrows()}


def fig7_title(definition: str) -> str:
    """Fig. 7's title: what the models were trained and tested on and the in-region definition its panels print."""
    return (f"trained on STGAN {TABLE5_TRAIN}, tested on Black_Hair (in-region metrics, {definition} definition, "
            "as Table 5)")


def zero_map_sentence(table5: pd.DataFrame, definition: str) -> str:
    """What the all-zero map scores in Table 5 under ``definition`` (its PSNR / SSIM per test property)."""
    z = table5[table5["predictor"] == "zeros"]
    if z.empty or "psnr" not in z:
        return ""
    cells = "; ".join(f"{r.property} {r.psnr:.1f} dB / {r.ssim:.3f}" for r in z.itertuples())
    return (f"Under the {definition} definition the all-zero map (row `zeros`) already scores PSNR / SSIM {cells}: "
            "read our and the paper's in-region PSNR and SSIM against it.")


def table5_verdict(table5: pd.DataFrame, names: dict[str, str], chosen: str,
                   attention: pd.DataFrame | None = None) -> list[str]:
    """Table 5 in sentences: per test property the three models' bACC and in-region COSS, then, from the paired
    comparisons of :func:`attention_contrasts` (``attention``: each model with attention minus ``no_fp`` on the same
    images, 95 % intervals), on how many test properties the paper's mechanism (``with_fp``) and the variant chosen
    on validation lie above / below ``no_fp`` in bACC and in-region COSS, and whether a classifier collapsed."""
    m = table5[table5["predictor"] == MODEL].set_index(["property", "method"])
    props = [p for p in TABLE5_TESTS if (p, "no_fp") in m.index]
    variant = names.get(chosen, f"fp_{chosen}")
    lines = []
    for prop in props:
        cells = [m.loc[(prop, k)] for k in ("no_fp", "with_fp", variant) if (prop, k) in m.index]
        lines.append(f"{prop}: bACC " + " / ".join(f"{c.bacc:.3f}" for c in cells) + ", in-region COSS "
                     + " / ".join(f"{c.coss:.3f}" for c in cells))
    n = len(props)
    if attention is not None and len(attention):
        per = attention[attention["property"].isin(props) & (attention["table"] == "Table 5")]
        for comparison, what in (("paper", "the paper's mechanism `with_fp`"),
                                 ("chosen", f"the variant chosen on validation `{variant}`")):
            sub = per[per["comparison"] == comparison]
            if sub.empty:
                continue
            count = {(k, v): int((sub[f"{k}_verdict"] == v).sum()) for k in ("bacc", "coss") for v in ("above", "below")}
            collapsed = sorted(sub.loc[sub["collapsed_with"], "property"])
            lines.append(f"Against `no_fp` on the same images (paired, 95 % interval), {what} is above on bACC for "
                         f"{count[('bacc', 'above')]} of {n} test properties (below for {count[('bacc', 'below')]}) and on "
                         f"in-region COSS for {count[('coss', 'above')]} of {n} (below for {count[('coss', 'below')]})"
                         + (f"; its classifier collapsed (one answer to every image) on {', '.join(collapsed)}"
                            if collapsed else ""))
    paper_helps = "the paper found attention helps on all three"
    return ["no_fp / with_fp / " + variant + ". " + "; ".join(lines[:n]) + ". " + ". ".join(lines[n:])
            + f". ({paper_helps}; a gain whose paired interval contains 0 is not a reproduction of it.)"]


def leave_out_sentence(table: pd.DataFrame, without: str, with_attention: str, properties=None) -> str:
    """Notebook 04's reading of the leave-out table: per unseen property, in-region COSS and balanced ACC of the
    universal model without and with face attention, and whether attention helps on both, on neither, or on one."""
    lm = table[table["predictor"] == MODEL].set_index(["property", "method"])
    parts, gains = [], []
    for p in properties or LEAVE_OUT:
        a, b = lm.loc[(p, without)], lm.loc[(p, with_attention)]
        parts.append(f"{p}: in-region COSS {a['coss']:.3f} → {b['coss']:.3f}, balanced ACC {a['bacc']:.3f} → "
                     f"{b['bacc']:.3f}")
        gains += [b["coss"] > a["coss"], b["bacc"] > a["bacc"]]
    verdict = ("attention raises both on every unseen property" if all(gains) else
               "attention raises neither on any unseen property" if not any(gains) else
               f"attention raises {sum(gains)} of these {len(gains)} values")
    return "; ".join(parts) + f" (without → with attention): {verdict}."


# --- the attention claim, paired over the same test images ----------------------------------------------

#: The name of the table of :func:`attention_contrasts` (``results/tables/table5_attention.csv``).
ATTENTION_TABLE = "table5_attention"


def _paired_models(rows: pd.DataFrame, with_: str, without: str, properties) -> dict | None:
    """bACC and in-region COSS of ``with_`` minus ``without`` (``method`` values of per-image model rows) over the same
    images: the fakes of ``properties`` and every real; ``None`` when either model has no such rows."""
    model = rows[rows["predictor"] == MODEL]
    keep = (model["label"] == 0) | model["property"].isin(list(properties))
    a = model[keep & (model["method"] == with_)]
    b = model[keep & (model["method"] == without)]
    both = a.merge(b[["source", "pred_fake", "coss_region"]], on="source", suffixes=("", "_without"))
    if both.empty or not (both["label"] == 1).any() or not (both["label"] == 0).any():
        return None
    ids = both["identity"].astype(str).to_numpy()
    bacc, bacc_lo, bacc_hi = paired_bacc_difference(ids, both["pred_fake"], both["pred_fake_without"], both["label"])
    fakes = both[both["label"] == 1]
    coss, coss_lo, coss_hi = paired_difference(fakes["identity"].astype(str).to_numpy(), fakes["coss_region"],
                                               fakes["coss_region_without"])

    def rates(col):
        f, r = both.loc[both["label"] == 1, col], both.loc[both["label"] == 0, col]
        return float((f > 0.5).mean()), float((r <= 0.5).mean())

    (tpr, tnr), (tpr0, tnr0) = rates("pred_fake"), rates("pred_fake_without")
    return {"n_fakes": int((both["label"] == 1).sum()), "n_reals": int((both["label"] == 0).sum()),
            "bacc_with": (tpr + tnr) / 2, "bacc_without": (tpr0 + tnr0) / 2, "tpr_with": tpr, "tnr_with": tnr,
            "tpr_without": tpr0, "tnr_without": tnr0,
            "collapsed_with": bool(both["pred_fake"].nunique() == 1),
            "collapsed_without": bool(both["pred_fake_without"].nunique() == 1),
            "bacc_diff": bacc, "bacc_diff_lo": bacc_lo, "bacc_diff_hi": bacc_hi, "bacc_verdict": paired_verdict(bacc_lo, bacc_hi),
            "coss_diff": coss, "coss_diff_lo": coss_lo, "coss_diff_hi": coss_hi, "coss_verdict": paired_verdict(coss_lo, coss_hi)}


def attention_contrasts(df5: pd.DataFrame, names: dict[str, str], chosen: str, leave_rows: pd.DataFrame | None = None,
                        leave_names: dict[str, str] | None = None) -> pd.DataFrame:
    """The attention claim as paired comparisons, each a model with face attention minus the same model without on
    the same test images (the fakes of the properties the models never saw in training, and the test reals): bACC
    (:func:`fklib.metrics.groups.paired_bacc_difference`) and in-region COSS (masked), with 95 % intervals over
    identities, per test property and pooled (``all``). Comparisons: ``paper``: the paper's product (Table 5's
    ``with_fp``), ``chosen``: the variant chosen on validation (``fp_<chosen>``), both trained on STGAN
    :data:`TABLE5_TRAIN`; ``leave_out``: the universal model with the chosen variant against without, on the
    properties left out of its training (:data:`LEAVE_OUT`; ``leave_rows`` with ``leave_names`` ``universal`` /
    ``universal_fp``). ``collapsed_*``: the model gives one answer to every image of the cell."""
    tests = [("paper", "Table 5", names.get("paper", "with_fp"), names.get("no_fp", "no_fp"), df5, TABLE5_TESTS)]
    if chosen != "paper":
        tests.append(("chosen", "Table 5", names.get(chosen, f"fp_{chosen}"), names.get("no_fp", "no_fp"), df5,
                      TABLE5_TESTS))
    if leave_rows is not None and leave_names:
        tests.append(("leave_out", "table5_leave_out", leave_names["universal_fp"], leave_names["universal"],
                      leave_rows, LEAVE_OUT))
    out = []
    for comparison, table, with_, without, rows, props in tests:
        for prop in [*props, "all"]:
            got = _paired_models(rows, with_, without, props if prop == "all" else [prop])
            if got is not None:
                out.append({"comparison": comparison, "table": table, "with": with_, "without": without,
                            "property": prop, **got})
    return pd.DataFrame(out)


def attention_note() -> str:
    """The note of :func:`attention_contrasts`' table."""
    return ("Face attention, paired: each row a model with face attention minus the same model without, on the same "
            "test images (the fakes of properties absent from its training, with the test reals). `paper`: the paper's "
            "product (`with_fp`), `chosen`: the variant chosen on validation, both trained on STGAN Blond_Hair (Table "
            "5); `leave_out`: the universal model with the chosen variant against without, on the properties left out "
            "of its training (table5_leave_out). bacc_diff: balanced ACC with − without (both decisions of an image "
            "drawn together), coss_diff: in-region COSS (masked), 95 % intervals over identities; `all`: the "
            "properties pooled. collapsed_*: one answer to every image (TPR 0 and TNR 1, or the reverse).")


def parsing_gallery_faces(n: int = 10, set_name: str = "stgan", split: str = "test"):
    """The parsing gallery's faces (``results/figures/parsing_gallery.png``): the first ``n`` real test faces of
    ``set_name``, our parser's maps of them and their identities: ``(faces, maps, titles)``."""
    reals = [it for it in load_set(set_name, split=split) if it.label == 0][:n]
    faces = np.stack([np.asarray(it.image) for it in reals])
    return faces, parse(load_parser(), faces, size=PARSER_SIZE), [str(it.identity) for it in reals]
