"""Which checkpoint, command and commit each result file came from: ``results/provenance.csv``.

One row per (output, checkpoint): ``output, run, checkpoint, weights_sha256, train_minutes, command, commit``.
Two writers, one helper underneath (:func:`record_provenance`):

- the notebooks, for the tables and figures they write (command: the pipeline of the results folder's profile);
- the scripts of ``experiments/`` (:func:`record_experiment`, with the command they were run with), for the
  tables they write; a table without a model (registration, splits) gets one row without a checkpoint.

:data:`EXPERIMENT_TABLES` is the registry of the tables ``experiments/`` writes: the command that writes each,
and, for a committed table written before its script recorded provenance, the model it was made with (typed
once, here). A row in ``provenance.csv`` replaces the registry's entry once the script runs again.
:func:`provenance_section` prints every table and figure of a results folder with where it came from, and
:func:`model_words` says which model made a table (and whether it is the shipped one).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
from pathlib import Path

from .. import paths
from ..checkpoint import config_of, git_commit, load_checkpoint, weights_sha256
from ..files import write_atomically

#: The file, under the results folder.
PROVENANCE_FILE = "provenance.csv"
COLUMNS = ("output", "run", "checkpoint", "weights_sha256", "train_minutes", "command", "commit")
#: Hex digits of a weights hash and of a commit kept in the file.
HASH_DIGITS, COMMIT_DIGITS = 16, 12


@dataclasses.dataclass(frozen=True)
class ExperimentTable:
    """A table written by a script of ``experiments/``.

    Attributes:
        command: the command that writes it (into ``results/tables/``).
        model: what it measures with, in words (``"the checkpoint given"``, ``"models it trains"``, ``"no model"``).
        made_with: for the committed table when its script did not record provenance yet: ``(run, weights SHA-256
            prefix, commit)`` of the model it was made with (``""`` where there is none).
    """

    command: str
    model: str
    made_with: tuple[str, str, str] | None = None


#: The registry of the tables written by ``experiments/`` (see the module doc). The ``made_with`` entries are the
#: committed tables' history: the shipped model at the commit that wrote them (``models/README.md`` names the chain:
#: ``u3-hybrid-fast`` weights ``ded8d5e3…``, ``u4-all-gans`` ``d0b43f59…``, ``u4-resample`` ``8705b872…``).
EXPERIMENT_TABLES: dict[str, ExperimentTable] = {
    "recipes": ExperimentTable("python experiments/recipes.py --variants <name> [--from-checkpoint C] --append",
                               "one model per row (its `variant` and run)"),
    "recipe_ablation_jpeg": ExperimentTable("python experiments/recipes.py --jpeg-check",
                                            "one model per row (`checkpoints/recipes/<variant>/best.pt`; "
                                            "`a-loss-+coss`: the model shipped before, `69fd51fc…`, kept "
                                            "from its run; `c-coss-30l2`: the shipped model)"),
    "hybrid_limits": ExperimentTable("python experiments/hybrid_limits.py --checkpoint models/init/u3-hybrid-fast.safetensors",
                                     "the checkpoint given", ("u3-hybrid-fast", "ded8d5e3b8610e5a", "e94c88c")),
    "property_recognition": ExperimentTable("python experiments/hybrid_limits.py --checkpoint models/init/u3-hybrid-fast.safetensors",
                                            "the checkpoint given", ("u3-hybrid-fast", "ded8d5e3b8610e5a", "f2c0bdb")),
    "detection_scores": ExperimentTable("python experiments/hybrid_limits.py --checkpoint models/init/u3-hybrid-fast.safetensors",
                                        "the checkpoint given", ("u3-hybrid-fast", "ded8d5e3b8610e5a", "f2c0bdb")),
    "all_gans_targets": ExperimentTable("python experiments/all_gans_targets.py --checkpoint models/fakelocator.safetensors "
                                        "--split test --sets stgan stargan128 attgan attentiongan stgan_splices --out "
                                        "results/tables/all_gans_targets", "the checkpoint given",
                                        ("u4-resample", "8705b872a0630d58", "339933a")),
    "all_gans_val_u3": ExperimentTable("python experiments/all_gans_targets.py --checkpoint "
                                       "models/init/u3-hybrid-fast.safetensors --split val --sets stgan stargan128 attgan "
                                       "attentiongan stargan256 interfacegan --conditions clean fakes_jpeg90 all_jpeg75 "
                                       "--out results/tables/all_gans_val_u3", "the checkpoint given",
                                       ("u3-hybrid-fast", "ded8d5e3b8610e5a", "76b7a9b")),
    "all_gans_val_u4": ExperimentTable("python experiments/all_gans_targets.py --checkpoint "
                                       "models/init/u4-all-gans.safetensors --split val --sets stgan stargan128 attgan "
                                       "attentiongan stargan256 interfacegan --conditions clean fakes_jpeg90 all_jpeg75 "
                                       "--out results/tables/all_gans_val_u4", "the checkpoint given",
                                       ("u4-all-gans", "d0b43f5980031b46", "76b7a9b")),
    "gan_learning_curve": ExperimentTable("python experiments/gan_data.py all", "models it trains (one per row)",
                                          ("models trained by the script", "", "bad8caa")),
    "gan_leave_out": ExperimentTable("python experiments/gan_data.py all", "models it trains (one per row)",
                                     ("models trained by the script", "", "bad8caa")),
    "learning_curve": ExperimentTable("python experiments/learning_curve.py --fractions 0.25 1.0 --epochs 2",
                                      "models it trains (one per row)", ("models trained by the script", "", "07f1139")),
    "locate_detectors": ExperimentTable("python experiments/locate_photos.py detectors --per-set 100 --extra-path <dir>",
                                        "no locator (face detectors only)", ("", "", "17eb450")),
    "locate_framing": ExperimentTable("python experiments/locate_photos.py framing --per-set 40",
                                      "the shipped model of its commit", ("u4-all-gans", "d0b43f5980031b46", "17eb450")),
    "locate_compare": ExperimentTable("python experiments/locate_photos.py compare --split val --per-set 60 --portraits 300 "
                                      "--checkpoints models/init/u4-all-gans.safetensors "
                                      "models/init/u4-resample.safetensors --names u4-all-gans u4-resample",
                                      "the checkpoints given", ("u4-all-gans and u4-resample", "", "fc5fceb")),
    "locate_targets": ExperimentTable("python experiments/locate_photos.py targets --split test --per-set 100",
                                      "the shipped model", ("u4-resample", "8705b872a0630d58", "339933a")),
    "locate_targets_faces": ExperimentTable("python experiments/locate_photos.py targets --split test --per-set 100",
                                            "the shipped model", ("u4-resample", "8705b872a0630d58", "339933a")),
    "registration": ExperimentTable("python experiments/registration.py --per-gan 300 --out results/tables/registration",
                                    "no model (the data)", ("", "", "76b7a9b")),
    "parsing_comparison": ExperimentTable("python experiments/compare_parsers.py", "the face parsers",
                                          ("models/face_parser.safetensors", "", "3c98cbd")),
    "table5_variants": ExperimentTable("python experiments/attention_variants.py", "models it trains (one per variant)",
                                       ("models trained by the script", "", "1b5eaf6")),
}


def _shown(path: str | Path) -> str:
    path = Path(path).resolve()
    root = paths.project_root().resolve()
    return (path.relative_to(root) if path.is_relative_to(root) else path).as_posix()


def _row(output: str, checkpoint: str | Path | None, command: str, commit: str) -> dict:
    if checkpoint is None:
        return {"output": output, "run": "", "checkpoint": "", "weights_sha256": "", "train_minutes": "",
                "command": command, "commit": commit}
    payload = load_checkpoint(checkpoint)  # checks the stored weights_sha256 against the weights
    seconds = float(payload.get("train_wall_seconds", payload.get("train_seconds", math.nan)))
    return {"output": output, "run": config_of(payload).name, "checkpoint": _shown(checkpoint),
            "weights_sha256": (payload.get("weights_sha256") or weights_sha256(payload["model"]))[:HASH_DIGITS],
            "train_minutes": "" if math.isnan(seconds) else f"{seconds / 60:.1f}", "command": command, "commit": commit}


def read_provenance(results_dir: str | Path | None = None) -> list[dict]:
    """The rows of ``<results>/provenance.csv`` (empty when there is none; columns a file of an older layout lacks
    read as ``""``)."""
    path = (Path(results_dir) if results_dir is not None else paths.results_dir()) / PROVENANCE_FILE
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        return [{c: (r.get(c) or "") for c in COLUMNS} for r in csv.DictReader(f)]


def pipeline_command(results_dir: str | Path) -> str:
    """The command that writes a results folder's notebook outputs: the pipeline with the folder's profile
    (its ``PROFILE`` file)."""
    marker = Path(results_dir) / "PROFILE"
    profile = marker.read_text().strip() if marker.is_file() else ""
    return "python -m fklib.pipeline" + (f" --profile {profile}" if profile else "")


def record_provenance(outputs: dict[str, str | Path | list | None], results_dir: str | Path | None = None,
                      command: str | None = None) -> Path:
    """Record, for each output (a table or figure name), the checkpoint(s) it was computed from (``None``: no model),
    the command (default :func:`pipeline_command`) and the commit; rows of other outputs are kept. A list of
    checkpoints gives one row each (e.g. Table 2's models)."""
    results = Path(results_dir) if results_dir is not None else paths.results_dir()
    command = command or pipeline_command(results)
    commit = git_commit()[:COMMIT_DIGITS]
    new = []
    for output, checkpoints in outputs.items():
        for ckpt in checkpoints if isinstance(checkpoints, (list, tuple)) else [checkpoints]:
            new.append(_row(output, ckpt, command, commit))
    keep = [r for r in read_provenance(results) if r["output"] not in outputs]
    rows = sorted(keep + new, key=lambda r: (r["output"], r["run"]))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    results.mkdir(parents=True, exist_ok=True)
    return write_atomically(results / PROVENANCE_FILE, lambda tmp: tmp.write_text(buf.getvalue()))


def record_experiment(outputs: list[str] | tuple[str, ...], checkpoints, command: str,
                      results_dir: str | Path | None = None) -> Path:
    """The one call of an ``experiments/`` script after it wrote its tables: each of ``outputs`` gets a row per
    checkpoint it measured (``checkpoints``: a path, a list of paths, or ``None`` for a table without a model) with
    ``command`` (the script's command line) and the commit. ``results_dir``: the folder holding ``tables/`` (default:
    the project's results)."""
    return record_provenance({name: checkpoints for name in outputs}, results_dir, command=command)


def experiment_command(argv: list[str]) -> str:
    """An experiment script's command line as recorded: ``python <script relative to the root> <args>``."""
    script = _shown(argv[0]) if argv else "?"
    return " ".join(["python", script, *argv[1:]])


# --- reading provenance back --------------------------------------------------------------------------------

def shipped_weights() -> str:
    """The weights SHA-256 prefix of the shipped ``models/fakelocator.safetensors`` (from its card JSON; ``""``
    when there is none)."""
    card = paths.default_locator().with_suffix(".json")
    try:
        return str(json.loads(card.read_text()).get("weights_sha256") or "")[:HASH_DIGITS]
    except (OSError, ValueError):
        return ""


def made_with(results_dir: str | Path, output: str) -> list[dict]:
    """The models behind ``output``: its provenance rows, else the registry's entry (:data:`EXPERIMENT_TABLES`) as one
    row with ``source`` = ``"registry"``; ``[]`` when neither knows it."""
    rows = [dict(r, source="provenance") for r in read_provenance(results_dir) if r["output"] == output]
    if rows:
        return rows
    entry = EXPERIMENT_TABLES.get(output)
    if entry is None:
        return []
    run, weights, commit = entry.made_with or (entry.model, "", "")
    return [{"output": output, "run": run, "checkpoint": "", "weights_sha256": weights, "train_minutes": "",
             "command": entry.command, "commit": commit, "source": "registry"}]


def model_words(results_dir: str | Path, output: str) -> str:
    """``output``'s model in words: ``"u3-hybrid-fast (weights ded8d5e3…), not the shipped model"``; ``""`` when no
    provenance or registry entry names one."""
    rows = [r for r in made_with(results_dir, output) if r["run"]]
    if not rows:
        return ""
    shipped = shipped_weights()
    parts = []
    for r in rows:
        text = r["run"] + (f" (weights {r['weights_sha256'][:8]}…)" if r["weights_sha256"] else "")
        if r["weights_sha256"] and shipped:
            text += ", the shipped model" if r["weights_sha256"] == shipped else ", not the shipped model"
        parts.append(text)
    return "; ".join(parts)


def same_model(results_dir: str | Path, output: str, other: str) -> tuple[bool, str]:
    """Whether ``output`` was computed with the same weights as ``other`` (both known, one model each side), and in
    words what ``output`` was made with when not."""
    a = {r["weights_sha256"] for r in made_with(results_dir, output) if r["weights_sha256"]}
    b = {r["weights_sha256"] for r in made_with(results_dir, other) if r["weights_sha256"]}
    if a and a == b:
        return True, ""
    words = model_words(results_dir, output) or "no recorded model"
    theirs = model_words(results_dir, other) or "no recorded model"
    return False, f"made with {words}; {other} with {theirs}"


#: The figures the notebooks draw, in words (the summary lists every PNG of ``figures/``; one not named here is
#: listed by its file name).
FIGURES = {
    "fig1": "Fig. 1: the universal model on a real face and the best, median and worst test fake of each set",
    "fig5": "Fig. 5: eq. 4's gray-scale and binary ground truth",
    "fig6": "Fig. 6: face parsing, the edited region and the attention map",
    "fig7": "Fig. 7: Table 5's models on Black_Hair test edits",
    "fig8": "Fig. 8: γ under the quadrant permutation, with the location references",
    "fig9": "Fig. 9: one fake before and after the permutation",
    "fig10": "Fig. 10: γ under JPEG, blur, noise and low resolution, with the layout prior under the same degradation",
    "fig10_stargan128": "Fig. 10 on the released StarGAN-128's JPEG test set",
    "robustness_imdl": "IMDL-BenCo's robustness grid",
    "training_curves": "training curves of every stage of the universal model's chain",
    "parsing_gallery": "our face parser's maps on STGAN test faces, with a legend of its 19 classes",
    "upsampling": "the upsampling families: trained on one, tested on every family",
    "spectra": "mean residual spectra of the real GANs and of the upsampling families",
}


def figures_section(results_dir: str | Path) -> list[str]:
    """Every PNG under ``<results>/figures``, each with what it shows (:data:`FIGURES`)."""
    folder = Path(results_dir) / "figures"
    pngs = sorted(folder.glob("*.png")) if folder.is_dir() else []
    if not pngs:
        return []
    return ["## Figures", "", *[f"- `figures/{p.name}`" + (f": {FIGURES[p.stem]}" if p.stem in FIGURES else "")
                               for p in pngs], "", "Executed notebooks in `executed/`.", ""]


def provenance_section(results_dir: str | Path | None = None) -> list[str]:
    """The summary's table of where each table and figure of a results folder came from: its provenance rows
    (model, weights, command, commit), else the registry's entry for an experiment table, else ``not recorded``."""
    results = Path(results_dir) if results_dir is not None else paths.results_dir()
    names = sorted({p.stem for sub in ("tables", "figures") for p in (results / sub).glob("*")
                    if p.suffix in (".csv", ".png")} | {r["output"] for r in read_provenance(results)})
    if not names:
        return []
    shipped = shipped_weights()
    lines = ["## Provenance: which model, command and commit are behind each output", "",
             "From `provenance.csv` (written by the notebooks and by the scripts of `experiments/` through "
             "`fklib.report.provenance`): the checkpoint each table or figure was computed from, the SHA-256 of its "
             "weights (first 16 hex digits), its training time, the command and the commit. `registry`: an experiment "
             "table written before its script recorded provenance; the model it was made with is the registry's "
             "(`fklib.report.provenance.EXPERIMENT_TABLES`). Weights marked **shipped** are those of "
             "`models/fakelocator.safetensors`, the model `locate` and the card use.", "",
             "| output | run | checkpoint | weights SHA-256 | training (min) | command | commit |",
             "|---|---|---|---|---|---|---|"]
    for name in names:
        rows = made_with(results, name)
        if not rows:
            lines.append(f"| {name} | – | – | – | – | not recorded | – |")
            continue
        for r in rows:
            weights = f"`{r['weights_sha256']}`" + (" **shipped**" if shipped and r["weights_sha256"] == shipped else "") \
                if r["weights_sha256"] else "–"
            lines.append(f"| {name} | {r['run'] or '–'} | {'`' + r['checkpoint'] + '`' if r['checkpoint'] else '–'} | "
                         f"{weights} | {r['train_minutes'] or '–'} | {'`' + r['command'] + '`' if r['command'] else '–'}"
                         f"{' (registry)' if r['source'] == 'registry' else ''} | {r['commit'] or '–'} |")
    return lines + [""]


def results_folder(out: str | Path) -> Path:
    """The results folder of an experiment's ``--out`` (``.../tables/<name>``: the folder above ``tables``; any other
    path: its own folder), where its provenance rows go."""
    out = Path(out)
    return out.parent.parent if out.parent.name == "tables" else out.parent
