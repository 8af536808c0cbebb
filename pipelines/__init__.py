"""The compute path: sources, preprocessing, kernels, KRR, KIP, Label Solve, evaluation, backends.

Imports JAX; the registry core (``distilled_registry``) never imports it at module level. The
mathematics and the tiling protocol are in ``docs/design.md``.
"""
