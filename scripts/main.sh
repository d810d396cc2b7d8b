#!/usr/bin/env bash
# The main job: set up (venv, packages, data), then run the notebook pipeline with papermill.
#   bash scripts/main.sh                 # default profile: cpu (README, "Measured times": 58 min on 2 cores)
#   bash scripts/main.sh --profile smoke # minutes; any arguments go to python -m fklib.pipeline
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m fklib.pipeline "$@"
