"""The command line of a run's config, built from its fields: ``distill``'s flags and ``--set FIELD=VALUE``.

Each field of :class:`~distilled_registry.distill_config.DistillConfig` (and of its ``KernelSpec``)
declares its flag, help, kind and bounds once (:func:`distilled_registry.distill_config.option`); here
they become argparse options (:func:`add_config_flags`), with the field's default in the help, and the
values a command line gives become a config again (:func:`config_from_args`). ``regenerate`` and
``rerun`` take ``--set FIELD=VALUE`` (repeatable, :func:`add_set`): each is parsed and checked as
the flag of that field would be, before any work, and :func:`apply_sets` returns the new config and
the overrides as the provenance records them.
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

from ..distill_config import ConfigError, DistillConfig, KernelSpec, check_value, field_kind, with_overrides
from ..user_values import BadValue, show
from .option_types import option

# Fields whose flag is added elsewhere (``--tile``: cli.arguments.add_tile, shared with regenerate and rerun),
# and kernel fields whose default depends on the architecture (KernelSpec.of).
OWN_FLAGS = ("tile",)
DERIVED = {"depth": "1 for fc, 3 for convnets", "impl": "nt for fc, fast for convnets"}


def _fields(cls: type):
    """``(owner class, field)`` of every field with a flag of its own, the kernel's among them."""
    for f in dataclasses.fields(cls):
        if f.metadata.get("kind") == "kernel":
            yield from _fields(KernelSpec)
        elif f.metadata.get("flag") and f.name not in OWN_FLAGS:
            yield cls, f


def dest(flag: str) -> str:
    """The attribute argparse gives a flag's value: ``--target-batch`` -> ``target_batch``."""
    return flag.lstrip("-").replace("-", "_")


def add_config_flags(p: argparse.ArgumentParser) -> None:
    """One option per field with a flag: its kind's parser and bounds, its default, its help with the default."""
    for cls, f in _fields(DistillConfig):
        m, b = f.metadata, f.metadata["bounds"]
        flag, default = m["flag"], f.default
        kw: dict[str, Any] = {"help": m["help"]}
        if m["kind"] == "bool":
            p.add_argument(flag, action="store_true", **kw)
            continue
        if f.name in DERIVED and cls is KernelSpec:
            default = None  # KernelSpec.of picks it from --kernel
        elif default is not None:
            kw["help"] += f" (default: {default})"
        if m["kind"] in ("count", "real", "text"):
            kw["metavar"] = flag.lstrip("-").upper().replace("-", "_")  # --lr LR, as argparse names a flag's value
        if m["kind"] in ("count", "real"):
            kw["type"] = option(m["kind"], flag, **{k: v for k, v in b.items() if k in ("low", "high", "above")})
        elif m["kind"] == "choice":
            kw["choices"] = list(b["choices"])
        elif m["kind"] == "size":
            kw["metavar"] = "HxW"
        elif m["kind"] == "steps":
            kw["metavar"], kw["type"] = "STEP[,STEP...]", _steps_option(cls, f.name, flag)
        p.add_argument(flag, default=default, **kw)


def _steps(text: str, shown: str) -> list[int]:
    """``850`` or ``850,1600`` as a list of ints (checked by the field afterwards); ConfigError otherwise."""
    try:
        return [int(part) for part in text.split(",")]
    except ValueError:
        raise ConfigError(f"{shown} {show(text)}: give a step or increasing steps, e.g. 850 or 850,1600") from None


def _steps_option(cls: type, name: str, flag: str):
    """An argparse ``type`` for a ``steps`` field: its text parsed and checked as the field's value."""

    def parse(text: str):
        try:
            return check_value(cls, name, _steps(text, flag))
        except (ConfigError, BadValue) as e:
            raise argparse.ArgumentTypeError(str(e)) from None

    parse.__name__ = "steps"
    return parse


def config_from_args(a: argparse.Namespace, source: str, options: dict) -> DistillConfig:
    """The config of ``distill``'s options (``source`` and the user-source ``options`` already read), checked."""
    kernel = {f.name: getattr(a, dest(f.metadata["flag"])) for cls, f in _fields(DistillConfig) if cls is KernelSpec}
    spec = KernelSpec.of(**kernel)
    given = {f.name: getattr(a, dest(f.metadata["flag"])) for cls, f in _fields(DistillConfig) if cls is DistillConfig}
    given.update({"source": source, "image_size": None, "test_fraction": None, "split_seed": DistillConfig.split_seed,
                  **{k: v for k, v in options.items() if v is not None}})
    if getattr(a, "tile", None) is not None:
        given["tile"] = a.tile
    cfg = DistillConfig(kernel=spec, **given)
    cfg.validate()
    return cfg


def parse_set(text: str) -> tuple[str, Any]:
    """``FIELD=VALUE`` as ``(field path, value)``: the value parsed and checked as the field's flag would be."""
    name, eq, raw = text.partition("=")
    name = name.strip()
    try:
        if not eq or not name:
            raise ConfigError(f"--set {show(text)}: give FIELD=VALUE, e.g. steps=2000")
        cls, field = field_kind(name)
        m = {f.name: f for f in dataclasses.fields(cls)}[field].metadata
        shown = m["flag"] or field
        kind, b = m["kind"], m["bounds"]
        if kind in ("count", "real"):
            value = option(kind, shown, **{k: v for k, v in b.items() if k in ("low", "high", "above")})(raw)
        elif kind == "bool":
            value = {"true": True, "false": False}.get(raw.strip().lower())
            if value is None:
                raise ConfigError(f"{shown} {show(raw)}: give true or false")
        elif kind == "size":
            h, _, w = raw.lower().partition("x")
            try:
                value = (int(h), int(w or h))
            except ValueError:
                raise ConfigError(f"{shown} {show(raw)}: give HxW, e.g. 32x32, or one number") from None
        elif kind == "steps":
            value = _steps(raw, shown)
        else:
            value = raw
        return name, check_value(cls, field, value)
    except argparse.ArgumentTypeError as e:
        raise argparse.ArgumentTypeError(f"--set {name}: {e}") from None
    except (ConfigError, BadValue) as e:
        raise argparse.ArgumentTypeError(str(e) if str(e).startswith("--set") else f"--set {name}: {e}") from None


parse_set.kind = "set"  # for the tests' table of options


def add_set(p: argparse.ArgumentParser) -> None:
    """``--set FIELD=VALUE`` (repeatable): change one field of the config the command runs."""
    fields = [f.name for f in dataclasses.fields(DistillConfig) if f.name != "kernel"]
    fields += [f"kernel.{f.name}" for f in dataclasses.fields(KernelSpec)]
    p.add_argument("--set", dest="overrides", action="append", type=parse_set, default=[], metavar="FIELD=VALUE",
                   help="change a field of the config (repeatable, e.g. --set steps=2000 --set kernel.depth=2), "
                        "checked as its flag is; recorded in the provenance (config and overrides). Fields: "
                        + ", ".join(fields))


def apply_sets(cfg: DistillConfig, sets: list[tuple[str, Any]]) -> tuple[DistillConfig, list[dict]]:
    """``cfg`` with the ``--set`` values, and the overrides as recorded: ``[{"field", "value", "was"}]``."""
    if not sets:
        return cfg, []
    old = cfg.to_dict()
    new = with_overrides(cfg, dict(sets))
    out = []
    for path, _ in dict(sets).items():
        head, _, rest = path.partition(".")
        was = old["kernel"][rest] if rest else old.get(head, getattr(DistillConfig, head))
        now = new.to_dict()["kernel"][rest] if rest else new.to_dict().get(head, getattr(new, head))
        out.append({"field": path, "value": now, "was": was})
    return new, out
