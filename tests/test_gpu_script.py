"""The GPU run of the ``paper`` profile, prepared on a CPU: the script parses, and a dry run of the profile
(:data:`fklib.config.DRY_RUN_ENV`: one epoch, a few images) runs its notebooks here first."""

import os
import subprocess
import sys

import pytest

from fklib import paths
from fklib.config import DRY_RUN_ENV, make_config


def test_gpu_script_parses_and_refuses_without_its_carried_folder(tmp_path):
    script = paths.project_root() / "scripts" / "gpu_paper.sh"
    assert subprocess.run(["bash", "-n", str(script)], capture_output=True).returncode == 0
    text = script.read_text()
    assert "--profile paper" in text and "results_paper.tgz" in text and "timeout" in text


def test_dry_run_shrinks_every_config(monkeypatch):
    paper = make_config("paper")
    monkeypatch.setenv(DRY_RUN_ENV, "1")
    dry = make_config("paper", overrides={"epochs": 50})
    assert (dry.epochs, dry.max_items, dry.batch_size) == (1, 8, 4)
    assert (dry.model, dry.size, dry.lr) == (paper.model, paper.size, paper.lr)   # the profile's own model
    monkeypatch.setenv(DRY_RUN_ENV, "0")
    assert make_config("paper").epochs == paper.epochs


@pytest.mark.dryrun
def test_paper_profile_dry_run_on_cpu(tmp_path, data_root):
    """The paper profile's universal model (DeepLabV3-ResNet101 at 224 px), its gallery and summary, on CPU."""
    results = tmp_path / "paper"
    env = {**os.environ, DRY_RUN_ENV: "1", "FKLIB_CHECKPOINTS": str(tmp_path / "ck")}
    proc = subprocess.run([sys.executable, "-m", "fklib.pipeline", "--profile", "paper", "--only", "01,06,99",
                           "--results", str(results)], cwd=paths.project_root(), env=env, capture_output=True,
                          text=True, timeout=1200)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert (results / "PROFILE").read_text().strip() == "paper"
    assert (results / "figures" / "fig1.png").stat().st_size > 1000
    from fklib.checkpoint import load_checkpoint
    import json

    ckpt = load_checkpoint(tmp_path / "ck" / "paper" / "best.pt")
    cfg = json.loads(ckpt["config"])
    assert (cfg["model"], cfg["size"], cfg["epochs"]) == ("deeplabv3_resnet101", 224, 1)
