"""TFDS's builder test of kip_digits on its dummy_data/ (generated from the catalog by `distilled-registry builders`; do not edit).

``dummy_data/`` is a small release store holding a dummy kip_digits/ipc1 release (random arrays, a
schema-valid provenance); the builder reads it as it reads the user's store, and TFDS's
``DatasetBuilderTestCase`` prepares it, reads it back with ``as_dataset`` and counts the examples.
"""

from distilled_registry.builders import dataset_testing
from distilled_registry.builders.kip_digits import kip_digits_dataset_builder


class KipDigitsTest(dataset_testing.ReleaseBuilderTestCase):
    DATASET_CLASS = kip_digits_dataset_builder.Builder
    BUILDER_CONFIG_NAMES_TO_TEST = ["ipc1"]
    SPLITS = {"train": 10}
