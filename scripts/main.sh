#!/usr/bin/env bash
# The main job on the default profile: set up, then run the pipeline.
# Until the notebooks land (issue: papermill pipeline), the pipeline is the data preparation
# step that scripts/setup.sh already runs: fetch + verify + splits.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/python -m fklib.data prepare --quiet
