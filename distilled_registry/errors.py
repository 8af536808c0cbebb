"""Errors a user can fix: each message names the offending value and what to do instead."""


class UserError(ValueError):
    """Bad input (a name, a path, a value, a file); the CLI prints it and exits with code 2."""
