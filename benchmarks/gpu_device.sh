#!/usr/bin/env bash
# The command a device call runs, from the repository root there, after benchmarks/gpu_prepare.sh here:
#   run(command="bash benchmarks/gpu_device.sh --minutes 9 --mnist-minutes 5 --only kip_step kip_mnist_ipc1",
#       carry=[".whl", "gpu_data"], timeout_s=600)
# It installs the carried wheels into /tmp/site (no network there), runs benchmarks/gpu_run.py with the arguments
# given, data gpu_data, output $OUT, and keeps its log in $OUT/gpu_run.log. PYTHON overrides the python (a CPU
# check here: PYTHON=/path/to/python3.12 OUT=/tmp/out bash benchmarks/gpu_device.sh --toy ...).
set -uo pipefail
cd "$(dirname "$0")/.."
py=${PYTHON:-python3}
: "${OUT:?OUT names the folder the results go to}"
site=${SITE:-/tmp/site}
"$py" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$site" .whl/*.whl || exit 1
export PYTHONPATH="$site" PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo "no nvidia-smi"
"$py" -c 'import jax; print("jax", jax.__version__, jax.devices())'
"$py" benchmarks/gpu_run.py --data gpu_data --out "$OUT" "$@" 2>&1 | tee "$OUT/gpu_run.log"
