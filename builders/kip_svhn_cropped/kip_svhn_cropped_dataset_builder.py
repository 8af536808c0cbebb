"""TFDS dataset builder of the release family kip_svhn_cropped (generated from the catalog by `distilled-registry builders`; do not edit).

Configs, versions, features and where data come from are the catalog's (see
``distilled_registry.builders.release_builder.ReleaseBuilder``):

    import distilled_registry, tensorflow_datasets as tfds
    ds = tfds.load("kip_svhn_cropped/CONFIG", split="train")

or, as a TFDS dataset folder (TFDS's ``tfds build``, which itself needs apache_beam):
``python -m distilled_registry.cli.tfds_build builders/kip_svhn_cropped --config CONFIG``.
"""

from distilled_registry.builders import release_builder


class Builder(release_builder.ReleaseBuilder):
    """DatasetBuilder of kip_svhn_cropped: one example per distilled image of a release."""

    FAMILY = "kip_svhn_cropped"
