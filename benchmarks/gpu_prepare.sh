#!/usr/bin/env bash
# What a call of the device machine needs beside the repository, made here (see benchmarks/gpu_device.sh):
#   .whl/      this package as a wheel (built from this checkout: rebuild after any change to the package) and the
#              wheels the device image lacks (jsonschema and its needs; the device has jax, optax, scipy, pyarrow, ...)
#   gpu_data/  the sources the steps read, copied from DATA (default ../shared/data): SOURCES (default: mnist)
# Both folders are ignored by git (.git/info/exclude) and travel with `carry`. Usage:
#   bash benchmarks/gpu_prepare.sh [DATA] [SOURCES...]      e.g. bash benchmarks/gpu_prepare.sh ../shared/data mnist cifar10
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:-../shared/data}; shift || true
sources=("${@:-mnist}")
exclude=$(git rev-parse --git-dir)/info/exclude
mkdir -p "$(dirname "$exclude")"
for p in /.whl/ /gpu_data/; do grep -qxF "$p" "$exclude" 2>/dev/null || echo "$p" >> "$exclude"; done
rm -rf .whl gpu_data
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .whl \
    "jsonschema==4.26.0" "jsonschema-specifications==2025.9.1" "referencing==0.37.0" "rpds-py==2026.9.1"
PYTHONWARNINGS=ignore::UserWarning .venv/bin/python -m pip wheel -q --no-deps --no-build-isolation -w .whl .
for s in "${sources[@]}"; do
    test -d "$data/$s" || { echo "gpu_prepare: no $data/$s; give the folder holding mnist/, fashion_mnist/, cifar10/" >&2; exit 2; }
    mkdir -p gpu_data && cp -r "$data/$s" gpu_data/ && chmod -R u+w gpu_data
done
# what travels: the tracked files, the untracked ones git does not ignore, and the carried folders: at most 64 MiB
tree=$(git ls-files -z --cached --others --exclude-standard | xargs -0 du -cb 2>/dev/null | tail -1 | cut -f1)
carried=$(du -cb .whl gpu_data 2>/dev/null | tail -1 | cut -f1)
total=$((tree + carried)); limit=$((64 * 1024 * 1024))
echo "travels: repository $((tree / 1048576)) MiB + .whl and gpu_data $((carried / 1048576)) MiB = $((total / 1048576)) MiB of 64"
if [ "$total" -gt "$limit" ]; then
    echo "gpu_prepare: $((total / 1048576)) MiB would travel, over the device's 64 MiB; name fewer sources (${sources[*]})" >&2
    exit 1
fi
