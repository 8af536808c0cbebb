"""TFDS's builder test of ls_fashion_mnist on its dummy_data/ (generated from the catalog by `distilled-registry builders`; do not edit).

``dummy_data/`` is a small release store holding a dummy ls_fashion_mnist/ipc1 release (random arrays, a
schema-valid provenance); the builder reads it as it reads the user's store, and TFDS's
``DatasetBuilderTestCase`` prepares it, reads it back with ``as_dataset`` and counts the examples.
"""

import os
from unittest import mock

import tensorflow_datasets as tfds

from distilled_registry.builders.ls_fashion_mnist import ls_fashion_mnist_dataset_builder


class LsFashionMnistTest(tfds.testing.DatasetBuilderTestCase):
    DATASET_CLASS = ls_fashion_mnist_dataset_builder.Builder
    BUILDER_CONFIG_NAMES_TO_TEST = ["ipc1"]
    SPLITS = {"train": 4}

    def setUp(self):
        self.enter_context(mock.patch.dict(os.environ))  # put back after the test
        os.environ["DISTILLED_REGISTRY_HOME"] = os.fspath(self.dummy_data)  # the store the builder reads
        os.environ.pop("DISTILLED_REGISTRY_URL_BASE", None)
        super().setUp()
