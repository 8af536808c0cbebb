"""Errors a user can cause: each message names the offending value and what to do instead.

The CLI prints them as one line, without a traceback; which exit status each class gives is the CLI's
(``distilled_registry.cli.exit_codes``):

- :class:`UsageError`: the command line itself is wrong: a malformed name, an unknown release, an
  option value out of range, options that contradict each other. Nothing was done.
- :class:`UserError`: the command was well formed but the world is not as it needs: a damaged or
  missing file, a failed download, a release that fails verification, a run that diverged. Nothing
  was left half-written.
"""


class UserError(ValueError):
    """A failure the user can fix (a file, a download, a release)."""


class UsageError(UserError):
    """A bad command line or call (a name, an option value): nothing was done."""


# The authors' published files (distilled_registry.published, published_variants): here, in a module
# that imports nothing, so the variants below the catalog and the importer above it share them.


class PublishedError(UserError):
    """A published file or name that cannot be used: says which and why; nothing was written."""


class PublishedUsageError(PublishedError, UsageError):
    """A published-file name, ``--name``, ``--dataset`` or path the command line got wrong."""


class PinError(PublishedError):
    """A published file whose sha256 differs from the one pinned for it: refused."""


class ReleaseError(UserError):
    """A release folder is missing, malformed, unsafe to read, or does not match its checksums or its config."""
