"""What limits the hybrid locator on full STGAN edits, and which score separates reals from fakes (validation only).

Three measurements of a trained hybrid locator (default: the shipped ``models/fakelocator.safetensors``) on
the STGAN **validation** identities and the validation splices; the test split is never touched.

1. ``hybrid_limits``: COSS / SSIM / pixel AUC of the maps the hybrid is made of and of what it could be
   made of: its texture map alone, the layout of the property its head recognises (per-property mean
   maps, as the hybrid uses them, and the layout prior's ``sqrt(T[p, parsing] * mean_p)``), the layout
   prior of the **true** property (the reference the network must beat; an oracle for the network), and
   combinations of that oracle with the texture map: the ceiling of a texture-and-layout design whose
   property recognition were perfect. Also the gate's mean on full edits and on splices.
2. ``property_recognition``: the share of validation edits whose property the property head recognises,
   per property, and a linear probe (logistic regression on the frozen encoder's pooled features,
   trained on the training identities' edits and their mirrors) at a few weight decays: what the
   features hold about the property.
3. ``detection_scores``: per validation set, the image-level AUC (fakes against the set's reals) of
   the classifier's p(fake), of the map's mean and of its peak (99th percentile,
   :func:`fklib.metrics.map_peak`): which score the decision should read.

    python experiments/hybrid_limits.py [--checkpoint models/fakelocator.safetensors] [--out DIR]

Writes ``results/tables/{hybrid_limits,property_recognition,detection_scores}.csv`` / ``.md``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from fklib.checkpoint import load_trained
from fklib.config import PROPERTY_CLASSES, STGAN_PROPERTIES
from fklib.convert import tensor_to_image
from fklib.data import ensure_splice_set, load_set
from fklib.engine.evaluate import fit_references
from fklib.engine.scoring import batches, predict
from fklib.metrics import coss_batch, map_peak, ssim_batch
from fklib.metrics.pixel import pixel_auc
from fklib.models.efficientnet_unet import layout_map
from fklib.parsing import load_parser, parse
from fklib.report import save_table
from fklib.report.provenance import experiment_command, record_experiment


def image_auc(scores, labels) -> float:
    """P(score of a fake > score of a real) + half the ties (the image-level ROC AUC).

    Kept beside :func:`fklib.metrics.pixel_auc` (the same AUC by ranks, on HxW maps): with tied scores the two
    round differently in the last bit, which would move the committed ``detection_scores.csv``."""
    s, y = np.asarray(scores, float), np.asarray(labels, int)
    pos, neg = s[y == 1], s[y == 0]
    if not len(pos) or not len(neg):
        return float("nan")
    return float((pos[:, None] > neg[None]).mean() + 0.5 * (pos[:, None] == neg[None]).mean())


def layout_tables(refs, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per :data:`PROPERTY_CLASSES` entry: the per-property mean map (K x S x S) and the layout table (K x 19);
    zeros for the classes without training fakes (Real, Reconstruction)."""
    known = refs.layout.tables
    means = torch.stack([torch.from_numpy(refs.maps.predict("property_mean", p, (size, size))) if p in known
                         else torch.zeros(size, size) for p in PROPERTY_CLASSES])
    zero = np.zeros_like(refs.layout.global_table)
    tables = torch.stack([torch.from_numpy(known.get(p, zero)).float() for p in PROPERTY_CLASSES])
    return means, tables


@torch.no_grad()
def gate_mean(model, items, size: int) -> float:
    """The hybrid's gate averaged over the pixels of ``items``' fakes."""
    gate, means = {}, []
    hook = model.gate.register_forward_hook(lambda m, i, o: gate.__setitem__("g", torch.sigmoid(o)))
    try:
        for batch, _ in predict(model, items, size, fold=False):
            fake = batch["label"] > 0.5
            means += gate["g"][fake].float().mean((1, 2, 3)).tolist()
    finally:
        hook.remove()
    return float(np.mean(means))


@torch.no_grad()
def map_candidates(model, items, size: int, means, tables, parser, model_label: str = "model") -> tuple[pd.DataFrame, list]:
    """Per fake of ``items``: COSS / SSIM / AUC of each candidate map (the model's own row named ``model_label``: the
    checkpoint measured, never "as shipped"); the property head's calls."""
    rows, calls = [], []
    for batch, out in predict(model, items, size):
        fake = batch["label"] > 0.5
        if not fake.any():
            continue
        gt, t = batch["gt_map"][fake], out.texture[fake].float()
        prob = out.property_logits[fake].float().softmax(1)
        props = [p for p, f in zip(batch["property"], fake.tolist()) if f]
        k = torch.tensor([PROPERTY_CLASSES.index(p) for p in props])
        lookup = tables[:, torch.from_numpy(parse(parser, tensor_to_image(batch["image"][fake]))).long()]
        lookup = lookup.permute(1, 0, 2, 3)                                   # B x K x H x W
        layout_k = torch.sqrt(lookup * means[None])                           # the layout prior of each class
        oracle = layout_k[torch.arange(len(k)), k][:, None]
        t_rel = (t / t.mean((2, 3), keepdim=True).clamp_min(1e-4)).clamp(0, 3)
        cands = {
            model_label: out.map[fake].float(),
            "texture map alone": t,
            "recognised property: per-property mean maps (the hybrid's layout term)":
                layout_map(out.property_logits[fake], model.prior_maps, (size, size)),
            "recognised property: layout prior": (layout_k * prob[:, :, None, None]).sum(1, keepdim=True),
            "true property: layout prior (the reference; an oracle)": oracle,
            "oracle layout prior x texture: sqrt(product)": torch.sqrt(oracle * t),
            "oracle layout prior x texture relative to its mean": oracle * t_rel,
            "0.7 oracle layout prior + 0.3 texture": 0.7 * oracle + 0.3 * t,
            "0.5 oracle layout prior + 0.5 texture": 0.5 * oracle + 0.5 * t,
        }
        for name, m in cands.items():
            m = m.clamp(0, 1)
            c, s = coss_batch(m, gt).tolist(), ssim_batch(m, gt).tolist()
            a = [pixel_auc(m[i, 0].numpy(), gt[i, 0].numpy()) for i in range(len(m))]
            rows += [{"candidate": name, "property": p, "coss": ci, "ssim": si, "auc": ai}
                     for p, ci, si, ai in zip(props, c, s, a)]
        calls += list(zip(props, prob.argmax(1).tolist()))
    return pd.DataFrame(rows), calls


@torch.no_grad()
def pooled_features(model, items, size: int, flip: bool = False) -> torch.Tensor:
    """Global mean and max of the encoder's stride-8, 16 and 32 features (the property head reads stride 32)."""
    feats = {}
    hook = model.encoder.register_forward_hook(lambda m, i, o: feats.__setitem__("f", o))
    out = []
    try:
        for b in batches(items, size):
            x = b["image"].flip(-1) if flip else b["image"]
            model(x)
            out.append(torch.cat([torch.cat([f.float().mean((2, 3)), f.float().amax((2, 3))], 1)
                                  for f in feats["f"][2:]], 1))
    finally:
        hook.remove()
    return torch.cat(out)


def linear_probe(x_train, y_train, x_val, y_val, weight_decay: float, steps: int = 400, seed: int = 0) -> float:
    """Validation accuracy of a logistic regression (Adam, full batch, standardised features)."""
    torch.manual_seed(seed)
    mu, sd = x_train.mean(0), x_train.std(0) + 1e-5
    lin = torch.nn.Linear(x_train.shape[1], int(y_train.max()) + 1)
    opt = torch.optim.Adam(lin.parameters(), lr=1e-2, weight_decay=weight_decay)
    for _ in range(steps):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(lin((x_train - mu) / sd), y_train).backward()
        opt.step()
    with torch.no_grad():
        return float((lin((x_val - mu) / sd).argmax(1) == y_val).float().mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", default="models/fakelocator.safetensors")
    ap.add_argument("--out", type=Path, default=None, help="results folder (default: the project's results/)")
    args = ap.parse_args()
    torch.manual_seed(0)
    locator = load_trained(args.checkpoint)
    model, cfg = locator.model, locator.config
    if getattr(model, "gate", None) is None:
        raise SystemExit(f"{args.checkpoint}: not a hybrid locator (no gate)")
    size, parser = cfg.size, load_parser()
    means, tables = layout_tables(fit_references(cfg), size)
    command = f"Command: `python experiments/hybrid_limits.py --checkpoint {args.checkpoint}`."
    what = f"{cfg.name}, weights {locator.weights_sha256[:8]}…, {args.checkpoint}"  # the model measured, by name
    label = f"model ({what})"
    command += f" Model measured: {what}."

    # 1. the maps
    val = load_set("stgan", split="val")
    splices = load_set("generic", folder=ensure_splice_set("stgan_val", cfg.data_dir))
    rows, calls = map_candidates(model, val, size, means, tables, parser, label)
    gate_full, gate_splice = gate_mean(model, val, size), gate_mean(model, splices, size)
    maps = rows.groupby("candidate", sort=False)[["coss", "ssim", "auc"]].mean().reset_index()
    maps.insert(1, "n_fakes", rows.groupby("candidate", sort=False).size().to_numpy())
    print(maps.to_string(), flush=True)
    save_table(maps, "hybrid_limits", results_dir=args.out,
               title="What the hybrid locator is made of, and its ceiling with the true property (STGAN validation edits)",
               note=(f"Means over the {maps['n_fakes'].iloc[0]} STGAN validation edits (13 properties, equal counts). "
                     "'Recognised property': weighted by the property head's softmax; 'true property': the layout prior "
                     "reference, which knows the edited property (an oracle for the network). The hybrid's gate "
                     f"averages {gate_full:.3f} on these edits and {gate_splice:.3f} on the validation splices (it "
                     "starts at 0.119). " + command))

    # 2. the property
    head = pd.DataFrame([{"property": p, "recognised": PROPERTY_CLASSES[c] == p} for p, c in calls])
    per = head.groupby("property")["recognised"].agg(["mean", "size"]).reset_index()
    per.columns = ["property", "recognised_by_the_head", "n"]
    train = [it for it in load_set("stgan", split="train") if it.label == 1 and it.property in STGAN_PROPERTIES]
    val_fakes = [it for it in val if it.label == 1 and it.property in STGAN_PROPERTIES]
    y_tr = torch.tensor([STGAN_PROPERTIES.index(it.property) for it in train])
    y_va = torch.tensor([STGAN_PROPERTIES.index(it.property) for it in val_fakes])
    x_tr = torch.cat([pooled_features(model, train, size), pooled_features(model, train, size, flip=True)])
    x_va = pooled_features(model, val_fakes, size)
    probes = {wd: linear_probe(x_tr, torch.cat([y_tr, y_tr]), x_va, y_va, wd) for wd in (1e-4, 1e-3, 1e-2, 3e-2)}
    # the same probe on a seeded share of the training identities: does recognition grow with data?
    ids = sorted({it.identity for it in train})
    curve = {}
    for fraction in (0.25, 0.5):
        keep = set(np.random.default_rng(0).choice(ids, round(fraction * len(ids)), replace=False).tolist())
        sel = torch.tensor([it.identity in keep for it in train])
        sel2 = torch.cat([sel, sel])
        curve[fraction] = (len(keep), linear_probe(x_tr[sel2], torch.cat([y_tr, y_tr])[sel2], x_va, y_va, 3e-2))
    curve[1.0] = (len(ids), probes[3e-2])
    per = pd.concat([per, pd.DataFrame([{"property": "all (the head)", "recognised_by_the_head": head["recognised"].mean(),
                                         "n": len(head)}]),
                     pd.DataFrame([{"property": f"all (linear probe, weight decay {wd:g})", "recognised_by_the_head": acc,
                                    "n": len(val_fakes)} for wd, acc in probes.items()]),
                     pd.DataFrame([{"property": f"all (linear probe, weight decay 0.03, {n_ids} training identities = "
                                                f"{round(100 * f)} %)", "recognised_by_the_head": acc, "n": len(val_fakes)}
                                   for f, (n_ids, acc) in curve.items()])], ignore_index=True)
    per = per.rename(columns={"recognised_by_the_head": "recognised"})
    print(per.to_string(), flush=True)
    save_table(per, "property_recognition", results_dir=args.out,
               title="Which property was edited, from the edited image alone (STGAN validation edits)",
               note=("Share of the validation edits whose property is the argmax of the property head (16 classes), per "
                     f"property; and of a linear probe on the frozen encoder's pooled stride-8/16/32 features, trained on "
                     f"the {len(train)} training-identity edits and their mirrors (13 classes; chance 0.077). " + command))

    # 3. detection scores
    det = []
    sets = (("STGAN", load_set("stgan", split="val")), ("StarGAN", load_set("stargan", split="val")),
            ("InterFaceGAN", load_set("interfacegan", split="val")),
            ("STGAN splices (the folder holds their reals)", splices))
    for name, items in sets:
        prob, mean, peak, label = [], [], [], []
        for b, out in predict(model, items, size):
            prob += torch.sigmoid(out.logit.float()).tolist()
            mean += out.map.float().mean((1, 2, 3)).tolist()
            peak += map_peak(out.map.float()).tolist()
            label += b["label"].tolist()
        det.append({"set": name, "n_fakes": int(np.sum(label)), "n_reals": int(len(label) - np.sum(label)),
                    "auc_p_fake": image_auc(prob, label), "auc_map_mean": image_auc(mean, label),
                    "auc_map_peak": image_auc(peak, label)})
    det = pd.DataFrame(det)
    print(det.to_string(), flush=True)
    save_table(det, "detection_scores", results_dir=args.out,
               title="Which score tells a fake from a real (image-level AUC, validation identities)",
               note=("AUC of the fakes of each validation set against its reals for the classifier's p(fake), the map's "
                     "mean and the map's peak (99th percentile). " + command))
    record_experiment(["hybrid_limits", "property_recognition", "detection_scores"], args.checkpoint,
                      experiment_command(sys.argv), args.out)


if __name__ == "__main__":
    main()
