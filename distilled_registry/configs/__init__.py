"""The catalog's intent, written by hand: one small config file per release family.

Each ``<family>.py`` defines ``FAMILY``, a :class:`~.common.Family` whose configs state only what
differs from :mod:`.common` (the kernels, the settings prose and the config groups, written once; the
hyper-parameters' defaults are :class:`~distilled_registry.distill_config.DistillConfig`'s), and
``get_config(arg)``, the :class:`DistillConfig` of config ``arg`` (big_vision's shape).
:data:`FAMILIES` gives the catalog's order. Nothing machine-written lives here: recorded releases and
pins are in ``records.json`` (:mod:`distilled_registry.records`), and the authors' published file of a
config is computed from its variant (:func:`distilled_registry.published.block`).
"""

from __future__ import annotations

import importlib

from ..distill_config import DistillConfig
from .common import Config, Family

FAMILIES = ("kip_digits", "ls_digits", "kip_mnist", "ls_mnist", "kip_fashion_mnist", "ls_fashion_mnist",
            "kip_svhn_cropped", "ls_svhn_cropped", "kip_cifar10", "ls_cifar10", "kip_cifar100", "ls_cifar100")


def families() -> dict[str, Family]:
    """Every family, in catalog order: ``name -> Family``."""
    return {name: importlib.import_module(f"{__name__}.{name}").FAMILY for name in FAMILIES}


def get_config(name: str) -> DistillConfig:
    """The run of catalog config ``name`` (``kip_digits/ipc10``): its family file's ``get_config(config)``."""
    family, _, config = name.partition("/")
    return importlib.import_module(f"{__name__}.{family}").get_config(config)


__all__ = ["Config", "FAMILIES", "Family", "families", "get_config"]
