"""Byte-for-byte reproducible ``.npz`` files.

``numpy.savez`` stamps each member with the current time, so the same arrays saved twice give
different bytes and different sha256. Releases are pinned by sha256, so they are written here
with a fixed timestamp, members in the order given, stored uncompressed: the same arrays give
the same file on any machine. ``numpy.load`` reads them as usual.
"""

from __future__ import annotations

import io
import zipfile

import numpy as np

_EPOCH = (1980, 1, 1, 0, 0, 0)


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """The bytes of an ``.npz`` holding ``arrays`` (name -> array), deterministic in its input."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, a in arrays.items():
            a = np.asarray(a)
            if a.dtype == object:
                raise TypeError(f"array {name!r} has dtype object, which a release cannot hold")
            member = io.BytesIO()
            # np.ascontiguousarray would turn a 0-d array into shape (1,): keep every shape as it is
            np.lib.format.write_array(member, np.require(a, requirements="C"), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_EPOCH)
            info.external_attr = 0o644 << 16
            zf.writestr(info, member.getvalue())
    return buf.getvalue()
