"""Register the TFDS builders when ``tensorflow_datasets`` is imported, without importing it here.

``import distilled_registry`` must stay light (no TensorFlow, no TFDS), yet users write

    import distilled_registry
    import tensorflow_datasets as tfds
    tfds.load("kip_digits/ipc10")

so :func:`install` does one of two things:

- ``tensorflow_datasets`` is already imported: import ``distilled_registry.builders`` now, which
  registers a builder per catalog family;
- otherwise: put a finder at the front of ``sys.meta_path`` that, when ``tensorflow_datasets`` is
  imported, wraps its loader so that ``distilled_registry.builders`` is imported right after
  ``tensorflow_datasets`` has finished executing. The finder removes itself on first use and the
  module's own loader is put back afterwards.

A failure to register (a broken catalog, say) is reported as a warning; it never breaks the import
of ``tensorflow_datasets``.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
import warnings

TFDS = "tensorflow_datasets"
BUILDERS = "distilled_registry.builders"
_lock = threading.Lock()


def register_now() -> None:
    """Import ``distilled_registry.builders`` (which registers the builders); warn instead of raising."""
    try:
        importlib.import_module(BUILDERS)
    except Exception as e:  # noqa: BLE001 - tensorflow_datasets must still import
        warnings.warn(f"distilled_registry: could not register the TFDS builders: {type(e).__name__}: {e}",
                      RuntimeWarning, stacklevel=2)


class _RegisteringLoader:
    """Runs the real loader of ``tensorflow_datasets``, then registers the builders."""

    def __init__(self, loader):
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module) -> None:
        try:
            self._loader.exec_module(module)
        finally:
            if getattr(module, "__spec__", None) is not None and module.__spec__.loader is self:
                module.__spec__.loader = self._loader
            if getattr(module, "__loader__", None) is self:
                module.__loader__ = self._loader
        register_now()

    def __getattr__(self, name: str):  # get_resource_reader, is_package, get_code, ...
        return getattr(self._loader, name)


class TfdsImportHook:
    """A ``sys.meta_path`` finder for ``tensorflow_datasets`` alone; removes itself on first use."""

    def find_spec(self, fullname: str, path=None, target=None):
        if fullname != TFDS:
            return None
        uninstall()
        spec = importlib.util.find_spec(fullname)  # the other finders, now that this one is gone
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        spec.loader = _RegisteringLoader(spec.loader)
        return spec


def installed() -> bool:
    """Whether the import hook is waiting in ``sys.meta_path``."""
    return any(isinstance(f, TfdsImportHook) for f in sys.meta_path)


def uninstall() -> None:
    with _lock:
        sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, TfdsImportHook)]


def install() -> None:
    """Register now if ``tensorflow_datasets`` is imported; else when it is. Idempotent."""
    if TFDS in sys.modules:
        register_now()
        return
    with _lock:
        if not installed():
            sys.meta_path.insert(0, TfdsImportHook())
