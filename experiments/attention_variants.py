"""The face-attention variant search of notebook 04 (Table 5), run once and recorded as a table.

    python experiments/attention_variants.py [--profile cpu]

Trains every attention variant of :func:`fklib.studies.face_parsing.variant_configs` (STGAN Blond_Hair,
L1, as Table 5; about 18 min on 2 cores for ``cpu``), scores each on the validation identities and
writes ``<results>/tables/table5_variants.{csv,md}`` with the chosen variant. Notebook 04 reads that
table and trains only the variants Table 5 prints (``no_fp``, ``paper`` and the chosen one); where the
results folder has no such table (``smoke``, ``paper``, ``--results`` elsewhere) it runs the search itself.
"""

from __future__ import annotations

import argparse
import sys

from fklib import paths
from fklib.config import PROFILE_NAMES
from fklib.report import save_table
from fklib.report.provenance import experiment_command, record_experiment
from fklib.studies import face_parsing


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--profile", default="cpu", choices=PROFILE_NAMES)
    args = p.parse_args()
    selection, chosen = face_parsing.variant_search(args.profile)
    save_table(selection, face_parsing.VARIANTS_TABLE, note=face_parsing.variants_note(chosen),
               results_dir=paths.results_dir())
    record_experiment([face_parsing.VARIANTS_TABLE], [c.checkpoint_dir() / "best.pt" for c in
                                                      face_parsing.variant_configs(args.profile).values()],
                      experiment_command(sys.argv))
    print(selection.to_string(index=False))
    print(f"chosen: {chosen}")


if __name__ == "__main__":
    main()
