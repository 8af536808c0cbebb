#!/usr/bin/env bash
# The README's "Distil your own images" walkthrough, end to end, on a fixture it makes itself:
# scikit-learn's digits written as PNGs, one folder per class, train/ and test/. Everything goes into
# the folder given as $1 (default walkthrough_out; it must not exist): its own store, TFDS data_dir
# and Hub export. Nothing leaves the machine. Run it with `make walkthrough`.
set -euo pipefail
OUT=${1:-walkthrough_out}
BIN=$(cd "$(dirname "$0")/.." && pwd)/.venv/bin
if [ -e "$OUT" ]; then echo "walkthrough: $OUT already exists; remove it or give another folder" >&2; exit 2; fi
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
export DISTILLED_REGISTRY_HOME="$OUT/store" TFDS_DATA_DIR="$OUT/tensorflow_datasets" PYTHONWARNINGS=ignore
cd "$OUT"

echo "\$ # 1. a folder of your own images: my_digits/{train,test}/<class>/*.png"
"$BIN/python" - <<'PY'
from pathlib import Path
import numpy as np
from PIL import Image
from sklearn.datasets import load_digits

d = load_digits()
for i, (img, c) in enumerate(zip(d.images, d.target)):
    split = "test" if i % 4 == 0 else "train"
    folder = Path("my_digits") / split / f"digit_{c}"
    folder.mkdir(parents=True, exist_ok=True)
    Image.fromarray((img * 255 / 16).round().astype(np.uint8)).save(folder / f"{i:04d}.png")
PY
echo "my_digits/train: $(find my_digits/train -name '*.png' | wc -l) PNGs, my_digits/test: $(find my_digits/test -name '*.png' | wc -l) PNGs, classes: $(ls my_digits/train | tr '\n' ' ')"

run() { echo "\$ distilled-registry $*"; "$BIN/distilled-registry" "$@"; }
run distill --source my_digits --algorithm kip --kernel fc --ipc 5 --learn-labels --steps 100 --seed 0 \
    --licence CC0-1.0 --citation "My lab's digits, 2026" --name my_digits/ipc5 --quiet
run list | grep -E "^name|my_digits"
run verify my_digits/ipc5 --accuracy
run rerun my_digits/ipc5 --quiet
echo "\$ python -c \"import distilled_registry, tensorflow_datasets as tfds; ...tfds.load('my_digits/ipc5')\""
"$BIN/python" - <<'PY' 2>/dev/null
import distilled_registry, tensorflow_datasets as tfds
ds, info = tfds.load("my_digits/ipc5", split="train", with_info=True)
ex = next(iter(tfds.as_numpy(ds)))
print(f"{info.full_name}: {info.splits['train'].num_examples} examples, image {ex['image'].shape} "
      f"{ex['image'].dtype}, classes {info.features['label'].names}")
print("licence/citation:", info.metadata["provenance"]["source"]["licence"], "/",
      info.metadata["provenance"]["source"]["citation"])
PY
run export-hf my_digits --out hub_my_digits
echo "\$ sed -n '/^## Licence/,/^\`\`\`bibtex/p' hub_my_digits/README.md"
sed -n '/^## Licence/,/^```bibtex/p' hub_my_digits/README.md
echo "\$ python -c \"import datasets; datasets.load_dataset('hub_my_digits', 'ipc5', split='train')\""
HF_DATASETS_OFFLINE=1 HF_HOME="$OUT/hf_home" "$BIN/python" -c "
import datasets; d = datasets.load_dataset('hub_my_digits', 'ipc5', split='train'); print(d)" 2>/dev/null
