"""distilled-registry: regenerate, publish and load distilled datasets (KIP, Label Solve).

Importing this package is cheap: no JAX, no neural-tangents, no TensorFlow. The pipelines
(``distilled_registry.pipelines``) import JAX when used.
"""

__version__ = "0.1.0"
