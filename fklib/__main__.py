"""``python -m fklib <command>``: the project's commands (thin: parse, call).

Commands: ``data`` (fetch, splits, prepare; same as ``python -m fklib.data``).
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    if argv[0] == "data":
        from .data.__main__ import main as data_main
        return data_main(argv[1:])
    print(f"unknown command {argv[0]!r}\n{__doc__}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
