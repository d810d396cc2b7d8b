"""``python -m fklib.data {fetch,splits,splices,prepare}`` -- thin: parse, call, print.

Exit status as every command's (:mod:`fklib.cli`): 0 done, 1 any failure (one line ``error: ...``; a
fetch lists every file that failed), 130 / 143 interrupted.
"""

from __future__ import annotations

import sys
from pathlib import Path

from .. import cli
from . import fetching as fetch_mod
from .splices import SPLICE_SETS, ensure_splice_set
from .splits import default_splits_path, ensure_splits


def main(argv: list[str] | None = None) -> int:
    return cli.run(lambda: _main(argv), errors=(fetch_mod.FetchError, FileNotFoundError, ValueError))


def _main(argv: list[str] | None) -> int:
    parser = cli.ArgumentParser(prog="python -m fklib.data", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name, help_ in (("fetch", "fill data/ from the mirror or upstream, verifying SHA-256"),
                        ("prepare", "fetch, write results/splits.csv if missing, build the fixed splice sets")):
        p = sub.add_parser(name, help=help_)
        p.add_argument("--dest", type=Path, default=None, help="target folder (default: data/)")
        p.add_argument("--mirror", type=Path, default=None,
                       help="local mirror (default: $FKLIB_DATA_MIRROR or ../shared/data when it exists)")
        p.add_argument("--no-mirror", action="store_true", help="download from upstream even if a mirror exists")
        p.add_argument("--base-url", default=None,
                       help="download from BASE_URL/<path> (a server holding the mirror layout) instead of upstream")
        p.add_argument("--set", dest="sets", action="append", default=None, help="only this set (repeatable)")
        p.add_argument("--repair", action="store_true", help="move corrupt files in data/ aside and fetch them again")
        p.add_argument("--quiet", action="store_true", help="no progress bar")
    p = sub.add_parser("splits", help="write results/splits.csv if missing, else check it")
    p.add_argument("--out", type=Path, default=None, help="split CSV (default: results/splits.csv)")
    p = sub.add_parser("splices", help="build the fixed splice sets (data/splices/) when missing or out of date")
    p.add_argument("--dest", type=Path, default=None, help="data folder (default: data/)")
    args = parser.parse_args(argv)

    if args.command in ("fetch", "prepare"):
        mirror = False if args.no_mirror or args.base_url else args.mirror
        url_for = (lambda rel: f"{args.base_url.rstrip('/')}/{rel}") if args.base_url else None
        report = fetch_mod.fetch(dest=args.dest, mirror=mirror, url_for=url_for, sets=args.sets,
                                 repair=args.repair, progress=not args.quiet)
        print(f"fetch: {report}")
    if args.command in ("splits", "prepare"):
        out = getattr(args, "out", None) or default_splits_path()
        df = ensure_splits(out)
        counts = df.groupby(["set", "split"]).size().unstack(fill_value=0)
        print(f"splits: {out}\n{counts.to_string()}")
    if args.command in ("splices", "prepare"):
        for name in SPLICE_SETS:
            print(f"splices: {ensure_splice_set(name, args.dest)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
