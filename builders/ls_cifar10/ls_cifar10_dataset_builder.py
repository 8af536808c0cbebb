"""TFDS builder module of the release family ls_cifar10 (generated from the catalog by `distilled-registry builders`; do not edit).

The class is generated from the catalog by ``distilled_registry.builders.release_builder`` and
registered with TFDS as ``ls_cifar10``; this module names it ``Builder``, the TFDS convention.

    import distilled_registry, tensorflow_datasets as tfds
    ds = tfds.load("ls_cifar10/CONFIG", split="train")
"""

from distilled_registry.builders import builder_class

Builder = builder_class("ls_cifar10")
