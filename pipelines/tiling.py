"""Cutting the kernel matrices of a KIP step into fixed-shape tiles, and putting them back.

Support images ``X_s`` (n) and target images ``X_t`` (m) are cut into blocks of ``block`` and
``target_block`` rows (:func:`block_size`: balanced, at most ``--tile``); the last block of each
is padded (with copies of the set's first row, so every padded input is a valid image) to the
full shape, so jit compiles one shape per kind of tile. Tiles:

- ``ss`` tiles ``(i, j)`` with ``i <= j``: ``k(X_s[i], X_s[j])``, the upper triangle of ``K_ss``;
  the lower triangle is mirrored from it.
- ``ts`` tiles ``(t, j)``: ``k(X_t[t], X_s[j])``.

Backward, the cotangent of the loss with respect to ``K`` is cut the same way; an off-diagonal
``ss`` tile receives ``G[i, j] + G[j, i]^T`` because it stands in ``K_ss`` twice. Padded rows and
columns receive zero cotangent, so padding never changes a gradient.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np


@dataclasses.dataclass(frozen=True)
class Tile:
    """One tile: ``kind`` ``ss`` or ``ts``; ``row`` block (support i or target t); ``col`` support block j."""

    id: int
    kind: str
    row: int
    col: int

    @property
    def keys(self) -> tuple[str, str]:
        """Block keys of the two kernel arguments (``s3``: support block 3, ``t0``: target block 0)."""
        return (("s" if self.kind == "ss" else "t") + str(self.row), "s" + str(self.col))


def block_size(n: int, tile: int) -> int:
    """Rows per block for ``n`` support images and a ``--tile`` of ``tile``: ``ceil(n / ceil(n / tile))``.

    The fewest blocks of at most ``tile`` rows, balanced, so the support set is padded by less than
    one row per block (100 images with ``--tile 128``: one block of 100, not one of 128 holding 28
    copies; 500 images: four blocks of 125, not four of 128). It depends on ``n`` and ``tile`` only,
    so every backend cuts the same tiles and rounds the same way.
    """
    if tile < 1 or n < 1:
        raise ValueError(f"tile and support size must be >= 1, got tile {tile}, n {n}")
    return math.ceil(n / math.ceil(n / tile))


@dataclasses.dataclass(frozen=True)
class Tiling:
    n: int      # support size
    m: int      # target size
    block: int  # rows per support block
    target_block: int = 0  # rows per target block (0: ``block``)

    def __post_init__(self):
        if self.block < 1 or self.target_block < 0:
            raise ValueError(f"tile size must be >= 1, got {self.block} (targets {self.target_block})")
        if not self.target_block:
            object.__setattr__(self, "target_block", self.block)

    @classmethod
    def for_tile(cls, n: int, m: int, tile: int) -> "Tiling":
        """The tiling a run with ``--tile tile`` uses: support and target blocks of :func:`block_size`
        rows each (``ss`` tiles are ``b_s x b_s``, ``ts`` tiles ``b_t x b_s``, both at most ``tile x tile``)."""
        return cls(n, m, block_size(n, tile), block_size(m, tile) if m else 0)

    @property
    def support_blocks(self) -> int:
        return math.ceil(self.n / self.block)

    @property
    def target_blocks(self) -> int:
        return math.ceil(self.m / self.target_block)

    def tiles(self, with_ss: bool = True) -> list[Tile]:
        out = []
        if with_ss:
            for i in range(self.support_blocks):
                for j in range(i, self.support_blocks):
                    out.append(Tile(len(out), "ss", i, j))
        for t in range(self.target_blocks):
            for j in range(self.support_blocks):
                out.append(Tile(len(out), "ts", t, j))
        return out

    def blocks(self, x_s: np.ndarray, x_t: np.ndarray | None) -> dict[str, np.ndarray]:
        """``{"s0": ..., "t0": ...}``: padded blocks of the support and target images."""
        out = {f"s{i}": b for i, b in enumerate(pad_blocks(x_s, self.block))}
        if x_t is not None:
            out.update({f"t{i}": b for i, b in enumerate(pad_blocks(x_t, self.target_block))})
        return out

    def assemble(self, tiles: list[Tile], outs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """``(K_ss (n, n), K_ts (m, n))`` from tile results (K_ss mirrored from its upper triangle)."""
        b, tb = self.block, self.target_block
        dtype = np.asarray(outs[0]).dtype if outs else np.float32
        k_ss = np.zeros((self.support_blocks * b,) * 2, dtype)
        k_ts = np.zeros((self.target_blocks * tb, self.support_blocks * b), dtype)
        for tile, k in zip(tiles, outs):
            r, c = self._rows(tile), slice(tile.col * b, (tile.col + 1) * b)
            if tile.kind == "ss":
                k_ss[r, c] = k
                k_ss[c, r] = np.asarray(k).T
            else:
                k_ts[r, c] = k
        return k_ss[: self.n, : self.n], k_ts[: self.m, : self.n]

    def cotangents(self, tiles: list[Tile], g_ss: np.ndarray, g_ts: np.ndarray) -> list[np.ndarray]:
        """Per-tile cotangents of the loss from ``dL/dK_ss (n, n)`` and ``dL/dK_ts (m, n)``."""
        b, tb = self.block, self.target_block
        gs = np.zeros((self.support_blocks * b,) * 2, g_ss.dtype)
        gs[: self.n, : self.n] = g_ss
        gt = np.zeros((self.target_blocks * tb, self.support_blocks * b), g_ts.dtype)
        gt[: self.m, : self.n] = g_ts
        out = []
        for tile in tiles:
            r, c = self._rows(tile), slice(tile.col * b, (tile.col + 1) * b)
            if tile.kind == "ss":
                out.append(gs[r, c] if tile.row == tile.col else gs[r, c] + gs[c, r].T)
            else:
                out.append(gt[r, c])
        return out

    def _rows(self, tile: Tile) -> slice:
        """The rows of ``K_ss`` (an ``ss`` tile) or ``K_ts`` (a ``ts`` tile) that ``tile`` covers."""
        b = self.block if tile.kind == "ss" else self.target_block
        return slice(tile.row * b, (tile.row + 1) * b)

    def support_gradient(self, tiles: list[Tile], grads: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
        """``dL/dX_s (n, ...)``: per-tile input gradients summed per support block, in tile order."""
        acc: list[np.ndarray | None] = [None] * self.support_blocks
        for tile, (da, db) in zip(tiles, grads):
            parts = [(tile.col, db)] + ([(tile.row, da)] if tile.kind == "ss" else [])
            for blk, g in parts:
                acc[blk] = g if acc[blk] is None else acc[blk] + g
        return np.concatenate(acc)[: self.n]


def pad_rows(x, n: int):
    """``x`` (k, ...) with ``n - k`` copies of its first row appended: (n, ...); ``x`` itself when ``k >= n``.

    The one way this package fills a batch or a tile to a fixed shape (one compilation for every
    size): a copy of a real row is a valid input, and the rows it yields are dropped afterwards.
    Works on numpy arrays and, inside a traced function, on jax arrays (``jnp`` is used for those).
    """
    k = x.shape[0]
    if k >= n:
        return x
    if isinstance(x, np.ndarray):
        return np.concatenate([x, np.repeat(x[:1], n - k, axis=0)])
    import jax.numpy as jnp

    return jnp.concatenate([x, jnp.broadcast_to(x[:1], (n - k,) + x.shape[1:])])


def pad_blocks(x: np.ndarray, block: int) -> list[np.ndarray]:
    """``x`` cut into blocks of ``block`` rows, the last padded with copies of ``x[0]`` (:func:`pad_rows`)."""
    x = np.asarray(x)
    x = pad_rows(x, -(-len(x) // block) * block)
    return [x[i:i + block] for i in range(0, len(x), block)]
