"""Errors of the published-file import: a bad file or name (exit 1 or 2) and a pin mismatch."""

from __future__ import annotations

from ..errors import UsageError, UserError


class PublishedError(UserError):
    """A published file or name that cannot be used: says which and why; nothing was written."""


class PublishedUsageError(PublishedError, UsageError):
    """A published-file name, ``--name``, ``--dataset`` or path the command line got wrong (exit 2)."""


class PinError(PublishedError):
    """A published file whose sha256 differs from the one pinned for it: refused."""
