"""Rule A, nothing replaces or deletes what it did not create: the one check of every folder a command writes into.

Every command that writes into a folder the user names calls :func:`claim` on it before any work:
``distill --out`` and ``rerun --out`` (a release folder), the store's version folders (``regenerate``,
``import-published``: ``release.write_release``), ``demo --out``, ``export-hf --out``, each family
folder of ``builders`` and a KIP run's ``--checkpoint-dir``. The folder is accepted when

- nothing is there (it is made by the command), or
- it carries the command's own marker from an earlier run, and holds nothing the marker does not
  list (the command's own files: a user's file added to it since is never replaced), and the caller
  may replace that earlier output (``--overwrite``; ``--resume`` for a checkpoint; ``builders``
  refreshes its own files always).

Anything else (a user's folder, a file, a symbolic link, another command's folder) raises
:class:`FolderRefused` (a usage error, exit 2): one line naming the folder and the flag that allows
replacing an earlier output, or saying that none does. The marker is

- for a release folder (:data:`RELEASE`): its ``provenance.json``, which lists every file of the
  release (``files``); a folder holding only plain files that it lists is a release this package wrote;
- for any other folder: ``.distilled-registry-<command>``, a small JSON file
  (``{"format", "command", "files"}``, the relative paths the command wrote) that :func:`mark` writes
  atomically, before the folder is published (``demo``, ``export-hf``) or when it is first made
  (checkpoints, builder folders).

Writers that publish a finished folder by an atomic swap (``release.move_into_place``) call
:func:`check` again under the swap's lock, just before it, so a folder put there after the first
check is refused, never removed.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Iterable

from . import atomic
from .errors import UsageError

RELEASE = "release"  # the pseudo-command of a release folder: its provenance.json is its marker
MARKER_PREFIX = ".distilled-registry-"
FORMAT = "distilled_registry.output_folder/1"
MAX_MARKER_BYTES = 4 << 20


class FolderRefused(UsageError):
    """A folder a command was asked to write into that is not its own to replace (exit 2; nothing was done)."""


def marker_name(command: str) -> str:
    """The marker file of ``command``'s folders (``provenance.json`` for a release folder)."""
    return "provenance.json" if command == RELEASE else MARKER_PREFIX + command


def claim(folder: str | os.PathLike, command: str, *, replace: bool = False, flag: str | None = "--overwrite",
          option: str | None = "--out", writes: Iterable[str] | None = None, verb: str = "replace") -> bool:
    """Rule A, before any work: may ``command`` write ``folder``? True when it replaces an earlier output of its own.

    Args:
      folder: the folder the command writes (it may not exist).
      command: ``release`` (:data:`RELEASE`) or the command's name (``demo``, ``export-hf``, ``builders``,
        ``checkpoint``): whose marker makes the folder the command's own.
      replace: the caller may replace (or write into) an earlier output of its own (the user gave ``flag``).
      flag: the option that allows replacing an earlier output (named in the refusal), None if none does.
      option: the option that named the folder (``--out``, ``--checkpoint-dir``), for the message.
      writes: the relative paths the command writes into an existing folder of its own, leaving the rest
        (``builders``, checkpoints); None: the folder is replaced whole, so it must hold nothing unlisted.
      verb: what ``flag`` does to an earlier output (``replace``; ``continue`` for ``--resume``).
    Raises:
      FolderRefused: ``folder`` exists and is not ``command``'s own (one line: the folder, why, what to do), or
        it is, and ``replace`` is False.
    """
    folder = Path(folder)
    where = f"{option} {str(folder)!r}" if option else repr(str(folder))
    problem = not_ours(folder, command, writes)
    if problem is None:
        if not os.path.lexists(folder):
            return False
        if replace or (writes is not None and not any(os.path.lexists(folder / w) for w in writes)):
            return True
        allow = (f"add {flag} to {verb} it, or choose a new folder" if flag else
                 "choose a new folder, or remove it first")
        raise FolderRefused(f"{where} already exists: an earlier {_what(command)}; {allow}")
    only = (f" ({flag} replaces only an earlier {_what(command)})" if flag else "")
    raise FolderRefused(f"{where} already exists and {problem}; refusing to replace or write into what "
                        f"distilled-registry did not make{only}: choose a new folder")


def check(folder: str | os.PathLike, command: str) -> None:
    """:func:`claim` with ``replace``: FolderRefused unless ``folder`` is absent or wholly ``command``'s own
    (the second check, made under the lock just before an atomic swap)."""
    claim(folder, command, replace=True, option=None)


def _what(command: str) -> str:
    return "release folder" if command == RELEASE else f"`distilled-registry {command}` folder"


def not_ours(folder: Path, command: str, writes: Iterable[str] | None = None) -> str | None:
    """Why ``folder`` is not ``command``'s own to replace (None: it is, or nothing is there)."""
    if not os.path.lexists(folder):
        return None
    if folder.is_symlink():
        return "is a symbolic link"
    if not folder.is_dir():
        return "is a file, not a folder"
    listed = _listed(folder, command)
    if isinstance(listed, str):
        return listed
    marker = marker_name(command)
    if writes is not None:
        for w in writes:
            if w == marker:
                continue
            p = folder / w
            if os.path.lexists(p) and (w not in listed or p.is_symlink() or not p.is_file()):
                return f"holds {w!r}, which it did not write (not listed in its {marker})"
        return None
    for root, dirs, files in os.walk(folder):
        for name in sorted(dirs + files):
            p = Path(root) / name
            rel_name = p.relative_to(folder).as_posix()
            if rel_name == marker:
                continue
            st = os.lstat(p)
            if stat.S_ISDIR(st.st_mode) and any(f.startswith(rel_name + "/") for f in listed):
                continue
            if not stat.S_ISREG(st.st_mode) or rel_name not in listed:
                return f"holds {rel_name!r}, which {_what(command)} never wrote (not listed in its {marker})"
    return None


def _listed(folder: Path, command: str) -> set[str] | str:
    """The paths the marker of ``command`` in ``folder`` lists, or why there is no valid marker."""
    marker = marker_name(command)
    try:
        fd = os.open(folder / marker, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)  # a FIFO never blocks
    except OSError:
        return f"has no {marker} (not a {_what(command)})"
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_MARKER_BYTES:
            return f"its {marker} is not a plain file of at most {MAX_MARKER_BYTES} bytes"
        raw = os.read(fd, MAX_MARKER_BYTES + 1)
    finally:
        os.close(fd)
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        return f"its {marker} is not JSON (not a {_what(command)})"
    if command == RELEASE:
        files = body.get("files") if isinstance(body, dict) else None
        names = [n for n in files if "/" not in n] if isinstance(files, dict) else None  # a release is flat
    elif isinstance(body, dict) and body.get("format") == FORMAT and body.get("command") == command:
        names = body.get("files")
    else:
        return f"its {marker} is not the marker of `distilled-registry {command}`"
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        return f"its {marker} lists no files"
    return set(names)


def mark(folder: str | os.PathLike, command: str, files: Iterable[str] | None = None) -> Path:
    """Write ``command``'s marker into ``folder`` atomically, listing ``files`` (default: every file now in
    ``folder``, relative paths, the marker aside)."""
    folder = Path(folder)
    name = marker_name(command)
    if files is None:
        files = [p.relative_to(folder).as_posix() for p in folder.rglob("*")
                 if p.is_file() and not p.is_symlink() and p.name != name]
    return atomic.write_text(folder / name, marker_text(marker_body(command, files)))


def marker_text(body: dict) -> str:
    """The marker file's text: the same bytes for the same body (builder folders are committed)."""
    return json.dumps(body, indent=1, sort_keys=True) + "\n"


def marker_body(command: str, files: Iterable[str]) -> dict:
    """The marker's JSON body: this format, the command, the sorted relative paths it wrote."""
    return {"format": FORMAT, "command": command, "files": sorted(set(files))}
