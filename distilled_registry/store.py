"""The local store: where releases live on this machine, several versions side by side.

    <home>/<family>/<config>/<version>/     a release folder (release.py), e.g.
    ~/.cache/distilled_registry/kip_cifar10/ipc10/1.0.0/

``<home>`` is ``$DISTILLED_REGISTRY_HOME`` when set, else ``~/.cache/distilled_registry``.
Releases enter the store only whole (:func:`add` writes through ``release.write_release``, which
renames a finished temporary folder into place); runs that make them work in ``<home>/.staging``,
which :func:`staging` empties whatever happens.

A folder's path is a claim its provenance must back: every read by name (:func:`resolve`, hence
``load``, ``verify NAME``, the TFDS builders, ``export-hf``) and every :func:`add` checks that the
provenance's ``release`` block and family are those of the folder's ``<family>/<config>/<version>``,
and that a run stored at a catalog config's version ran that config's spec (:func:`check_identity`).
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
from .errors import UsageError
from .output_folder import FolderRefused
from .store_root import DEFAULT_HOME, HOME_ENV, StoreError, _check_home, home  # noqa: F401


class StoreConflict(StoreError, UsageError):
    """A version that is already in the store (whole or damaged): the command needs ``--overwrite`` (exit 2)."""


# The files a release folder holds (release.py, croissant.py, distill's loss curve): a store version
# folder holding nothing else, but no provenance.json, is a damaged release that --overwrite replaces.
RELEASE_FILE_NAMES = frozenset({"data.npz", "data.parquet", "transform.npz", "preview.png", "loss_curve.png",
                                "accuracy_curve.png",
                                "croissant.json", "provenance.json"})


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
    path = release_dir(rn)
    read_identity(rn, path)
    return rn, path


def read_identity(rn: names.ReleaseName, path: Path) -> dict:
    """The provenance of the store folder ``path`` after :func:`check_identity` as ``rn``: the folder must
    resolve inside the store, its provenance be bounded JSON of the schema (``release.read_provenance``)."""
    _inside(path, home())
    prov = rel.read_provenance(path)
    check_identity(rn, path, prov)
    return prov


# The fields of a catalog spec that define a release: a stored release must have run exactly these.
# ``tile`` (rows per kernel tile, `regenerate --tile`) and ``eval_block`` only say how the kernel
# was computed, not what: they may differ.
SPEC_FIELDS_NOT_COMPARED = ("tile", "eval_block")


def check_identity(rn: names.ReleaseName, path: str | os.PathLike, prov: dict, adding: bool = False) -> None:
    """ReleaseError unless the release at ``path`` is the release ``rn`` (``family/config:version``) names.

    Every read of a store release by name goes through here (:func:`resolve`), and :func:`add`
    before it writes (``adding``). The provenance must carry a ``release`` block (written when the
    release entered the store by name) whose name, family, config and version are ``rn``'s, and
    its ``name`` must be ``rn.family``. A run (a provenance with ``config``, not an imported
    published file) at the version the catalog spec of ``rn`` makes must have run that spec
    (:func:`spec_differences`). Last, the release must be what ``rn``'s config says
    (:func:`distilled_registry.conformance.check`: shapes, classes, support size, recorded sha256, pin).
    """
    head = f"{str(path)!r} cannot go into the store as {rn}" if adding else f"{str(path)!r} sits in the store as {rn}"
    make = _how_to_make(rn)
    r = prov.get("release")
    if not isinstance(r, dict):
        raise rel.ReleaseError(
            f"{head} but its provenance has no release name (a `distill --out` folder written into the store?); "
            f"move it out of the store, and {make}")
    got = {k: r.get(k) for k in ("name", "family", "config", "version")}
    want = {"name": rn.name, "family": rn.family, "config": rn.config, "version": rn.version}
    if got != want:
        theirs = f"{got['family']}/{got['config']}:{got['version']}"
        if got["name"] != f"{got['family']}/{got['config']}":
            theirs += f" (named {got['name']!r})"
        raise rel.ReleaseError(
            f"{head} but is the release {theirs}, as its provenance.json says: copied or moved under another name. "
            f"Move it back, and {make}")
    if prov.get("name") != rn.family:
        raise rel.ReleaseError(
            f"{head} but its provenance names the family {prov.get('name')!r}, not {rn.family!r}: it is another "
            f"family's release; {make}")
    if isinstance(prov.get("config"), dict):
        diff = spec_differences(rn, prov["config"])
        if diff:
            raise rel.ReleaseError(
                f"{head} but was not made by the catalog spec of {rn.name} ({'; '.join(diff)}): it is another run; "
                f"store it under another config name, and {make}")
    from . import conformance

    conformance.check(prov, rn, where=str(path))  # shapes, classes, support size, records, pin: what rn is


def _how_to_make(rn: names.ReleaseName) -> str:
    """What to do to get the real ``rn``: regenerate it when the catalog has its spec."""
    from . import catalog

    try:
        spec = catalog.entry(rn).spec
    except (catalog.CatalogError, names.BadNameError):
        spec = None
    if spec:
        return f"make {rn.name} with `distilled-registry regenerate {rn.name}`"
    return f"store a release of family {rn.family} as {rn.name}"


def spec_differences(rn: names.ReleaseName, config: dict) -> list[str]:
    """``["<field>: spec <a>, release <b>", ...]``: where a run's ``config`` differs from the catalog spec of ``rn``.

    Every field of the spec is compared (the kernel field by field) except
    :data:`SPEC_FIELDS_NOT_COMPARED`. Empty when the catalog has no spec for ``rn`` (an unknown
    name, a published variant) or ``rn`` is at another version than the one the spec makes.
    """
    from . import catalog

    try:
        e = catalog.entry(rn)
    except (catalog.CatalogError, names.BadNameError):
        return []
    if not e.spec or rn.version != e.version:
        return []
    out = []
    for key, want in e.spec.items():
        if key in SPEC_FIELDS_NOT_COMPARED:
            continue
        got = config.get(key)
        if isinstance(want, dict) and isinstance(got, dict):
            out += [f"{key}.{k}: spec {v!r}, release {got.get(k)!r}"
                    for k, v in want.items() if not _same(v, got.get(k))]
        elif not _same(want, got):
            out.append(f"{key}: spec {want!r}, release {got!r}")
    return out


def _same(a, b) -> bool:
    """Equal as JSON values (``1 == 1.0``, but ``True`` is not ``1``)."""
    return a == b and isinstance(a, bool) == isinstance(b, bool)


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


def check_destination(dest: Path, label: str, overwrite: bool = False) -> bool:
    """Refuse, before any work, a store version folder ``dest`` (release ``label``) that cannot be written.

    Returns True when ``dest`` is a damaged release (a folder without ``provenance.json`` holding only
    files a release writes, e.g. left by a crash of an older version) that ``overwrite`` replaces.

    Raises:
      StoreConflict: ``dest`` exists and ``overwrite`` is False (whole: "already in the store"; damaged:
        says so, and that ``--overwrite`` replaces it; neither advises ``verify``, which needs a provenance).
      StoreError: with ``overwrite``, ``dest`` is not a folder, or holds what no release writes.
    """
    if not os.path.lexists(dest):
        return False
    whole = dest.is_dir() and (dest / rel.PROVENANCE_FILE).is_file()
    if not overwrite:
        if whole:
            raise StoreConflict(f"{label} is already in the store at {str(dest)!r}; check it with "
                                f"`distilled-registry verify {label}` or replace it with --overwrite")
        raise StoreConflict(f"the store folder {str(dest)!r} of {label} holds no provenance.json: an incomplete or "
                            "damaged release; replace it with --overwrite")
    if dest.is_symlink() or not dest.is_dir():
        raise StoreError(f"{str(dest)!r} (the store's place for {label}) is a file or a link, not a release folder; "
                         "refusing to replace it: remove it knowingly")
    if whole:
        rel.check_replaceable(dest)
        return False
    foreign = sorted(e.name for e in dest.iterdir()
                     if e.name not in RELEASE_FILE_NAMES or e.is_symlink() or not e.is_file())
    if foreign:
        raise StoreError(f"the store folder {str(dest)!r} of {label} holds no provenance.json and also "
                         f"{', '.join(map(repr, foreign[:5]))}, which no release writes; refusing to replace it: "
                         "move those away knowingly, then run again with --overwrite")
    return True


def add(folder: str | os.PathLike, name: str | names.ReleaseName, version: str, release_info: dict | None = None,
        overwrite: bool = False) -> Path:
    """Put the release at ``folder`` into the store as ``name:version``; returns its store folder.

    The release is verified, its provenance gains a ``release`` block (name, family, config,
    version, and ``release_info`` such as the catalog spec), and it is written atomically:
    ``data.parquet`` and ``croissant.json`` are made again so they carry the release name.
    With ``overwrite`` a damaged version folder (:func:`check_destination`) is replaced too: it is
    moved aside, the release written, and then it is removed (put back if the write fails).

    Raises:
      StoreConflict: that version is already in the store and ``overwrite`` is False.
      StoreError: its store folder holds what no release writes.
      ReleaseError: the release is not one ``name:version`` may hold (:func:`check_identity`:
        another family, or a run that is not the catalog spec of ``name``); nothing is written.
    """
    read = rel.read_release(folder)  # one consistent version of the folder, checked
    return put(read.files, dict(read.record), name, version, release_info, overwrite, where=folder)


def put(files: dict[str, bytes], prov: dict, name: str | names.ReleaseName, version: str,
        release_info: dict | None = None, overwrite: bool = False, where: str | os.PathLike | None = None) -> Path:
    """Write a release (its ``files`` and ``prov``, not yet on disk) into the store as ``name:version``, once.

    What :func:`add` does for a folder, for a release made in memory (``regenerate`` writes its run here
    directly); ``where`` names it in messages. Raises as :func:`add`.
    """
    rn = names.parse(name) if isinstance(name, str) else name
    names.check_version(version)
    dest = release_dir(rn, version)
    damaged = check_destination(dest, f"{rn.name}:{version}", overwrite)
    prov = dict(prov)
    prov["release"] = {"name": rn.name, "family": rn.family, "config": rn.config, "version": version,
                       **(release_info or {})}
    prov.setdefault("files", {n: rel.digest(b) for n, b in sorted(files.items())})  # what the identity check reads
    where = where if where is not None else f"the new release of {rn.name}"
    check_identity(names.ReleaseName(rn.family, rn.config, version), where, prov, adding=True)  # before any write
    if not damaged:
        try:
            rel.write_release(dest, files, prov, overwrite=overwrite)
        except FolderRefused:  # another process made the version between the check above and this write
            if overwrite:  # check_destination let it be replaced: a refusal now is not that race
                raise
            label = f"{rn.name}:{version}"
            raise StoreConflict(f"{label} was added to the store at {str(dest)!r} by another process while this "
                                f"one was adding it; check it with `distilled-registry verify {label}` or replace "
                                "it with --overwrite") from None
        return _inside(dest, home())
    aside = Path(tempfile.mkdtemp(prefix=f".{dest.name}.damaged.", dir=dest.parent))
    os.replace(dest, aside)  # a folder onto the empty folder mkdtemp made
    try:
        rel.write_release(dest, files, prov)
    except BaseException:
        with contextlib.suppress(OSError):
            os.replace(aside, dest)  # nothing lost: the damaged folder goes back where it was
        raise
    shutil.rmtree(aside, ignore_errors=True)
    return _inside(dest, home())
