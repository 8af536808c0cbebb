"""Record a stored release in the records file (``regenerate --record``): its location, sha256, metrics.

Above :mod:`.release` (it verifies the release) and :mod:`.records` (it writes the record), so that the
records file stays readable below the catalog without importing a release reader.
"""

from __future__ import annotations

import os
from pathlib import Path

from . import release as rel
from .records import RecordsError, update


def record_release(name: str, release_path: str | os.PathLike, location: str | None = None) -> dict:
    """Record the release at ``release_path`` as ``name``: where it is, its sha256s and its metrics.

    The release is verified first; its name, version and metrics come from its provenance (the
    ``release`` block a store release has). ``location`` defaults to ``store:<family>/<config>/<version>``.
    Returns the record written.

    Raises:
      RecordsError: the release is another name's, or not a stored release (no ``release`` block).
    """
    prov = rel.verified(release_path)
    r = prov.get("release")
    if not r:
        raise RecordsError(f"the release at {str(release_path)!r} has no name and version in its provenance (only a "
                           f"stored release has); `distilled-registry store add` it as {name} first")
    if r["name"] != name:
        raise RecordsError(f"the release at {str(release_path)!r} is {r['name']!r}, not {name!r}")
    version = r["version"]
    record = {
        "location": location or f"store:{name}/{version}",
        "data_sha256": prov["files"][rel.DATA_FILE]["sha256"],
        "data_size": int(prov["files"][rel.DATA_FILE]["size"]),
        "provenance_sha256": rel.sha256_file(Path(release_path) / rel.PROVENANCE_FILE),
        "provenance_size": (Path(release_path) / rel.PROVENANCE_FILE).stat().st_size,
        "created": prov["created"],
        "metrics": {k: v for k, v in prov["metrics"].items() if k != "recipe"},
    }
    update(lambda d: d["releases"].setdefault(name, {}).__setitem__(version, record))
    return record
