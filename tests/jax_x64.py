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

