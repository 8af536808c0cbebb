"""Run the CLI as if only a few distributions were installed (the "light" compute environment).

The environment of issue 12 (and of the GPU machine) has jax, jaxlib, optax, numpy, scipy, pyarrow,
jsonschema, their own requirements, and this package installed without its dependencies: no
TensorFlow, tensorflow-datasets, Ray, neural-tangents, matplotlib, pandas, mlcroissant, Pillow,
scikit-learn or tqdm. Instead of building such a venv (hundreds of MB of wheels), the test runs
the CLI in a child process whose imports of every *other* installed distribution's top-level
modules fail as if they were absent (``ModuleNotFoundError`` from a ``sys.meta_path`` finder put
first), and checks the command still works.

    blocked = blocked_modules(LIGHT)      # in the test's process (the full environment)
    python tests/light_env.py BLOCKED_JSON distill --source mnist ...   # the child
    python tests/light_env.py BLOCKED_JSON -c "import distilled_registry; ..."
"""

from __future__ import annotations

import importlib.abc
import importlib.metadata as md
import json
import re
import sys

LIGHT = ("jax", "jaxlib", "optax", "numpy", "scipy", "pyarrow", "jsonschema", "filelock")
CORE = ("numpy", "pyarrow", "jsonschema", "filelock")  # pip install distilled-registry, no extras
PACKAGE = "distilled-registry"  # installed with --no-deps: its own requirements are not followed


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def closure(roots) -> set[str]:
    """``roots`` and every distribution they require (no extras), normalised names."""
    from packaging.requirements import Requirement

    seen: set[str] = set()
    todo = [_norm(r) for r in roots]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            reqs = md.requires(name) or []
        except md.PackageNotFoundError:
            continue
        for text in reqs:
            req = Requirement(text)
            if req.marker is not None and not req.marker.evaluate({"extra": ""}):
                continue  # an extra's requirement, or another platform's
            todo.append(_norm(req.name))
    return seen


def blocked_modules(light=LIGHT) -> list[str]:
    """Top-level modules of installed distributions outside ``closure(light)`` (and this package)."""
    allowed = closure(light) | {PACKAGE}
    owners = md.packages_distributions()  # module -> [distribution, ...]
    return sorted(m for m, dists in owners.items()
                  if m.isidentifier() and not any(_norm(d) in allowed for d in dists)
                  and m not in sys.stdlib_module_names)


class _Absent(importlib.abc.MetaPathFinder):
    def __init__(self, names):
        self.names = frozenset(names)

    def find_spec(self, fullname, path=None, target=None):
        if fullname.partition(".")[0] in self.names:
            raise ModuleNotFoundError(f"No module named {fullname!r} (not in the light environment)",
                                      name=fullname)
        return None


if __name__ == "__main__":
    sys.meta_path.insert(0, _Absent(json.loads(sys.argv[1])))
    if sys.argv[2] == "-c":  # python code instead of a command line
        exec(sys.argv[3])
        sys.exit(0)
    from distilled_registry.cli import main

    sys.exit(main(sys.argv[2:]))
