#!/usr/bin/env bash
# The main job: set up (venv, packages, data), then run the notebook pipeline with papermill.
#   bash scripts/main.sh                 # default profile: cpu (README, "Measured times", for its length on 2 cores)
#   bash scripts/main.sh --profile smoke # minutes; any arguments go to python -m fklib.pipeline
# The pipeline opens with an estimate of the run's length (from the times the last run of the profile recorded in
# results/pipeline_times.csv and results/model_times.csv) and prints, per notebook and per study model it trains,
# where it is and about how long is left.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m fklib.pipeline "$@"
