"""The errors of reading a source dataset; imports nothing of the package but the core's error classes."""

from distilled_registry.errors import UsageError, UserError


class SourceError(UserError):
    """A source dataset could not be read: says which file and what layout was expected."""


class SourceUsageError(SourceError, UsageError):
    """A ``--source`` or ``--source-dir`` the command line got wrong (exit 2)."""
