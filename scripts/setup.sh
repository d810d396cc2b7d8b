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
# The face detector of `locate` (facenet-pytorch's MTCNN, weights in its wheel) is installed with --no-deps:
# its metadata asks for torch<2.3 and numpy<2, but what it imports (torch, torchvision, numpy, Pillow,
# requests) is already here and works with the pinned releases (tests/test_faces.py).
FACE_DETECTOR="facenet-pytorch==2.6.0"
stamp=".venv/.fklib-installed-$( (cat pyproject.toml; echo "$FACE_DETECTOR") | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
    echo "setup: installing fklib and pinned dependencies (torch==2.14.1, torchvision==0.29.1, ...)"
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet -e ".[dev]"
    .venv/bin/python -m pip install --quiet --no-deps "$FACE_DETECTOR"
    rm -f .venv/.fklib-installed-*
    touch "$stamp"
fi
echo "setup: fetching and verifying data into data/"
.venv/bin/python -m fklib.data prepare --quiet
