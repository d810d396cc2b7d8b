"""Is the locator data-bound, and does it find the edits of a GAN it never saw? (learning curve, leave one GAN out)

    python experiments/gan_data.py learning-curve            # 10 %, 30 %, 100 % of the new sets' training faces
    python experiments/gan_data.py leave-out                 # one model without each GAN, on that GAN's test split
    python experiments/gan_data.py all                       # both (the 100 % model is shared)

Every model here trains the ``cpu`` recipe (``fklib.config.PROFILES["cpu"]``: data mix, JPEG and splice
augmentation, loss, network) at one short budget, :data:`BUDGET`: from ImageNet (the shipped model and its
``models/init/`` start saw STGAN and StarGAN, so they cannot be the start of a model that must not), 2 epochs
of 2,000 draws, lr 1e-3. The shipped model (4 x 8,000 draws from ``u3``) is far longer trained: compare these
models with one another, not with it.

- ``learning-curve``: the training faces (identities) of the two new sets -- StarGAN-128 and
  AttGAN + AttentionGAN -- cut to a seeded fraction, every other set whole; scored on the validation split
  (STGAN, StarGAN-128, AttGAN, AttentionGAN; clean). Writes ``results/tables/gan_learning_curve.*``.
- ``leave-out``: for each GAN g of STGAN, StarGAN (StarGAN-128 and the StarGAN-256 strips), AttGAN and
  AttentionGAN, a model trained without g's fakes and reals (and without g's validation images and splices,
  which choose the epoch), scored on g's test split next to the model trained on everything at the same
  budget. Writes ``results/tables/gan_leave_out.*``.

Both compare with one set of references, the layout prior and mean maps fitted on the full ``cpu`` training
fakes. Checkpoints go to ``checkpoints/gan_data_*`` and are reused when config and items match.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from all_gans_targets import targets_table  # noqa: E402  (the targets' scoring, one row per set / property)

from fklib.config import make_config  # noqa: E402
from fklib.engine.evaluate import fit_references  # noqa: E402
from fklib.engine.items import training_items  # noqa: E402
from fklib.report.provenance import record_experiment  # noqa: E402
from fklib.report.tables import markdown_table, save_table  # noqa: E402
from fklib.studies.cache import ensure_trained, training_summary  # noqa: E402

#: One short budget for every model of this experiment (fields of :class:`fklib.config.TrainConfig`).
#: resample_p 0: the cpu profile's last fine-tuning stage (random similarity warps) came after these models.
BUDGET = dict(init_from=None, lr=1e-3, warmup=0, epochs=2, samples_per_epoch=2000, val_max_items=120, resample_p=0.0)
#: The sets whose training faces the learning curve cuts (folder names).
NEW_SETS = ("stargan_celeba128", "attgan_attentiongan_celeba128")
#: GAN -> (which items are its own, the config sets it removes, its validation splice set or None, its test sets
#: in experiments/all_gans_targets.py).
GANS = {
    "stgan": (lambda it: it.set == "stgan_celeba128", ["stgan"], "stgan_val", ["stgan"]),
    "stargan": (lambda it: it.set in ("stargan_celeba128", "stargan_disrupted256"), ["stargan", "stargan128"],
                "stargan_val", ["stargan128", "stargan256"]),
    "attgan": (lambda it: it.gan == "attgan" or it.source.endswith("#real-attgan"), [], None, ["attgan"]),
    "attentiongan": (lambda it: it.gan == "attentiongan" or it.source.endswith("#real-attentiongan"), [], None,
                     ["attentiongan"]),
}
VAL_SETS = ("stgan", "stargan128", "attgan", "attentiongan")
COLUMNS = ("set", "n_fakes", "n_reals", "coss", "coss_layout_prior", "ssim", "auc", "auc_layout_prior",
           "auc_vs_layout_prior_verdict", "tpr", "tnr", "bacc", "bacc_lo", "bacc_hi")


def base_config():
    return dataclasses.replace(make_config("cpu"), **BUDGET)


def identity_subset(items: list, fraction: float, seed: int = 0) -> list:
    """The items of a seeded ``fraction`` of each set's identities (at least one per set), sets drawn in sorted
    order (experiments/learning_curve.py draws them in the items' order: its committed subsets depend on that)."""
    by_set: dict[str, list] = {}
    for it in items:
        by_set.setdefault(it.set, []).append(it)
    rng, kept = np.random.default_rng(seed), []
    for name in sorted(by_set):
        ids = sorted({it.identity for it in by_set[name]})
        chosen = set(rng.choice(ids, max(1, round(fraction * len(ids))), replace=False).tolist())
        kept += [it for it in by_set[name] if it.identity in chosen]
    return kept


def new_faces_cut(fraction: float):
    """The training-items filter keeping ``fraction`` of the new sets' faces (all of them at 1)."""
    if fraction >= 1:
        return lambda items: items
    return lambda items: ([it for it in items if it.set not in NEW_SETS]
                          + identity_subset([it for it in items if it.set in NEW_SETS], fraction))


#: The checkpoints :func:`train` gave since the last table was written (its provenance rows).
TRAINED: list[Path] = []


def train(cfg, keep=lambda it: True, train_filter=lambda items: items) -> tuple[Path, dict]:
    """Train (or reuse) ``cfg`` on its training items that ``keep`` accepts, cut by ``train_filter``."""
    train_items = train_filter([it for it in training_items(cfg, "train") if keep(it)])
    val_items = [it for it in training_items(cfg, "val") if keep(it)]
    start = time.time()
    ckpt = ensure_trained(cfg, train_items, val_items)
    TRAINED.append(ckpt)
    info = {"train_items": len(train_items), "train_fakes": sum(it.label for it in train_items),
            "identities": len({(it.set, it.identity) for it in train_items}),
            "train_minutes": training_summary(ckpt)["minutes"], "wall_minutes": round((time.time() - start) / 60, 1)}
    print(cfg.name, info, flush=True)
    return ckpt, info


def scored(ckpt: Path, split: str, names, refs) -> pd.DataFrame:
    df = targets_table(str(ckpt), split, names, ("clean",), references=refs)
    return df[df["property"] == "all"]


def learning_curve(fractions, refs) -> pd.DataFrame:
    rows = []
    for fraction in fractions:
        cfg = dataclasses.replace(base_config(), name=f"gan_data_new{round(100 * fraction)}pct")
        ckpt, info = train(cfg, train_filter=new_faces_cut(fraction))
        for _, r in scored(ckpt, "val", VAL_SETS, refs).iterrows():
            rows.append({"fraction_of_new_faces": fraction, **info, **{c: r[c] for c in COLUMNS}})
    return pd.DataFrame(rows)


def leave_out(gans, refs) -> pd.DataFrame:
    base = base_config()
    full, full_info = train(dataclasses.replace(base, name="gan_data_new100pct"))
    rows = []
    for gan in gans:
        own, removed_sets, val_splices, tests = GANS[gan]
        cfg = dataclasses.replace(
            base, name=f"gan_data_without_{gan}", sets=[s for s in base.sets if s not in removed_sets],
            set_shares={k: v for k, v in base.set_shares.items() if k not in removed_sets},
            val_splice_sets=[s for s in base.val_splice_sets if s != val_splices])
        ckpt, info = train(cfg, keep=lambda it, own=own: not own(it))
        for model, path, inf in (("trained on every GAN", full, full_info), (f"without {gan}", ckpt, info)):
            for _, r in scored(path, "test", tests, refs).iterrows():
                rows.append({"left_out": gan, "model": model, "train_fakes": inf["train_fakes"],
                             "train_minutes": inf["train_minutes"], **{c: r[c] for c in COLUMNS}})
    return pd.DataFrame(rows)


def write(frame: pd.DataFrame, name: str, title: str, command: str, out: Path | None) -> None:
    budget = ", ".join(f"{k}={v}" for k, v in BUDGET.items())
    note = (f"`{command}`. Every model: the cpu recipe at one budget ({budget}); references (layout prior) fitted "
            "on the full cpu training fakes; verdicts are paired (model - layout prior over the same images, 95 % "
            "interval, identities resampled).")
    save_table(frame, name, note=note, results_dir=out, title=title)  # atomic writes of the .csv and .md
    record_experiment([name], sorted(set(TRAINED)), command, out)
    TRAINED.clear()
    print(markdown_table(frame.round(4)))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("command", choices=["learning-curve", "leave-out", "all"])
    p.add_argument("--fractions", type=float, nargs="+", default=[0.1, 0.3, 1.0])
    p.add_argument("--gans", nargs="+", default=list(GANS), choices=list(GANS))
    p.add_argument("--out", type=Path, default=None, help="results folder (default: the project's results/)")
    args = p.parse_args(argv)
    refs = fit_references(dataclasses.replace(base_config(), include_reconstruction=False))
    command = "python experiments/gan_data.py " + " ".join(argv if argv is not None else sys.argv[1:])
    if args.command in ("learning-curve", "all"):
        write(learning_curve(args.fractions, refs), "gan_learning_curve",
              "Learning curve over the new sets' training faces (validation split)", command, args.out)
    if args.command in ("leave-out", "all"):
        write(leave_out(args.gans, refs), "gan_leave_out", "Leave one GAN out (each GAN's test split)", command,
              args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
