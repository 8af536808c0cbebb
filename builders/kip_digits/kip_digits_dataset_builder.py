"""TFDS builder module of the release family kip_digits (generated from the catalog by `distilled-registry builders`; do not edit).

The class is generated from the catalog by ``distilled_registry.builders.release_builder`` and
registered with TFDS as ``kip_digits``; this module names it ``Builder``, the TFDS convention.

    import distilled_registry, tensorflow_datasets as tfds
    ds = tfds.load("kip_digits/CONFIG", split="train")
"""

from distilled_registry.builders import builder_class

Builder = builder_class("kip_digits")
