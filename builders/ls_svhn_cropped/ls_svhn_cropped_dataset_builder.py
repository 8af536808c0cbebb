"""TFDS builder module of the release family ls_svhn_cropped (generated from the catalog by `distilled-registry builders`; do not edit).

The class is generated from the catalog by ``distilled_registry.builders.release_builder`` and
registered with TFDS as ``ls_svhn_cropped``; this module names it ``Builder``, the TFDS convention.

    import distilled_registry, tensorflow_datasets as tfds
    ds = tfds.load("ls_svhn_cropped/CONFIG", split="train")
"""

from distilled_registry.builders import builder_class

Builder = builder_class("ls_svhn_cropped")
