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

Every argument is checked before anything is written (the profile, ``--only``, a ``--results`` folder
that is a file or cannot be written): a bad one is one line ``error: ...`` and exit status 1, as for
every command (:mod:`fklib.cli`), and no ``PROFILE`` marker or folder is left behind.
"""

from __future__ import annotations

import json
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
    to ``log``, prefixed by the notebook's name, as it arrives."""

    def __init__(self, prefix: str, log) -> None:
        self.prefix, self.log, self._buf = prefix, log, ""

    def write(self, text: str) -> int:
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


def run_notebook(nb: Path, out: Path, profile: str, kernel: str = "python3", log=None, retrain: bool = False) -> float:
    """Execute one notebook with papermill into ``out``; return seconds. Raises :class:`PipelineError`.

    ``retrain``: passed as the parameter ``retrain`` to a notebook that declares one (01: train the
    universal model from scratch instead of taking the shipped one).

    ``log``: called with each line the notebook prints to stdout or stderr, as it prints it (training
    and evaluation progress, warnings; not its tables or figures); ``None``: silent. The kernel runs over IPC sockets (no TCP transport warning).
    """
    import papermill as pm  # lazy: notebook tooling only when the pipeline runs

    out.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    sink = _Lines(nb.stem, log) if log is not None else None
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


#: Per-notebook wall times of the last run of each notebook into a results folder (``notebook,seconds``): the
#: README's measured times are read from it (a test compares them).
TIMES_FILE = "pipeline_times.csv"


def record_time(path: Path, notebook: str, seconds: float) -> None:
    """Set ``notebook``'s row of the times file ``path`` to ``seconds`` (other rows kept, in notebook order)."""
    rows = {}
    if path.is_file():
        for line in path.read_text().splitlines()[1:]:
            name, _, value = line.partition(",")
            if name and value:
                rows[name] = value
    rows[notebook] = f"{seconds:.1f}"
    text = "notebook,seconds\n" + "".join(f"{k},{rows[k]}\n" for k in sorted(rows))
    write_atomically(path, lambda tmp: tmp.write_text(text))


def times_sentence(path: Path) -> str:
    """``notebooks 41.2 min (00_data_prep 0.1, 01_training 0.2, ...)``: the times file ``path`` in the words the
    README's "Measured times" quotes (minutes, one decimal)."""
    rows = [line.split(",") for line in path.read_text().splitlines()[1:] if line.strip()]
    total = sum(float(v) for _, v in rows) / 60
    return f"notebooks {total:.1f} min (" + ", ".join(f"{n} {float(v) / 60:.1f}" for n, v in rows) + ")"


def run_pipeline(profile: str = DEFAULT_PROFILE, only: list[str] | None = None, notebooks: Path | None = None,
                 kernel: str = "python3", log=_print, retrain: bool = False) -> list[dict]:
    """Run the notebooks in order for ``profile``; return one record per notebook (name, seconds).
    ``retrain``: see :func:`run_notebook`."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; expected one of {PROFILES}")
    todo = list_notebooks(notebooks, only)
    if not todo:
        raise ValueError(f"no notebooks found in {notebooks or notebooks_dir()}")
    # Idle OpenMP threads of a kernel sleep instead of spinning: on a shared 2-core machine spinning
    # threads of concurrent processes slowed notebooks 4-8x (set the variable to override).
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    executed = paths.results_dir() / "executed"
    records = []
    t_all = time.time()
    for k, nb in enumerate(todo, 1):
        log(f"[{k}/{len(todo)}] {nb.stem} (profile {profile}) ...")
        seconds = run_notebook(nb, executed / nb.name, profile, kernel, log=log, retrain=retrain)
        records.append({"notebook": nb.stem, "seconds": round(seconds, 1)})
        record_time(paths.results_dir() / TIMES_FILE, nb.stem, seconds)
        log(f"[{k}/{len(todo)}] {nb.stem}: done in {seconds:.0f} s -> {executed / nb.name}")
    log(f"pipeline ({profile}): {len(todo)} notebooks in {(time.time() - t_all) / 60:.1f} min")
    if any(nb.stem == SUMMARY_NOTEBOOK for nb in todo):
        from .report.summary import summary_sources  # lazy: pandas, only when the summary ran

        if not summary_sources(paths.results_dir()):
            log(f"pipeline: warning: {SUMMARY_NOTEBOOK} had nothing to summarise: no result tables in "
                f"{paths.results_dir() / 'tables'} (run the notebooks that write them first, e.g. without --only)")
    return records


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
                   help="smoke (CI, minutes), cpu (default; about 2 h on 2 cores, see the README), paper (GPU, 224 px)")
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
