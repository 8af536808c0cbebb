"""What code and libraries a run used: recorded in every release's provenance."""

from __future__ import annotations

import importlib.metadata as md
import platform
import subprocess
import sys
from pathlib import Path


def library_versions() -> dict:
    """Versions of the packages that determine a release's numbers."""
    out = {"python": sys.version.split()[0], "platform": platform.platform()}
    for dist in ("distilled-registry", "jax", "jaxlib", "neural-tangents", "optax", "numpy", "scipy",
                 "scikit-learn", "ray"):
        try:
            out[dist] = md.version(dist)
        except md.PackageNotFoundError:
            out[dist] = None
    return out


def git_commit() -> dict:
    """Commit of the checkout this package runs from, and whether it had uncommitted changes.

    ``{"commit": None}`` when the package is not running from a git checkout (an installed wheel).
    """
    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True,
                                timeout=10)
        if commit.returncode != 0:
            return {"commit": None}
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                               capture_output=True, text=True, timeout=10)
        return {"commit": commit.stdout.strip(), "dirty": bool(dirty.stdout.strip())}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None}


def device() -> dict:
    """The accelerator jax computes on and, for the CPU, the processor: XLA's CPU code depends on it.

    ``data.npz`` is reproducible byte for byte for the same config on the same processor model and
    library versions; another processor (other vector instructions) may round differently.
    """
    import jax

    d = jax.devices()[0]
    out = {"platform": d.platform, "device_kind": d.device_kind, "device_count": jax.device_count(),
           "matmul_precision": jax.config.jax_default_matmul_precision or "default"}
    return {**out, "processor": processor()}


# The instruction-set extensions XLA's CPU backend chooses code by (LLVM features it may target).
_ISA_FLAGS = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16",
              "amx_tile", "asimd", "sve")


def processor() -> dict:
    """``{"machine", "model", "isa"}`` of this processor (Linux ``/proc/cpuinfo``; model None elsewhere)."""
    model, flags = None, set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            key = key.strip().lower()
            if key in ("model name", "cpu model", "hardware") and model is None:
                model = value.strip()
            elif key in ("flags", "features") and not flags:
                flags = set(value.split())
    except OSError:
        pass
    return {"machine": platform.machine(), "model": model or platform.processor() or None,
            "isa": [f for f in _ISA_FLAGS if f in flags]}
