"""Every CPU core as a jax device, and kernels spread over the devices (pipelines/devices.py).

jax reads XLA_FLAGS once, when it starts: each case runs in a child process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from distilled_registry.pipelines import devices


def _child(code: str, env_flags: str | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    if env_flags is not None:
        env["XLA_FLAGS"] = env_flags
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_one_device_per_core_before_jax_starts():
    out = _child("import json, sys\n"
                 "from distilled_registry.pipelines import devices\n"
                 "added = devices.one_device_per_core(3)\n"
                 "again = devices.one_device_per_core(3)\n"
                 "import jax\n"
                 "late = devices.one_device_per_core(5)\n"
                 "print(json.dumps({'added': added, 'again': again, 'late': late, 'count': jax.device_count()}))")
    assert out == {"added": True, "again": False, "late": False, "count": 3}


def test_the_users_own_flag_wins():
    out = _child("import json\n"
                 "from distilled_registry.pipelines import devices\n"
                 "added = devices.one_device_per_core(4)\n"
                 "import jax\n"
                 "print(json.dumps({'added': added, 'count': jax.device_count()}))",
                 env_flags=f"{devices.HOST_DEVICES_FLAG}=1")
    assert out == {"added": False, "count": 1}


def test_one_core_asks_for_nothing(monkeypatch):
    monkeypatch.delenv("XLA_FLAGS", raising=False)
    assert devices.one_device_per_core(1) is False and "XLA_FLAGS" not in os.environ


CASES = [(5, 3), (3, 5), (1, 1)]


@pytest.fixture(scope="module")
def spread_results() -> dict:
    """Every case of the test below, computed in one child under 2 host devices (one process start and one jax
    import for the three, not one each): ``{"n1,n2": result}``."""
    out = _child(
        "import json\n"
        "import numpy as np, jax, jax.numpy as jnp\n"
        "from distilled_registry.pipelines import kernels\n"
        "spec = kernels.KernelSpec('convnet', depth=1, get='ntk', impl='fast')\n"
        "fns = {spread: kernels.make_kernel_fn(spec, spread=spread) for spread in (True, False)}\n"
        "out = {}\n"
        f"for n1, n2 in {CASES!r}:\n"
        "    rng = np.random.default_rng(0)\n"
        "    x1 = jnp.asarray(rng.normal(size=(n1, 8, 8, 3)), jnp.float32)\n"
        "    x2 = jnp.asarray(rng.normal(size=(n2, 8, 8, 3)), jnp.float32)\n"
        "    ct = jnp.asarray(rng.normal(size=(n1, n2)), jnp.float32)\n"
        "    res = {}\n"
        "    for spread in (True, False):\n"
        "        f = fns[spread]\n"
        "        k, pull = jax.vjp(lambda b: f(x1, b), x2)\n"
        "        res[spread] = (np.asarray(k), np.asarray(pull(ct)[0]))\n"
        "    (k2, g2), (k1, g1) = res[True], res[False]\n"
        "    out[f'{n1},{n2}'] = {'devices': jax.device_count(), 'shape': list(k2.shape),\n"
        "                         'k_equal': bool(np.array_equal(k2, k1)),\n"
        "                         'g_rel': float(np.max(np.abs(g2 - g1)) / np.max(np.abs(g1)))}\n"
        "print(json.dumps(out))",
        env_flags=f"{devices.HOST_DEVICES_FLAG}=2")
    assert sorted(out) == sorted(f"{n1},{n2}" for n1, n2 in CASES)
    return out


@pytest.mark.parametrize("n1, n2", CASES)
def test_spread_over_two_devices_equals_one_device(spread_results, n1, n2):
    """The forward kernel entry by entry, and its gradient wrt x2, on 2 host devices vs 1."""
    out = spread_results[f"{n1},{n2}"]
    assert out["devices"] == 2 and out["shape"] == [n1, n2]
    assert out["k_equal"], "each entry is computed by the same program on any device"
    assert out["g_rel"] < 1e-5
