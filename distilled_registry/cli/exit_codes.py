"""The command line's exit codes: which error class ends a command with which status.

The errors (:mod:`distilled_registry.errors`) say what went wrong; only the command line turns them
into a status: 2 for a bad command line (:class:`~distilled_registry.errors.UsageError`: nothing was
done), 1 for a runtime failure (:class:`~distilled_registry.errors.UserError`: a file, a download, a
release), 130 for an interrupt. Every entry point (``distilled-registry``, ``python -m
distilled_registry.cli.tfds_build``) exits through :func:`exit_code`.
"""

from __future__ import annotations

from ..errors import UsageError, UserError

USAGE = 2        # a bad command line: nothing was done
FAILURE = 1      # the world is not as the command needs (also out of memory and the system's own errors)
INTERRUPTED = 130
# Most specific class first: the first a raised error is an instance of gives its status.
EXIT_CODES: tuple[tuple[type[BaseException], int], ...] = ((UsageError, USAGE), (UserError, FAILURE),
                                                          (KeyboardInterrupt, INTERRUPTED))


def exit_code(error: BaseException) -> int:
    """The exit status of a command that ended with ``error`` (:data:`EXIT_CODES`; 1 for anything else)."""
    return next((code for cls, code in EXIT_CODES if isinstance(error, cls)), FAILURE)
