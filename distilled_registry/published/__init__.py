"""The authors' published KIP and LS datasets: names, URLs, pinned checksums, and import into the store.

Nguyen et al. published their distilled sets in the public bucket ``kip-datasets``
(``https://storage.googleapis.com/kip-datasets/``): 12,736 KIP files indexed by ``kip/kip.csv`` and
30 LS files indexed by ``ls/ls.csv``. Each is an ``.npz`` with ``images`` (NHWC float32, in the
authors' preprocessed space) and ``labels`` (float32, N x C). File names::

    kip/{dataset}/{ConvNet|ConvNet3}_ssize{N}_{zca|nozca}_{l|nol}_{aug|noaug}_ckpt{K}.npz
    ls/{dataset}/{ConvNet|ConvNet3}_ssize{N}_{zca|nozca}.npz

How the registry names them (:class:`Variant`):

- the catalog's default configs (``kip_cifar10/ipc10``, ...) carry a ``published`` block pointing at
  the paper's headline variant: ConvNet, ZCA for the RGB sources (none for MNIST and Fashion-MNIST),
  learned labels, no augmentation, the *final* checkpoint (the largest ``ckpt`` the authors' index
  lists for that run: read from ``kip/kip.csv`` on first download, then pinned); the LS configs
  (``ls_cifar10/ipc10-convnet3-nozca``, ...) point at the 30 LS files, with the index's test accuracy;
- every other KIP file is reachable by an explicit config name,
  ``ipc{I}-{convnet|convnet3}-{zca|nozca}-{l|nol}-{aug|noaug}-{ckpt{K}|final}`` (``I`` = N / classes),
  e.g. ``kip_cifar10/ipc10-convnet3-nozca-nol-aug-ckpt1000``; :func:`parse_config` and
  :meth:`Variant.config_name` map one to the other, so 12,736 files need no 12,736 catalog rows;
- a copy whose name does not record augmentation and checkpoint (``cifar10_ConvNet_ssize100_zca_l``)
  gets the short form ``ipc10-convnet-zca-l``; it has no bucket URL.

Checksums. The bucket publishes none, so the sha256 of a published file cannot be known in advance:
it is recorded on the first verified download and pinned from then on (:mod:`.pins`); a sha256 in
the records file (maintainers: ``import-published NAME --record``) pins it for everyone.

An imported release is an ordinary store release (``data.npz`` holding the published arrays bit for
bit, ``transform.npz`` when the source's training split was at hand, preview, parquet, Croissant,
``provenance.json``), stored as ``<family>/<config>/0.1.0`` (:data:`VERSION`): published imports sort
before the ``1.0.0`` a local ``regenerate`` writes, so a regenerated release takes precedence in
``load(NAME)`` and the import stays reachable as ``NAME:0.1.0``. Its provenance has an ``origin``
block (URL, file name, sha256 of the original file(s), the variant, the pin) instead of a run's
config and timing, and ``metrics.reported_by_authors`` holds the index's figures, apart from
anything measured here.

One module per job: :mod:`distilled_registry.published_variants` (names, and the catalog's ``published``
block: beside the package, as the catalog below this package reads it), :mod:`.pins`,
:mod:`.bucket` (downloads and the authors' index), :mod:`.arrays` (reading a file without trusting
it), :mod:`.importing` (a file into a store release); this package re-exports their public names.
numpy only (no JAX): fitting the transform needs the source data and lives in the CLI
(``distilled-registry import-published --source-dir``), which passes it in.
"""

from .arrays import check_arrays, read_arrays
from .bucket import (DEADLINE_S, INDEX_COLUMNS, INDEX_MAX_BYTES, MAX_BYTES, TIMEOUT_S, URL_ENV, base_url,
                     canonical_url, download, index_cache, index_rows, is_download, parse_index, read_index, reported,
                     resolve_final)
from ..errors import PinError, PublishedError, PublishedUsageError
from .importing import (CARD_NOTE, PREPROCESSING_RECIPE, ZCA_REG, config_for, download_published, fetch,
                        release_from_npz, reported_from_index, source_block)
from .pins import (PINS_FILE, PINS_FORMAT, PINS_LOCK, check_pin, expected, pin_status, pins_path, read_pins,
                   record_pin, record_shared)
from ..published_variants import (ARCH_FILE, BUCKET_URL, CHECKPOINTS, HEADLINE_ZCA, INDEX, SUPPORT_SIZES, VERSION,
                                  Variant, block, headline, parse_config, parse_file_name, variant_of)

__all__ = [
    "ARCH_FILE", "BUCKET_URL", "CARD_NOTE", "CHECKPOINTS", "DEADLINE_S", "HEADLINE_ZCA", "INDEX", "INDEX_COLUMNS",
    "INDEX_MAX_BYTES", "MAX_BYTES", "PINS_FILE", "PINS_FORMAT", "PINS_LOCK", "PREPROCESSING_RECIPE", "SUPPORT_SIZES",
    "TIMEOUT_S", "URL_ENV", "VERSION", "ZCA_REG", "PinError", "PublishedError", "PublishedUsageError", "Variant",
    "base_url", "block", "canonical_url", "check_arrays", "check_pin", "config_for", "download", "download_published",
    "expected", "fetch", "headline", "index_cache", "index_rows", "is_download", "parse_config", "parse_file_name",
    "parse_index", "pin_status", "pins_path", "read_arrays", "read_index", "read_pins", "record_pin",
    "record_shared", "release_from_npz", "reported", "reported_from_index", "resolve_final",
    "source_block", "variant_of",
]
