"""How a kernel computation uses the machine: every local device, and every CPU core as one.

JAX compiles a kernel evaluation into one XLA program, and XLA's CPU backend runs the
element-wise loops of one program on one thread: on a CPU the ConvNet kernel uses one core
however many there are. Two steps spread it:

1. :func:`one_device_per_core` asks XLA, before jax starts, for one host device per core this
   process may use (``--xla_force_host_platform_device_count``). It changes the process's jax, so
   only programs call it (the ``distilled-registry`` commands that compute, the benchmarks), never
   a library import; a flag already in ``XLA_FLAGS`` and an already imported jax are left alone.
2. :func:`over_devices` splits the longer input of ``kernel_fn(x1, x2)`` over the local devices
   of jax's default backend (``shard_map``; the other input on every device): the CPU's cores, or
   the GPUs of a multi-GPU machine. With one device it returns ``kernel_fn`` itself.

Each entry of ``K`` is computed by the same program whatever the device count, so the forward
kernel does not depend on it; a gradient with respect to the input that is not split sums the
devices' parts (``psum``), which may round differently from one device's running sum.
"""

from __future__ import annotations

import os
import sys
from typing import Any, Callable

import numpy as np

from .tiling import pad_rows

HOST_DEVICES_FLAG = "--xla_force_host_platform_device_count"

KernelFn = Callable[[Any, Any], Any]


def usable_cores() -> int:
    """Cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def one_device_per_core(cores: int | None = None) -> bool:
    """Ask XLA for one host (CPU) device per usable core; ``True`` when the flag was added.

    Does nothing (``False``) when jax is already imported (too late to take effect) or
    ``XLA_FLAGS`` already sets the host device count (the user's choice wins). GPUs are unaffected:
    jax's default backend stays the GPU where there is one.
    """
    cores = usable_cores() if cores is None else int(cores)
    flags = os.environ.get("XLA_FLAGS", "")
    if "jax" in sys.modules or HOST_DEVICES_FLAG in flags or cores < 2:
        return False
    os.environ["XLA_FLAGS"] = f"{flags} {HOST_DEVICES_FLAG}={cores}".strip()
    return True


def _shard_map():
    import jax

    if hasattr(jax, "shard_map"):  # jax >= 0.7
        return jax.shard_map
    from jax.experimental.shard_map import shard_map  # jax 0.5 / 0.6

    return shard_map


def over_devices(kernel_fn: KernelFn, devices: list | None = None) -> KernelFn:
    """``kernel_fn`` with the rows of ``x1`` or of ``x2`` split over ``devices`` (default: jax's local devices).

    The longer of ``x1 (n1, ...)`` and ``x2 (n2, ...)`` (``x2`` on a tie) is split: padded with
    copies of its first row to a multiple of the device count, each device computes its block of
    ``K`` against all of the other input, the padded rows or columns are dropped: ``(n1, n2)``,
    equal entry by entry to ``kernel_fn(x1, x2)``. Splitting ``x2`` (the support images of KIP and
    LS when it is the longer) keeps a gradient with respect to ``x2`` on its own device. Fewer rows
    than devices: ``kernel_fn`` on one device. Differentiable (``jax.vjp`` through ``shard_map``);
    jit the result.
    """
    import jax
    from jax.sharding import Mesh, PartitionSpec

    devices = list(jax.local_devices() if devices is None else devices)
    count = len(devices)
    if count < 2:
        return kernel_fn
    mesh = Mesh(np.array(devices), ("rows",))
    split, whole = PartitionSpec("rows"), PartitionSpec()
    by_x1 = _shard_map()(kernel_fn, mesh=mesh, in_specs=(split, whole), out_specs=split)
    by_x2 = _shard_map()(kernel_fn, mesh=mesh, in_specs=(whole, split), out_specs=PartitionSpec(None, "rows"))

    def padded(x):
        return pad_rows(x, -(-x.shape[0] // count) * count)

    def spread(x1, x2):
        n1, n2 = x1.shape[0], x2.shape[0]
        if max(n1, n2) < count:
            return kernel_fn(x1, x2)
        if n2 >= n1:
            return by_x2(x1, padded(x2))[:, :n2]
        return by_x1(padded(x1), x2)[:n1]

    return spread


__all__ = ["HOST_DEVICES_FLAG", "one_device_per_core", "over_devices", "usable_cores"]
