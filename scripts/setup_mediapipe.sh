#!/usr/bin/env bash
# Optional: the landmark-based parser's own environment (mediapipe 0.10.21 needs numpy<2).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv-mediapipe/bin/python ] || python3 -m venv .venv-mediapipe
.venv-mediapipe/bin/python -m pip install --quiet "mediapipe==0.10.21" "numpy<2" pillow
