"""``python -m fklib <command>``: the project's commands (thin: parse, call, print).

    data      fetch, splits, prepare        (same as ``python -m fklib.data``)
    train     train a locator               (``--profile cpu|paper|smoke``, ``--config F.yaml``, ``--override k=v``)
    evaluate  evaluate a checkpoint         (one CSV row per image, summary with reference predictors)
    locate    fakeness map of any image     (map PNG, overlay PNG, JSON; default: the shipped model)
    export    ship a checkpoint             (models/fakelocator.safetensors + model card)

Exit status: 0 done, 1 any failure (bad arguments included; one line ``error: ...``), 130 interrupted
(Ctrl-C) or 143 (SIGTERM) with one line ``interrupted; ...`` (:mod:`fklib.cli`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from . import cli


def _train(argv: list[str]) -> int:
    from .config import baseline_config, make_config, parse_override  # lazy: `locate` must not import the engine
    from .engine import fit  # lazy: as above

    p = cli.ArgumentParser(prog="python -m fklib train", description="Train a FakeLocator model.")
    p.add_argument("--profile", default="cpu", help="starting point: cpu (default), paper, smoke")
    p.add_argument("--config", type=Path, default=None, help="YAML file of TrainConfig fields (may set 'profile')")
    p.add_argument("--override", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override one field, value parsed as YAML (repeatable), e.g. --override epochs=3")
    # the option's earlier name, kept so that recorded commands (model cards, README rows) still run; `--set`
    # names a data set in `evaluate` and `python -m fklib.data fetch`
    p.add_argument("--set", dest="overrides", action="append", metavar="KEY=VALUE", help=argparse.SUPPRESS)
    p.add_argument("--baseline", action="store_true",
                   help="the DFFD baseline of Table 2 on STGAN Bald for this profile (fklib.config.baseline_config)")
    p.add_argument("--resume", action="store_true", help="continue from <out_dir>/last.pt")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the run already in <out_dir> (without it, or --resume, such a folder is refused)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    args = p.parse_args(argv)
    overrides = dict(parse_override(o) for o in args.overrides)
    if args.baseline:
        if args.config is not None:
            raise ValueError("--baseline and --config cannot be combined; use --override")
        cfg = baseline_config(args.profile, **overrides)
    else:
        cfg = make_config(args.profile, args.config, overrides)
    print(f"train: {cfg.name}: model={cfg.model} loss={cfg.loss} size={cfg.size} epochs={cfg.epochs} "
          f"-> {cfg.checkpoint_dir()}")
    try:
        res = fit(cfg, resume=args.resume, overwrite=args.overwrite, progress=not args.quiet)
    except KeyboardInterrupt:
        raise KeyboardInterrupt(resume_hint(cfg)) from None
    if not Path(res["best"]).is_file():
        print(f"error: {res['best']}: not written (no epoch had a finite validation score); last {res['last']}",
              file=sys.stderr)
        return 1
    print(f"train: best checkpoint {res['best']}, last {res['last']}")
    return 0


def resume_hint(cfg) -> str:
    """What an interrupted ``train`` says: how to go on from its ``last.pt`` (or that there is none yet)."""
    from .checkpoint import load_checkpoint  # lazy: `locate` must not import the engine

    last = cfg.checkpoint_dir() / "last.pt"
    try:
        epoch = json.loads(load_checkpoint(last)["history"])[-1]["epoch"]
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return f"no epoch finished, nothing to resume ({last} not written)"
    return f"resume with --resume ({last}, after epoch {epoch} of {cfg.epochs})"


def _evaluate(argv: list[str]) -> int:
    import pandas as pd  # lazy: each command imports only what it needs

    from .data.readers import BadFilesError  # lazy: each command imports only what it needs
    from . import engine  # lazy: `locate` must not import the engine
    from .checkpoint import load_trained  # lazy: each command imports only what it needs
    from .files import check_out_file, write_atomically  # lazy: each command imports only what it needs

    p = cli.ArgumentParser(prog="python -m fklib evaluate", description="Evaluate a checkpoint.")
    p.add_argument("--checkpoint", required=True, type=Path)
    p.add_argument("--data", type=Path, default=None, help="folder in a reader layout (default data/<set>)")
    p.add_argument("--set", dest="set_name", default="stgan",
                   choices=["stgan", "stargan128", "attgan_attentiongan", "attgan", "stargan", "interfacegan", "generic"])
    p.add_argument("--split", default="test", choices=["train", "val", "test", "all"])
    p.add_argument("--out", type=Path, default=None, help="per-image CSV (default: print the summary only)")
    p.add_argument("--device", default="auto")
    p.add_argument("--no-references", action="store_true", help="skip the input-blind reference predictors")
    p.add_argument("--tta", action="store_true", help="average with the prediction on the mirrored image")
    p.add_argument("--skip-bad", action="store_true",
                   help="evaluate the readable files and list the bad ones (default: name every bad file, stop)")
    args = p.parse_args(argv)
    if args.out:
        check_out_file(args.out)  # before the evaluation: a bad --out fails at once, naming it
    try:
        df = engine.evaluate_locator(load_trained(args.checkpoint), args.set_name, args.data, args.split,
                                     device=args.device, references=not args.no_references, tta=args.tta,
                                     skip_bad=args.skip_bad)
    except BadFilesError as err:
        print(f"error: {err}\n(--skip-bad evaluates the other files)", file=sys.stderr)
        return 1
    for msg in df.attrs.get("skipped", []):
        print(f"evaluate: skipped {msg}", file=sys.stderr)
    if args.out:
        write_atomically(args.out, lambda tmp: df.to_csv(tmp, index=False))
        print(f"evaluate: {len(df)} rows -> {args.out}")
    with pd.option_context("display.width", 250, "display.max_rows", 200, "display.max_columns", 50,
                           "display.float_format", "{:.4f}".format):
        print(engine.side_by_side(engine.summarize(df)))
    return 0


def _locate(argv: list[str]) -> int:
    from .locate import main as locate_main  # lazy: each command imports only what it needs

    return locate_main(argv)


def _export(argv: list[str]) -> int:
    from .engine import MODEL  # lazy: `locate` must not import the engine
    from .export import export  # lazy: imports the engine

    p = cli.ArgumentParser(prog="python -m fklib export",
                           description="Ship a checkpoint as safetensors with its model card (evaluated on "
                                       "the public STGAN test split).")
    p.add_argument("--checkpoint", required=True, type=Path)
    p.add_argument("--out", type=Path, default=None, help="default: models/fakelocator.safetensors")
    p.add_argument("--command", default=None, help="the training command to record (default from the config)")
    p.add_argument("--note", default=None, help="a sentence for the card (e.g. how the machine was shared)")
    args = p.parse_args(argv)
    card = export(args.checkpoint, args.out, command=args.command, note=args.note)
    print(f"export: {card['weights']} ({card['bytes'] / 1e6:.1f} MB); test means: "
          + ", ".join(f"{k}={v}" for k, v in card.get("test", {}).get(MODEL, {}).items()))
    return 0


COMMANDS = {"train": _train, "evaluate": _evaluate, "locate": _locate, "export": _export}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    if argv[0] == "data":
        from .data.__main__ import main as data_main  # lazy: each command imports only what it needs
        return data_main(argv[1:])
    if argv[0] not in COMMANDS:
        print(f"error: unknown command {argv[0]!r}; expected one of data, {', '.join(COMMANDS)} "
              "(python -m fklib --help)", file=sys.stderr)
        return cli.EXIT_ERROR
    return cli.run(lambda: COMMANDS[argv[0]](argv[1:]))


if __name__ == "__main__":
    sys.exit(main())
