"""Measured per-entry costs of the ConvNet kernel per device, for ``plan CONFIG --device NAME``.

Each row: milliseconds per kernel entry of :data:`REFERENCE` (ConvNet depth 3 NTK, the fast
recursion, 32x32x3 images, ``tile x tile`` kernels), forward and forward+vjp (``jax.vjp`` forward,
then ``vjp_fn`` on a cotangent: a KIP tile), with where, when and how it was measured. A row whose
``measured`` is False is derived from another and says how; replace it when the device is measured
(``benchmarks/kernel_speed.py --sizes 32 --n 4``, the same kernel and tile on that device).

``plan --device`` prices a run's kernel calls as ``entries x`` the row's cost, times this CPU's ratio
of the run's kernel to the reference (:class:`plan.TableTimer`).
"""

from __future__ import annotations

REFERENCE = {"kernel": {"architecture": "convnet", "depth": 3, "get": "ntk", "impl": "fast"},
             "image_shape": [32, 32, 3], "tile": 4}

ROWS: dict[str, dict] = {
    "h100": {
        "forward_ms_per_entry": 0.012, "vjp_ms_per_entry": 0.042, "measured": True,
        "where": "one NVIDIA H100, jax 0.11.2",
        "when": "2026-11-24",
        "how": "benchmarks/kernel_speed.py, fast kernel only, 4x4 kernels at 32x32x3 (README 'Benchmarks', "
               "commit 87b345c); a 4x4 kernel leaves most of a GPU idle, so bigger tiles cost less per entry "
               "there: an upper bound for them",
    },
    "h200": {
        "forward_ms_per_entry": 0.012, "vjp_ms_per_entry": 0.042, "measured": False,
        "where": "one NVIDIA H200: not measured",
        "when": "2026-11-24 (the H100 row's date)",
        "how": "scaled from the h100 row by 1.0: the same GH100 compute units; its 1.4x memory bandwidth is not "
               "counted. Replace with a measurement",
    },
    "cpu": {
        "forward_ms_per_entry": 2.55, "vjp_ms_per_entry": 6.15, "measured": True,
        "where": "this project's 2-core CPU machine (AMD EPYC, 2 jax host devices, one per core), jax 0.10.2, idle",
        "when": "2026-12-03",
        "how": "benchmarks/kernel_speed.py --sizes 32 --n 4, 4x4 kernels at 32x32x3, median of the timed calls "
               "(README 'Benchmarks', commit 44cc090). Measured again 2026-12-06 beside a KIP run and other jobs "
               "(load average 7.1 to 8.7 on the 2 cores): 7.75 forward, 34.46 forward+vjp: a busy machine is "
               "3 to 6x slower",
    },
}


def row(device: str) -> dict:
    """The row of ``device`` (``h100``, ``h200``, ``cpu``); KeyError naming the rows there are."""
    try:
        return ROWS[device]
    except KeyError:
        raise KeyError(f"no measured costs for device {device!r}; rows: {', '.join(ROWS)}") from None
