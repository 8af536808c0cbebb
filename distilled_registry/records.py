"""The catalog's machine-written half: recorded releases and pinned published files, ``records.json``.

Hand-written intent (what to run, why, the paper's figure) lives in :mod:`distilled_registry.configs`;
what commands learn lives here, and only here:

- ``releases``: ``{"<family>/<config>": {version: record}}``, a record being where the release is
  (``store:<family>/<config>/<version>`` or an http(s) URL of its folder), the sha256 of its
  ``data.npz`` and ``provenance.json`` (and their sizes when published), when it was made and its
  metrics. ``regenerate --record`` writes one (:func:`distilled_registry.recording.record_release`).
- ``pins``: ``{key: pin}`` for the authors' published files: a bucket path
  (``ls/mnist/ConvNet_ssize10_nozca.npz``) with ``{"sha256", "size"}``, or a re-hosted copy's name
  with ``{"files_sha256": {member: sha256}}``. ``import-published --record`` writes one
  (:func:`record_pin`); every download of that file is held to it, whoever runs it.

The file is ``records.json`` beside this module, or ``$DISTILLED_REGISTRY_RECORDS``. Every write is a
read-modify-write under ``.<name>.lock`` (another process may record meanwhile), written atomically.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
from pathlib import Path
from typing import Callable, Iterator

from . import atomic
from .errors import UserError

FORMAT = "distilled_registry.records/1"
RECORDS_ENV = "DISTILLED_REGISTRY_RECORDS"
DEFAULT_PATH = Path(__file__).with_name("records.json")


class RecordsError(UserError):
    """A records file that cannot be read (damaged, not a records file), or a record that cannot be made: exit 1."""


def path() -> Path:
    """The records file in use: ``$DISTILLED_REGISTRY_RECORDS`` or the packaged ``records.json``."""
    env = os.environ.get(RECORDS_ENV)
    return Path(env) if env else DEFAULT_PATH


def empty() -> dict:
    return {"format": FORMAT, "releases": {}, "pins": {}}


def load() -> dict:
    """The parsed records (checked: format, and the two tables); an absent file holds none."""
    p = path()
    try:
        stat = p.stat()
    except FileNotFoundError:
        return empty()
    except OSError as e:
        raise RecordsError(f"cannot read the records {str(p)!r}: {e}; unset ${RECORDS_ENV} to use the packaged "
                           "one") from e
    return _load(str(p), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=4)
def _load(p: str, _mtime: int, _size: int) -> dict:
    try:
        d = json.loads(Path(p).read_text())
    except (OSError, ValueError) as e:
        raise RecordsError(f"cannot read the records {p!r}: {e}") from None
    if not isinstance(d, dict) or d.get("format") != FORMAT:
        raise RecordsError(f"{p!r} is not a {FORMAT} records file (format "
                           f"{d.get('format') if isinstance(d, dict) else None!r})")
    releases, pins = d.get("releases", {}), d.get("pins", {})
    if not (isinstance(releases, dict) and all(isinstance(v, dict) and all(isinstance(r, dict) for r in v.values())
                                               for v in releases.values())):
        raise RecordsError(f"{p!r}: 'releases' must map names to {{version: record}} tables; the file is damaged: "
                           f"restore it, or unset ${RECORDS_ENV}")
    if not (isinstance(pins, dict) and all(isinstance(v, dict) for v in pins.values())):
        raise RecordsError(f"{p!r}: 'pins' must map file names to pin tables; the file is damaged: restore it, "
                           f"or unset ${RECORDS_ENV}")
    return {"format": FORMAT, "releases": d.get("releases", {}), "pins": d.get("pins", {})}


def releases(name: str) -> dict:
    """The recorded releases of ``family/config``: ``{version: record}``."""
    return dict(load()["releases"].get(name, {}))


def pins() -> dict[str, dict]:
    """Every recorded pin: ``{bucket path or copy name: pin}``."""
    return {k: dict(v) for k, v in load()["pins"].items()}


def dumps(d: dict) -> str:
    """``records.json`` text: sorted keys, indented, one trailing newline (stable diffs)."""
    return json.dumps(d, indent=1, sort_keys=True) + "\n"


@contextlib.contextmanager
def _locked() -> Iterator[Path]:
    p = path()
    with atomic.lock(p.parent / f".{p.name}.lock", what=str(p)):
        yield p


def update(change: Callable[[dict], None]) -> dict:
    """Read the records, apply ``change`` (which edits the dict in place), write them back; returns them.

    Held under the records' lock from the read to the atomic write, so two processes recording at
    once both land.
    """
    with _locked() as p:
        d = load() if p.exists() else empty()
        d = json.loads(json.dumps(d))  # a private copy: the cached one stays as read
        change(d)
        atomic.write_text(p, dumps(d))
    return d


def record_pin(key: str, pin: dict) -> dict:
    """Record the pin of a published file (``key``: its bucket path, or a re-hosted copy's name)."""
    update(lambda d: d["pins"].__setitem__(key, dict(pin)))
    return pin
