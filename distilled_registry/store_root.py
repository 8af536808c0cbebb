"""Where the local store lives: ``$DISTILLED_REGISTRY_HOME``, else ``~/.cache/distilled_registry``.

Apart from :mod:`.store` (which reads and writes releases) so that the modules below the store (the
pins of :mod:`.pin_check`) find its root without importing it.
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import UserError

HOME_ENV = "DISTILLED_REGISTRY_HOME"
DEFAULT_HOME = Path("~/.cache/distilled_registry")


class StoreError(UserError):
    """A release that is not in the store, or a store path that is not what it should be."""


def home() -> Path:
    """The store's root folder (not created here): ``$DISTILLED_REGISTRY_HOME``, else ``~/.cache/distilled_registry``.

    Every reader and writer of the store goes through here, so a root that cannot be a folder is
    refused in one line before anything is read, downloaded or computed.

    Raises:
      StoreError: the root is a file or a broken link, or lies under a file.
    """
    env = os.environ.get(HOME_ENV)
    root = Path(env).expanduser() if env else DEFAULT_HOME.expanduser()
    _check_home(root, from_env=bool(env))
    return root


def _check_home(root: Path, from_env: bool) -> None:
    """StoreError when ``root`` or its nearest existing ancestor is not a folder (a file, a broken link)."""
    p = root
    while not os.path.lexists(p) and p != p.parent:
        p = p.parent
    if p.is_dir():
        return
    what = "a broken link" if p.is_symlink() else "a file"
    where = f"is {what}" if p == root else f"lies under {str(p)!r}, which is {what}"
    whose = f"${HOME_ENV}" if from_env else f"the default store (${HOME_ENV} is not set)"
    raise StoreError(f"the store {str(root)!r} ({whose}) {where}, not a folder; set ${HOME_ENV} to a folder "
                     "(it is made when a release is first stored)")
