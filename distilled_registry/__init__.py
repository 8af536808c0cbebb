"""distilled-registry: regenerate, publish and load distilled datasets (KIP, Label Solve).

    import distilled_registry as dr
    dr.list_releases()              # every catalog family/config, its paper figure, what is stored locally
    dr.info("kip_cifar10/ipc10")    # spec, paper figure, local versions and their metrics
    r = dr.load("kip_digits/ipc10") # arrays + provenance, checksums verified

Importing this package is cheap: no JAX, no neural-tangents, no TensorFlow. The pipelines
(``distilled_registry.pipelines``) import JAX when used.
"""

__version__ = "0.1.0"

from .api import Release, info, list_releases, load, load_path

__all__ = ["Release", "info", "list_releases", "load", "load_path", "__version__"]
