"""The compute path with only jax, jaxlib, optax, numpy, scipy, pyarrow and jsonschema (issue 12).

Like the GPU machine: no TensorFlow, tensorflow-datasets, Ray, neural-tangents, matplotlib, pandas,
mlcroissant, Pillow, scikit-learn or tqdm. ``tests/light_env.py`` runs the CLI in a child process
where every other installed distribution's modules cannot be imported; ``distill`` with the fast
ConvNet kernel on local MNIST files must still write a release that verifies.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import light_env
import numpy as np
import pytest
from synthetic_sources import write_mnist

from distilled_registry import release as rel
from distilled_registry.pipelines import devices

HEAVY = {"tensorflow", "tensorflow_datasets", "neural_tangents", "ray", "matplotlib", "pandas", "mlcroissant",
         "PIL", "sklearn", "tqdm"}


def _run_light(args: list[str], blocked: list[str]) -> subprocess.CompletedProcess:
    script = Path(light_env.__file__)
    return subprocess.run([sys.executable, str(script), json.dumps(blocked), *args], capture_output=True,
                          text=True, timeout=600)


@pytest.fixture(scope="module")
def blocked() -> list[str]:
    names = light_env.blocked_modules()
    # the full environment has them all, so blocking them is what makes the child "light"
    assert HEAVY <= set(names), HEAVY - set(names)
    for keep in ("jax", "jaxlib", "optax", "numpy", "scipy", "pyarrow", "jsonschema"):
        assert keep not in names
    return names


def test_the_blocker_really_hides_the_heavy_modules(blocked, tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("import importlib, json, sys\n"
                     "sys.meta_path.insert(0, __import__('light_env')._Absent(json.loads(sys.argv[1])))\n"
                     "out = {}\n"
                     "for m in sys.argv[2:]:\n"
                     "    try:\n"
                     "        importlib.import_module(m); out[m] = True\n"
                     "    except ImportError:\n"
                     "        out[m] = False\n"
                     "print(json.dumps(out))\n")
    env_path = str(Path(light_env.__file__).parent)
    r = subprocess.run([sys.executable, str(probe), json.dumps(blocked), *sorted(HEAVY), "jax", "optax", "scipy",
                        "pyarrow", "jsonschema"], capture_output=True, text=True, timeout=120,
                       env={**os.environ, "PYTHONPATH": env_path})
    assert r.returncode == 0, r.stderr
    seen = json.loads(r.stdout)
    assert not any(seen[m] for m in HEAVY), seen
    assert all(seen[m] for m in ("jax", "optax", "scipy", "pyarrow", "jsonschema")), seen


@pytest.mark.parametrize("algorithm, extra", [("ls", []), ("kip", ["--steps", "2", "--target-batch", "20"])])
def test_distill_convnet_runs_with_only_the_compute_dependencies(blocked, tmp_path, algorithm, extra):
    src = tmp_path / "mnist"
    src.mkdir()
    write_mnist(src, n_train=40, n_test=20)
    out = tmp_path / "release"  # depth 1: the environment is under test, not the network (depth 2: 10 s more)
    r = _run_light(["distill", "--source", "mnist", "--source-dir", str(src), "--algorithm", algorithm,
                    "--kernel", "convnet", "--kernel-impl", "fast", "--depth", "1", "--ipc", "1", "--out", str(out),
                    *extra], blocked)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "matplotlib is not installed" in r.stderr  # the pictures are left out, and it says so
    read = rel.read_release(out)  # every sha256, finite arrays of the recorded shapes
    prov, files, data = read.record, read.files, read.arrays
    assert "preview.png" not in files and {"data.npz", "croissant.json", "data.parquet"} <= set(files)
    assert all(c.ok for c in rel.verify(out))
    assert data["images"].shape == (10, 28, 28, 1) and np.isfinite(data["images"]).all()
    assert prov["algorithm"]["name"] == algorithm and prov["kernel"]["impl"] == "fast"
    # full float32 products, on purpose (no TF32 on GPUs), and recorded; every core a device
    assert prov["environment"]["device"]["matmul_precision"] == "highest"
    assert prov["environment"]["device"]["device_count"] == devices.usable_cores()


def test_a_kernel_that_needs_neural_tangents_says_so(blocked, tmp_path):
    src = tmp_path / "mnist"
    src.mkdir()
    write_mnist(src, n_train=40, n_test=20)
    r = _run_light(["distill", "--source", "mnist", "--source-dir", str(src), "--algorithm", "ls", "--kernel", "fc",
                    "--ipc", "1", "--out", str(tmp_path / "release")], blocked)
    assert r.returncode == 1, r.stderr[-2000:]
    assert "Traceback" not in r.stderr
    assert "needs neural-tangents" in r.stderr and "--kernel-impl fast" in r.stderr
    assert not (tmp_path / "release").exists()


# ------------------------------------------------------------------ the core: no extras at all


@pytest.fixture(scope="module")
def core_blocked() -> list[str]:
    names = light_env.blocked_modules(light_env.CORE)
    assert {"jax", "jaxlib", "optax", "scipy", "matplotlib", "mlcroissant"} <= set(names)
    return names


def test_the_core_lists_shows_loads_and_verifies_a_release(core_blocked, tmp_path, monkeypatch):
    """A release written by the full environment, read where only numpy, pyarrow, jsonschema are."""
    import synthetic_release as syn

    from distilled_registry import store

    src, data = syn.write(tmp_path / "made")
    monkeypatch.setenv("DISTILLED_REGISTRY_HOME", str(tmp_path / "store"))  # the children inherit it
    store.add(src, "kip_digits/ipc10", "1.0.0")
    for args, expect in ((["list"], "kip_digits/ipc10"), (["info", "kip_digits/ipc10"], "1.0.0"),
                         (["verify", "kip_digits/ipc10"], "match the sha256")):
        r = _run_light(args, core_blocked)
        assert r.returncode == 0 and expect in r.stdout, (args, r.stdout[-1000:], r.stderr[-2000:])
    code = ("import sys, numpy as np\n"
            "import distilled_registry as dr\n"
            "r = dr.load('kip_digits/ipc10')\n"
            f"want = np.load({str(src / 'data.npz')!r})\n"
            "assert np.array_equal(r.images, want['images']) and np.array_equal(r.labels, want['labels'])\n"
            "heavy = [m for m in ('jax', 'tensorflow', 'neural_tangents', 'ray', 'pandas') if m in sys.modules]\n"
            "assert not heavy, heavy\n")
    r = _run_light(["-c", code], core_blocked)
    assert r.returncode == 0, r.stderr[-2000:]
    # a command of an extra names it: exit 1, one line, no traceback
    r = _run_light(["regenerate", "kip_digits/ipc1"], core_blocked)
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr[-2000:]
    assert "pip install 'distilled-registry[distill]'" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = _run_light(["builders", "--check"], core_blocked)
    assert r.returncode == 1 and "distilled-registry[tfds]" in r.stderr, r.stderr[-2000:]
