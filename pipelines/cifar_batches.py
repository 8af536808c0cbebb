"""CIFAR-10 / CIFAR-100 python batches, read without unpickling: no file can run code.

The "python version" of CIFAR is a set of pickle files (``data_batch_1`` .. ``data_batch_5``,
``test_batch``; ``train``, ``test``, ``meta`` for CIFAR-100). ``pickle.loads`` of such a file runs
whatever callable the file names, so a crafted batch given as ``--source-dir`` would run code under
``distill``, ``import-published``, ``evaluate`` or ``rerun``. Here the file's opcode stream is
*parsed* with :func:`pickletools.genops` (which decodes opcodes and never executes anything) and
interpreted by a small stack machine that knows only what these files hold:

- dicts, lists, tuples (``MARK``, ``SETITEM(S)``, ``APPEND(S)``, ``TUPLE*``, ``DICT``, ``LIST``),
  the memo (``PUT``/``BINPUT``/``LONG_BINPUT``/``MEMOIZE``, ``GET``/``BINGET``/``LONG_BINGET``),
  ints, floats, ``None``, booleans, unicode strings, bytes; python 2 ``str`` (``STRING``,
  ``BINSTRING``, ``SHORT_BINSTRING``, as the original batches were written) becomes ``bytes``
  (latin-1, the ``encoding="bytes"`` reading);
- numpy arrays, exactly as numpy pickles them and nothing else: ``numpy.core.multiarray._reconstruct``
  (or ``numpy._core.multiarray._reconstruct``) of ``numpy.ndarray``, then ``BUILD`` with the state
  ``(version, shape, dtype, is_fortran, raw bytes)`` -> ``np.frombuffer(raw, dtype).reshape(shape)``;
  protocol 5's ``numpy.(_)core.numeric._frombuffer(buffer, dtype, shape, order)``; ``numpy.dtype(str,
  align, copy)`` with its ``BUILD`` state (byte order); ``_codecs.encode(text, "latin1")`` and
  ``bytes()``, which python 3 writes for bytes under protocol 2.

Any other global (``os.system``, ``builtins.eval``, ...) or opcode (``INST``, ``OBJ``, ``NEWOBJ``,
``PERSID``, extensions, ...) raises :class:`~distilled_registry.pipelines.sources.SourceError`
naming the file and the opcode or global, before anything is called. Arrays must be of an unsigned
or signed integer dtype (or bool): object dtypes, whose contents would be pickles themselves, are
refused; the raw buffer must hold exactly ``prod(shape) * itemsize`` bytes.
"""

from __future__ import annotations

import math
import pickletools

import numpy as np

_RECONSTRUCT = "reconstruct"
_NDARRAY = "ndarray"
_DTYPE = "dtype"
_FROMBUFFER = "frombuffer"
_ENCODE = "encode"
_BYTES = "bytes"

GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy", "ndarray"): _NDARRAY,
    ("numpy", "dtype"): _DTYPE,
    ("numpy.core.numeric", "_frombuffer"): _FROMBUFFER,
    ("numpy._core.numeric", "_frombuffer"): _FROMBUFFER,
    ("_codecs", "encode"): _ENCODE,
    ("__builtin__", "bytes"): _BYTES,
    ("builtins", "bytes"): _BYTES,
}
ARRAY_KINDS = "uib"  # unsigned, signed integers, bool: what pixels and labels are
MAX_PROTOCOL = 5

_PUSH_ARG = {"INT", "BININT", "BININT1", "BININT2", "LONG", "LONG1", "LONG4", "FLOAT", "BINFLOAT",
             "UNICODE", "BINUNICODE", "SHORT_BINUNICODE", "BINUNICODE8",
             "BINBYTES", "SHORT_BINBYTES", "BINBYTES8"}
_PY2_STR = {"STRING", "BINSTRING", "SHORT_BINSTRING"}
_PUT = {"PUT", "BINPUT", "LONG_BINPUT"}
_GET = {"GET", "BINGET", "LONG_BINGET"}


class _Refused(Exception):
    """Internal: what the batch holds that is not allowed (turned into a SourceError naming the file)."""


class _Global:
    def __init__(self, kind: str, name: str):
        self.kind, self.name = kind, name


class _ArrayStub:
    """``_reconstruct(ndarray, (0,), b'b')``: an array waiting for its ``BUILD`` state."""

    array: np.ndarray | None = None


class _Dtype:
    """``numpy.dtype(str, align, copy)``: a dtype whose byte order its ``BUILD`` state may still set."""

    def __init__(self, dtype: np.dtype):
        self.dtype = dtype


def _text(v, what: str) -> str:
    if isinstance(v, (bytes, bytearray)):
        return bytes(v).decode("latin-1")
    if isinstance(v, str):
        return v
    raise _Refused(f"{what} is {type(v).__name__}, expected a string")


def _dtype(typestr) -> _Dtype:
    s = _text(typestr, "a dtype")
    if len(s) > 8:
        raise _Refused(f"dtype {s[:20]!r} is not an integer dtype")
    try:
        dt = np.dtype(s)
    except (TypeError, ValueError) as e:
        raise _Refused(f"dtype {s!r}: {e}") from None
    if dt.kind not in ARRAY_KINDS or dt.fields is not None or dt.subdtype is not None:
        raise _Refused(f"arrays of dtype {s!r} (kind {dt.kind!r}): only unsigned or signed integer arrays are read "
                       "(an object array would hold pickles itself)")
    return _Dtype(dt)


def _set_dtype_state(d: _Dtype, state) -> None:
    """numpy's dtype ``__setstate__`` for a plain dtype: ``(version, byteorder, None, None, None, elsize, align, flags[, metadata])``."""
    if not isinstance(state, tuple) or len(state) not in (8, 9):
        raise _Refused("a dtype state that is not numpy's (version, byteorder, ...) tuple")
    order = _text(state[1], "a dtype byte order")
    if order not in ("<", ">", "|", "="):
        raise _Refused(f"dtype byte order {order!r}")
    if any(x is not None for x in state[2:5]) or (len(state) == 9 and state[8] is not None):
        raise _Refused("a structured dtype or one with metadata (only plain integer arrays are read)")
    if order in "<>" and d.dtype.itemsize > 1:
        d.dtype = d.dtype.newbyteorder(order)


def _shape(v) -> tuple[int, ...]:
    if not isinstance(v, tuple) or len(v) > 8 or not all(type(n) is int and n >= 0 for n in v):
        raise _Refused(f"array shape {v!r:.60}: expected a tuple of non-negative ints")
    return v


def _array(raw, dtype, shape, fortran: bool) -> np.ndarray:
    if not isinstance(dtype, _Dtype):
        raise _Refused("an array whose dtype is not a numpy.dtype")
    if not isinstance(raw, (bytes, bytearray)):
        raise _Refused(f"array data given as {type(raw).__name__}, not raw bytes (an object array?)")
    shape = _shape(shape)
    need = math.prod(shape) * dtype.dtype.itemsize
    if len(raw) != need:
        raise _Refused(f"array data of {len(raw)} bytes for shape {shape} of {dtype.dtype} ({need} bytes)")
    return np.frombuffer(bytes(raw), dtype.dtype).reshape(shape, order="F" if fortran else "C").copy()


def _build_array(stub: _ArrayStub, state) -> np.ndarray:
    """numpy's ndarray ``__setstate__``: ``(version, shape, dtype, is_fortran, raw bytes)``."""
    if stub.array is not None:
        raise _Refused("an array built twice")
    if not isinstance(state, tuple) or len(state) not in (4, 5):
        raise _Refused("an array state that is not numpy's (version, shape, dtype, is_fortran, data) tuple")
    if len(state) == 4:
        state = (1, *state)
    _, shape, dtype, fortran, raw = state
    if not isinstance(fortran, (bool, int)):
        raise _Refused("an array state whose fortran flag is not a boolean")
    stub.array = _array(raw, dtype, shape, bool(fortran))
    return stub.array


def _call(fn: _Global, args):
    if not isinstance(args, tuple):
        raise _Refused(f"arguments of {fn.name} are not a tuple")
    if fn.kind == _RECONSTRUCT:
        if len(args) != 3 or not (isinstance(args[0], _Global) and args[0].kind == _NDARRAY):
            raise _Refused(f"{fn.name} of anything but numpy.ndarray")
        return _ArrayStub()
    if fn.kind == _DTYPE:
        if not 1 <= len(args) <= 3:
            raise _Refused("numpy.dtype with other arguments than (str, align, copy)")
        return _dtype(args[0])
    if fn.kind == _FROMBUFFER:
        if len(args) != 4:
            raise _Refused(f"{fn.name} with other arguments than (buffer, dtype, shape, order)")
        order = _text(args[3], "an array order")
        if order not in ("C", "F"):
            raise _Refused(f"array order {order!r}")
        return _array(args[0], args[1], args[2], order == "F")
    if fn.kind == _ENCODE:
        if len(args) != 2 or not isinstance(args[0], str) or args[1] not in ("latin1", "latin-1"):
            raise _Refused("_codecs.encode with other arguments than (text, 'latin1')")
        return args[0].encode("latin-1")
    if fn.kind == _BYTES:
        if args != ():
            raise _Refused("bytes() with arguments")
        return b""
    raise _Refused(f"a call of {fn.name}")


def _value(v):
    """What a container may hold: a built array for its stub, a dtype; never a global."""
    if isinstance(v, _ArrayStub):
        if v.array is None:
            raise _Refused("an array used before its state was given")
        return v.array
    if isinstance(v, _Dtype):
        return v.dtype
    if isinstance(v, _Global):
        raise _Refused(f"the global {v.name} used as a value")
    return v


def _key(k):
    k = _value(k)
    if not isinstance(k, (str, bytes, int, bool, type(None))):
        raise _Refused(f"a dict key of type {type(k).__name__}")
    return k


def _interpret(raw: bytes):
    stack: list = []
    marks: list[list] = []
    memo: dict = {}

    def pop_mark() -> list:
        nonlocal stack
        if not marks:
            raise _Refused("an opcode that needs a MARK without one")
        items, stack = stack, marks.pop()
        return items

    def top(kind: type, what: str):
        if not stack or not isinstance(stack[-1], kind):
            raise _Refused(f"{what} on something that is not a {kind.__name__}")
        return stack[-1]

    for op, arg, _ in pickletools.genops(raw):
        name = op.name
        if name == "PROTO":
            if arg > MAX_PROTOCOL:
                raise _Refused(f"pickle protocol {arg}")
        elif name == "FRAME":
            pass
        elif name == "STOP":
            if len(stack) != 1 or marks:
                raise _Refused("a pickle that does not end with one object")
            return _value(stack[0])
        elif name in _PUSH_ARG:
            stack.append(arg)
        elif name in _PY2_STR:
            stack.append(arg.encode("latin-1") if isinstance(arg, str) else bytes(arg))
        elif name == "BYTEARRAY8":
            stack.append(bytearray(arg))
        elif name == "NONE":
            stack.append(None)
        elif name in ("NEWTRUE", "NEWFALSE"):
            stack.append(name == "NEWTRUE")
        elif name == "MARK":
            marks.append(stack)
            stack = []
        elif name == "EMPTY_DICT":
            stack.append({})
        elif name == "EMPTY_LIST":
            stack.append([])
        elif name == "EMPTY_TUPLE":
            stack.append(())
        elif name in ("TUPLE1", "TUPLE2", "TUPLE3"):
            n = int(name[-1])
            if len(stack) < n:
                raise _Refused(f"{name} on a stack of {len(stack)}")
            items = stack[len(stack) - n:]
            del stack[len(stack) - n:]
            stack.append(tuple(items))
        elif name == "TUPLE":
            items = pop_mark()  # first: it rebinds ``stack``
            stack.append(tuple(items))
        elif name == "LIST":
            items = pop_mark()
            stack.append([_value(v) for v in items])
        elif name == "DICT":
            items = pop_mark()
            if len(items) % 2:
                raise _Refused("DICT of an odd number of items")
            stack.append({_key(items[i]): _value(items[i + 1]) for i in range(0, len(items), 2)})
        elif name == "APPEND":
            v = stack.pop()
            top(list, "APPEND").append(_value(v))
        elif name == "APPENDS":
            items = pop_mark()
            top(list, "APPENDS").extend(_value(v) for v in items)
        elif name == "SETITEM":
            v, k = stack.pop(), stack.pop()
            top(dict, "SETITEM")[_key(k)] = _value(v)
        elif name == "SETITEMS":
            items = pop_mark()
            if len(items) % 2:
                raise _Refused("SETITEMS of an odd number of items")
            d = top(dict, "SETITEMS")
            for i in range(0, len(items), 2):
                d[_key(items[i])] = _value(items[i + 1])
        elif name in _PUT:
            memo[arg] = stack[-1]
        elif name == "MEMOIZE":
            memo[len(memo)] = stack[-1]
        elif name in _GET:
            if arg not in memo:
                raise _Refused(f"{name} of memo entry {arg}, never stored")
            stack.append(memo[arg])
        elif name == "POP":
            stack.pop()
        elif name == "POP_MARK":
            pop_mark()
        elif name == "DUP":
            stack.append(stack[-1])
        elif name in ("GLOBAL", "STACK_GLOBAL"):
            if name == "GLOBAL":
                module, _, attr = arg.partition(" ")
            else:
                attr, module = stack.pop(), stack.pop()
                if not (isinstance(module, str) and isinstance(attr, str)):
                    raise _Refused("STACK_GLOBAL of something other than two strings")
            kind = GLOBALS.get((module, attr))
            if kind is None:
                raise _Refused(f"the global {module}.{attr} (a CIFAR batch names only numpy's array "
                               "reconstruction); refusing to read it")
            stack.append(_Global(kind, f"{module}.{attr}"))
        elif name == "REDUCE":
            args, fn = stack.pop(), stack.pop()
            if not isinstance(fn, _Global):
                raise _Refused("REDUCE of something that is not an allowed global")
            stack.append(_call(fn, args))
        elif name == "BUILD":
            state = stack.pop()
            obj = stack[-1] if stack else None
            if isinstance(obj, _ArrayStub):
                stack[-1] = _build_array(obj, state)
                for k, v in list(memo.items()):
                    if v is obj:
                        memo[k] = stack[-1]
            elif isinstance(obj, _Dtype):
                _set_dtype_state(obj, state)
            else:
                raise _Refused(f"BUILD of a {type(obj).__name__} (only numpy arrays and dtypes are built)")
        else:
            raise _Refused(f"the pickle opcode {name} (not used by CIFAR batches)")
    raise _Refused("no STOP opcode")


def read_batch(raw: bytes, where: str) -> dict:
    """The dict a CIFAR python batch holds, without running any of it.

    Args:
      raw: the file's bytes.
      where: the file's name for messages (``cifar-10-batches-py/data_batch_1``).
    Returns:
      The batch: keys are ``bytes`` for the python 2 originals (``b"data"``, ``b"labels"``, ...) and
      ``str`` for batches written by python 3; ``data`` is a uint8 ndarray (N, 3072).
    Raises:
      SourceError: not a pickle, a pickle that names any other global or opcode, or not a dict.
    """
    from .sources import SourceError

    try:
        out = _interpret(bytes(raw))
    except _Refused as e:
        raise SourceError(f"{where} is not a CIFAR python batch: it holds {e}") from None
    except (ValueError, IndexError, KeyError, TypeError, OverflowError, RecursionError, MemoryError) as e:
        raise SourceError(f"{where} is not a CIFAR python batch (a damaged or foreign pickle: "
                          f"{type(e).__name__}: {e})") from None
    if not isinstance(out, dict):
        raise SourceError(f"{where} is not a CIFAR python batch: it holds a {type(out).__name__}, not a dict")
    return out


def get(batch: dict, key: str):
    """``batch[key]`` under a ``str`` key (python 3) or the ``bytes`` one (the python 2 originals); None if absent."""
    return batch.get(key.encode(), batch.get(key))


def images_and_labels(batch: dict, where: str, label_key: str = "labels") -> tuple[np.ndarray, np.ndarray]:
    """``(rows uint8 (N, 3072), labels int64 (N,))`` of a batch: ``data`` and ``label_key``, checked.

    Each row is one 32x32 RGB image, channel-major (R plane, G plane, B plane, each row by row).
    Raises SourceError naming the file when a key is missing or has the wrong type or shape.
    """
    from .sources import SourceError

    data, labels = get(batch, "data"), get(batch, label_key)
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        what = f"{data.dtype} {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        raise SourceError(f"{where}: 'data' is {what}; a CIFAR batch holds uint8 rows of 3072 pixels (N, 3072)")
    if isinstance(labels, np.ndarray):
        ok = labels.ndim == 1 and labels.dtype.kind in "ui"
        y = labels.astype(np.int64) if ok else None
    elif isinstance(labels, list) and all(type(v) is int for v in labels):
        y = np.asarray(labels, np.int64).reshape(-1)
        ok = True
    else:
        ok, y = False, None
    if not ok or len(y) != len(data):
        raise SourceError(f"{where}: {label_key!r} must be a list of {len(data)} integer labels, one per row of 'data'")
    if len(y) and (y.min() < 0 or y.max() >= 100):
        raise SourceError(f"{where}: {label_key!r} holds labels outside 0..99")
    return data, y
