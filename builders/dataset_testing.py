"""TFDS's ``DatasetBuilderTestCase`` for the family folders: ``dummy_data/`` is a small release store.

Each ``builders/<family>/<family>_dataset_builder_test.py`` subclasses :class:`ReleaseBuilderTestCase`
with its ``DATASET_CLASS``, the config to build and the number of examples. TFDS's test prepares the
config, reads it back with ``as_dataset`` and counts the examples; here the builder reads its data
from ``dummy_data/`` as it reads a user's store (``$DISTILLED_REGISTRY_HOME``), with no URL base.

Imports TensorFlow (TFDS's test case needs it): only the builder tests import this module.
"""

from __future__ import annotations

import os
from unittest import mock

import tensorflow_datasets as tfds


class ReleaseBuilderTestCase(tfds.testing.DatasetBuilderTestCase):
    """A family's builder on its ``dummy_data/`` store (set ``DATASET_CLASS``, ``BUILDER_CONFIG_NAMES_TO_TEST``
    and ``SPLITS`` in the subclass)."""

    def setUp(self):
        self.enter_context(mock.patch.dict(os.environ))  # put back after the test
        os.environ["DISTILLED_REGISTRY_HOME"] = os.fspath(self.dummy_data)  # the store the builder reads
        os.environ.pop("DISTILLED_REGISTRY_URL_BASE", None)
        super().setUp()
