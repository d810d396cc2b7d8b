"""``python -m fklib.pipeline [--profile cpu] [--only 02,03]``: run the numbered notebooks with papermill.

Every ``notebooks/NN_*.ipynb`` (two digits, then a name) runs in order, then the teaching demos
``notebooks/demo_*.ipynb``; a new numbered notebook is picked up without changing this file. Each
gets the parameter ``profile`` (``smoke``, ``cpu`` or ``paper``; see :mod:`fklib.studies.common`) and
runs with ``notebooks/`` as its working folder. The executed copy goes to
``<results>/executed/<name>.ipynb`` (``<results>``: ``--results``, else ``$FKLIB_RESULTS``, else
``results/`` for the default profile ``cpu`` and ``results/<profile>/`` for the others), with
inline images replaced by a pointer to the PNG the notebook saved, so the copies stay small.

The run stops at the first failing notebook and names it and the failing cell. A line per notebook
is printed when it starts and ends, and everything a notebook prints (training epochs, evaluation
steps) is streamed as it happens, prefixed by the notebook's name.

Progress (:class:`Progress`): the run opens with an estimate of its length and, at each notebook and each study
model trained, says where it is and about how long is left. The estimate comes from the times the last run of the
profile recorded (:func:`plan_run`: ``pipeline_times.csv``, ``model_times.csv``, or for records older than
``model_times.csv`` the models ``provenance.csv`` names): a notebook's time without its training, plus the recorded
minutes of each study model whose checkpoint is not there yet (a fresh clone trains them all). Each run records,
per notebook, its minutes and the minutes of training in it (:data:`TIMES_FILE`) and every study model it asked
for -- trained now, reused or shipped -- with its training minutes (:data:`MODEL_TIMES_FILE`), read from the
ledger that :func:`fklib.studies.cache.ensure_trained` writes.

Every argument is checked before anything is written (the profile, ``--only``, a ``--results`` folder
that is a file or cannot be written): a bad one is one line ``error: ...`` and exit status 1, as for
every command (:mod:`fklib.cli`), and no ``PROFILE`` marker or folder is left behind.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import os
import re
import sys
import tempfile
import time
from pathlib import Path

from . import cli, paths
from .config import DEFAULT_PROFILE  # the profile whose results are the committed results/; others: results/<profile>/
from .config import PROFILE_NAMES as PROFILES
from .files import check_out_dir, write_atomically
from .paths import LEDGER_ENV  # the ledger a notebook's kernel writes its study models' events to
_NUMBERED = re.compile(r"^(\d\d)_[A-Za-z0-9_]+\.ipynb$")
_DEMO = re.compile(r"^demo_[A-Za-z0-9_]+\.ipynb$")
#: The notebook that writes ``results/README.md`` from the tables of the others.
SUMMARY_NOTEBOOK = "99_summary"
#: Inline outputs larger than this (bytes of base64) are replaced by a note in the executed copies.
MAX_INLINE_BYTES = 20_000


class PipelineError(RuntimeError):
    """A notebook failed: ``notebook`` and ``cell`` (index, 0-based) name where."""

    def __init__(self, notebook: str, cell: int | None, message: str) -> None:
        self.notebook, self.cell = notebook, cell
        where = f"{notebook}, cell {cell}" if cell is not None else notebook
        super().__init__(f"{where}: {message}")


def notebooks_dir() -> Path:
    return paths.project_root() / "notebooks"


def notebook_matches(nb: Path, wanted: str) -> bool:
    """``wanted`` names ``nb`` exactly: its number (``2`` or ``02``, compared as numbers) or its whole stem."""
    m = _NUMBERED.match(nb.name)
    if wanted.isdigit():
        return m is not None and int(wanted) == int(m.group(1))
    return nb.stem == wanted


def list_notebooks(folder: Path | None = None, only: list[str] | None = None, demos: bool = True) -> list[Path]:
    """The numbered notebooks in order, then the demos; ``only`` keeps the numbers/names given exactly
    (``02``, ``2``, ``03_universality``, ``demo_locator``; see :func:`notebook_matches`)."""
    folder = folder or notebooks_dir()
    numbered = sorted(p for p in folder.glob("*.ipynb") if _NUMBERED.match(p.name))
    found = numbered + (sorted(p for p in folder.glob("demo_*.ipynb") if _DEMO.match(p.name)) if demos else [])
    if only:
        wanted = [w.strip() for w in only if w.strip()]
        keep = [p for p in found if any(notebook_matches(p, w) for w in wanted)]
        missing = [w for w in wanted if not any(notebook_matches(p, w) for p in found)]
        if missing:
            raise ValueError(f"no notebook matches {missing} in {folder} (have: {[p.stem for p in found]})")
        return keep
    return found


#: How a notebook links a saved figure (from ``notebooks/``), and the same link from ``<results>/executed/``.
FIGURE_LINK, EXECUTED_FIGURE_LINK = "](../results/figures/", "](../figures/"


def shrink_outputs(nb_path: Path, max_bytes: int = MAX_INLINE_BYTES) -> int:
    """Replace inline images/HTML larger than ``max_bytes`` in an executed notebook by a short note, and
    point its figure links (``../results/figures/x.png``) at ``../figures/x.png`` (from ``<results>/executed/``).

    Returns the number of outputs and cells changed. Text outputs (tables, numbers) are kept.
    """
    import nbformat  # lazy: notebook tooling only when the pipeline runs

    nb = nbformat.read(nb_path, as_version=4)
    replaced = 0
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data")
            if not data:
                continue
            for mime in [m for m in list(data) if m.startswith("image/") or m in ("text/html", "application/vnd.jupyter.widget-view+json")]:
                size = len(data[mime]) if isinstance(data[mime], str) else len(json.dumps(data[mime]))
                if mime.startswith("image/") and size > max_bytes:
                    del data[mime]
                    data["text/plain"] = (f"[{mime} output ({size} bytes of base64) dropped from the executed "
                                          "copy; the figure is saved under results/figures/]")
                    replaced += 1
                elif mime == "text/html" and size > max_bytes * 5:
                    del data[mime]
                    replaced += 1
    for cell in nb.cells:  # the notebooks' links are relative to notebooks/; the copy sits in <results>/executed/
        if cell.cell_type == "markdown" and FIGURE_LINK in cell.source:
            cell.source = cell.source.replace(FIGURE_LINK, EXECUTED_FIGURE_LINK)
            replaced += 1
    widgets = nb.metadata.get("widgets")
    if widgets and len(json.dumps(widgets)) > max_bytes:  # saved widget state (e.g. a demo's images)
        del nb.metadata["widgets"]
        replaced += 1
    nbformat.write(nb, nb_path)
    return replaced


def _failing_cell(nb_path: Path) -> int | None:
    """Index of the first cell with an error output in an executed notebook."""
    import nbformat  # lazy: notebook tooling only when the pipeline runs

    try:
        nb = nbformat.read(nb_path, as_version=4)
    except Exception:  # noqa: BLE001 - a half-written notebook: no cell to name
        return None
    for i, cell in enumerate(nb.cells):
        if any(o.get("output_type") == "error" for o in cell.get("outputs", [])):
            return i
    return None


def _ipc_kernel_manager(folder: Path):
    """A kernel manager whose kernels talk over local IPC sockets in ``folder``, not TCP on localhost
    (ipykernel warns about unencrypted TCP for every notebook; IPC stays on this machine)."""
    from jupyter_client.manager import AsyncKernelManager  # lazy: notebook tooling only when the pipeline runs

    class IPCKernelManager(AsyncKernelManager):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.transport = "ipc"
            self.ip = str(folder / "kernel")

    return IPCKernelManager


class _Lines:
    """A file-like sink for what a notebook prints (papermill's ``stdout_file``): each complete line goes
    to ``log``, prefixed by the notebook's name, as it arrives; ``on_output`` (optional) is called before each
    write is logged (the pipeline reads the training ledger then, :class:`Progress`: an event the kernel wrote before
    printing is told before what it printed)."""

    def __init__(self, prefix: str, log, on_output=None) -> None:
        self.prefix, self.log, self._buf, self.on_output = prefix, log, "", on_output

    def write(self, text: str) -> int:
        if self.on_output is not None:  # first: what the kernel logged before printing this comes first
            self.on_output()
        self._buf += text
        *lines, self._buf = self._buf.split("\n")
        for line in lines:
            if line.strip():
                self.log(f"  {self.prefix}: {line.rstrip()}")
        return len(text)

    def flush(self) -> None:
        if self._buf.strip():
            self.log(f"  {self.prefix}: {self._buf.rstrip()}")
        self._buf = ""


def run_notebook(nb: Path, out: Path, profile: str, kernel: str = "python3", log=None, retrain: bool = False,
                 on_output=None) -> float:
    """Execute one notebook with papermill into ``out``; return seconds. Raises :class:`PipelineError`.

    ``retrain``: passed as the parameter ``retrain`` to a notebook that declares one (01: train the
    universal model from scratch instead of taking the shipped one).

    ``log``: called with each line the notebook prints to stdout or stderr, as it prints it (training
    and evaluation progress, warnings; not its tables or figures); ``None``: silent. The kernel runs over IPC sockets (no TCP transport warning).
    ``on_output``: called (no arguments) whenever the notebook prints (with ``log`` only).
    """
    import papermill as pm  # lazy: notebook tooling only when the pipeline runs

    out.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    sink = _Lines(nb.stem, log, on_output) if log is not None else None
    sockets = tempfile.TemporaryDirectory(prefix="fklib-kernel-")  # removed with the kernel's sockets
    try:
        parameters = {"profile": profile}
        if retrain and "retrain" in pm.inspect_notebook(str(nb)):
            parameters["retrain"] = True
        pm.execute_notebook(str(nb), str(out), parameters=parameters, kernel_name=kernel,
                            cwd=str(nb.parent), progress_bar=False, log_output=False, stdout_file=sink,
                            stderr_file=sink, kernel_manager_class=_ipc_kernel_manager(Path(sockets.name)))
    except pm.PapermillExecutionError as err:
        raise PipelineError(nb.name, err.cell_index, f"{err.ename}: {err.evalue}") from None
    except Exception as err:  # noqa: BLE001 - kernel died, missing kernel, bad notebook file
        raise PipelineError(nb.name, _failing_cell(out) if out.exists() else None,
                            f"{type(err).__name__}: {err}") from None
    finally:
        sockets.cleanup()
        if sink is not None:
            sink.flush()
        if out.exists():
            shrink_outputs(out)
    return time.time() - t0


def _print(msg: str) -> None:
    print(msg, flush=True)



#: Per-notebook wall times of the last run of each notebook into a results folder (``notebook,seconds,train_seconds``:
#: the notebook's seconds and, of them, the seconds it spent training study models; files written before
#: ``train_seconds`` have only the first two columns). The README's measured times are read from it (a test
#: compares them).
TIMES_FILE = "pipeline_times.csv"
#: Per notebook, every study model it asked for in its last run (``notebook,run,checkpoint,minutes,status``):
#: ``status`` ``trained`` (in that run; ``minutes`` measured), ``reused`` (a finished run of the same config;
#: ``minutes``: its recorded training time) or ``shipped`` (the shipped model).
MODEL_TIMES_FILE = "model_times.csv"
MODEL_TIMES_COLUMNS = ("notebook", "run", "checkpoint", "minutes", "status")


def _float(value) -> float | None:
    """``value`` as a float; ``None`` for an empty or missing value."""
    return None if value in (None, "") else float(value)


def read_times(path: Path) -> dict[str, dict]:
    """The rows of a times file (:data:`TIMES_FILE`): notebook -> ``{"seconds", "train_seconds"}`` (``train_seconds``
    ``None`` when the file or the row has none); empty when there is no file."""
    if not path.is_file():
        return {}
    with open(path, newline="") as f:
        return {r["notebook"]: {"seconds": float(r["seconds"]), "train_seconds": _float(r.get("train_seconds"))}
                for r in csv.DictReader(f) if r.get("notebook") and r.get("seconds")}


def _write_csv(path: Path, columns, rows: list[dict]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_atomically(path, lambda tmp: tmp.write_text(buf.getvalue()))


def record_time(path: Path, notebook: str, seconds: float, train_seconds: float | None = None) -> None:
    """Set ``notebook``'s row of the times file ``path`` to ``seconds`` and ``train_seconds`` (the seconds of it
    spent training study models; other rows kept, in notebook order)."""
    rows = read_times(path)
    rows[notebook] = {"seconds": seconds, "train_seconds": train_seconds}
    _write_csv(path, ("notebook", "seconds", "train_seconds"),
               [{"notebook": k, "seconds": f"{v['seconds']:.1f}",
                 "train_seconds": "" if v["train_seconds"] is None else f"{v['train_seconds']:.1f}"}
                for k, v in sorted(rows.items())])


def read_model_times(path: Path) -> list[dict]:
    """The rows of a model-times file (:data:`MODEL_TIMES_FILE`), ``minutes`` as a float or ``None``; empty
    when there is no file."""
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        return [{**r, "minutes": _float(r.get("minutes"))} for r in csv.DictReader(f)]


def record_models(path: Path, notebook: str, models: list[dict]) -> None:
    """Replace ``notebook``'s rows of the model-times file ``path`` by ``models`` (dicts with ``run``,
    ``checkpoint``, ``minutes``, ``status``; :func:`models_of_events`); the other notebooks' rows are kept."""
    rows = [r for r in read_model_times(path) if r["notebook"] != notebook]
    rows += [{"notebook": notebook, **m} for m in models]
    rows.sort(key=lambda r: r["notebook"])  # stable: a notebook's models stay in the order it asked for them
    _write_csv(path, MODEL_TIMES_COLUMNS,
               [{**r, "minutes": "" if r["minutes"] is None else f"{r['minutes']:.1f}"} for r in rows])


def shown_path(path: str | Path) -> str:
    """A path as the time records keep it: ``checkpoints/<run>/best.pt`` under the checkpoints folder
    (wherever ``$FKLIB_CHECKPOINTS`` puts it), else relative to the project root, else absolute."""
    path = Path(path).resolve()
    for base, prefix in ((paths.checkpoints_dir().resolve(), "checkpoints/"), (paths.project_root().resolve(), "")):
        if path.is_relative_to(base):
            return prefix + path.relative_to(base).as_posix()
    return path.as_posix()


def checkpoint_path(shown: str) -> Path:
    """Where a checkpoint of the time records (:func:`shown_path`, or a provenance row) is now."""
    if shown.startswith("checkpoints/"):
        return paths.checkpoints_dir() / shown.removeprefix("checkpoints/")
    path = Path(shown)
    return path if path.is_absolute() else paths.project_root() / path


def models_of_events(events: list[dict]) -> list[dict]:
    """The ledger events of one notebook (:func:`fklib.studies.cache.ledger_event`) -> one row per study model, in
    the order first asked for: ``run``, ``checkpoint`` (:func:`shown_path`), ``minutes`` and ``status``
    (``trained`` when the notebook trained it, with the measured minutes; else ``reused`` / ``shipped``)."""
    rows: dict[str, dict] = {}
    for ev in events:
        if ev["event"] == "start":
            continue
        row = rows.setdefault(ev["run"], {"run": ev["run"], "checkpoint": shown_path(ev["checkpoint"]),
                                          "minutes": ev.get("minutes"), "status": ev["event"]})
        if ev["event"] == "trained":  # trained here: it wins over a reuse the same notebook made later
            row.update(checkpoint=shown_path(ev["checkpoint"]), minutes=ev.get("minutes"), status="trained")
    return list(rows.values())


def times_sentence(path: Path) -> str:
    """``notebooks 41.2 min (00_data_prep 0.1, 01_training 0.2, ...)``: the times file ``path`` in the words the
    README's "Measured times" quotes (minutes, one decimal)."""
    rows = read_times(path)
    total = sum(v["seconds"] for v in rows.values()) / 60
    return f"notebooks {total:.1f} min (" + ", ".join(f"{n} {v['seconds'] / 60:.1f}" for n, v in rows.items()) + ")"


# --- the estimate of a run and its progress ---------------------------------------------------------------

@dataclasses.dataclass
class NotebookPlan:
    """What the records say one notebook of a run will cost.

    Attributes:
        notebook: its name (stem).
        seconds: its recorded seconds without the training recorded in them (``None``: no record).
        models: ``(run, minutes)`` of each study model it is expected to train now (its checkpoint is missing;
            ``minutes`` ``None`` when no training time is recorded).
        reused: the study models it asks for that are there already (reused or shipped).
    """

    notebook: str
    seconds: float | None
    models: list[tuple[str, float | None]]
    reused: list[str]

    def expected_seconds(self) -> float | None:
        """The notebook's estimate: its seconds plus its models' training (``None`` without a notebook record;
        a model without a recorded time counts 0)."""
        if self.seconds is None:
            return None
        return self.seconds + 60 * sum(m or 0.0 for _, m in self.models)


_RECORD_CALL = re.compile(r"record_provenance\(\s*\{(.*?)\}\s*\)", re.S)
_RECORD_KEY = re.compile(r"""["']([A-Za-z0-9_]+)["']\s*:""")


def provenance_outputs(nb: Path) -> list[str]:
    """The outputs a notebook records in ``provenance.csv`` (the literal keys of its ``record_provenance({...})``
    calls), in order: how the records older than :data:`MODEL_TIMES_FILE` say which models a notebook asks for."""
    import warnings

    import nbformat  # lazy: notebook tooling only when the pipeline runs

    with warnings.catch_warnings():  # cells without ids: nbformat's warning says nothing about this file's keys
        warnings.simplefilter("ignore")
        cells = nbformat.read(nb, as_version=4).cells
    out: list[str] = []
    for cell in cells:
        if cell.cell_type == "code":
            for call in _RECORD_CALL.findall(cell.source):
                out += [k for k in _RECORD_KEY.findall(call) if k not in out]
    return out


def _provenance_models(notebooks: list[Path], records: Path) -> dict[str, list[dict]]:
    """notebook -> the models ``provenance.csv`` names for the outputs it records (:func:`provenance_outputs`), as
    model rows (``run``, ``checkpoint``, ``minutes``, ``status``; a checkpoint under ``models/`` counts as shipped):
    the records of runs from before :data:`MODEL_TIMES_FILE`."""
    prov = records / "provenance.csv"
    if not prov.is_file():
        return {}
    with open(prov, newline="") as f:
        by_output: dict[str, list[dict]] = {}
        for r in csv.DictReader(f):
            by_output.setdefault(r["output"], []).append(r)
    out: dict[str, list[dict]] = {}
    for nb in notebooks:
        models: dict[str, dict] = {}
        for output in provenance_outputs(nb):
            for r in by_output.get(output, []):
                if not r.get("run") or not r.get("checkpoint"):  # an output computed without a model
                    continue
                shipped = r["checkpoint"].startswith("models/")
                models.setdefault(r["run"], {"run": r["run"], "checkpoint": r["checkpoint"],
                                             "minutes": _float(r.get("train_minutes")),
                                             "status": "shipped" if shipped else "reused"})
        out[nb.stem] = list(models.values())
    return out


def recorded_models(notebooks: list[Path], records: Path) -> dict[str, list[dict]]:
    """notebook -> the study models its last recorded run asked for (rows of :data:`MODEL_TIMES_FILE`: ``run``,
    ``checkpoint``, ``minutes``, ``status``). A notebook whose times row has no ``train_seconds`` was recorded before
    that file existed: its models are read from ``provenance.csv`` instead (:func:`provenance_outputs`)."""
    times = read_times(records / TIMES_FILE)
    rows: dict[str, list[dict]] = {}
    for r in read_model_times(records / MODEL_TIMES_FILE):
        rows.setdefault(r["notebook"], []).append(r)
    old = [nb for nb in notebooks if times.get(nb.stem, {}).get("train_seconds") is None]
    rows.update(_provenance_models(old, records) if old else {})
    return rows


def plan_run(notebooks: list[Path], records: Path | None, retrain: bool = False) -> list[NotebookPlan]:
    """The estimate of a run of ``notebooks`` (in order) from the records in the folder ``records``
    (:func:`records_folder`; ``None``: nothing recorded, every notebook unknown).

    A notebook costs its recorded seconds less the training recorded in them (``train_seconds`` of
    :data:`TIMES_FILE`; 0 in files from before that column), plus the recorded minutes of each study model it asks
    for whose checkpoint is missing now (:func:`checkpoint_path`), counted in the first notebook that asks for it.
    The shipped model is never trained, except under ``retrain`` by the first notebook that asks for it.
    """
    if records is None:
        return [NotebookPlan(nb.stem, None, [], []) for nb in notebooks]
    times = read_times(records / TIMES_FILE)
    recorded = recorded_models(notebooks, records)
    seen: set[str] = set()
    plans = []
    for nb in notebooks:
        row = times.get(nb.stem)
        seconds = None if row is None else max(row["seconds"] - (row["train_seconds"] or 0.0), 0.0)
        models, reused = [], []
        for m in recorded.get(nb.stem, []):
            if m["run"] in seen:
                continue
            seen.add(m["run"])
            if m["status"] == "shipped":
                train = retrain
            else:
                train = not checkpoint_path(m["checkpoint"]).is_file()
            if train:
                models.append((m["run"], m["minutes"]))
            else:
                reused.append(m["run"])
        plans.append(NotebookPlan(nb.stem, seconds, models, reused))
    return plans


def records_folder(results: Path, profile: str) -> Path | None:
    """Where a run's estimate is read: the run's results folder when it holds a times file, else the profile's
    default results folder (:func:`default_results`) when that does, else ``None``."""
    for folder in (results, default_results(profile)):
        if (folder / TIMES_FILE).is_file():
            return folder
    return None


def minutes_text(seconds: float) -> str:
    """``about 12 min``, ``about 1.5 min``, ``under a minute``: a duration for a progress line."""
    minutes = seconds / 60
    if minutes < 1:
        return "under a minute"
    return f"about {minutes:.1f} min" if minutes < 10 else f"about {minutes:.0f} min"


class Progress:
    """The progress lines of a run: where it is and about how long is left, from :func:`plan_run`'s estimate.

    The time left is the current notebook's estimate less the time it has run (never below 0), plus the estimates
    of the notebooks after it; a model trained in the current notebook replaces its recorded minutes by the measured
    ones, a model reused against the estimate drops out, one trained outside it adds its minutes. Notebooks without a
    record are counted apart ("N notebooks without a record"). ``clock``: seconds (``time.monotonic``; a test passes
    a fake one).
    """

    def __init__(self, plans: list[NotebookPlan], log, clock=time.monotonic, source: str = "") -> None:
        self.plans, self.log, self.clock, self.source = plans, log, clock, source
        self.t0 = clock()
        self.k = -1                      # index of the current notebook
        self.t_notebook = self.t0
        self.pending: dict[str, float | None] = {}   # the current notebook's models still to train
        self.done = 0.0                  # seconds of models trained in the current notebook
        self.started = 0                 # models whose training started in the current notebook

    # -- the estimate ---------------------------------------------------------------------------------------
    def _current_expected(self) -> float | None:
        plan = self.plans[self.k]
        if plan.seconds is None:
            return None
        return plan.seconds + self.done + 60 * sum(m or 0.0 for m in self.pending.values())

    def left(self) -> tuple[float, int]:
        """``(seconds left, notebooks without a record among those not finished)``."""
        seconds, unknown = 0.0, 0
        if 0 <= self.k < len(self.plans):
            expected = self._current_expected()
            if expected is None:
                unknown += 1
            else:
                seconds += max(expected - (self.clock() - self.t_notebook), 0.0)
        for plan in self.plans[self.k + 1:]:
            expected = plan.expected_seconds()
            if expected is None:
                unknown += 1
            else:
                seconds += expected
        return seconds, unknown

    def left_text(self) -> str:
        """``about 42 min left, 12.0 min elapsed`` (with `` + 2 notebooks without a recorded time`` when some are)."""
        seconds, unknown = self.left()
        elapsed = (self.clock() - self.t0) / 60
        if self.k >= len(self.plans):
            return f"{elapsed:.1f} min elapsed"
        if unknown == len(self.plans[max(self.k, 0):]) and unknown:
            return f"time left unknown, {elapsed:.1f} min elapsed"
        more = f" + {unknown} notebook{'s' if unknown > 1 else ''} without a recorded time" if unknown else ""
        left = minutes_text(seconds) if seconds >= 60 else "under a minute"
        return f"{left} left{more}, {elapsed:.1f} min elapsed"

    # -- the lines ------------------------------------------------------------------------------------------
    def start(self, profile: str) -> None:
        """The run's opening line: how many notebooks, and the estimate with what it is made of."""
        known = [p for p in self.plans if p.seconds is not None]
        models = [m for p in self.plans for m in p.models]
        reused = sum(len(p.reused) for p in self.plans)
        head = f"pipeline ({profile}): {len(self.plans)} notebook{'s' if len(self.plans) != 1 else ''}"
        if not known:
            self.log(f"{head}; no recorded times for this profile yet, so no estimate (this run records them)")
            return
        total = sum(p.expected_seconds() for p in known)
        training = 60 * sum(m or 0.0 for _, m in models)
        unknown = len(self.plans) - len(known)
        self.log(f"{head}; estimate {minutes_text(total)}"
                 + (f" + {unknown} without a recorded time" if unknown else "")
                 + f": {minutes_text(total - training).removeprefix('about ')} of notebook work, "
                 + (f"{len(models)} study model{'s' if len(models) != 1 else ''} to train" if models
                    else "no study model to train")
                 + (f" ({minutes_text(training).removeprefix('about ')})" if models else "")
                 + (f", {reused} already there" if reused else "")
                 + (f" (recorded in {self.source})" if self.source else ""))

    def notebook_started(self, k: int) -> None:
        """Before notebook ``k`` (0-based): its line with its own estimate and the run's time left."""
        self.k, self.t_notebook = k, self.clock()
        plan = self.plans[k]
        self.pending, self.done, self.started = dict(plan.models), 0.0, 0
        n = len(self.plans)
        expected = plan.expected_seconds()
        here = "no recorded time" if expected is None else minutes_text(expected)
        if plan.models:
            here += f", {len(plan.models)} study model{'s' if len(plan.models) > 1 else ''} to train"
        self.log(f"[{k + 1}/{n}] {plan.notebook} ({here}; {self.left_text()}) ...")

    def event(self, ev: dict) -> None:
        """A ledger event of the current notebook (:func:`fklib.studies.cache.ledger_event`): a line when a study
        model starts or ends training; a reuse the estimate did not expect takes that model out of it."""
        plan, n, run = self.plans[self.k], len(self.plans), ev["run"]
        where = f"[{self.k + 1}/{n}] {plan.notebook}"
        if ev["event"] == "start":
            self.started += 1
            of = len(plan.models)
            expected = self.pending.get(run)
            last = "no recorded time" if expected is None else f"last time {expected:.1f} min"
            count = f"model {self.started} of {of} to train here" if run in self.pending and of else \
                f"model {self.started}, not in the records"
            self.log(f"{where}: training {run} ({count}; {last}); {self.left_text()}")
        elif ev["event"] == "trained":
            minutes = ev.get("minutes") or 0.0
            self.pending.pop(run, None)
            self.done += 60 * minutes
            self.log(f"{where}: {run} trained in {minutes:.1f} min; {self.left_text()}")
        elif run in self.pending:  # reused or shipped after all: not trained in this run
            self.pending.pop(run)

    def notebook_finished(self, k: int, seconds: float, out: Path) -> None:
        """After notebook ``k``: its time and the run's time left."""
        plan = self.plans[k]
        self.pending, self.done = {}, 0.0
        self.k, self.t_notebook = k + 1, self.clock()   # the next notebook's estimate counts from now
        if self.k < len(self.plans):
            self.pending = dict(self.plans[self.k].models)
        self.log(f"[{k + 1}/{len(self.plans)}] {plan.notebook}: done in {seconds:.0f} s -> {out}; {self.left_text()}")


class _Ledger:
    """Reads the events a notebook's kernel appends to its ledger file, each once, as they come."""

    def __init__(self, path: Path) -> None:
        self.path, self.offset, self.events = path, 0, []

    def new_events(self) -> list[dict]:
        """The complete lines written since the last call, parsed (a line being written waits for the next call)."""
        if not self.path.is_file():
            return []
        with open(self.path) as f:
            f.seek(self.offset)
            text = f.read()
        complete = text[:text.rfind("\n") + 1]
        self.offset += len(complete)
        new = [json.loads(line) for line in complete.splitlines() if line.strip()]
        self.events += new
        return new


def run_pipeline(profile: str = DEFAULT_PROFILE, only: list[str] | None = None, notebooks: Path | None = None,
                 kernel: str = "python3", log=_print, retrain: bool = False, clock=time.monotonic) -> list[dict]:
    """Run the notebooks in order for ``profile``; return one record per notebook (name, seconds, train_seconds).
    ``retrain``: see :func:`run_notebook`. Prints :class:`Progress` lines (``clock``: its time source) and records
    the times of each notebook and of each study model it trained or reused (:data:`TIMES_FILE`,
    :data:`MODEL_TIMES_FILE`)."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; expected one of {PROFILES}")
    todo = list_notebooks(notebooks, only)
    if not todo:
        raise ValueError(f"no notebooks found in {notebooks or notebooks_dir()}")
    # Idle OpenMP threads of a kernel sleep instead of spinning: on a shared 2-core machine spinning
    # threads of concurrent processes slowed notebooks 4-8x (set the variable to override).
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    results = paths.results_dir()
    executed = results / "executed"
    records = records_folder(results, profile)
    progress = Progress(plan_run(todo, records, retrain), log, clock,
                        source="" if records is None else shown_path(records))
    progress.start(profile)
    records_out = []
    t_all = clock()
    before = os.environ.get(LEDGER_ENV)
    ledgers = tempfile.TemporaryDirectory(prefix="fklib-ledger-")
    try:
        for k, nb in enumerate(todo):
            ledger = _Ledger(Path(ledgers.name) / f"{nb.stem}.jsonl")
            os.environ[LEDGER_ENV] = str(ledger.path)  # inherited by the notebook's kernel

            def poll(ledger=ledger) -> None:
                for ev in ledger.new_events():
                    progress.event(ev)

            progress.notebook_started(k)
            seconds = run_notebook(nb, executed / nb.name, profile, kernel, log=log, retrain=retrain, on_output=poll)
            poll()
            models = models_of_events(ledger.events)
            train_seconds = 60 * sum(m["minutes"] or 0.0 for m in models if m["status"] == "trained")
            records_out.append({"notebook": nb.stem, "seconds": round(seconds, 1),
                                "train_seconds": round(train_seconds, 1)})
            record_time(results / TIMES_FILE, nb.stem, seconds, train_seconds)
            record_models(results / MODEL_TIMES_FILE, nb.stem, models)
            progress.notebook_finished(k, seconds, executed / nb.name)
    finally:
        ledgers.cleanup()
        if before is None:
            os.environ.pop(LEDGER_ENV, None)
        else:
            os.environ[LEDGER_ENV] = before
    plural = "s" if len(todo) != 1 else ""
    log(f"pipeline ({profile}): {len(todo)} notebook{plural} in {(clock() - t_all) / 60:.1f} min")
    if any(nb.stem == SUMMARY_NOTEBOOK for nb in todo):
        from .report.summary import summary_sources  # lazy: pandas, only when the summary ran

        if not summary_sources(paths.results_dir()):
            log(f"pipeline: warning: {SUMMARY_NOTEBOOK} had nothing to summarise: no result tables in "
                f"{paths.results_dir() / 'tables'} (run the notebooks that write them first, e.g. without --only)")
    return records_out


#: File in a results folder naming the profile that wrote it.
PROFILE_MARKER = "PROFILE"


def default_results(profile: str) -> Path:
    """Where a run of ``profile`` writes when neither ``--results`` nor ``$FKLIB_RESULTS`` says: the
    committed ``results/`` for :data:`DEFAULT_PROFILE`, ``results/<profile>/`` for any other."""
    root = paths.project_root() / "results"
    return root if profile == DEFAULT_PROFILE else root / profile


def claim_results(folder: Path, profile: str) -> None:
    """Refuse to write ``profile`` results into ``folder`` when another profile's results are there.

    ``folder/PROFILE`` names the profile that wrote the folder; it is created on first use. A folder with
    results (tables or figures) but no marker is only taken by :data:`DEFAULT_PROFILE` (it is ``results/``
    from before markers existed).
    """
    marker = folder / PROFILE_MARKER
    if marker.is_file():
        owner = marker.read_text().strip()
    elif any((folder / sub).is_dir() and any((folder / sub).iterdir()) for sub in ("tables", "figures")):
        owner = DEFAULT_PROFILE
    else:
        owner = profile
    if owner != profile:
        raise ValueError(f"{folder} holds results of profile {owner!r} ({marker.name}); a {profile!r} run may not "
                         f"replace them: give --results DIR (profile {profile!r} writes {default_results(profile)} "
                         "by default)")
    folder.mkdir(parents=True, exist_ok=True)
    if not marker.is_file():
        marker.write_text(profile + "\n")


def main(argv: list[str] | None = None) -> int:
    return cli.run(lambda: _main(argv))


def _main(argv: list[str] | None) -> int:
    p = cli.ArgumentParser(prog="python -m fklib.pipeline", description=__doc__.split("\n\n")[0])
    p.add_argument("--profile", default="cpu", choices=PROFILES,
                   help="smoke (CI, minutes), cpu (default; about 95 min on 2 cores from a fresh clone, see the README), paper (GPU, 224 px)")
    p.add_argument("--only", default=None, help="comma-separated notebook numbers or names, e.g. 02,03")
    p.add_argument("--retrain", action="store_true",
                   help="train the universal model from scratch (notebook 01) instead of using the shipped "
                        "models/fakelocator.safetensors when its config and data match the profile's")
    p.add_argument("--results", type=Path, default=None,
                   help="write tables/figures/executed notebooks here (sets FKLIB_RESULTS); default results/ "
                        "for cpu, results/<profile>/ for smoke and paper; a folder written by another "
                        "profile is refused")
    args = p.parse_args(argv)
    only = args.only.split(",") if args.only else None
    list_notebooks(only=only)  # an --only that names no notebook fails here, before anything is written
    if args.results is not None:
        check_out_dir(args.results)  # a file, under a file, read-only: named now, not in the first notebook
        os.environ["FKLIB_RESULTS"] = str(args.results.resolve())  # inherited by the notebook kernels
    elif not os.environ.get("FKLIB_RESULTS"):
        os.environ["FKLIB_RESULTS"] = str(default_results(args.profile))
    check_out_dir(paths.results_dir())
    try:
        claim_results(paths.results_dir(), args.profile)
        run_pipeline(args.profile, only, retrain=args.retrain)
    except PipelineError as err:
        print(f"pipeline: FAILED in {err}", file=sys.stderr)
        return cli.EXIT_ERROR
    return 0


if __name__ == "__main__":
    sys.exit(main())
