"""The bounds of a run's options: :mod:`distilled_registry.limits` (the core holds them, with the config they bound)."""

from distilled_registry.limits import (  # noqa: F401 - re-exported: pipelines.limits.MAX_TILE, ...
    DEFAULT_TILE,
    MAX_DEPTH,
    MAX_EVAL_SUBSET,
    MAX_IPC,
    MAX_SEED,
    MAX_SIDE,
    MAX_STEPS,
    MAX_TARGET_BATCH,
    MAX_TILE,
    MAX_TRANSFER_SEEDS,
    MAX_WIDTH,
    MAX_WORKERS,
)
