"""Rule E, a user's mistake is refused in one line before any work: the one check of every number and path given.

Every size, count, rate and path a user gives goes through here where it enters: the command line's
options (``distilled_registry.cli.option_types.option``, an argparse ``type``) and the Python API's entry
points (:meth:`distilled_registry.distill_config.DistillConfig.validate`, ``pipelines.distill.distill``,
``pipelines.demo.run_demo``, ``pipelines.transfer.TransferConfig``, ``pipelines.evaluation.check_accuracy``).
A value of the wrong kind (text, a bool for a number, a float for a count), NaN, an infinity (``1e400``
parses as one), a sign or zero where the value must be positive, or a number past its bound raises
:class:`BadValue`, a usage error (the CLI exits 2), naming the option and the allowed range, before a
source is loaded or a file written. The bounds of counts are in :mod:`.limits` (plain numbers: no JAX).

    count(v, name, low, high)    an integer in [low, high]
    real(v, name, low, high, above=None)
                                 a finite float in [low, high] (``above``: strictly greater than it)
    path(v, name)                a path: text, not empty, no NUL byte, at most 4096 bytes, 255 a component
"""

from __future__ import annotations

import math
import numbers
import os
from pathlib import Path

from .errors import UsageError

MAX_PATH_BYTES = 4096  # PATH_MAX on Linux
MAX_NAME_BYTES = 255   # NAME_MAX: one component


class BadValue(UsageError):
    """A number or path out of range, of the wrong kind, NaN or infinite (a usage error; nothing was done)."""


def _num(x) -> str:
    return str(x) if isinstance(x, int) else f"{x:g}"


def range_text(low, high, above=None, integer: bool = False) -> str:
    if integer and low is not None and high is not None:
        return f"{low}..{high}"
    if above is None and low is not None and high is not None:
        return f"in [{_num(low)}, {_num(high)}]"
    lo = f"> {_num(above)}" if above is not None else (f">= {_num(low)}" if low is not None else "")
    hi = f"<= {_num(high)}" if high is not None else ""
    return " and ".join(t for t in (lo, hi) if t) or "finite"


def count(value, name: str, low: int | None = 1, high: int | None = None, shown: str | None = None) -> int:
    """``value`` as an int when it is an integer in ``[low, high]``; BadValue naming ``name`` otherwise
    (``shown``: the text the user typed, for the message)."""
    what = shown if shown is not None else show(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise BadValue(f"{name} {what} is not an integer; give an integer {range_text(low, high, integer=True)}")
    v = int(value)
    if (low is not None and v < low) or (high is not None and v > high):
        raise BadValue(f"{name} {what} is out of range: give an integer {range_text(low, high, integer=True)}")
    return v


def real(value, name: str, low: float | None = None, high: float | None = None, above: float | None = None,
         shown: str | None = None) -> float:
    """``value`` as a float when it is a finite number in ``[low, high]`` (and ``> above``); BadValue otherwise
    (``shown``: the text the user typed, for the message)."""
    what = shown if shown is not None else show(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise BadValue(f"{name} {what} is not a number; give a finite number {range_text(low, high, above)}")
    v = float(value)
    if not math.isfinite(v):
        raise BadValue(f"{name} {what} is not a finite number; give one {range_text(low, high, above)}")
    if (low is not None and v < low) or (high is not None and v > high) or (above is not None and not v > above):
        raise BadValue(f"{name} {what} is out of range: give a number {range_text(low, high, above)}")
    return v


def path(value, name: str) -> Path:
    """``value`` as a Path when it can name a file: text, not empty, no NUL byte, within the system's lengths."""
    if isinstance(value, Path):
        value = str(value)
    if not isinstance(value, str):
        try:
            value = os.fsdecode(os.fspath(value))
        except TypeError:
            raise BadValue(f"{name} {show(value)} is not a path; give a folder or file name") from None
    if not value:
        raise BadValue(f"{name} is empty; give a folder or file name")
    if "\0" in value:
        raise BadValue(f"{name} {show(value)} holds a NUL byte, which no file name can; give another path")
    raw = os.fsencode(value)
    if len(raw) > MAX_PATH_BYTES:
        raise BadValue(f"{name} is {len(raw)} bytes long, more than the {MAX_PATH_BYTES} a path may be; give a "
                       "shorter one")
    longest = max(raw.split(b"/"), key=len)
    if len(longest) > MAX_NAME_BYTES:
        raise BadValue(f"{name} has a component of {len(longest)} bytes, more than the {MAX_NAME_BYTES} a file "
                       "name may be; give a shorter one")
    return Path(value)


def show(value) -> str:
    try:
        text = value if isinstance(value, str) else repr(value)
    except ValueError:  # an integer past Python's str() digit limit
        return "(an integer of over 4000 digits)"
    return repr(text[:60] + "...") if len(text) > 60 else (repr(text) if isinstance(value, str) else text)
