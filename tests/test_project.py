"""Project files agree: environment.yml mirrors pyproject's dependencies; torch pins are exact."""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _name(req: str) -> str:
    return re.split(r"[<>=!~ \[]", req.strip(), maxsplit=1)[0].lower()


def test_environment_yml_mirrors_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    deps = project["dependencies"] + project["optional-dependencies"]["dev"]
    env = (ROOT / "environment.yml").read_text()
    env_names = {_name(line.strip().lstrip("- ")) for line in env.splitlines() if line.strip().startswith("- ")}
    missing = {_name(d) for d in deps} - env_names
    assert not missing, f"environment.yml lacks {sorted(missing)}"
    assert "torch==2.14.1" in deps and "torchvision==0.29.1" in deps
    assert "torch==2.14.1" in env and "torchvision==0.29.1" in env


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    assert "`bash scripts/test.sh`" in readme and "`bash scripts/main.sh`" in readme
    assert "scripts/test.sh" in (ROOT / ".ci" / "run").read_text()
