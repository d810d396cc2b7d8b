"""The papermill pipeline: discovery, failure reporting, small executed copies, and the whole
``smoke`` profile end to end (every table and figure written, every number finite)."""

import base64
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest

from fklib import paths
from fklib.pipeline import PipelineError, list_notebooks, run_pipeline, shrink_outputs
from conftest import one_error_line, read_only


def write_nb(path: Path, *sources: str, params: str = 'profile = "cpu"') -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    p = nbformat.v4.new_code_cell(params)
    p.metadata["tags"] = ["parameters"]
    nb.cells = [p] + [nbformat.v4.new_code_cell(s) for s in sources]
    nbformat.write(nb, path)
    return path


def test_discovery_order_and_only(tmp_path):
    for name in ("06_gallery", "00_data", "02_loss", "demo_widgets", "notes", "1_bad"):
        write_nb(tmp_path / f"{name}.ipynb", "1")
    names = [p.stem for p in list_notebooks(tmp_path)]
    assert names == ["00_data", "02_loss", "06_gallery", "demo_widgets"]
    assert [p.stem for p in list_notebooks(tmp_path, only=["02", "06"])] == ["02_loss", "06_gallery"]
    with pytest.raises(ValueError, match="07"):
        list_notebooks(tmp_path, only=["07"])


def test_failure_names_notebook_and_cell(tmp_path, monkeypatch):
    monkeypatch.setenv("FKLIB_RESULTS", str(tmp_path / "results"))
    folder = tmp_path / "nbs"
    folder.mkdir()
    write_nb(folder / "00_ok.ipynb", "x = 1", "assert profile == 'smoke'")
    write_nb(folder / "01_bad.ipynb", "y = 2", "raise RuntimeError('boom in cell')")
    write_nb(folder / "02_never.ipynb", "open('ran.txt', 'w').write('x')")
    lines = []
    with pytest.raises(PipelineError) as err:
        run_pipeline("smoke", notebooks=folder, log=lines.append)
    assert err.value.notebook == "01_bad.ipynb"
    assert "RuntimeError" in str(err.value) and "boom in cell" in str(err.value)
    assert err.value.cell is not None
    assert (tmp_path / "results" / "executed" / "00_ok.ipynb").is_file()
    assert not (folder / "ran.txt").exists()  # stopped at the first failure
    assert any(line.startswith("[1/3] 00_ok") for line in lines)


def test_shrink_replaces_big_images_only(tmp_path):
    nb = nbformat.v4.new_notebook()
    big = base64.b64encode(os.urandom(60_000)).decode()
    small = base64.b64encode(b"x" * 100).decode()
    cell = nbformat.v4.new_code_cell("plot()")
    cell.outputs = [nbformat.v4.new_output("display_data", data={"image/png": big, "text/plain": "<Figure>"}),
                    nbformat.v4.new_output("display_data", data={"image/png": small}),
                    nbformat.v4.new_output("execute_result", data={"text/plain": "0.93"}, execution_count=1)]
    nb.cells = [cell]
    path = tmp_path / "x.ipynb"
    nbformat.write(nb, path)
    assert shrink_outputs(path) == 1
    outs = nbformat.read(path, as_version=4).cells[0].outputs
    assert "image/png" not in outs[0]["data"] and "results/figures" in outs[0]["data"]["text/plain"]
    assert outs[1]["data"]["image/png"] == small
    assert outs[2]["data"]["text/plain"] == "0.93"


@pytest.mark.slow
def test_smoke_profile_end_to_end(tmp_path, data_root):
    """The whole pipeline on the smoke profile into a temporary results folder (CI runs this)."""
    results, ckpts = tmp_path / "results", tmp_path / "checkpoints"
    env = {**os.environ, "FKLIB_CHECKPOINTS": str(ckpts)}
    proc = subprocess.run([sys.executable, "-m", "fklib.pipeline", "--profile", "smoke", "--results", str(results)],
                          cwd=paths.project_root(), env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    import re

    for nb in list_notebooks():
        assert (results / "executed" / nb.name).is_file(), nb.name
        assert f"{nb.stem}: done" in proc.stdout
        # every figure the executed copy links is there, relative to the copy (it renders in JupyterLab)
        copy = nbformat.read(results / "executed" / nb.name, as_version=4)
        for cell in copy.cells:
            if cell.cell_type == "markdown":
                for link in re.findall(r"!\[[^\]]*\]\(([^)]+\.png)\)", cell.source):
                    assert (results / "executed" / link).resolve().is_file(), (nb.name, link)
    for n in (2, 3, 4, 5):
        table = pd.read_csv(results / "tables" / f"table{n}.csv")
        assert (results / "tables" / f"table{n}.md").is_file()
        model = table[table["predictor"] == "model"]
        assert len(model) > 0
        for metric in ("coss", "psnr", "ssim"):
            assert np.isfinite(model[metric]).all(), (n, metric)
        assert {"zeros", "global_mean", "property_mean"} <= set(table["predictor"]), n
        assert "coss_paper" in table.columns and "coss_delta" in table.columns
    for n in (1, 5, 6, 7):
        assert (results / "figures" / f"fig{n}.png").stat().st_size > 1000
    summary = (results / "README.md").read_text()
    for heading in ("Table 2", "Table 3", "Table 4", "Table 5"):
        assert heading in summary
    # The committed results/ were not touched by the smoke run.
    assert not (paths.project_root() / "results" / "executed" / "smoke").exists()


def test_only_matches_exact_numbers(tmp_path):
    for name in ("00_data", "01_train", "02_loss", "10_extra", "demo_widgets", "demo_widgets_more"):
        write_nb(tmp_path / f"{name}.ipynb", "1")
    assert [p.stem for p in list_notebooks(tmp_path, only=["0"])] == ["00_data"]     # not every 0x notebook
    assert [p.stem for p in list_notebooks(tmp_path, only=["1"])] == ["01_train"]
    assert [p.stem for p in list_notebooks(tmp_path, only=["10", "02"])] == ["02_loss", "10_extra"]
    assert [p.stem for p in list_notebooks(tmp_path, only=["demo_widgets"])] == ["demo_widgets"]
    with pytest.raises(ValueError, match="'demo'"):
        list_notebooks(tmp_path, only=["demo"])


def test_summary_with_nothing_to_summarise_warns(tmp_path, monkeypatch):
    """``--only 99`` into an empty results folder: the README says so, and the pipeline warns."""
    from fklib.report.summary import write_results_readme

    results = tmp_path / "results"
    with pytest.warns(UserWarning, match="no result tables"):
        readme = write_results_readme(results)
    assert "Nothing to summarise" in readme.read_text()
    monkeypatch.setenv("FKLIB_RESULTS", str(tmp_path / "run"))
    folder = tmp_path / "nbs"
    folder.mkdir()
    write_nb(folder / "00_data.ipynb", "raise RuntimeError('must not run')")
    write_nb(folder / "99_summary.ipynb", "x = 1")
    lines = []
    run_pipeline("smoke", only=["99"], notebooks=folder, log=lines.append)
    assert any("warning" in line and "99_summary had nothing to summarise" in line for line in lines)


def _digest(folder: Path, skip: Path) -> dict:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and skip not in p.parents}


def test_a_smoke_run_leaves_the_committed_results_untouched():
    """A new user's ``python -m fklib.pipeline --profile smoke`` (no --results) writes results/smoke/."""
    import shutil

    results = paths.project_root() / "results"
    smoke = results / "smoke"
    existed = smoke.exists()
    before = _digest(results, smoke)
    env = {k: v for k, v in os.environ.items() if k != "FKLIB_RESULTS"}
    try:
        proc = subprocess.run([sys.executable, "-m", "fklib.pipeline", "--profile", "smoke", "--only", "99"],
                              cwd=paths.project_root(), env=env, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
        assert _digest(results, smoke) == before
        assert (smoke / "README.md").is_file() and (smoke / "PROFILE").read_text().strip() == "smoke"
    finally:
        if not existed:
            shutil.rmtree(smoke, ignore_errors=True)


def test_results_of_another_profile_are_refused(tmp_path):
    from fklib.pipeline import claim_results, default_results

    assert default_results("cpu") == paths.project_root() / "results"
    assert default_results("paper") == paths.project_root() / "results" / "paper"
    claim_results(tmp_path / "new", "smoke")                                   # a fresh folder is claimed
    assert (tmp_path / "new" / "PROFILE").read_text() == "smoke\n"
    claim_results(tmp_path / "new", "smoke")                                   # and reused by its profile
    with pytest.raises(ValueError, match="'smoke'.*may not"):
        claim_results(tmp_path / "new", "cpu")
    old = tmp_path / "old"
    (old / "tables").mkdir(parents=True)
    (old / "tables" / "table2.csv").write_text("x\n")                          # results from before markers
    with pytest.raises(ValueError, match="'cpu'"):
        claim_results(old, "smoke")
    claim_results(old, "cpu")
    assert (old / "tables" / "table2.csv").read_text() == "x\n"
    assert (paths.project_root() / "results" / "PROFILE").read_text().strip() == "cpu"


def test_progress_is_streamed_and_the_transport_warning_is_gone(tmp_path, monkeypatch):
    monkeypatch.setenv("FKLIB_RESULTS", str(tmp_path / "run"))
    folder = tmp_path / "nbs"
    folder.mkdir()
    write_nb(folder / "00_train.ipynb", "for k in range(3):\n    print(f'epoch={k + 1}', flush=True)", "42")
    lines = []
    run_pipeline("smoke", notebooks=folder, log=lines.append)
    assert [x for x in lines if "epoch=" in x] == ["  00_train: epoch=1", "  00_train: epoch=2", "  00_train: epoch=3"]
    assert not any("42" == x.split(": ")[-1] for x in lines)                 # results are not streamed
    assert not any("TCP" in x for x in lines)


# --- issue 24 --------------------------------------------------------------------------------------

@pytest.mark.parametrize("argv", [["--only", "nonsense"], ["--only", "02,nonsense"], ["--profile", "bogus"],
                                  ["--bogus"]])
def test_bad_arguments_exit_1_and_write_nothing(tmp_path, monkeypatch, capsys, argv):
    """Item 12: ``--only nonsense`` wrote the ``PROFILE`` marker before failing, and pipeline errors exited 2
    while the README says 1."""
    from fklib.pipeline import main

    monkeypatch.setenv("FKLIB_RESULTS", str(tmp_path / "unused"))   # restored after the test (main sets it)
    monkeypatch.delenv("FKLIB_RESULTS")
    results = tmp_path / "r"
    assert main([*argv, "--results", str(results)]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and one_error_line(err)
    assert not results.exists()


@pytest.mark.parametrize("bad", ["a file", "read-only folder"])
def test_results_that_cannot_be_written_are_one_line_before_any_notebook(tmp_path, monkeypatch, capsys, bad):
    """Item 6: ``--results`` that is a file or read-only gave a traceback."""
    import fklib.pipeline as P

    monkeypatch.setenv("FKLIB_RESULTS", str(tmp_path / "unused"))   # restored after the test (main sets it)
    monkeypatch.delenv("FKLIB_RESULTS")
    monkeypatch.setattr(P, "run_notebook", lambda *a, **k: pytest.fail("ran a notebook"))
    f = tmp_path / "file.txt"
    f.write_text("keep me")
    ro = tmp_path / "ro"
    ro.mkdir()
    if bad == "a file":
        code, results = P.main(["--only", "99", "--results", str(f)]), f
        err = capsys.readouterr().err
    else:
        results = ro / "results"
        with read_only(ro):
            code = P.main(["--only", "99", "--results", str(results)])
            err = capsys.readouterr().err
    assert code == 1 and str(results) in one_error_line(err)
    assert f.read_text() == "keep me" and not any(ro.iterdir())
