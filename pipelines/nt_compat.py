"""neural-tangents 0.6.5 on current jax: the few names it imports that jax moved, put back first.

neural-tangents stays the reference the fast kernels are tested against, but its last release
(0.6.5) imports names that left jax's public modules in jax 0.6:

- ``jax.core.Jaxpr``, ``JaxprEqn``, ``Literal``, ``Var``, ``Primitive`` (jax keeps them in
  ``jax._src.core``; the public copies are in ``jax.extend.core``);
- the module ``jax.util`` (``safe_map``, ``safe_zip``: now ``jax._src.util``);
- ``jax.interpreters.ad.zeros_like_p`` (now ``jax._src.ad_util.zeros_like_p``).

:func:`stax` sets each missing name from where jax keeps it now, never replacing one that exists
(so on jax <= 0.5.3 it changes nothing), then imports ``neural_tangents.stax``. It is called only
where neural-tangents is imported (:func:`kernels.stax_network`); the project's own kernels need
neither neural-tangents nor these names. ``tests/test_convnet_kernel.py`` holds neural-tangents'
kernels and gradients, imported this way, against the fast kernels on the installed jax.
"""

from __future__ import annotations

import contextlib
import os
import sys
import types

_CORE_NAMES = ("Jaxpr", "JaxprEqn", "Literal", "Var", "Primitive")


def restore() -> list[str]:
    """Put back the names neural-tangents 0.6.5 imports from jax; returns those it had to set."""
    import jax
    import jax.core
    import jax.interpreters.ad as ad
    from jax._src import ad_util
    from jax._src import core as src_core
    from jax._src import util as src_util

    done = []
    for name in _CORE_NAMES:
        if not hasattr(jax.core, name):
            setattr(jax.core, name, getattr(src_core, name))
            done.append(f"jax.core.{name}")
    if "jax.util" not in sys.modules:
        try:
            import jax.util  # noqa: F401 - present up to jax 0.5
        except ImportError:
            util = types.ModuleType("jax.util", "safe_map and safe_zip for neural-tangents 0.6.5 (see nt_compat)")
            util.safe_map, util.safe_zip = src_util.safe_map, src_util.safe_zip
            sys.modules["jax.util"] = util
            jax.util = util
            done.append("jax.util")
    if not hasattr(ad, "zeros_like_p"):
        ad.zeros_like_p = ad_util.zeros_like_p
        done.append("jax.interpreters.ad.zeros_like_p")
    return done


@contextlib.contextmanager
def _quiet_native_logs():
    """Standard error (file descriptor 2) to /dev/null while TensorFlow loads, unless the user asked
    for TensorFlow's logs (``TF_CPP_MIN_LOG_LEVEL=0``; jax itself sets it to 1 when unset).

    neural-tangents imports TensorFlow, whose C++ start-up lines ("oneDNN custom operations are
    on", "Could not find cuda drivers", absl's "All log messages before absl::InitializeLog()")
    TensorFlow 2.21 prints whatever the log level says; they would open every command's output. A
    Python exception raised meanwhile still propagates and is reported after.
    """
    if os.environ.get("TF_CPP_MIN_LOG_LEVEL") == "0" or "tensorflow" in sys.modules:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, 2)
        finally:
            os.close(null)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _defer_experimental() -> None:
    """Import ``neural_tangents`` with its ``experimental`` subpackage loaded on first use.

    ``neural_tangents.experimental`` holds the TensorFlow-based empirical kernels
    (``empirical_ntk_fn_tf``), which nothing here uses, and it is the one part of neural-tangents
    0.6.5 that imports TensorFlow (through ``jax.experimental.jax2tf``): about 4-5 s of a process's
    start on a 2-core CPU, for every run with a neural-tangents kernel (the default ``fc``). The
    subpackage is registered unexecuted (``importlib.util.LazyLoader``; its first attribute access
    runs it) and set on the package before the package's ``__init__`` runs, whose
    ``from . import experimental`` then finds it without loading it. Nothing happens when
    neural-tangents is not installed or is already imported.
    """
    import importlib.machinery
    import importlib.util

    if "neural_tangents" in sys.modules:
        return
    top = importlib.util.find_spec("neural_tangents")  # a top-level spec: nothing is imported
    if top is None or top.loader is None or not top.submodule_search_locations:
        return
    sub = importlib.machinery.PathFinder.find_spec("neural_tangents.experimental",
                                                   list(top.submodule_search_locations))
    if sub is None or sub.loader is None:
        return
    sub.loader = importlib.util.LazyLoader(sub.loader)
    lazy = importlib.util.module_from_spec(sub)
    sub.loader.exec_module(lazy)
    package = importlib.util.module_from_spec(top)
    package.experimental = lazy
    sys.modules["neural_tangents"], sys.modules[sub.name] = package, lazy
    try:
        top.loader.exec_module(package)
    except BaseException:
        del sys.modules["neural_tangents"], sys.modules[sub.name]
        raise


def stax():
    """``neural_tangents.stax``, importable on the installed jax (names restored first)."""
    from distilled_registry.errors import UserError

    restore()
    try:
        with _quiet_native_logs():
            _defer_experimental()
            from neural_tangents import stax as nt_stax
    except ModuleNotFoundError as e:
        if (e.name or "").partition(".")[0] not in ("neural_tangents", "tensorflow", "tf2jax"):
            raise
        raise UserError(f"this kernel needs neural-tangents, which is not installed ({e.name} is missing): "
                        "pip install 'distilled-registry[nt]', or use a convnet kernel with --kernel-impl "
                        "fast, which runs without it") from None
    return nt_stax
