"""CIFAR-10 / CIFAR-100 batches: the binary version read with numpy, the python version unpickled under a whitelist.

Binary (what TFDS downloads): records of label bytes (CIFAR-100: coarse, fine) then 3,072 pixel bytes. Python: pickles
whose globals resolve only to numpy's reconstruction of integer arrays (:data:`ALLOWED`); any other raises first.
"""

from __future__ import annotations

import io
import pickle

import numpy as np

from .source_errors import SourceError

PIXELS = 3072  # one 32x32 RGB image, channel-major: R plane, G plane, B plane, each row by row


def read_binary(raw: bytes, where: str, label_bytes: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Records -> ``(rows uint8 (N, 3072), labels int64 (N, label_bytes))``; SourceError if not whole records."""
    a, size = np.frombuffer(raw, np.uint8), label_bytes + PIXELS
    if a.size == 0 or a.size % size:
        raise SourceError(f"{where}: size {a.size} is not a multiple of {size} bytes ({label_bytes} label byte(s) + "
                          f"{PIXELS} pixel bytes per record)")
    a = a.reshape(-1, size)
    return a[:, label_bytes:], a[:, :label_bytes].astype(np.int64)


def _need(ok: bool, what: str) -> None:
    if not ok:
        raise pickle.UnpicklingError(what)


def _int_dtype(spec, align=False, copy=True) -> np.dtype:
    """``numpy.dtype(spec)`` of integers (or bools) only; a fresh copy, as BUILD may set its byte order."""
    s = spec.decode("latin-1") if isinstance(spec, bytes) else spec
    dt = np.dtype(s) if isinstance(s, str) and len(s) <= 8 else None
    _need(dt is not None and dt.kind in "uib" and dt.fields is None,
          f"arrays of dtype {s!r:.20}: only integer arrays are read (an object array would hold pickles itself)")
    return np.dtype(s, bool(align), True)


def _reconstruct(sub, shape, code) -> np.ndarray:  # numpy's __setstate__ (size-checked) then fills it
    _need(sub is _NDARRAY and shape == (0,) and code in (b"b", "b"), "_reconstruct of other than an empty ndarray")
    return np.empty(0, np.int8)


def _frombuffer(buf, dtype, shape, order) -> np.ndarray:
    _need(isinstance(dtype, np.dtype) and dtype.kind in "uib", f"arrays of dtype {dtype!r:.20}: only integers are read")
    return np.frombuffer(bytes(buf), dtype).reshape(shape, order=order)


_NDARRAY = object()  # what ``numpy.ndarray`` resolves to: a token for _reconstruct, neither callable nor buildable
ALLOWED = {**{(f"{c}.multiarray", "_reconstruct"): _reconstruct for c in ("numpy.core", "numpy._core")},
           **{(f"{c}.numeric", "_frombuffer"): _frombuffer for c in ("numpy.core", "numpy._core")},
           ("numpy", "dtype"): _int_dtype, ("__builtin__", "bytes"): lambda: b"", ("builtins", "bytes"): lambda: b"",
           ("_codecs", "encode"): lambda text, enc: _need(isinstance(text, str) and enc in ("latin1", "latin-1"),
                                                          "_codecs.encode of other than (text, 'latin1')")
           or text.encode("latin-1")}  # how python 3 pickles bytes under protocol 2


class _NumpyOnly(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) == ("numpy", "ndarray"):
            return _NDARRAY
        fn = ALLOWED.get((module, name))
        _need(fn is not None, f"the global {module}.{name} is not numpy's array reconstruction (all CIFAR names)")
        return lambda *a: fn(*a)  # fresh each time: a BUILD on it changes nothing shared


def read_batch(raw: bytes, where: str) -> dict:
    """The dict a python batch holds (keys ``bytes`` in the python 2 originals, ``str`` from python 3); SourceError."""
    try:
        out = _NumpyOnly(io.BytesIO(raw), encoding="bytes").load()
        _need(isinstance(out, dict), f"it holds a {type(out).__name__}, not a dict")
    except Exception as e:  # noqa: BLE001 - a damaged or foreign pickle fails in many ways; none runs code
        raise SourceError(f"{where} is not a CIFAR python batch (a damaged or foreign pickle): "
                          f"{e if isinstance(e, pickle.UnpicklingError) else f'{type(e).__name__}: {e}'}") from None
    return out
