"""The local store: where releases live on this machine, several versions side by side.

    <home>/<family>/<config>/<version>/     a release folder (release.py), e.g.
    ~/.cache/distilled_registry/kip_cifar10/ipc10/1.0.0/

``<home>`` is ``$DISTILLED_REGISTRY_HOME`` when set, else ``~/.cache/distilled_registry``.
Releases enter the store only whole (:func:`add` writes through ``release.write_release``, which
renames a finished temporary folder into place); runs that make them work in ``<home>/.staging``,
which :func:`staging` empties whatever happens.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

from . import names
from . import release as rel
from .errors import UserError

HOME_ENV = "DISTILLED_REGISTRY_HOME"
DEFAULT_HOME = Path("~/.cache/distilled_registry")


class StoreError(UserError):
    """A release that is not in the store, or a store path that is not what it should be."""


def home() -> Path:
    """The store's root folder (not created here)."""
    env = os.environ.get(HOME_ENV)
    return Path(env).expanduser() if env else DEFAULT_HOME.expanduser()


def _inside(p: Path, root: Path) -> Path:
    """``p`` if it resolves inside ``root`` (a symlink could lead elsewhere); else StoreError."""
    rp, rr = p.resolve(), root.resolve()
    if rp != rr and rr not in rp.parents:
        raise StoreError(f"{str(p)!r} resolves to {str(rp)!r}, outside the store {str(rr)!r}; refusing to use it")
    return p


def release_dir(name: str | names.ReleaseName, version: str | None = None) -> Path:
    """``<home>/<family>/<config>/<version>`` (it may not exist); the name is checked first."""
    rn = names.parse(name, version) if isinstance(name, str) else name
    v = version or rn.version
    if v is None:
        raise StoreError(f"{rn.name}: which version? give NAME:VERSION, e.g. {rn.name}:1.0.0")
    names.check_version(v)
    root = home()
    return _inside(root / rn.family / rn.config / v, root) if root.exists() else root / rn.family / rn.config / v


def versions(name: str | names.ReleaseName) -> list[str]:
    """Versions of ``family/config`` present in the store, oldest first."""
    rn = names.parse(name) if isinstance(name, str) else name
    d = home() / rn.family / rn.config
    if not d.is_dir():
        return []
    found = [p.name for p in d.iterdir()
             if p.is_dir() and names.VERSION_RE.match(p.name) and (p / rel.PROVENANCE_FILE).exists()]
    return sorted(found, key=names.version_key)


def resolve(name: str | names.ReleaseName, version: str | None = None) -> tuple[names.ReleaseName, Path]:
    """``(name with its version, folder)`` of a release in the store: the given version, else the newest.

    Raises:
      BadNameError: a malformed name; StoreError: the release (or that version) is not in the store.
    """
    rn = names.parse(name, version) if isinstance(name, str) else name
    if version is not None and rn.version is None:
        rn = names.ReleaseName(rn.family, rn.config, names.check_version(version))
    present = versions(rn)
    if rn.version is None:
        if not present:
            raise StoreError(f"{rn.name} is not in the local store {str(home())!r}; make it with "
                             f"`distilled-registry regenerate {rn.name}` (set ${HOME_ENV} to use another store)")
        rn = names.ReleaseName(rn.family, rn.config, present[-1])
    elif rn.version not in present:
        have = f"versions present: {', '.join(present)}" if present else "no version is present"
        raise StoreError(f"{rn} is not in the local store {str(home())!r} ({have})")
    return rn, release_dir(rn)


def local_releases() -> list[tuple[names.ReleaseName, Path]]:
    """Every release folder in the store, ``(name:version, folder)``, sorted by name then version."""
    root = home()
    out = []
    if not root.is_dir():
        return out
    for fam in sorted(root.iterdir()):
        if not fam.is_dir() or not names.FAMILY_RE.match(fam.name):
            continue
        for cfg in sorted(fam.iterdir()):
            if not cfg.is_dir() or cfg.name.startswith("."):
                continue
            try:
                rn = names.parse(f"{fam.name}/{cfg.name}")
            except names.BadNameError:
                continue
            for v in versions(rn):
                out.append((names.ReleaseName(rn.family, rn.config, v), cfg / v))
    return out


@contextlib.contextmanager
def staging() -> Iterator[Path]:
    """A fresh empty folder under ``<home>/.staging`` for a run to write into; removed on exit."""
    root = home() / ".staging"
    root.mkdir(parents=True, exist_ok=True)
    d = Path(tempfile.mkdtemp(prefix="run.", dir=root))
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)
        with contextlib.suppress(OSError):
            root.rmdir()  # only when empty: another run may be staging beside this one


def add(folder: str | os.PathLike, name: str | names.ReleaseName, version: str, release_info: dict | None = None,
        overwrite: bool = False) -> Path:
    """Put the release at ``folder`` into the store as ``name:version``; returns its store folder.

    The release is verified, its provenance gains a ``release`` block (name, family, config,
    version, and ``release_info`` such as the catalog spec), and it is written atomically:
    ``data.parquet`` and ``croissant.json`` are made again so they carry the release name.

    Raises:
      StoreError: that version is already in the store and ``overwrite`` is False.
    """
    rn = names.parse(name) if isinstance(name, str) else name
    names.check_version(version)
    dest = release_dir(rn, version)
    if dest.exists() and not overwrite:
        raise StoreError(f"{rn.name}:{version} is already in the store at {str(dest)!r}; check it with "
                         f"`distilled-registry verify {rn.name}:{version}` or replace it with --overwrite")
    files = rel.read_files(folder)
    prov = rel.read_provenance(folder)
    prov["release"] = {"name": rn.name, "family": rn.family, "config": rn.config, "version": version,
                       **(release_info or {})}
    rel.write_release(dest, files, prov, overwrite=overwrite)
    return _inside(dest, home())
