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
    import jax

    d = jax.devices()[0]
    return {"platform": d.platform, "device_kind": d.device_kind, "device_count": jax.device_count()}
