#!/usr/bin/env bash
# Create .venv when missing and install fklib (editable) with its pinned dependencies.
# Idempotent: reinstalls only when pyproject.toml changed. Then fetch and verify the data
# (from ../shared/data when it exists, else upstream) and write results/splits.csv if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    echo "setup: creating .venv with $($PYTHON --version)"
    "$PYTHON" -m venv .venv
fi
stamp=".venv/.fklib-installed-$(sha256sum pyproject.toml | cut -c1-16)"
if [ ! -f "$stamp" ]; then
    echo "setup: installing fklib and pinned dependencies (torch==2.14.1, torchvision==0.29.1, ...)"
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet -e ".[dev]"
    rm -f .venv/.fklib-installed-*
    touch "$stamp"
fi
echo "setup: fetching and verifying data into data/"
.venv/bin/python -m fklib.data prepare --quiet
