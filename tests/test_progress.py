"""Issue 42: the pipeline's time records (per notebook and per study model), the estimate it reads from them, the
progress lines it prints (with a fake clock), and the training ledger of ``ensure_trained``. No timing asserts."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from fklib import pipeline as P
from fklib.studies import cache
from test_pipeline import write_nb


class FakeClock:
    """A clock a test moves by hand (seconds)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def checkpoints(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    monkeypatch.setenv("FKLIB_CHECKPOINTS", str(folder))
    return folder


def notebooks(folder: Path, *names: str) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    return [write_nb(folder / f"{n}.ipynb", "1") for n in names]


# --- the records ------------------------------------------------------------------------------------------------

def test_times_file_keeps_old_rows_and_adds_training_seconds(tmp_path):
    times = write(tmp_path / P.TIMES_FILE, "notebook,seconds\n00_a,6.7\n02_b,20.4\n")   # a file from before train_seconds
    assert P.read_times(times) == {"00_a": {"seconds": 6.7, "train_seconds": None},
                                   "02_b": {"seconds": 20.4, "train_seconds": None}}
    sentence = P.times_sentence(times)
    P.record_time(times, "03_c", 125.04, 60.0)
    assert times.read_text() == "notebook,seconds,train_seconds\n00_a,6.7,\n02_b,20.4,\n03_c,125.0,60.0\n"
    assert P.times_sentence(times).startswith("notebooks 2.5 min (00_a 0.1, 02_b 0.3, 03_c 2.1)")
    assert sentence == "notebooks 0.5 min (00_a 0.1, 02_b 0.3)"
    P.record_time(times, "02_b", 30.0, 0.0)                                    # a rerun replaces its row only
    assert P.read_times(times)["02_b"] == {"seconds": 30.0, "train_seconds": 0.0}
    assert P.read_times(times)["00_a"]["seconds"] == 6.7


def test_model_rows_from_the_ledger_events(checkpoints):
    best = checkpoints / "cpu_bald_l1" / "best.pt"
    events = [{"event": "shipped", "run": "cpu", "checkpoint": str(P.paths.project_root() / "models/x.safetensors"),
               "minutes": 17.4},
              {"event": "start", "run": "cpu_bald_l1", "checkpoint": str(best), "minutes": None},
              {"event": "trained", "run": "cpu_bald_l1", "checkpoint": str(best), "minutes": 6.3},
              {"event": "reused", "run": "cpu_bald_l1", "checkpoint": str(best), "minutes": 6.1},  # asked again later
              {"event": "reused", "run": "cpu_smile_l1", "checkpoint": str(checkpoints / "cpu_smile_l1/best.pt"),
               "minutes": 5.4}]
    rows = P.models_of_events(events)
    assert rows == [{"run": "cpu", "checkpoint": "models/x.safetensors", "minutes": 17.4, "status": "shipped"},
                    {"run": "cpu_bald_l1", "checkpoint": "checkpoints/cpu_bald_l1/best.pt", "minutes": 6.3,
                     "status": "trained"},
                    {"run": "cpu_smile_l1", "checkpoint": "checkpoints/cpu_smile_l1/best.pt", "minutes": 5.4,
                     "status": "reused"}]
    assert P.checkpoint_path(rows[1]["checkpoint"]) == best                   # found again wherever the folder is
    path = checkpoints.parent / P.MODEL_TIMES_FILE
    P.record_models(path, "03_c", rows[2:])
    P.record_models(path, "02_b", rows[:2])
    P.record_models(path, "03_c", rows[1:])                                    # a rerun of 03 replaces its rows
    assert [(r["notebook"], r["run"], r["minutes"], r["status"]) for r in P.read_model_times(path)] == [
        ("02_b", "cpu", 17.4, "shipped"), ("02_b", "cpu_bald_l1", 6.3, "trained"),
        ("03_c", "cpu_bald_l1", 6.3, "trained"), ("03_c", "cpu_smile_l1", 5.4, "reused")]


# --- the estimate ---------------------------------------------------------------------------------------------

def test_plan_counts_missing_checkpoints_once_and_subtracts_recorded_training(tmp_path, checkpoints):
    nbs = notebooks(tmp_path / "nbs", "01_a", "02_b", "03_c", "04_d")
    rec = tmp_path / "rec"
    write(rec / P.TIMES_FILE, "notebook,seconds,train_seconds\n01_a,10,0\n02_b,900,600\n03_c,300,0\n")
    write(rec / P.MODEL_TIMES_FILE, "notebook,run,checkpoint,minutes,status\n"
          "01_a,cpu,models/fakelocator.safetensors,17.4,shipped\n"
          "02_b,m1,checkpoints/m1/best.pt,6.0,trained\n02_b,m2,checkpoints/m2/best.pt,4.0,trained\n"
          "03_c,m1,checkpoints/m1/best.pt,6.0,reused\n03_c,cpu,models/fakelocator.safetensors,17.4,shipped\n"
          "03_c,m3,checkpoints/m3/best.pt,,reused\n")
    write(checkpoints / "m2" / "best.pt", "x")                                  # m2 is there: reused, not trained
    plans = P.plan_run(nbs, rec)
    assert [(p.notebook, p.seconds, p.models, p.reused) for p in plans] == [
        ("01_a", 10.0, [], ["cpu"]),
        ("02_b", 300.0, [("m1", 6.0)], ["m2"]),                                 # 900 s less the 600 s of training
        ("03_c", 300.0, [("m3", None)], []),                                    # m1 counted in 02 only
        ("04_d", None, [], [])]                                                 # no record
    assert plans[1].expected_seconds() == 300 + 360 and plans[2].expected_seconds() == 300
    retrain = P.plan_run(nbs, rec, retrain=True)
    assert retrain[0].models == [("cpu", 17.4)] and retrain[2].models == [("m3", None)]
    assert all(p.seconds is None and not p.models for p in P.plan_run(nbs, None))


def test_plan_from_records_older_than_model_times_reads_provenance(tmp_path, checkpoints):
    """The committed results/ of the run before issue 42: times without train_seconds, models only in provenance.csv,
    found through the notebooks' record_provenance({...}) keys."""
    folder = tmp_path / "nbs"
    folder.mkdir()
    nbs = [write_nb(folder / "02_loss.ipynb", 'ckpts = {}\nrecord_provenance({"table2": list(ckpts.values())})'),
           write_nb(folder / "05_rob.ipynb", 'record_provenance({"fig8": [u, a], "fig9": u})\nx = 1'),
           write_nb(folder / "06_gal.ipynb", "from fklib.report.provenance import record_provenance\n"
                                             'record_provenance({"fig1": u, "fig5": None})')]
    assert P.provenance_outputs(nbs[1]) == ["fig8", "fig9"]
    rec = tmp_path / "rec"
    write(rec / P.TIMES_FILE, "notebook,seconds\n02_loss,20.4\n05_rob,1082.7\n06_gal,41.9\n")
    write(rec / "provenance.csv", "output,run,checkpoint,weights_sha256,train_minutes\n"
          "fig1,cpu,models/fakelocator.safetensors,8705,17.4\n"
          "fig5,,,,\n"                                                        # an output made without a model
          "fig8,cpu,models/fakelocator.safetensors,8705,17.4\n"
          "fig8,cpu_degrade_aug,checkpoints/cpu_degrade_aug/best.pt,24e8,8.8\n"
          "fig9,cpu,models/fakelocator.safetensors,8705,17.4\n"
          "table2,cpu_bald_dice,checkpoints/cpu_bald_dice/best.pt,5891,5.1\n"
          "table2,cpu_bald_l1,checkpoints/cpu_bald_l1/best.pt,cfcb,6.9\n")
    plans = {p.notebook: p for p in P.plan_run(nbs, rec)}
    assert plans["02_loss"].models == [("cpu_bald_dice", 5.1), ("cpu_bald_l1", 6.9)]
    assert plans["02_loss"].seconds == 20.4                                     # no train_seconds: nothing subtracted
    assert plans["05_rob"].models == [("cpu_degrade_aug", 8.8)] and plans["05_rob"].reused == ["cpu"]
    assert plans["06_gal"].models == [] and plans["06_gal"].reused == []        # cpu counted in 05 already
    # a notebook rerun under the new pipeline is read from model_times.csv, the others still from provenance
    P.record_time(rec / P.TIMES_FILE, "02_loss", 30.0, 0.0)
    P.record_models(rec / P.MODEL_TIMES_FILE, "02_loss", [])
    plans = {p.notebook: p for p in P.plan_run(nbs, rec)}
    assert plans["02_loss"].models == [] and plans["05_rob"].models == [("cpu_degrade_aug", 8.8)]


def test_records_folder_falls_back_to_the_profiles_results(tmp_path, monkeypatch):
    run = tmp_path / "run"
    run.mkdir()
    monkeypatch.setattr(P, "default_results", lambda profile: tmp_path / "default" / profile)
    assert P.records_folder(run, "smoke") is None
    write(tmp_path / "default" / "smoke" / P.TIMES_FILE, "notebook,seconds\n00_a,1\n")
    assert P.records_folder(run, "smoke") == tmp_path / "default" / "smoke"
    write(run / P.TIMES_FILE, "notebook,seconds\n00_a,2\n")
    assert P.records_folder(run, "smoke") == run


# --- the progress lines ---------------------------------------------------------------------------------------

def plans3() -> list[P.NotebookPlan]:
    return [P.NotebookPlan("01_a", 60.0, [], ["cpu"]),
            P.NotebookPlan("02_b", 300.0, [("m1", 6.0), ("m2", 4.0)], []),
            P.NotebookPlan("03_c", 120.0, [], [])]


def test_progress_counts_down_with_the_clock_and_the_models_trained():
    clock, lines = FakeClock(), []
    pr = P.Progress(plans3(), lines.append, clock, source="results")
    pr.start("cpu")
    # 60 + (300 + 600) + 120 s = 18 min, 10 of them for 2 models
    assert lines[-1] == ("pipeline (cpu): 3 notebooks; estimate about 18 min: 8.0 min of notebook work, 2 study "
                         "models to train (10 min), 1 already there (recorded in results)")
    pr.notebook_started(0)
    assert lines[-1].startswith("[1/3] 01_a (about 1.0 min; about 18 min left, 0.0 min elapsed)")
    clock.now += 90                                                             # 01 takes longer than recorded
    assert pr.left() == (900.0 + 120.0, 0)                                      # its estimate is spent, not negative
    pr.notebook_finished(0, 90.0, Path("x/01_a.ipynb"))
    assert lines[-1] == "[1/3] 01_a: done in 90 s -> x/01_a.ipynb; about 17 min left, 1.5 min elapsed"
    pr.notebook_started(1)
    assert lines[-1].startswith("[2/3] 02_b (about 15 min, 2 study models to train; about 17 min left")
    clock.now += 40
    pr.event({"event": "start", "run": "m1"})
    assert lines[-1] == ("[2/3] 02_b: training m1 (model 1 of 2 to train here; last time 6.0 min); about 16 min "
                         "left, 2.2 min elapsed")
    clock.now += 120
    pr.event({"event": "trained", "run": "m1", "minutes": 2.0})                 # faster than recorded
    assert lines[-1] == "[2/3] 02_b: m1 trained in 2.0 min; about 10 min left, 4.2 min elapsed"
    assert pr.left()[0] == 300 + 120 + 240 - 160 + 120                          # rest of 02 (m2 still 4 min) + 03
    pr.event({"event": "reused", "run": "m2", "minutes": 4.0})                  # there after all: no training
    assert pr.left()[0] == 300 + 120 - 160 + 120
    pr.event({"event": "start", "run": "extra"})
    assert "model 2, not in the records" in lines[-1]
    pr.notebook_finished(1, 400.0, Path("x/02_b.ipynb"))
    pr.notebook_started(2)
    clock.now += 60
    pr.notebook_finished(2, 60.0, Path("x/03_c.ipynb"))
    assert lines[-1] == "[3/3] 03_c: done in 60 s -> x/03_c.ipynb; 5.2 min elapsed"  # the end: nothing left


def test_progress_without_records_says_so():
    clock, lines = FakeClock(), []
    plans = [P.NotebookPlan("00_a", None, [], []), P.NotebookPlan("01_b", 30.0, [], [])]
    pr = P.Progress(plans, lines.append, clock)
    pr.start("smoke")
    assert "estimate under a minute + 1 without a recorded time" in lines[-1]
    pr.notebook_started(0)
    assert lines[-1] == ("[1/2] 00_a (no recorded time; under a minute left + 1 notebook without a recorded time, "
                         "0.0 min elapsed) ...")
    lines.clear()
    none = P.Progress([P.NotebookPlan("00_a", None, [], [])], lines.append, clock)
    none.start("smoke")
    none.notebook_started(0)
    assert "no recorded times for this profile yet" in lines[0] and "time left unknown" in lines[1]


# --- the ledger ---------------------------------------------------------------------------------------------------

def test_ensure_trained_writes_the_ledger(tmp_path, checkpoints, monkeypatch):
    from fklib.config import make_config

    ledger = tmp_path / "ledger.jsonl"
    monkeypatch.setenv(cache.LEDGER_ENV, str(ledger))
    cfg = make_config("smoke", overrides={"name": "ledger_test"})
    best = cfg.checkpoint_dir() / "best.pt"

    def fake_fit(cfg, **kw):
        best.parent.mkdir(parents=True)
        best.write_text("weights")
        return {"best": str(best)}

    monkeypatch.setattr(cache, "fit", fake_fit)
    monkeypatch.setattr(cache, "shipped_run", lambda cfg: None)
    assert cache.ensure_trained(cfg, log=None) == best
    monkeypatch.setattr(cache, "_finished_with", lambda path, cfg: {"train_wall_seconds": 90.0})
    assert cache.ensure_trained(cfg, log=None) == best                         # reused now
    events = [json.loads(line) for line in ledger.read_text().splitlines()]
    assert [(e["event"], e["run"], Path(e["checkpoint"])) for e in events] == [
        ("start", "ledger_test", best), ("trained", "ledger_test", best), ("reused", "ledger_test", best)]
    assert events[1]["minutes"] >= 0 and events[2]["minutes"] == 1.5
    monkeypatch.delenv(cache.LEDGER_ENV)
    cache.ensure_trained(cfg, log=None)                                         # no ledger: nothing written
    assert len(ledger.read_text().splitlines()) == 3
    with pytest.raises(ValueError, match="unknown ledger event"):
        cache.ledger_event("finished", "x", best)


def test_pipeline_prints_progress_and_records_models_from_the_kernels_ledger(tmp_path, monkeypatch, checkpoints):
    """Two fake notebooks whose kernels write the ledger as ensure_trained does: the pipeline prints the training
    lines while the notebook runs and records the notebook's training seconds and its models."""
    results = tmp_path / "run"
    monkeypatch.setenv("FKLIB_RESULTS", str(results))
    monkeypatch.delenv(cache.LEDGER_ENV, raising=False)
    write(results / P.TIMES_FILE, "notebook,seconds,train_seconds\n00_a,5,0\n01_train,200,120\n")
    write(results / P.MODEL_TIMES_FILE, "notebook,run,checkpoint,minutes,status\n"
          "01_train,tiny,checkpoints/tiny/best.pt,2.0,trained\n")
    folder = tmp_path / "nbs"
    folder.mkdir()
    write_nb(folder / "00_a.ipynb", "print('hello', flush=True)")
    write_nb(folder / "01_train.ipynb",
             "from fklib.studies.cache import ledger_event\n"
             "ledger_event('start', 'tiny', 'CK/tiny/best.pt')\n"
             "print('epoch=1', flush=True)\n"
             "ledger_event('trained', 'tiny', 'CK/tiny/best.pt', 0.5)\n"
             "print('trained', flush=True)\n"
             "ledger_event('shipped', 'cpu', 'ROOT/models/fakelocator.safetensors', 17.4)"
             .replace("CK", str(checkpoints)).replace("ROOT", str(P.paths.project_root())))
    lines = []
    out = P.run_pipeline("smoke", notebooks=folder, log=lines.append)
    assert cache.LEDGER_ENV not in os.environ                                   # restored after the run
    assert lines[0].startswith("pipeline (smoke): 2 notebooks; estimate about 3.4 min")  # 5 + 80 + 120 s
    i = lines.index("  01_train: epoch=1")
    assert any(x.startswith("[2/2] 01_train: training tiny (model 1 of 1 to train here; last time 2.0 min)")
               for x in lines[:i + 1])
    assert any(x.startswith("[2/2] 01_train: tiny trained in 0.5 min") for x in lines)
    assert out[1]["notebook"] == "01_train" and out[1]["train_seconds"] == 30.0
    assert P.read_times(results / P.TIMES_FILE)["01_train"]["train_seconds"] == 30.0
    assert P.read_times(results / P.TIMES_FILE)["00_a"]["train_seconds"] == 0.0
    assert [(r["notebook"], r["run"], r["checkpoint"], r["minutes"], r["status"])
            for r in P.read_model_times(results / P.MODEL_TIMES_FILE)] == [
        ("01_train", "tiny", "checkpoints/tiny/best.pt", 0.5, "trained"),
        ("01_train", "cpu", "models/fakelocator.safetensors", 17.4, "shipped")]


# --- budgets that keep every number ---------------------------------------------------------------------------------

@pytest.mark.parametrize("scores, patience", [
    ([0.5, 0.6, 0.55, 0.54, 0.53], 1),          # best at epoch 2: nothing before it waited
    ([0.5, 0.49, 0.48, 0.7, 0.6], 3),           # epochs 2 and 3 did not beat epoch 1: patience 2 would stop at 3
    ([0.5, 0.5, 0.6], 2),                       # a tie is no improvement (the first highest score is the best)
    ([0.9], 1), ([], 1)])
def test_safe_patience_keeps_the_best_epoch(scores, patience):
    from fklib.engine.train import epochs_without_improvement

    history = [{"epoch": i + 1, "val_score": v} for i, v in enumerate(scores)]
    assert cache.safe_patience(history) == patience
    if scores:  # the early-stopping rule of fit, replayed: with that patience it runs past the best epoch
        best = max(range(len(scores)), key=lambda i: (scores[i], -i)) + 1
        stops = [e for e in range(1, len(scores) + 1) if epochs_without_improvement(history[:e]) >= patience]
        assert not stops or stops[0] >= best
        if patience > 1:                        # and one less would have stopped before it
            assert any(epochs_without_improvement(history[:e]) >= patience - 1 for e in range(1, best))


def test_patience_savings_from_recorded_histories(monkeypatch):
    histories = {"a.pt": [0.5, 0.7, 0.6, 0.6, 0.6, 0.6], "b.pt": [0.5, 0.6, 0.7, 0.8]}
    monkeypatch.setattr(cache, "full_history", lambda ck: (
        [{"epoch": i + 1, "val_score": v} for i, v in enumerate(histories[ck])],
        1 + max(range(len(histories[ck])), key=lambda i: (histories[ck][i], -i))))
    monkeypatch.setattr(cache, "training_summary", lambda ck: {"minutes": 6.0 if ck == "a.pt" else 4.0})
    table = cache.patience_savings({"dice": "a.pt", "l1": "b.pt"}).set_index("run")
    assert table.loc["dice", ["best_epoch", "safe_patience", "stop_epoch", "epochs_saved"]].tolist() == [2, 1, 3, 3]
    assert table.loc["dice", "minutes_saved"] == 3.0
    assert table.loc["l1", ["stop_epoch", "epochs_saved", "minutes_saved"]].tolist() == [4, 0, 0.0]  # still improving
