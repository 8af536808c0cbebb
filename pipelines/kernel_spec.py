"""The kernel spec: :class:`distilled_registry.distill_config.KernelSpec`, re-exported for the kernels.

The spec is part of a run's config, so it lives in the core with it (plain Python, no JAX); the kernel
implementations (:mod:`.kernels`, :mod:`.convnet_kernel`) both take it from here without importing
each other.
"""

from distilled_registry.distill_config import (  # noqa: F401 - re-exported
    ARCHITECTURES,
    GETS,
    IMPLS,
    KernelSpec,
)
