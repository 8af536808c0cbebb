"""distilled-registry: regenerate, publish and load distilled datasets (KIP, Label Solve).

    import distilled_registry as dr
    dr.list_releases()              # every catalog family/config, its paper figure, what is stored locally
    dr.info("kip_cifar10/ipc10")    # spec, paper figure, local versions and their metrics
    r = dr.load("kip_digits/ipc10") # arrays + provenance, checksums verified

Importing this package is cheap: no JAX, no neural-tangents, no TensorFlow. The pipelines
(``distilled_registry.pipelines``) import JAX when used. The TFDS builders
(``distilled_registry.builders``) are registered the moment ``tensorflow_datasets`` is imported, so
``import distilled_registry, tensorflow_datasets as tfds; tfds.load("kip_digits/ipc10")`` works.

The design (the mathematics, the tiling protocol, the release format, the layout) is
``docs/design.md`` in the repository.
"""

__version__ = "0.1.0"

from . import tfds_registration as _tfds_registration
from .api import Release, info, list_releases, load, load_path

_tfds_registration.install()  # TFDS builders, registered when tensorflow_datasets is imported

__all__ = ["Release", "info", "list_releases", "load", "load_path", "__version__"]
