"""The algorithms a run may name: ``config.algorithm`` -> the constructor of its :class:`algorithm.Algorithm`.

One lookup, no branches: the pipelines ask the built algorithm for what differs (whether it has steps,
its kernel calls, its targets). A new method is one module with a ``make(config) -> Algorithm`` and a
line here.
"""

from __future__ import annotations

from typing import Callable

from . import kip, label_solve
from .algorithm import Algorithm

REGISTRY: dict[str, Callable[..., Algorithm]] = {"kip": kip.make, "ls": label_solve.make}


def make(config) -> Algorithm:
    """The :class:`Algorithm` of ``config`` (a :class:`distill.DistillConfig`, already validated), built once."""
    return REGISTRY[config.algorithm](config)
