"""Pins: the sha256 of each published file, recorded on its first verified download and held from then on.

The bucket publishes no checksums. A file's sha256 is recorded in ``<store>/published_pins.json`` on
its first verified http(s) download (the file parses, its arrays have the published shapes, its
values are finite) and every later copy must match it, whichever server it came from. Pins recorded
in the records file (``records.json``: maintainers, ``import-published NAME --record``) hold for
everyone. Pins are keyed by the bucket path (``kip/cifar10/...npz``), not the URL, so a mirror is held
to the same pins. Every read-modify-write of the pins file holds ``<store>/.published_pins.lock``.
"""

from __future__ import annotations

import datetime as dt
import json
import os

from .. import atomic, records
from ..errors import PublishedUsageError
from ..pin_check import (  # noqa: F401 - re-exported: published.pins.*
    PINS_FILE,
    PINS_FIX,
    PINS_FORMAT,
    PINS_LOCK,
    _pins_problem,
    check_pin,
    expected,
    pin_status,
    pins_path,
    read_pins,
)


def _pins_lock():
    """The lock held for every read-modify-write of the pins file (another process may pin meanwhile)."""
    return atomic.lock(pins_path().parent / PINS_LOCK, what=str(pins_path()))


def _write_pins(d: dict) -> None:
    """Write the pins atomically; the caller holds :func:`_pins_lock` since it read them."""
    p = pins_path()
    p.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_text(p, json.dumps(d, indent=1, sort_keys=True) + "\n")


def record_pin(key: str, sha256: str, size: int, url: str) -> dict:
    """Pin ``key`` locally (first verified download); returns the pin. An existing pin is never replaced.

    The read-modify-write of the pins file holds its lock, so concurrent imports lose no pin.
    """
    with _pins_lock():
        d = read_pins()
        if key in d["files"]:
            return d["files"][key]
        pin = {"sha256": sha256, "size": size, "url": url, "pinned": _now()}
        d["files"][key] = pin
        _write_pins(d)
    return pin


def record_shared(release_path: str | os.PathLike) -> dict:
    """Maintainers: pin an imported release's original file in the records file, for everyone.

    The release must have come from a verified download of a bucket file. The pin is keyed by its
    bucket path and names the config it was imported as (so a ``final`` checkpoint resolves to the
    recorded file for everyone). Returns ``{"path", "sha256", "size", "config", "recorded"}``.
    """
    from .. import release as rel

    prov = rel.verified(release_path)
    o = prov.get("origin") or {}
    if o.get("kind") != "published" or not o.get("downloaded") or not o.get("path"):
        raise PublishedUsageError(f"{release_path}: only a release imported by a verified download of a bucket file "
                                  "can be pinned for everyone")
    pin = {"sha256": next(iter(o["files_sha256"].values())), "size": next(iter(o["files_size"].values())),
           "config": prov["release"]["name"], "recorded": _now()}
    records.record_pin(o["path"], pin)
    return {"path": o["path"], **pin}


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
