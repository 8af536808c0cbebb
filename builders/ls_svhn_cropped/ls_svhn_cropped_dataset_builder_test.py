"""TFDS's builder test of ls_svhn_cropped on its dummy_data/ (generated from the catalog by `distilled-registry builders`; do not edit).

``dummy_data/`` is a small release store holding a dummy ls_svhn_cropped/ipc1 release (random arrays, a
schema-valid provenance); the builder reads it as it reads the user's store, and TFDS's
``DatasetBuilderTestCase`` prepares it, reads it back with ``as_dataset`` and counts the examples.
"""

from distilled_registry.builders import dataset_testing
from distilled_registry.builders.ls_svhn_cropped import ls_svhn_cropped_dataset_builder


class LsSvhnCroppedTest(dataset_testing.ReleaseBuilderTestCase):
    DATASET_CLASS = ls_svhn_cropped_dataset_builder.Builder
    BUILDER_CONFIG_NAMES_TO_TEST = ["ipc1"]
    SPLITS = {"train": 10}
