"""TFDS's builder test of kip_mnist on its dummy_data/ (generated from the catalog by `distilled-registry builders`; do not edit).

``dummy_data/`` is a small release store holding a dummy kip_mnist/ipc1 release (random arrays, a
schema-valid provenance); the builder reads it as it reads the user's store, and TFDS's
``DatasetBuilderTestCase`` prepares it, reads it back with ``as_dataset`` and counts the examples.
"""

from distilled_registry.builders import dataset_testing
from distilled_registry.builders.kip_mnist import kip_mnist_dataset_builder


class KipMnistTest(dataset_testing.ReleaseBuilderTestCase):
    DATASET_CLASS = kip_mnist_dataset_builder.Builder
    BUILDER_CONFIG_NAMES_TO_TEST = ["ipc1"]
    SPLITS = {"train": 10}
