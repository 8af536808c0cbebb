"""Progress of long work: a live bar on a terminal, one summary line in a log, nothing when quiet.

A bar is drawn (``tqdm``) only when standard error is a terminal and ``tqdm`` is installed;
otherwise (a log file, a pipe, an environment without ``tqdm``) each bar prints one line when it
closes, ``<desc>: <n> <unit>s in <seconds> s``, and nothing while it runs. The interface is the
part of ``tqdm``'s that the pipelines use: ``update``, ``set_postfix``, ``close``, iteration.
"""

from __future__ import annotations

import sys
import time
from typing import Any, Iterable, Iterator


def _terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed stream
        return False


class _Summary:
    """No drawing; one line on ``close`` (to standard error)."""

    def __init__(self, iterable: Iterable | None, desc: str, total: int | None, initial: int, unit: str):
        self.iterable, self.desc, self.total, self.unit = iterable, desc, total, unit
        self.n = self.start = initial
        self.postfix: dict[str, Any] = {}
        self.t0 = time.perf_counter()
        self.closed = False

    def __iter__(self) -> Iterator:
        for item in self.iterable:
            yield item
            self.n += 1
        self.close()

    def update(self, n: int = 1) -> None:
        self.n += n

    def set_postfix(self, refresh: bool = True, **values: Any) -> None:
        self.postfix = values

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        done = self.n - self.start
        extra = "".join(f", {k} {v}" for k, v in self.postfix.items())
        print(f"{self.desc}: {done} {self.unit}{'' if done == 1 else 's'} in "
              f"{time.perf_counter() - self.t0:.1f} s{extra}", file=sys.stderr, flush=True)


def bar(iterable: Iterable | None = None, desc: str = "", total: int | None = None, initial: int = 0,
        unit: str = "it", leave: bool = True):
    """A ``tqdm`` bar on a terminal, else a :class:`_Summary` (one line when it closes)."""
    if _terminal():
        try:
            from tqdm.auto import tqdm
        except ImportError:
            pass
        else:
            return tqdm(iterable, desc=desc, total=total, initial=initial, unit=unit, leave=leave)
    return _Summary(iterable, desc, total, initial, unit)


__all__ = ["bar"]
