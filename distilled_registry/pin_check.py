"""The pins of the authors' published files, read and checked (writing them: :mod:`.published.pins`).

A published file's sha256 is pinned in the records file (for everyone) or in
``<store>/published_pins.json`` (on its first verified download); :func:`check_pin` holds a file to
its pin and :func:`pin_status` says, for a release's provenance, whether its original file matches.
Below the store and the published package, so that every read of a release (:mod:`.conformance`)
can hold an imported file to its pin.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from . import records
from .errors import PinError, PublishedError
from .store_root import home

PINS_FILE = "published_pins.json"


PINS_FORMAT = "distilled_registry.published_pins/1"


PINS_LOCK = ".published_pins.lock"


def pins_path() -> Path:
    return home() / PINS_FILE


_SHA256_RE = re.compile(r"[0-9a-f]{64}\Z")


PINS_FIX = ("it guards published files against replacement: restore it from a backup, or move it aside knowingly "
            "(pins are then recorded afresh on the next verified downloads)")


def _pins_problem(d) -> str | None:
    """What is wrong with a parsed pins file (None when it has the :data:`PINS_FORMAT` structure)."""
    if not isinstance(d, dict):
        return f"a JSON {type(d).__name__}, not an object"
    if d.get("format") != PINS_FORMAT:
        return f"format {d.get('format')!r}, not {PINS_FORMAT!r}"
    files, final = d.get("files", {}), d.get("final", {})
    if not isinstance(files, dict) or not isinstance(final, dict):
        return "'files' and 'final' must be objects"
    for k, pin in files.items():
        if not isinstance(pin, dict) or not (isinstance(pin.get("sha256"), str) and _SHA256_RE.match(pin["sha256"])):
            return f"the pin of {k!r} has no sha256 of 64 hex digits"
    for k, r in final.items():
        if not isinstance(r, dict) or type(r.get("checkpoint")) is not int:
            return f"the final checkpoint of {k!r} is not an integer"
    return None


def read_pins() -> dict:
    """``<store>/published_pins.json``, checked: ``{"format", "files": {key: pin}, "final": {key: resolution}}``.

    Raises PublishedError (one line naming the file) when it cannot be read or is not of that structure.
    """
    p = pins_path()
    if not p.is_file():
        return {"format": PINS_FORMAT, "files": {}, "final": {}}
    try:
        d = json.loads(p.read_text())
    except (OSError, ValueError) as e:
        raise PublishedError(f"the pins file {str(p)!r} is malformed: {type(e).__name__}: {e}; {PINS_FIX}") from None
    problem = _pins_problem(d)
    if problem:
        raise PublishedError(f"the pins file {str(p)!r} is malformed ({problem}); {PINS_FIX}")
    d.setdefault("files", {})
    d.setdefault("final", {})
    return d


def expected(key: str) -> tuple[dict | None, str | None]:
    """The pin of a bucket path (or re-hosted copy name): ``(pin, "records" | "local")`` or ``(None, None)``."""
    shared = records.pins().get(key)  # pins for everyone: the records file
    if shared:
        return shared, "records"
    local = read_pins()["files"].get(key)
    return (local, "local") if local else (None, None)


def check_pin(key: str, files_sha256: dict[str, str]) -> dict:
    """Compare a file's sha256 (``{file name: sha256}``) with its pin; PinError when it differs.

    Returns the pin state recorded in provenance: ``{"key", "state", "where"?, "sha256"?}``.
    """
    pin, where = expected(key)
    if pin is None:
        return {"key": key, "state": "unpinned"}
    want = pin.get("files_sha256") or {Path(key).name: pin["sha256"]}
    have = files_sha256 if "files_sha256" in pin else {Path(key).name: next(iter(files_sha256.values()))}
    bad = {n: (have.get(n), s) for n, s in want.items() if have.get(n) != s}
    if bad:
        src = (f"the records file {str(records.path())!r}" if where == "records"
               else f"{str(pins_path())!r} (recorded on its first verified download)")
        detail = "; ".join(f"{n}: sha256 {h}, pinned {s}" for n, (h, s) in bad.items())
        raise PinError(f"refusing {key}: its sha256 differs from the one pinned in {src} ({detail}). The file was "
                       "replaced or damaged on the way; nothing was written. If the authors really changed it, "
                       "remove its pin knowingly and import again")
    return {"key": key, "state": f"matches the {where} pin", "where": where, **pin}


def pin_status(prov: dict) -> dict | None:
    """For ``verify``: the original file's sha256 against its pin (None for a release that was not imported)."""
    o = prov.get("origin")
    if not o or o.get("kind") != "published":
        return None
    key = (o.get("pin") or {}).get("key")
    if not key:
        return None
    try:
        state = check_pin(key, o["files_sha256"])
    except PinError as err:
        return {"key": key, "ok": False, "problem": str(err)}
    return {"key": key, "ok": True, "state": state["state"]}
