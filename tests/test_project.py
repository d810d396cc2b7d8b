"""Project files agree: environment.yml mirrors pyproject's dependencies; torch pins are exact."""

import re
import tomllib

import pytest
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


def _card() -> dict:
    import json

    return json.loads((ROOT / "models" / "fakelocator.json").read_text())


def test_card_and_readme_state_what_the_card_data_says():
    """The shipped model's card (Markdown) and the README agree with the card data (JSON) and the weights."""
    from safetensors.torch import load_file

    from fklib.checkpoint import weights_sha256

    card = _card()
    assert weights_sha256(load_file(ROOT / "models" / card["weights"])) == card["weights_sha256"]
    md = (ROOT / "models" / "fakelocator.md").read_text()
    assert card["weights_sha256"] in md                                   # the card prints the real hash
    row = next(line for line in md.splitlines() if line.startswith("| **this model**"))
    cells = [c.strip() for c in row.strip("|").split("|")][1:]
    model = card["test"]["model"]
    for got, key in zip(cells, ("bacc", "tpr", "tnr", "coss")):          # the card's first columns
        assert float(got) == round(model[key], 3), (key, got, model[key])
    readme = (ROOT / "README.md").read_text()
    trained = re.search(r"The shipped model was trained on(.*?)\.\s", readme, re.S).group(1)
    names = {"stgan": "STGAN", "stargan": "StarGAN-256", "interfacegan": "InterFaceGAN", "attgan": "AttGAN sample rows",
             "stargan128": "StarGAN-128", "attgan_attentiongan": "AttentionGAN"}
    for s in card["config"]["sets"]:
        assert names[s] in trained, f"README omits the training set {s}"
    for s in set(names) - set(card["config"]["sets"]):
        assert f"{names[s]} was never trained on" in readme or names[s] not in trained


def test_readme_names_only_recipe_rows_that_exist():
    """Every ``row `<variant>``` the README names is a row of results/tables/recipes.csv."""
    import csv

    with open(ROOT / "results" / "tables" / "recipes.csv", newline="") as f:
        variants = {r["variant"] for r in csv.DictReader(f)}
    readme = (ROOT / "README.md").read_text()
    named = set(re.findall(r"row `([^`]+)`", readme)) | set(re.findall(r"\(`([\w+.-]+)`, bACC selection", readme))
    assert named and named <= variants, sorted(named - variants)


def test_readme_quotes_the_pipeline_times_of_the_committed_results():
    """The README's measured time of the main job is the one the last full run wrote (results/pipeline_times.csv),
    not a number typed by hand."""
    from fklib.pipeline import TIMES_FILE, times_sentence

    times = ROOT / "results" / TIMES_FILE
    if not times.is_file():
        pytest.skip("no full cpu run has written results/pipeline_times.csv since the times file was introduced")
    assert times_sentence(times) in (ROOT / "README.md").read_text()
