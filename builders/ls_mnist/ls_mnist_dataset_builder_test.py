"""Builder test of ls_mnist on small dummy data (generated from the catalog by `distilled-registry builders`; do not edit).

Every catalog config is declared; the first is built from a dummy release in a temporary store and
read back with ``tfds.data_source``, which must return exactly the release's arrays.
"""

from distilled_registry.builders import builder_testing


def test_ls_mnist_builder_on_dummy_data(tmp_path):
    builder_testing.check_family("ls_mnist", tmp_path)
