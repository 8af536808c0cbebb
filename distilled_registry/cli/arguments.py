"""The options several commands share, each defined once, and how a command finds its release.

``--source-dir``, the backend options (``--backend``, ``--workers``, ``--ray-address``), ``--tile``,
``--quiet``, ``--json`` and the ``NAME|PATH`` target with ``--version`` are added by the functions
here, so their names, defaults and help read the same in every command.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from .. import api, names
from .. import release as rel
from ..errors import UsageError
from .option_types import option

SOURCE_DIR_ENV = "DISTILLED_REGISTRY_SOURCE_DIR"


def add_source_dir(p: argparse.ArgumentParser, what: str = "", from_env: bool = False) -> None:
    """``--source-dir``: the source's local files (default ``$DISTILLED_REGISTRY_SOURCE_DIR``, resolved by
    :func:`source_dir` except where ``from_env`` reads the variable at parse time)."""
    p.add_argument("--source-dir", default=os.environ.get(SOURCE_DIR_ENV) if from_env else None,
                   type=option("path", "--source-dir"),
                   help=(f"{what}: " if what else "") + "folder with the source's local files (default: "
                        f"${SOURCE_DIR_ENV}" + ("" if from_env else ", except for digits; without it, tfds downloads")
                        + ")")


def add_backend(p: argparse.ArgumentParser) -> None:
    """``--backend``, ``--workers``, ``--ray-address``: where kernel tiles are computed."""
    from ..pipelines.limits import MAX_WORKERS  # plain numbers: no JAX

    p.add_argument("--backend", choices=["local", "ray"], default="local",
                   help="where kernel tiles are computed: this process, or Ray actors")
    p.add_argument("--workers", type=option("count", "--workers", high=MAX_WORKERS), default=1,
                   help=f"Ray actors, 1..{MAX_WORKERS} (with --backend ray)")
    p.add_argument("--ray-address", default=None,
                   help="join a running Ray cluster (ray start --head prints it); default: start a local Ray")


def add_tile(p: argparse.ArgumentParser, default_text: str) -> None:
    """``--tile``: rows per kernel tile (part of the config: it decides the rounding)."""
    from ..pipelines.limits import DEFAULT_TILE, MAX_TILE  # plain numbers: no JAX

    p.add_argument("--tile", type=option("count", "--tile", low=0, high=MAX_TILE), default=None,
                   help=f"rows per kernel tile, at most {MAX_TILE} (one tile's vjp holds tile x tile kernel entries in "
                        "memory; the support set is cut into the fewest balanced blocks of at most this many rows; "
                        f"default {default_text.format(DEFAULT_TILE=DEFAULT_TILE)}); part of the config, since it "
                        "decides the rounding, so it is recorded in the provenance")


def add_quiet(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def add_json(p: argparse.ArgumentParser, what: str = "machine-readable output") -> None:
    p.add_argument("--json", action="store_true", help=what)


def add_target(p: argparse.ArgumentParser, newest: str = "the newest in the store") -> None:
    """``NAME|PATH`` and ``--version``: a release in the store or a release folder (:func:`target`)."""
    p.add_argument("target", metavar="NAME|PATH",
                   help="a release in the store (family/config[:version]) or a release folder")
    p.add_argument("--version", default=None, help=f"with NAME: which version (default: {newest})")


def source_dir(given: str | None, source: str | None) -> str | None:
    """The source folder of a run: ``--source-dir`` when given, else ``$DISTILLED_REGISTRY_SOURCE_DIR``.

    The variable is a default for the sources read from files, so it is not passed for ``digits``
    (embedded in scikit-learn, which refuses a folder): setting it once never breaks a digits run.
    """
    if given is not None:
        return given
    if source == "digits" or (source or "").split(":", 1)[0] in ("folder", "npz", "tfds", "hf"):
        return None  # digits is embedded; a user source names its own files (pipelines/user_sources.py)
    return os.environ.get(SOURCE_DIR_ENV) or None


class TargetError(UsageError):
    """A NAME|PATH argument that names no release folder (nothing there, a file, no provenance.json)."""


def target(text: str, version: str | None = None) -> tuple[Path, str | None]:
    """A release folder from ``NAME[:VERSION]`` (in the store) or a path; ``(folder, name:version)``.

    A path is text starting with ``/``, ``.`` or ``~``, or a folder holding ``provenance.json`` that
    is not a release name; anything else is a name, and must follow the naming rules.
    """
    p = Path(text).expanduser()
    if text.startswith(("/", ".", "~")):
        if version is not None:
            raise names.BadNameError(f"--version goes with a release NAME, not the path {text!r}")
        if not os.path.lexists(p):
            raise TargetError(f"no release folder at {text!r}: nothing is there; give a release folder (made by "
                              "`distill --out`) or a NAME in the local store (`distilled-registry list`)")
        if not p.is_dir():
            raise TargetError(f"{text!r} is a file (or a broken link), not a release folder")
        if not (p / rel.PROVENANCE_FILE).is_file():
            raise TargetError(f"{text!r} is not a release folder (no provenance.json): release folders made by "
                              "`distill --out` or in the store have one; if it was a release, make it again with "
                              "`distilled-registry regenerate NAME`")
        return p, None
    try:
        rn, path = api.locate(text, version)
        return path, str(rn)
    except names.BadNameError:
        if version is None and (p / rel.PROVENANCE_FILE).is_file():
            return p, None
        raise


def pct(x) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"
