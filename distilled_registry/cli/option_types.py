"""argparse ``type`` functions over :mod:`distilled_registry.user_values`, and the parser that makes a bad
command line one line.

:func:`option` parses an option's text as a count, a real or a path and checks it with the function of
that name in ``user_values`` (the one check of every number and path given, shared with the Python
API); :class:`Parser` turns argparse's own errors into :class:`~distilled_registry.user_values.BadValue`,
which the CLI prints as one line (exit 2).
"""

from __future__ import annotations

import argparse
from typing import Callable

from .. import user_values
from ..errors import UsageError
from ..user_values import BadValue, range_text, show


def option(kind: str, name: str, **bounds) -> Callable[[str], object]:
    """An argparse ``type`` for the option ``name``: parses the text as ``kind`` (``count``, ``real``, ``path``)
    and checks it with the function of that name and ``bounds``; a bad value is one line (:class:`Parser`)."""

    def parse(text: str):
        try:
            if kind == "path":
                return str(user_values.path(text, name))  # looked up on the module: the one check, patchable
            shown = text if len(text) <= 60 and text.isprintable() and " " not in text else show(text)
            try:
                v = int(text.strip()) if kind == "count" else float(text.strip())
            except ValueError:
                if kind == "count" and text.strip().lstrip("+-").isdigit():  # past Python's digit limit
                    raise BadValue(f"{name} {show(text)} is out of range: give an integer "
                                   f"{range_text(bounds.get('low', 1), bounds.get('high'), integer=True)}") from None
                if kind == "count":
                    raise BadValue(f"{name} {show(text)} is not an integer; give an integer "
                                   f"{range_text(bounds.get('low', 1), bounds.get('high'), integer=True)}") from None
                raise BadValue(f"{name} {show(text)} is not a number; give a finite number "
                               f"{range_text(bounds.get('low'), bounds.get('high'), bounds.get('above'))}") from None
            return (user_values.count if kind == "count" else user_values.real)(v, name, **bounds, shown=shown)
        except UsageError as e:  # BadValue: argparse keeps an ArgumentTypeError's own words
            raise argparse.ArgumentTypeError(str(e)) from None

    parse.__name__ = kind
    parse.kind, parse.option, parse.bounds = kind, name, dict(bounds)  # for --help and the tests
    return parse


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors (an unknown option, a missing argument, a value a ``type`` refused) raise
    BadValue, which the CLI prints as one line (exit 2), instead of printing its usage text and exiting."""

    def error(self, message: str):
        head, sep, rest = message.partition(": ")
        if sep and head.startswith("argument ") and rest.startswith(head[len("argument "):].split("/")[0]):
            message = rest  # "argument --steps: --steps -1 is out of range ...": the option named once
        raise BadValue(message)
