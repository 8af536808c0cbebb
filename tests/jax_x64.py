"""``enable_x64(on=True)``: float64 in a block, on the installed jax.

The context manager moved: ``jax.experimental.enable_x64`` up to jax 0.5, ``jax.enable_x64`` from
jax 0.6 on (the experimental one was removed). Tests that hold a gradient to float64 precision use this.
"""

import jax


def enable_x64(on: bool = True):
    ctx = getattr(jax, "enable_x64", None)
    if ctx is None:  # jax <= 0.5
        from jax.experimental import enable_x64 as ctx
    return ctx(on)



# jaxlib 0.10.2's XLA CPU compiler crashes the process (SIGSEGV, in its LLVM optimisation passes)
# compiling neural-tangents' float64 ConvNet graphs (e.g. ConvNet3 NNGP at depth 2 on 16x16x3);
# at --xla_backend_optimization_level=0 they compile and agree with the fast kernel. The flag is
# process-wide, so on jax >= 0.6 those comparisons run in a child process at that level, where a
# compiler crash fails the one test instead of ending the suite.
NEW_JAX = tuple(int(p) for p in jax.__version__.split(".")[:2]) >= (0, 6)


def float64_reference(test_file: str, func: str, *args) -> None:
    """Call ``func(*args)`` of the test module ``test_file``: in this process on jax <= 0.5, else in a
    child process with XLA's backend optimisation off (see above); a failure there fails the caller."""
    import importlib
    import os
    import subprocess
    import sys
    from pathlib import Path

    path = Path(test_file)
    if not NEW_JAX:
        return getattr(importlib.import_module(path.stem), func)(*args)
    code = (f"import sys; sys.path.insert(0, {str(path.parent)!r}); import {path.stem} as t; "
            f"t.{func}(*{args!r}); print('ok')")
    env = {**os.environ, "XLA_FLAGS": os.environ.get("XLA_FLAGS", "") + " --xla_backend_optimization_level=0"}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600, env=env)
    assert r.returncode == 0 and r.stdout.strip().endswith("ok"), f"exit {r.returncode}: {r.stderr[-3000:]}"
