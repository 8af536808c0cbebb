"""Release names: ``<family>/<config>[:<version>]``, e.g. ``kip_cifar10/ipc10`` or ``ls_mnist/ipc50:1.0.0``.

- family: ``<algorithm>_<source>``, lower-case letters, digits and ``_`` (a TFDS dataset name);
- config: ``[\\w+\\-.]+`` (the TFDS rule), not starting with ``.``, so ``..`` is never a config;
- version: semantic, ``MAJOR.MINOR.PATCH``, canonical: ASCII digits without leading zeros (one spelling);
- each of family, config and version is at most ``MAX_PART`` = 100 characters: every part is a folder
  name in the store, and a file name can be at most 255 bytes (so a name is refused as a name, not
  by the file system as "File name too long").

A name is also a relative path in the local store (``<home>/<family>/<config>/<version>``), so
these rules are what keeps a name from reaching outside the store: anything else (``/``-rooted
paths, ``..``, empty parts, backslashes) is refused here, naming the offending text.
"""

from __future__ import annotations

import dataclasses
import re

from .errors import UsageError

FAMILY_RE = re.compile(r"[a-z][a-z0-9_]*\Z")
CONFIG_RE = re.compile(r"[\w+\-.]+\Z", re.ASCII)
# ASCII digits, no leading zeros, nothing after the patch: one spelling per version ("01.0.0", "1.0.0+b",
# Unicode digits such as "١.0.0" are refused, so two folders can never hold the same version)
VERSION_RE = re.compile(r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\Z")
MAX_PART = 100  # characters of a family, config or version: each is a folder name (at most 255 bytes)


class BadNameError(UsageError):
    """A release name, config or version that breaks the naming rules."""


@dataclasses.dataclass(frozen=True)
class ReleaseName:
    """A parsed release name; ``config`` is None for a bare family, ``version`` None for "newest"."""

    family: str
    config: str | None = None
    version: str | None = None

    @property
    def name(self) -> str:
        """``family/config`` (or ``family``), without the version."""
        return self.family if self.config is None else f"{self.family}/{self.config}"

    def __str__(self) -> str:
        return self.name + (f":{self.version}" if self.version else "")


def _shown(text: str) -> str:
    """``text`` quoted for a message, its middle elided when it is long (the message stays one readable line)."""
    return repr(text) if len(text) <= 60 else f"{text[:30]!r}...{text[-12:]!r}"


def _check_length(part: str, what: str, text: str) -> None:
    """BadNameError when ``part`` (the ``what`` of name ``text``) is longer than :data:`MAX_PART`."""
    if len(part) > MAX_PART:
        where = "" if part == text else f" in {_shown(text)}"
        raise BadNameError(f"bad {what} {_shown(part)}{where}: {len(part)} characters; a {what} is at "
                           f"most {MAX_PART} characters (it is a folder name in the store)")


def check_version(version: str) -> str:
    """``version`` if it is ``MAJOR.MINOR.PATCH`` of at most :data:`MAX_PART` characters; else BadNameError."""
    if not isinstance(version, str) or not VERSION_RE.match(version):
        raise BadNameError(f"bad version {_shown(version) if isinstance(version, str) else repr(version)}: "
                           "versions look like 1.0.0 (MAJOR.MINOR.PATCH)")
    _check_length(version, "version", version)
    return version


def version_key(version: str) -> tuple[int, int, int]:
    """Sort key of a semantic version: ``"1.10.0"`` sorts after ``"1.9.0"``."""
    m = VERSION_RE.match(version)
    if not m:
        raise BadNameError(f"bad version {version!r}: versions look like 1.0.0 (MAJOR.MINOR.PATCH)")
    return tuple(int(g) for g in m.groups())  # type: ignore[return-value]


def parse(text: str, version: str | None = None, need_config: bool = True) -> ReleaseName:
    """Parse ``family/config[:version]``.

    Args:
      text: the name as typed.
      version: a version given separately (``load(name, version=...)``); conflicts with one in ``text``.
      need_config: refuse a bare family (``kip_mnist``) when True.
    Raises:
      BadNameError: naming the offending part and the rule it breaks.
    """
    if not isinstance(text, str) or not text:
        raise BadNameError(f"bad release name {_shown(text)}: expected <family>/<config>, e.g. kip_cifar10/ipc10")
    if text.startswith(("/", "\\", "~")) or re.match(r"[A-Za-z]:[\\/]", text):
        raise BadNameError(f"bad release name {_shown(text)}: a name is not a path; expected <family>/<config>, "
                           "e.g. kip_cifar10/ipc10 (to check a release folder, give its path to "
                           "`distilled-registry verify`)")
    base, sep, ver = text.partition(":")
    if sep:
        if version is not None and version != ver:
            raise BadNameError(f"{_shown(text)} names version {ver} but version={version!r} was also given")
        version = ver
    if version is not None:
        check_version(version)
    parts = base.split("/")
    if any(p in ("", ".", "..") for p in parts) or "\\" in base:
        raise BadNameError(f"bad release name {_shown(text)}: no empty, '.' or '..' parts and no backslashes; "
                           "expected <family>/<config>, e.g. kip_cifar10/ipc10")
    if len(parts) > 2:
        raise BadNameError(f"bad release name {_shown(text)}: expected <family>/<config> (one '/'), "
                           "e.g. kip_cifar10/ipc10")
    family = parts[0]
    for part, what in zip(parts, ("family", "config")):
        _check_length(part, what, text)
    if not FAMILY_RE.match(family):
        raise BadNameError(f"bad family {family!r} in {_shown(text)}: families are lower-case letters, digits and '_' "
                           "(<algorithm>_<source>, e.g. kip_cifar10)")
    config = parts[1] if len(parts) == 2 else None
    if config is None:
        if need_config:
            raise BadNameError(f"{_shown(text)} names a family; add a config, e.g. {family}/ipc10 "
                               "(`distilled-registry list` shows them)")
    elif not CONFIG_RE.match(config) or config.startswith("."):
        raise BadNameError(f"bad config {config!r} in {_shown(text)}: configs match [\\w+\\-.]+ and do not start "
                           "with '.', e.g. ipc10 or ipc10-convnet3-nozca")
    return ReleaseName(family, config, version)
