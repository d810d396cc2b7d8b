"""Which checkpoint each result file came from: ``results/provenance.csv`` (``output, run, checkpoint,
weights_sha256, train_minutes``), one row per output, written by the notebooks with :func:`record_provenance`
and printed by the summary. It replaces any sentence claiming that one model is behind every table.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

from .. import paths
from ..checkpoint import config_of, load_checkpoint, weights_sha256
from ..files import write_atomically

#: The file, under the results folder.
PROVENANCE_FILE = "provenance.csv"
COLUMNS = ("output", "run", "checkpoint", "weights_sha256", "train_minutes")


def _row(output: str, checkpoint: str | Path) -> dict:
    payload = load_checkpoint(checkpoint)  # checks the stored weights_sha256 against the weights
    seconds = float(payload.get("train_wall_seconds", payload.get("train_seconds", math.nan)))
    path = Path(checkpoint).resolve()
    root = paths.project_root().resolve()
    shown = path.relative_to(root) if path.is_relative_to(root) else path
    return {"output": output, "run": config_of(payload).name, "checkpoint": shown.as_posix(),
            "weights_sha256": (payload.get("weights_sha256") or weights_sha256(payload["model"]))[:16],
            "train_minutes": "" if math.isnan(seconds) else f"{seconds / 60:.1f}"}


def read_provenance(results_dir: str | Path | None = None) -> list[dict]:
    """The rows of ``<results>/provenance.csv`` (empty when there is none)."""
    path = (Path(results_dir) if results_dir is not None else paths.results_dir()) / PROVENANCE_FILE
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def record_provenance(outputs: dict[str, str | Path | list], results_dir: str | Path | None = None) -> Path:
    """Record, for each output (a table or figure name), the checkpoint(s) it was computed from; rows of other
    outputs are kept. A list of checkpoints gives one row each (e.g. Table 2's models)."""
    results = Path(results_dir) if results_dir is not None else paths.results_dir()
    new = []
    for output, checkpoints in outputs.items():
        for ckpt in checkpoints if isinstance(checkpoints, (list, tuple)) else [checkpoints]:
            new.append(_row(output, ckpt))
    keep = [r for r in read_provenance(results) if r["output"] not in outputs]
    rows = sorted(keep + new, key=lambda r: (r["output"], r["run"]))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return write_atomically(results / PROVENANCE_FILE, lambda tmp: tmp.write_text(buf.getvalue()))


def provenance_section(results_dir: str | Path | None = None) -> list[str]:
    """The summary's table of where each output came from (empty without a provenance file)."""
    rows = read_provenance(results_dir)
    if not rows:
        return []
    lines = ["## Provenance: which model is behind each output", "",
             "Written by the notebooks (`results/provenance.csv`): the checkpoint each table or figure was computed "
             "from, the SHA-256 of its weights (first 16 hex digits) and its training time. Rows whose checkpoint is "
             "`models/fakelocator.safetensors` come from the shipped model, the one `locate` and the card use; every "
             "other row is a checkpoint the notebooks trained (single-property, leave-out, augmented, upsampling-family "
             "models).", "",
             "| output | run | checkpoint | weights SHA-256 | training (min) |", "|---|---|---|---|---|"]
    lines += [f"| {r['output']} | {r['run']} | `{r['checkpoint']}` | `{r['weights_sha256']}` | {r['train_minutes'] or '–'} |"
              for r in rows]
    return lines + [""]
