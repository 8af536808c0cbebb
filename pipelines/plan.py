"""Cost plan of a distillation run: kernel entries, tiles, and hours from a tile timed on this machine.

What a run computes (the distributed model of docs/design.md, "Tiling and backends": tiles of ``tile x tile`` entries):

- KIP, per step: the upper triangle of ``K_ss`` (``n(n+1)/2`` entries, n = images per class x classes)
  and ``K_ts`` (``m n`` entries, m = the class-balanced target batch), each tile forward with
  ``jax.vjp`` and backward through its ``vjp_fn``; in total ``steps`` times that.
- LS, once: ``K_ss`` upper triangle and ``K_ts`` against the whole training split, forward only.
- Evaluation (both), on the driver: ``K_ss`` and ``K(test, support)`` for the distilled and the
  natural support set, forward only.

The cost of an entry is measured, not assumed: :func:`measure_tile` times one small tile of the
spec's own kernel (same architecture, depth and impl; random images of the source's shape) after
compiling it, forward (``jax.vjp``, as the workers run it) and backward (``vjp_fn`` applied to a
cotangent) separately. A tiny tile overstates the per-entry cost of a big one for kernels whose
per-image terms (the diagonal covariances of a ConvNet kernel) are shared by a tile's entries, so
when the planned tile is cheap enough it is timed too and used instead.

Hours assume perfect scaling: N workers each as fast as this machine, tiles dealt evenly (a step
takes ``ceil(tiles / N)`` tile-times), and nothing for transfers, the server's KRR solve or the
optimiser.
"""

from __future__ import annotations

import dataclasses
import math
import time

import numpy as np

from .kernels import KernelSpec, make_kernel_fn


@dataclasses.dataclass(frozen=True)
class TileTiming:
    """Seconds for one ``tile x tile`` kernel tile, measured after compilation."""

    tile: int
    forward_seconds: float    # out, vjp_fn = jax.vjp(kernel_fn, a, b)
    backward_seconds: float   # vjp_fn(cotangent)
    compile_seconds: float
    repeats: int

    @property
    def entries(self) -> int:
        return self.tile * self.tile

    @property
    def seconds(self) -> float:
        """Forward plus backward."""
        return self.forward_seconds + self.backward_seconds

    @property
    def per_entry(self) -> float:
        """Forward + backward seconds per kernel entry."""
        return self.seconds / self.entries

    @property
    def forward_per_entry(self) -> float:
        return self.forward_seconds / self.entries

    def to_dict(self) -> dict:
        return {"tile": self.tile, "entries": self.entries, "forward_seconds": self.forward_seconds,
                "backward_seconds": self.backward_seconds, "seconds": self.seconds,
                "per_entry_seconds": self.per_entry, "forward_per_entry_seconds": self.forward_per_entry,
                "compile_seconds": self.compile_seconds, "repeats": self.repeats}


def measure_tile(spec: KernelSpec, image_shape: tuple[int, int, int], tile: int = 2,
                 min_seconds: float = 0.3, max_repeats: int = 20, seed: int = 0) -> TileTiming:
    """Time one ``tile x tile`` tile of ``spec``'s kernel on random images of ``image_shape`` (H, W, C).

    Compiles first (timed apart), then runs forward and backward until ``min_seconds`` have passed
    (at least once, at most ``max_repeats``) and returns the mean per run.
    """
    import jax

    if tile < 1:
        raise ValueError(f"tile must be >= 1, got {tile}")
    spec.check_images((tile, *image_shape))
    kernel_fn = make_kernel_fn(spec)
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((tile, *image_shape)).astype(np.float32)
    b = rng.standard_normal((tile, *image_shape)).astype(np.float32)
    cot = rng.standard_normal((tile, tile)).astype(np.float32)

    t = time.perf_counter()
    fwd = jax.jit(lambda x1, x2: jax.vjp(kernel_fn, x1, x2)).lower(a, b).compile()
    compile_s = time.perf_counter() - t
    k, vjp_fn = fwd(a, b)  # one run to get a vjp_fn to compile the backward with (not timed)
    jax.block_until_ready(k)
    t = time.perf_counter()
    bwd = jax.jit(lambda v, c: v(c)).lower(vjp_fn, cot).compile()
    compile_s += time.perf_counter() - t

    f_total = b_total = 0.0
    reps = 0
    while reps < max_repeats and (reps == 0 or f_total + b_total < min_seconds):
        t = time.perf_counter()
        k, vjp_fn = fwd(a, b)
        jax.block_until_ready(k)
        t1 = time.perf_counter()
        jax.block_until_ready(bwd(vjp_fn, cot))
        t2 = time.perf_counter()
        f_total += t1 - t
        b_total += t2 - t1
        reps += 1
    if not np.all(np.isfinite(np.asarray(k))):
        raise RuntimeError(f"the {spec.architecture} kernel gave non-finite values on random images")
    return TileTiming(tile, f_total / reps, b_total / reps, compile_s, reps)


def tiles(n: int, m: int, tile: int, with_ss: bool = True) -> dict:
    """Tiles of one pass with ``--tile tile``: ``K_ss`` upper triangle in ``b x b`` tiles and ``K_ts`` in
    ``b_t x b`` tiles, ``b = block_size(n, tile)``, ``b_t = block_size(m, tile)`` (as :class:`Tiling` cuts them)."""
    from .tiling import Tiling

    t = Tiling.for_tile(n, m, tile)
    sb, tb = t.support_blocks, t.target_blocks
    ss = sb * (sb + 1) // 2 if with_ss else 0
    ts = tb * sb
    return {"ss": ss, "ts": ts, "total": ss + ts, "block": t.block, "target_block": t.target_block,
            "entries_computed": ss * t.block ** 2 + ts * t.target_block * t.block}


def target_size(target_batch: int, num_classes: int, train_size: int) -> int:
    """Size of a class-balanced target batch (``batch // C`` per class, capped by the training split)."""
    return min(num_classes * max(1, target_batch // num_classes), train_size)


def plan(config, source_info: dict, workers: int, tile: int, timing: TileTiming,
         planned_tile_timing: TileTiming | None = None) -> dict:
    """Entries, tiles and hours of running ``config`` (a DistillConfig) with ``workers`` workers.

    Args:
      source_info: ``{"image_shape", "num_classes", "train_size", "test_size"}`` (the catalog's).
      tile: the planned tile size (``tile x tile`` entries per tile).
      timing: a measured tile (any size); planned_tile_timing: a measured ``tile x tile`` tile, used
        instead of scaling ``timing`` when given.
    """
    if workers < 1:
        raise ValueError(f"--workers must be >= 1, got {workers}")
    c = int(source_info["num_classes"])
    n = config.ipc * c
    kip = config.algorithm == "kip"
    m = target_size(config.target_batch, c, int(source_info["train_size"])) if kip else int(source_info["train_size"])
    ss_entries = n * (n + 1) // 2
    ts_entries = m * n
    per_pass = ss_entries + ts_entries
    passes = config.steps if kip else 1
    t = tiles(n, m, tile)
    b = max(t["block"], t["target_block"])  # the tile a step is timed by: at most --tile (balanced blocks)
    if planned_tile_timing is not None and planned_tile_timing.tile == b:
        tile_s = planned_tile_timing.seconds if kip else planned_tile_timing.forward_seconds
        tile_basis = f"a measured {b}x{b} tile"
    else:
        tile_s = (timing.per_entry if kip else timing.forward_per_entry) * b * b
        tile_basis = f"{b * b} x the per-entry cost of the measured {timing.tile}x{timing.tile} tile"
    waves = math.ceil(t["total"] / workers)
    pass_s = waves * tile_s
    eval_entries = 2 * (n * n + n * int(source_info["test_size"]))  # distilled and natural support sets
    eval_per_entry = (planned_tile_timing or timing).forward_per_entry
    out = {
        "algorithm": config.algorithm, "kernel": config.kernel.to_dict(),
        "image_shape": list(source_info["image_shape"]), "support_size": n, "target_size": m,
        "steps": passes if kip else 0, "workers": workers, "tile": tile, "block": b,
        "entries_per_step" if kip else "entries": {"k_ss_upper": ss_entries, "k_ts": ts_entries, "total": per_pass},
        "entries_total": per_pass * passes,
        "tiles_per_step" if kip else "tiles": t,
        "tiles_total": t["total"] * passes,
        "passes": "forward (jax.vjp) and backward (vjp_fn) per tile" if kip else "forward only",
        "measured_tile": timing.to_dict(),
        "measured_planned_tile": planned_tile_timing.to_dict() if planned_tile_timing else None,
        "tile_seconds": tile_s, "tile_seconds_basis": tile_basis,
        "waves_per_step": waves, "step_seconds": pass_s,
        "hours": passes * pass_s / 3600, "hours_one_worker": passes * t["total"] * tile_s / 3600,
        "evaluation": {"entries": eval_entries, "hours_on_driver": eval_entries * eval_per_entry / 3600,
                       "what": "K_ss and K(test, support) for the distilled and the natural support set, "
                               "forward only, on the driver; at the forward cost measured with jax.vjp, which "
                               "also keeps what the backward needs, so an upper bound"},
        "assumptions": "perfect scaling: every worker as fast as this machine's measurement, tiles dealt evenly "
                       "(a step takes ceil(tiles / workers) tile-times), no time for transfers, the server's KRR "
                       "solve or the optimiser",
    }
    return out
