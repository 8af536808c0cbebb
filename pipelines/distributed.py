"""The distributed KIP step and the distributed Label Solve blocks (docs/design.md, "Tiling and
backends"; the client-server model of Nguyen et al., NeurIPS 2021).

One KIP step, server side (this process):

1. cut ``K_ss`` (upper triangle) and ``K_ts`` into tiles (:mod:`tiling`);
2. forward: workers compute every tile with ``jax.vjp`` and keep the ``vjp_fn`` (:mod:`backends`);
3. assemble ``K_ss`` and ``K_ts``; ``loss, (dL/dK_ss, dL/dK_ts, dL/dy_s) = value_and_grad(krr.loss)``
   (cheap: O(n^3 + m n C));
4. backward: workers apply each tile's ``vjp_fn`` to its cotangent; the server sums the input
   gradients per support block in tile order (fixed, so the result does not depend on which worker
   computed which tile) and hands ``dL/dX_s`` (and ``dL/dy_s``) to Adam.

The engine has the signature of :func:`kip.dense_engine` (``problem.gradients`` of :mod:`algorithm`), and
``kernel_rows`` that of the in-process ``problem.rows``, so no algorithm knows the difference. Both take any
:class:`backends.Workers`.
"""

from __future__ import annotations

import time

import jax
import numpy as np

from . import krr
from .backends import Workers
from .tiling import Tiling


class TiledEngine:
    """``engine(learned, fixed, x_t, y_t) -> (loss, grads)`` computed tile by tile on ``workers``."""

    def __init__(self, workers: Workers, reg: float, tile: int = 64):
        self.workers = workers
        self.reg = reg
        self.tile = tile
        self._loss_grad = jax.jit(jax.value_and_grad(krr.loss, argnums=(0, 1, 2)))
        self.tiles_done = 0
        self.last_step_tiles = 0
        self.last_step_seconds = 0.0

    def __call__(self, learned: dict, fixed: dict, x_t: np.ndarray, y_t: np.ndarray):
        t0 = time.perf_counter()
        p = {**fixed, **learned}
        x_s, y_s = np.asarray(p["images"]), np.asarray(p["labels"])
        tiling = Tiling.for_tile(len(x_s), len(x_t), self.tile)
        tiles = tiling.tiles()
        blocks = tiling.blocks(x_s, x_t)
        jobs = [(t.id, *t.keys) for t in tiles]
        outs = self.workers.forward(jobs, blocks, keep_vjp=True)
        k_ss, k_ts = tiling.assemble(tiles, outs)
        loss, (g_ss, g_ts, g_y) = self._loss_grad(k_ss, k_ts, y_s, np.asarray(y_t), self.reg)
        cots = tiling.cotangents(tiles, np.asarray(g_ss), np.asarray(g_ts))
        grads_ab = self.workers.backward([(*job, c) for job, c in zip(jobs, cots)], blocks)
        self.workers.end_step()
        grads = {"images": tiling.support_gradient(tiles, grads_ab)}
        if "labels" in learned:
            grads["labels"] = np.asarray(g_y)
        self.tiles_done += len(tiles)
        self.last_step_tiles = len(tiles)
        self.last_step_seconds = time.perf_counter() - t0
        return loss, grads

    def progress(self) -> dict:
        """For the progress bar: tiles done, tiles per second of the last step, step time."""
        rate = self.last_step_tiles / self.last_step_seconds if self.last_step_seconds else 0.0
        return {"tiles": self.tiles_done, "tiles/s": f"{rate:.1f}", "step_s": f"{self.last_step_seconds:.3f}"}


def kernel_rows(workers: Workers, x_rows: np.ndarray, x_s: np.ndarray, tile: int) -> np.ndarray:
    """``K(x_rows, x_s)`` (r, n) computed as tiles on ``workers`` (no vjp kept): LS target blocks."""
    tiling = Tiling.for_tile(len(x_s), len(x_rows), tile)
    tiles = tiling.tiles(with_ss=False)
    outs = workers.forward([(t.id, *t.keys) for t in tiles], tiling.blocks(x_s, x_rows), keep_vjp=False)
    return tiling.assemble(tiles, outs)[1]
